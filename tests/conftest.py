"""Shared fixtures: one generated tiny model per test session, built through the real install path."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import Settings
from service.modelstore.generate import generate
from service.translation.engine import Translator

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file under ../shared, or a clean skip when this checkout has none beside it."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is only beside development checkouts and CI)")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "tiny"
    generate("tiny", out)
    return out


@pytest.fixture
def settings(tiny_model_dir, tmp_path) -> Settings:
    return Settings(model_dir=tiny_model_dir, memory_path=tmp_path / "tm.sqlite3", inter_threads=2)


@pytest.fixture(scope="session")
def translator(tiny_model_dir) -> Translator:
    return Translator(tiny_model_dir, Settings(model_dir=tiny_model_dir, inter_threads=2))


def run_cli(*args: str, env: dict | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run `python -m service ...` as a user would, in a clean environment plus env."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MT_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "service", *args], cwd=PROJECT_ROOT, env=full_env,
                          input=stdin, capture_output=True, timeout=240)
