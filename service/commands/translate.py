"""`python -m service translate [FILE|-] [--jsonl] [-o OUT] [--resume]`: translate text or JSONL articles."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack

from service.commands.common import existing_file, open_input, with_progress
from service.errors import ArticleError, InputError
from service.files import jsonl_records, text_lines
from service.modelstore import manifest as model_manifest
from service.pipeline import translate_articles


def register(commands) -> None:
    translate = commands.add_parser("translate", help="translate a text or JSONL file")
    translate.add_argument("file", nargs="?", default="-", help="input file, or - for standard input")
    translate.add_argument("--jsonl", action="store_true", help="input is JSONL articles {id, title, body, ...}")
    translate.add_argument("-o", "--output", help="write here instead of standard output")
    translate.add_argument("--no-memory", action="store_true", help="bypass the translation memory")
    translate.add_argument(
        "--resume",
        action="store_true",
        help="with --jsonl on a file: run as a durable job; re-running continues where it stopped",
    )
    translate.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    translate.set_defaults(handler=run)


def warn_if_demo(translator) -> None:
    if translator.demo:
        print(
            f"warning: {translator.model_id} is a generated demo model with random weights: its "
            f"translations are NOISE. Install the real model: `{model_manifest.INSTALL_HINT}`",
            file=sys.stderr,
        )


def run(args, services) -> int:
    if args.resume:
        return _translate_resumable(args, services)

    with ExitStack() as stack:
        stream, size = open_input(args.file, args.jsonl, stack)  # bad input fails before the model loads
        translator = services.load_translator(use_memory=not args.no_memory)
        warn_if_demo(translator)
        out = stack.enter_context(open(args.output, "w", encoding="utf-8")) if args.output else sys.stdout
        byte_lines = with_progress(stream, size, args.progress, stack)
        if args.jsonl:
            translated, rejected = _translate_jsonl(byte_lines, translator, out)
        else:
            translated, rejected = _translate_text(byte_lines, args.file, translator, out)
    print(f"translated {translated}, rejected {rejected}", file=sys.stderr)
    return 1 if rejected else 0


def _translate_jsonl(byte_lines, translator, out) -> tuple[int, int]:
    translated = rejected = 0
    for number, result in translate_articles(jsonl_records(byte_lines), translator):
        if isinstance(result, ArticleError):
            rejected += 1
            print(f"line {number}: {result}", file=sys.stderr)
            continue
        translated += 1
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    return translated, rejected


def _translate_text(byte_lines, name, translator, out) -> tuple[int, int]:
    """One output line per input line; lines in neither Arabic nor English are kept and reported."""
    originals: dict[int, str] = {}

    def paragraphs():
        for number, line in text_lines(byte_lines, name):
            if isinstance(line, ArticleError):  # over the size limit: reported, and an empty line holds its place
                originals[number] = ""
                print(f"line {number}: {line}", file=sys.stderr)
                yield number, ArticleError("blank")
                continue
            originals[number] = line
            yield number, {"body": line} if line.strip() else ArticleError("blank")

    translated = 0
    for number, result in translate_articles(paragraphs(), translator, alignments=False):  # text out: none shown
        line = originals.pop(number)
        if isinstance(result, ArticleError):
            if line.strip():
                print(f"line {number}: {result}; kept untranslated", file=sys.stderr)
            out.write(line + "\n")
            continue
        translated += 1
        out.write(result["body_en"] + "\n")
    return translated, 0


def _translate_resumable(args, services) -> int:
    """translate --jsonl FILE --resume: the file runs as a job in JOBS_DB, so an interrupted run continues."""
    from service.commands.jobs import report_job, run_as_job

    if not args.jsonl or args.file == "-":
        raise InputError("--resume needs --jsonl and a file (standard input cannot be resumed)")
    path = existing_file(args.file)
    warn_if_demo(services.load_translator(use_memory=not args.no_memory))
    store, job_id = run_as_job(services, path, {"index": False, "source": str(path.resolve())}, progress=args.progress)
    with ExitStack() as stack:
        out = stack.enter_context(open(args.output, "w", encoding="utf-8")) if args.output else sys.stdout
        for line in store.results(job_id):
            out.write(line)
    return report_job(store, job_id, indexing=False)
