"""Plain helpers the tests import (fixtures live in conftest.py): paths, free ports, the service in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from service.config import SETTINGS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"
SETTING_VARIABLES = frozenset(setting.env for setting in SETTINGS.values())


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or a clean skip when this checkout has none beside it."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is only beside development checkouts and CI)")
    return path


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
