"""`python -m service ingest FILE.jsonl [--pretranslated]`: translate and index articles."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack

from service.commands.common import existing_file, open_input, with_progress
from service.files import jsonl_records
from service.ingest import human_translation, ingest_stream, machine_translation, replaced_lines


def register(commands) -> None:
    parser = commands.add_parser("ingest", help="translate and index a JSONL file of articles")
    parser.add_argument("file", help="JSONL articles {id, title, body, source, date, category, url}, or -")
    parser.add_argument(
        "--pretranslated", action="store_true", help="records carry sentences: [{source, target}] (and title_en); no MT"
    )
    parser.add_argument("--rejects", help="where to write rejected records (default: FILE.rejects.jsonl)")
    parser.add_argument("--progress", action="store_true", default=None, help="force the progress bar")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="run as a durable job; re-running the same command continues where it stopped",
    )
    parser.set_defaults(handler=run)


def run(args, services) -> int:
    from service.commands.translate import warn_if_demo

    if args.resume:
        return _ingest_resumable(args, services)
    rejects_path = args.rejects or (f"{args.file}.rejects.jsonl" if args.file != "-" else "rejects.jsonl")
    with ExitStack() as stack:
        stream, size = open_input(args.file, True, stack)
        translator = None
        if not args.pretranslated:
            translator = services.load_translator()
            warn_if_demo(translator)
        rejects = []  # the file is created on the first reject only

        def on_reject(reject) -> None:
            if not rejects:
                rejects.append(stack.enter_context(open(rejects_path, "w", encoding="utf-8")))
            rejects[0].write(json.dumps(reject.to_dict(), ensure_ascii=False) + "\n")
            print(f"line {reject.line}: {reject.reason}", file=sys.stderr)

        byte_lines = with_progress(stream, size, args.progress, stack)
        translate = human_translation if args.pretranslated else machine_translation(translator)
        replaced = _replaced_in(stream) if size is not None else None  # standard input can be read only once
        report = ingest_stream(
            jsonl_records(byte_lines), services.index_target, translate, on_reject, replaced=replaced
        )
    for line, dropped in sorted(report.dropped_fields.items()):
        for reason in dropped.values():
            print(f"line {line}: {reason}", file=sys.stderr)
    summary = report.to_dict()
    print(
        f"indexed {summary['indexed']}, unchanged {summary['unchanged']}, rejected {summary['rejected']}"
        + (f" (see {rejects_path})" if summary["rejected"] else ""),
        file=sys.stderr,
    )
    return 1 if summary["rejected"] else 0


def _ingest_resumable(args, services) -> int:
    """ingest FILE --resume: the file runs as a job that indexes; an interrupted run continues."""
    from service.commands.jobs import report_job, run_as_job
    from service.commands.translate import warn_if_demo
    from service.errors import InputError

    if args.pretranslated or args.file == "-":
        raise InputError("--resume takes a file of articles to translate (not --pretranslated, not stdin)")
    path = existing_file(args.file)
    warn_if_demo(services.load_translator())
    store, job_id = run_as_job(services, path, {"index": True, "source": str(path.resolve())}, progress=args.progress)
    return report_job(store, job_id, indexing=True)


def _replaced_in(stream) -> dict:
    """The file's records that a later record with the same id replaces (a first read), the file rewound."""
    replaced = replaced_lines(jsonl_records(stream))
    stream.seek(0)
    return replaced
