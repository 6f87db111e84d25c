import ctypes
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


def test_tunes_malloc_for_decoding(monkeypatch):
    calls = []

    class FakeLibc:
        def mallopt(self, parameter, value):
            calls.append((parameter, value))

    for name in runtime.USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=1024")  # not malloc's: still tuned
    monkeypatch.setattr(ctypes, "CDLL", lambda name: FakeLibc())
    runtime.tune_malloc()
    assert calls == [
        (runtime.M_ARENA_MAX, runtime.MALLOC_ARENAS),
        (runtime.M_MMAP_THRESHOLD, runtime.MMAP_THRESHOLD_BYTES),
        (runtime.M_TRIM_THRESHOLD, runtime.TRIM_THRESHOLD_BYTES),
    ]


@pytest.mark.parametrize(
    "name, value",
    [("MALLOC_ARENA_MAX", "4"), ("MALLOC_TRIM_THRESHOLD_", "0"), ("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1")],
)
def test_the_users_malloc_settings_win(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    monkeypatch.setattr(ctypes, "CDLL", lambda name: (_ for _ in ()).throw(AssertionError("must not tune")))
    runtime.tune_malloc()


def test_the_tuning_holds_in_a_real_process():
    """mallopt takes every value (it answers 0 for one it refuses): run in a fresh interpreter, glibc's own."""
    script = (
        "import ctypes; from service import runtime; libc = ctypes.CDLL('libc.so.6'); "
        "print([libc.mallopt(p, v) for p, v in ((runtime.M_ARENA_MAX, runtime.MALLOC_ARENAS), "
        "(runtime.M_MMAP_THRESHOLD, runtime.MMAP_THRESHOLD_BYTES), (runtime.M_TRIM_THRESHOLD, runtime.TRIM_THRESHOLD_BYTES))])"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[1, 1, 1]"


def test_the_master_never_loads_the_app(tiny_model_dir, tmp_path):
    port = free_port()
    env = service_env({"MT_MODEL_DIR": str(tiny_model_dir), "MT_MEMORY": "off", "JOBS_WORKERS": "0"})
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
        assert "numpy" not in Path(f"/proc/{master}/maps").read_text()  # the app (and so numpy) only in the worker
        assert "numpy" in Path(f"/proc/{worker}/maps").read_text()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def test_what_a_load_frees_is_handed_back_despite_the_trim_threshold():
    """A model load's temporary buffers, freed on the heap, would stay resident below a 128 MB trim threshold."""
    script = """
from pathlib import Path
from service import runtime
runtime.tune_malloc()
rss = lambda: next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS:"))
before = rss()
with runtime.loaded_onto_huge_pages():
    temporaries = [bytearray(1 << 20) for _ in range(48)]  # heap chunks, each below the mmap threshold
    del temporaries
print(rss() - before)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert int(done.stdout) < 8 << 10  # kB: 48 MB were resident inside the block


def test_a_tuned_process_hands_freed_memory_back_within_the_trim_interval():
    script = """
import time
from pathlib import Path
from service import runtime
runtime.TRIM_INTERVAL_SECONDS = 0.2
runtime.tune_malloc()
rss = lambda: next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS:"))
before = rss()
freed = [bytearray(1 << 20) for _ in range(48)]  # heap chunks, each below the mmap threshold
del freed
deadline = time.monotonic() + 20
while rss() - before > 8 << 10 and time.monotonic() < deadline:  # poll, under a deadline
    time.sleep(0.05)
print(rss() - before)
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert int(done.stdout) < 8 << 10  # kB: 48 MB were freed, and the trim threshold alone would keep them


def _anonymous_huge_kb() -> int:
    rollup = Path("/proc/self/smaps_rollup").read_text()
    return next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("AnonHugePages:"))


def _collapse_is_what_makes_huge_pages() -> bool:
    """Linux 6.1+ with transparent huge pages on request only: under `always` memory is huge without the collapse."""
    thp = Path(runtime.TRANSPARENT_HUGE_PAGES)
    major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    return thp.exists() and "[madvise]" in thp.read_text() and (major, minor) >= (6, 1)


def _rss_kb() -> int:
    return next(
        int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:")
    )


@pytest.mark.skipif(not _collapse_is_what_makes_huge_pages(), reason="needs Linux 6.1+ with THP set to madvise")
def test_what_a_block_loads_moves_onto_huge_pages_and_rss_stays():
    size = 64 << 20
    huge_before = _anonymous_huge_kb()
    with runtime.loaded_onto_huge_pages():
        weights = bytearray(size)
        weights[::4096] = b"\1" * (size // 4096)  # every page resident, as a loaded model's are
        rss_loaded = _rss_kb()
    # most of it (a host short of free 2 MB blocks may refuse a few chunks); none without the collapse
    assert _anonymous_huge_kb() - huge_before >= (size // 2) // 1024
    assert _rss_kb() - rss_loaded < 4 << 10  # nothing faulted in beyond what was resident
    del weights
