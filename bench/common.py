"""Helpers shared by the benchmarks: ../shared data, peak memory, the generated models, a throwaway local node."""

from __future__ import annotations

import gzip
import json
import resource
import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def local_node(name: str, heap: str = "512m") -> Iterator:
    """A throwaway OpenSearch node (service/index/node.py) on a free port, from the distribution OPENSEARCH_LOCAL_DIR
    holds: it yields the LocalNode (`.url`), and on leaving stops it and removes its data and logs."""
    from service.config import Settings
    from service.index import node

    settings = Settings.from_env()
    local = node.LocalNode(settings.opensearch_local_dir, settings.opensearch_version, name, free_port(), heap)
    node.start(local)
    try:
        yield local
    finally:
        node.stop(local)
        shutil.rmtree(local.node_dir, ignore_errors=True)
