"""Helpers shared by the benchmarks: ../shared data, peak memory, and the generated base model."""

from __future__ import annotations

import gzip
import json
import resource
import sys
from itertools import islice
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))
SHARED = PROJECT_ROOT.parent / "shared"
BENCH_MODELS = PROJECT_ROOT / "bench" / ".models"


def shared_file(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        sys.exit(f"error: {path} is absent; the benchmarks read ../shared beside the checkout")
    return path


def read_lines(path: Path, limit: int | None = None) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in islice(handle, limit)]


def news_articles(limit: int) -> list[dict]:
    with gzip.open(shared_file("data", "news", "ant-dev.jsonl.gz"), "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in islice(handle, limit)]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def base_model_dir() -> Path:
    """The generated `base` model (opus-mt-ar-en's dimensions), generated once and reused."""
    return generated_model_dir("base")


def generated_model_dir(size: str) -> Path:
    """A generated model of this size (tiny, base), generated once into bench/.models and reused."""
    from service.modelstore.generate import generate

    path = BENCH_MODELS / size
    if not (path / "manifest.json").is_file():
        print(f"generating the {size} model into {path} (once)…", file=sys.stderr)
        generate(size, path)
    return path
