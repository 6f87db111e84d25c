"""The command line: `python -m service ...`. One parser over the command groups in service/commands/;
expected errors become one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError

from service.commands import alerts as alerts_commands
from service.commands import index as index_commands
from service.commands import ingest as ingest_commands
from service.commands import jobs as jobs_commands
from service.commands import model as model_commands
from service.commands import opensearch as opensearch_commands
from service.commands import sample as sample_commands
from service.commands import search as search_commands
from service.commands import serve as serve_commands
from service.commands import translate as translate_commands
from service.config import Settings
from service.errors import ServiceError
from service.services import Services

# the project's own errors, and a file named on the command line that cannot be read
EXPECTED_ERRORS = (ServiceError, FileNotFoundError, IsADirectoryError, PermissionError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    logging.getLogger("opensearch").setLevel(logging.CRITICAL)  # failures are reported once, below
    try:
        settings = Settings.from_env()
        services = Services(settings)  # what every command works with, opened as it is used
        try:
            return args.handler(args, services)
        finally:
            services.close()
    except OpenSearchConnectionError:
        print(
            f"error: cannot reach OpenSearch at {', '.join(settings.opensearch_urls)}; start the local node "
            "with `python -m service opensearch start` or set OPENSEARCH_URL",
            file=sys.stderr,
        )
        return 2
    except EXPECTED_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader (say, `| head`) went away: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stays open: interpreter shutdown flushes stdout
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m service", description="Arabic→English news translation.")
    commands = parser.add_subparsers(dest="command", required=True)
    for group in (
        translate_commands,
        model_commands,
        opensearch_commands,
        index_commands,
        ingest_commands,
        sample_commands,
        search_commands,
        serve_commands,
        jobs_commands,
        alerts_commands,
    ):
        group.register(commands)
    return parser
