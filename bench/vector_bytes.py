"""Index bytes per article with sentence vectors, on a local node: none (articles-v2), in the index only (the
newest config: `_source` excludes sentences.vector), and in the index and `_source` alike.

50 articles of 16 sentences each are made from tico19's test set (Arabic with its human English, ingested
pre-translated through the write path, each sentence embedded by ENCODER), written to three aliases, merged to
one segment each, and measured by the store size in `_stats`.

    OMP_NUM_THREADS=1 .venv/bin/python bench/vector_bytes.py [--articles 50] [--sentences 16]
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

from common import local_node, read_lines, shared_file

from service.config import Settings
from service.embedding import open_encoder
from service.index import lifecycle
from service.index.client import make_client
from service.ingest import IndexTarget, human_translation, write_articles


def articles(count: int, sentences: int) -> list[dict]:
    folder = shared_file("data", "parallel", "tico19_test")
    arabic, english = read_lines(folder / "src.ar"), read_lines(folder / "ref.en")
    out = []
    for n in range(count):
        pairs = list(zip(arabic, english, strict=True))[n * sentences : (n + 1) * sentences]
        out.append(
            {
                "id": f"tico-{n}",
                "body": " ".join(ar for ar, _ in pairs),
                "sentences": [{"source": ar, "target": en} for ar, en in pairs],
            }
        )
    return out


def config_dirs(root: Path) -> dict[str, Path]:
    """{variant: a folder holding only that variant's newest config}."""
    versions = lifecycle.config_versions()
    newest = json.loads(versions[max(versions)].read_text(encoding="utf-8"))
    in_source = copy.deepcopy(newest)
    in_source["mappings"].pop("_source", None)
    bodies = {
        "no vectors (v2)": json.loads(versions[2].read_text(encoding="utf-8")),
        "vectors in the index only": newest,
        "vectors in the index and _source": in_source,
    }
    dirs = {}
    for number, (name, body) in enumerate(bodies.items()):
        folder = root / str(number)
        folder.mkdir()
        (folder / f"articles-v{max(versions) if 'vectors in' in name else 2}.json").write_text(json.dumps(body))
        dirs[name] = folder
    return dirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=50)
    parser.add_argument("--sentences", type=int, default=16)
    parser.add_argument("--settle", type=float, default=60, help="seconds to wait before merging")
    parser.add_argument("--files", action="store_true", help="print each index's segment file sizes")
    args = parser.parse_args()
    settings = Settings.from_env()
    encoder = open_encoder(settings)
    records = list(enumerate(articles(args.articles, args.sentences), 1))
    with local_node("bench-vectors") as local:
        client = make_client(Settings(opensearch_urls=(local.url,)), timeout=120)
        print(f"{args.articles} articles of {args.sentences} sentences, {encoder.encoder_id} ({encoder.dimension}-d)")
        print("| index | bytes per article | bytes per sentence vector |")
        print("|---|---|---|")
        with tempfile.TemporaryDirectory() as tmp:
            aliases = {}
            for number, (name, folder) in enumerate(config_dirs(Path(tmp)).items()):
                aliases[name] = alias = f"bench-vectors-{number}"
                lifecycle.delete(client, alias)
                lifecycle.ensure(client, alias, config_dir=folder, dimension=encoder.dimension)
                write_articles(records, IndexTarget(client, alias, encoder=encoder), human_translation)
            # A filtered _source leaves a full copy (_recovery_source) until the shard's retention lease passes the
            # documents and a merge drops it: wait for the lease to move on, then merge to one segment.
            client.indices.flush(index="bench-vectors-*")
            time.sleep(args.settle)
            base = None
            for number, (name, alias) in enumerate(aliases.items()):
                client.indices.forcemerge(index=alias, max_num_segments=1, request_timeout=300)
                client.indices.refresh(index=alias)
                stats = client.indices.stats(index=alias, metric="store,segments", include_segment_file_sizes=True)
                primaries = stats["_all"]["primaries"]
                size = primaries["store"]["size_in_bytes"]
                if args.files:
                    files = primaries["segments"]["file_sizes"]
                    print(primaries["segments"]["count"], {k: v["size_in_bytes"] for k, v in files.items()})
                per_article = size / args.articles
                base = base if base is not None else per_article
                per_vector = (per_article - base) / args.sentences if number else 0
                print(f"| {name} | {per_article:,.0f} | {per_vector:,.0f} |")
                lifecycle.delete(client, alias)


if __name__ == "__main__":
    main()
