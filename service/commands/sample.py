"""`python -m service sample`: index the sample articles for `make run`, with human English unless a real model is in.

See service/sample.py for the choice: with the demo model the sample keeps its human English (provenance
`human`); with a real model the model translates it.
"""

from __future__ import annotations

import sys
from contextlib import ExitStack

from service.commands.common import open_input
from service.files import jsonl_records


def register(commands) -> None:
    from service.sample import SAMPLE_FILE

    parser = commands.add_parser(
        "sample",
        help="index the sample articles: their human English while the demo model is in use, else the model's",
    )
    parser.add_argument("file", nargs="?", default=str(SAMPLE_FILE), help="JSONL sample (default: %(default)s)")
    parser.set_defaults(handler=run)


def run(args, services) -> int:
    from service import sample

    translator = services.load_translator()

    def on_reject(reject) -> None:
        print(f"line {reject.line}: {reject.reason}", file=sys.stderr)

    with ExitStack() as stack:
        stream, _size = open_input(args.file, True, stack)
        chosen, report = sample.load(jsonl_records(stream), services.index_target, translator, on_reject)
    print(sample.describe(chosen, report, translator.model_id), file=sys.stderr)
    return 1 if report.rejects else 0
