import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import PROJECT_ROOT, free_port, service_env

from service import runtime


def test_caps_malloc_arenas(monkeypatch):
    calls = []

    class FakeLibc:
        def mallopt(self, parameter, value):
            calls.append((parameter, value))

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: FakeLibc())
    runtime.limit_malloc_arenas()
    assert calls == [(runtime.M_ARENA_MAX, runtime.MALLOC_ARENAS)]


def test_user_setting_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: (_ for _ in ()).throw(AssertionError("must not tune")))
    runtime.limit_malloc_arenas()


def test_serve_preloads_jemalloc_when_installed(monkeypatch):
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: "libjemalloc.so.2" if name == "jemalloc" else None)
    assert runtime.with_jemalloc({"PATH": "/bin"}) == {"PATH": "/bin", "LD_PRELOAD": "libjemalloc.so.2"}
    assert runtime.with_jemalloc({"LD_PRELOAD": ""}) == {"LD_PRELOAD": ""}  # the user's choice, even empty, stays


def test_without_jemalloc_the_environment_is_unchanged(monkeypatch):
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert runtime.with_jemalloc({"PATH": "/bin"}) == {"PATH": "/bin"}


@pytest.mark.skipif(ctypes.util.find_library("jemalloc") is None, reason="libjemalloc2 is not installed (make setup)")
def test_served_processes_run_on_jemalloc_and_the_master_never_loads_the_app(tiny_model_dir, tmp_path):
    port = free_port()
    env = service_env({"MT_MODEL_DIR": str(tiny_model_dir), "MT_MEMORY": "off", "JOBS_WORKERS": "0"})
    env.pop("LD_PRELOAD", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", str(port), "--no-access-log"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:  # poll until the worker answers, under a deadline
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        master = server.pid  # serve execs gunicorn in place, so the master keeps this pid
        [worker] = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        for pid in (master, worker):
            assert "libjemalloc" in Path(f"/proc/{pid}/maps").read_text()
        assert "numpy" not in Path(f"/proc/{master}/maps").read_text()  # the app (and so numpy) only in the worker
        assert "numpy" in Path(f"/proc/{worker}/maps").read_text()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
