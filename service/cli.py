"""The command line: `python -m service ...`. Parses arguments and calls the library; errors are one line."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Optional

from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from tqdm import tqdm

from service.commands import index as index_commands
from service.commands import jobs as jobs_commands
from service.commands import ingest as ingest_commands
from service.commands import opensearch as opensearch_commands
from service.commands import search as search_commands
from service.commands import serve as serve_commands
from service.commands.common import open_input, with_progress

from service.config import ConfigError, Settings
from service.files import InputError, jsonl_records, text_lines
from service.modelstore import manifest as model_manifest
from service.modelstore.download import DownloadError
from service.modelstore.install import QUANTIZATIONS, InstallError
from service.index.bulk import Unavailable
from service.index.node import NodeError
from service.pipeline import ArticleError, translate_articles
from service.search.query import QueryError

EXPECTED_ERRORS = (ConfigError, InputError, InstallError, DownloadError, model_manifest.ModelNotInstalled,
                   FileNotFoundError, IsADirectoryError, PermissionError, NodeError, QueryError, Unavailable)


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("opensearch").setLevel(logging.CRITICAL)  # failures are reported once, below
    try:
        settings = Settings.from_env()
        return args.handler(args, settings)
    except OpenSearchConnectionError:
        print(f"error: cannot reach OpenSearch at {', '.join(settings.opensearch_urls)}; start the local node "
              "with `python -m service opensearch start` or set OPENSEARCH_URL", file=sys.stderr)
        return 2
    except EXPECTED_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader (say, `| head`) went away: not an error
        sys.stdout = open(os.devnull, "w")
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m service", description="Arabic→English news translation.")
    commands = parser.add_subparsers(dest="command", required=True)

    translate = commands.add_parser("translate", help="translate a text or JSONL file")
    translate.add_argument("file", nargs="?", default="-", help="input file, or - for standard input")
    translate.add_argument("--jsonl", action="store_true", help="input is JSONL articles {id, title, body, ...}")
    translate.add_argument("-o", "--output", help="write here instead of standard output")
    translate.add_argument("--no-memory", action="store_true", help="bypass the translation memory")
    translate.add_argument("--resume", action="store_true",
                           help="with --jsonl on a file: run as a durable job; re-running continues where it stopped")
    translate.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                           help="progress bar on stderr (default: when stderr is a terminal)")
    translate.set_defaults(handler=cmd_translate)

    model = commands.add_parser("model", help="install, generate or inspect translation models")
    model_commands = model.add_subparsers(dest="model_command", required=True)
    install = model_commands.add_parser("install", help="install the real model (download, zip or directory)")
    install.add_argument("--source", help="URL, release zip, OPUS-MT, Hugging Face or CTranslate2 directory "
                                          "(default: the official opus-2019-12-18 release)")
    install.add_argument("--quantization", default="int8", choices=QUANTIZATIONS)
    install.add_argument("--sha256", help="expected SHA-256 of the downloaded or given zip")
    install.add_argument("--dest", type=Path, help="install here (default: MT_MODEL_DIR or models/opus-mt-ar-en)")
    install.set_defaults(handler=cmd_model_install)
    generate = model_commands.add_parser("generate", help="generate a random-weight model for tests and benchmarks")
    generate.add_argument("--size", choices=("tiny", "base"), default="tiny")
    generate.add_argument("--seed", type=int, default=1)
    generate.add_argument("out_dir", type=Path)
    generate.set_defaults(handler=cmd_model_generate)
    info = model_commands.add_parser("info", help="print the installed model's manifest")
    info.set_defaults(handler=cmd_model_info)
    ensure = model_commands.add_parser("ensure", help="make sure a model is installed (used by `make run`)")
    ensure.add_argument("--demo-fallback", action="store_true",
                        help="without network or local source, generate the demo model in models/demo")
    ensure.set_defaults(handler=cmd_model_ensure)
    for group in (opensearch_commands, index_commands, ingest_commands, search_commands, serve_commands,
                  jobs_commands):
        group.register(commands)
    return parser


def _download_bar():
    bar = tqdm(unit="B", unit_scale=True, desc="download", file=sys.stderr, disable=None)

    def update(done: int, total: Optional[int]) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()
    return update


def cmd_model_install(args, settings: Settings) -> int:
    from service.modelstore.install import install

    dest = args.dest or settings.model_dir or model_manifest.DEFAULT_MODEL_DIR
    manifest = install(args.source, dest, args.quantization, args.sha256, progress=_download_bar())
    print(f"installed {manifest.id} into {dest}")
    return 0


def cmd_model_generate(args, settings: Settings) -> int:
    from service.modelstore.generate import generate

    started = time.monotonic()
    manifest = generate(args.size, args.out_dir, args.seed)
    print(f"generated {manifest.id} into {args.out_dir} in {time.monotonic() - started:.1f}s "
          f"(random weights: translations are noise)")
    return 0


def cmd_model_info(args, settings: Settings) -> int:
    model_dir = model_manifest.resolve_model_dir(settings.model_dir)
    print(json.dumps({**model_manifest.Manifest.read(model_dir).to_dict(), "path": str(model_dir)},
                     indent=2, ensure_ascii=False))
    return 0


def cmd_model_ensure(args, settings: Settings) -> int:
    from service.modelstore.generate import generate
    from service.modelstore.install import install

    model_dir = model_manifest.resolve_model_dir(settings.model_dir)
    try:
        found = model_manifest.Manifest.read(model_dir)
        print(f"model ready: {found.id} at {model_dir}" + (" (demo: noise)" if found.demo else ""))
        return 0
    except model_manifest.ModelNotInstalled:
        pass
    try:
        manifest = install(None, model_dir, progress=_download_bar())
        print(f"installed {manifest.id} into {model_dir}")
        return 0
    except DownloadError as error:
        print(f"warning: {error}\nwarning: install the real model when you can: "
              f"`{model_manifest.INSTALL_HINT}`, or offline from a copy of the release: "
              f"`{model_manifest.INSTALL_HINT} --source /path/to/opus-2019-12-18.zip`", file=sys.stderr)
        if not args.demo_fallback:
            return 2
    manifest = generate("tiny", model_manifest.DEMO_MODEL_DIR)
    print(f"warning: carrying on with the generated demo model {manifest.id} at "
          f"{model_manifest.DEMO_MODEL_DIR}: random weights, every translation is NOISE", file=sys.stderr)
    return 0


def warn_if_demo(translator) -> None:
    if translator.demo:
        print(f"warning: {translator.model_id} is a generated demo model with random weights: its "
              f"translations are NOISE. Install the real model: `{model_manifest.INSTALL_HINT}`", file=sys.stderr)


def cmd_translate(args, settings: Settings) -> int:
    from service.translation import open_translator

    if args.resume:
        return _translate_resumable(args, settings)

    with ExitStack() as stack:
        stream, size = open_input(args.file, args.jsonl, stack)  # bad input fails before the model loads
        translator = open_translator(settings, use_memory=not args.no_memory)
        warn_if_demo(translator)
        out = stack.enter_context(open(args.output, "w", encoding="utf-8")) if args.output else sys.stdout
        lines = with_progress(stream, size, args.progress, stack)
        if args.jsonl:
            translated, rejected = _translate_jsonl(lines, translator, out)
        else:
            translated, rejected = _translate_text(lines, args.file, translator, out)
    print(f"translated {translated}, rejected {rejected}", file=sys.stderr)
    return 1 if rejected else 0


def _translate_jsonl(lines, translator, out) -> tuple[int, int]:
    translated = rejected = 0
    for number, result in translate_articles(jsonl_records(lines), translator):
        if isinstance(result, ArticleError):
            rejected += 1
            print(f"line {number}: {result}", file=sys.stderr)
            continue
        translated += 1
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    return translated, rejected


def _translate_text(lines, name, translator, out) -> tuple[int, int]:
    """One output line per input line; lines in neither Arabic nor English are kept and reported."""
    originals: dict[int, str] = {}

    def paragraphs():
        for number, line in text_lines(lines, name):
            originals[number] = line
            yield number, {"body": line} if line.strip() else ArticleError("blank")

    translated = 0
    for number, result in translate_articles(paragraphs(), translator):
        line = originals.pop(number)
        if isinstance(result, ArticleError):
            if line.strip():
                print(f"line {number}: {result}; kept untranslated", file=sys.stderr)
            out.write(line + "\n")
            continue
        translated += 1
        out.write(result["body_en"] + "\n")
    return translated, 0


def _translate_resumable(args, settings: Settings) -> int:
    """translate --jsonl FILE --resume: the file runs as a job in JOBS_DB, so an interrupted run continues."""
    from service.commands.jobs import report_job, run_as_job
    from service.translation import open_translator

    if not args.jsonl or args.file == "-":
        raise InputError("--resume needs --jsonl and a file (standard input cannot be resumed)")
    path = Path(args.file)
    if not path.is_file():
        raise InputError(f"{args.file}: no such file")
    translator = open_translator(settings, use_memory=not args.no_memory)
    warn_if_demo(translator)
    store, job_id = run_as_job(settings, path, {"index": False, "source": str(path.resolve())}, translator,
                               progress=args.progress)
    with ExitStack() as stack:
        out = stack.enter_context(open(args.output, "w", encoding="utf-8")) if args.output else sys.stdout
        for line in store.results(job_id):
            out.write(line)
    return report_job(store, job_id, "translated")
