"""Helpers shared by the benchmarks: ../shared data and samples of its sentences, peak memory, the generated models,
a throwaway local node."""

from __future__ import annotations

import gzip
import hashlib
import json
import resource
import shutil
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from random import Random

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))
SHARED = PROJECT_ROOT.parent / "shared"
BENCH_MODELS = PROJECT_ROOT / "bench" / ".models"
GENERATOR_SOURCES = sorted((PROJECT_ROOT / "service" / "modelstore").glob("*.py"))  # generate.py and what it uses
SENTENCE_SOURCES = ("tico19", "news")  # sentence_sample's
SENTENCE_WORDS = (4, 60)  # the news sentences' shortest and longest (tico19's test sentences: 23 words on average)
NEWS_ARTICLES = 300  # ant-dev articles the news sentences come from (about 4,700 sentences)
SHUFFLE_SEED = 0


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


def raw_sentences(paragraph: str) -> list[str]:
    """The paragraph's sentences by our segmenter (which splits normalised text), as they stand in the raw text."""
    from service.text.normalize import normalize
    from service.text.segment import split_sentences

    normalized = normalize(paragraph)
    return [paragraph[slice(*normalized.original_span(start, end))] for start, end in split_sentences(normalized.text)]


def tico19_sentences() -> list[str]:
    return read_lines(shared_file("data", "parallel", "tico19_test", "src.ar"))


def news_sentences() -> list[str]:
    """The distinct sentences of SENTENCE_WORDS words in the first NEWS_ARTICLES of ant-dev's bodies, leaving out
    the outlets' credit and disclaimer lines (they start with "*")."""
    sentences: dict[str, None] = {}
    for article in news_articles(NEWS_ARTICLES):
        for paragraph in article["body"].split("\n"):
            for sentence in raw_sentences(paragraph.strip()):
                if not sentence.startswith("*") and SENTENCE_WORDS[0] <= len(sentence.split()) <= SENTENCE_WORDS[1]:
                    sentences[sentence] = None
    return list(sentences)


def sentence_sample(source: str, count: int) -> list[str]:
    """`count` distinct sentences of a source (SENTENCE_SOURCES) in one seeded random order, so that workloads
    taking the first so many draw alike: tico19's file grows longer as it goes (its first 32 lines average 7 words,
    lines 129-512 22). A repeat is not the same work twice (a cache would answer it), so none is taken.

      tico19  tico19's test sentences: the text the generated models' SentencePiece and output lengths were fitted to
      news    real Arabic news (ant-dev, split by our segmenter): what the service translates, held out from both
    """
    pool = tico19_sentences() if source == "tico19" else news_sentences()
    Random(SHUFFLE_SEED).shuffle(pool)
    pool = list(dict.fromkeys(pool))  # after the shuffle: tico19's one repeated line leaves its order as it was
    if len(pool) < count:
        sys.exit(f"error: {count} sentences wanted, {source} has {len(pool)} distinct")
    return pool[:count]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def base_model_dir() -> Path:
    """The generated `base` model (opus-mt-ar-en's dimensions), generated once and reused."""
    return generated_model_dir("base")


def generated_model_dir(size: str, realistic_length: bool = False) -> Path:
    """A generated model of this size (tiny, base), generated once into bench/.models and reused.

    realistic_length: the model that ends its outputs near a human length (`model generate --realistic-length`).
    """
    from service.modelstore.generate import REALISTIC_LENGTH_SUFFIX, generate

    path = BENCH_MODELS / (size + (REALISTIC_LENGTH_SUFFIX if realistic_length else ""))
    stamp = path / "generator.sha256"  # a model made by an older generator is made again
    made_by = hashlib.sha256(b"".join(p.read_bytes() for p in GENERATOR_SOURCES)).hexdigest()
    if not (path / "manifest.json").is_file() or not stamp.is_file() or stamp.read_text() != made_by:
        print(f"generating the {path.name} model into {path} (once)…", file=sys.stderr)
        shutil.rmtree(path, ignore_errors=True)
        generate(size, path, realistic_length=realistic_length)
        stamp.write_text(made_by)
    return path


def add_model_options(parser, size: str = "base") -> None:
    """--model and --lengths, the generated model a decoding bench uses."""
    parser.add_argument("--model", choices=("tiny", "base"), default=size, help="generated model size")
    parser.add_argument(
        "--lengths",
        choices=("realistic", "forced"),
        default="realistic",
        help="realistic: the model ends outputs near a human length for their source (model generate "
        "--realistic-length); forced: the plain random model, which never stops, held to fixed lengths",
    )


def bench_model_dir(args) -> Path:
    """The generated model add_model_options' arguments name."""
    return generated_model_dir(args.model, realistic_length=args.lengths == "realistic")


def model_line(model_dir: Path) -> str:
    """Which model a bench used, for its output: the manifest's id, and how its outputs end."""
    from service.modelstore.generate import REALISTIC_LENGTH_SUFFIX
    from service.modelstore.manifest import Manifest

    manifest = Manifest.read(model_dir)
    realistic = REALISTIC_LENGTH_SUFFIX in manifest.id
    ending = "ends outputs near a human length" if realistic else "never stops: outputs held to fixed lengths"
    return f"model: {manifest.id} ({ending}) at {model_dir}"


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
