"""Helpers shared by CLI commands: opening input files and showing progress on stderr."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

from tqdm import tqdm

from service.errors import InputError
from service.files import check_not_binary, check_utf8


def existing_file(name: str) -> Path:
    """The path of an input file, or InputError when there is none."""
    path = Path(name)
    if not path.is_file():
        raise InputError(f"{name}: no such file")
    return path


def open_input(name: str, jsonl: bool, stack: ExitStack):
    """The input as a binary stream, with its size for the progress bar (None for stdin)."""
    if name == "-":
        return sys.stdin.buffer, None
    path = existing_file(name)
    check_not_binary(path)
    if not jsonl:
        check_utf8(path)  # plain text is all or nothing: fail before writing anything
    return stack.enter_context(open(path, "rb")), path.stat().st_size


def with_progress(stream, total, enabled, stack: ExitStack):
    """Yield the binary stream's lines (bytes) while a progress bar (bytes) runs on stderr."""
    bar = stack.enter_context(
        tqdm(total=total, unit="B", unit_scale=True, file=sys.stderr, disable=None if enabled is None else not enabled)
    )
    for line in stream:
        bar.update(len(line))
        yield line
