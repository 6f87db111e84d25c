"""Plain helpers the tests import (fixtures live in conftest.py): paths, free ports, the service in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from service.config import SETTINGS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"
SETTING_VARIABLES = frozenset(setting.env for setting in SETTINGS.values())
# How much slower than a linear-time reference of the same size hostile input may be: comfortably above what
# per-character work costs, far below what quadratic work costs at the sizes the tests use (hundreds of times).
LINEAR_FACTOR = 25


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or a clean skip when this checkout has none beside it."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is only beside development checkouts and CI)")
    return path


def seconds(call: Callable[[], object], within: float = 0.0, tries: int = 3) -> float:
    """The shortest time of up to `tries` calls, stopping at the first that takes at most `within` seconds.

    Other work on the machine only ever adds time, so the shortest run is the truest.
    """
    best = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
        if best <= within:
            break
    return best


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for `python -m service` in a subprocess: this one, less every setting it reads, plus extra.

    The developer's own settings (an MT_MODEL_DIR, an OPENSEARCH_URL, API_KEYS) must not leak into a test.
    """
    return {**{k: v for k, v in os.environ.items() if k not in SETTING_VARIABLES}, **(extra or {})}


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess:
    """Run `python -m service ...` as a user would, in a clean environment plus env."""
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=PROJECT_ROOT,
        env=service_env(env),
        input=stdin,
        capture_output=True,
        timeout=240,
    )


def cli_env(settings, alias: str, model_dir, workdir) -> dict[str, str]:
    """Settings for a CLI run that translates with model_dir into alias on the session's node (memory in workdir)."""
    return {
        "OPENSEARCH_URL": settings.opensearch_urls[0],
        "OPENSEARCH_INDEX": alias,
        "MT_MODEL_DIR": str(model_dir),
        "MT_MEMORY_PATH": str(workdir / "tm.db"),
    }


def without_naming(monkeypatch) -> None:
    """Writers store as they did before people and places existed: the write path without its _name step."""
    from service import ingest

    steps = tuple(step for step in ingest.ENRICHMENT_STEPS if step.__name__ != "_name")
    monkeypatch.setattr(ingest, "ENRICHMENT_STEPS", steps)
