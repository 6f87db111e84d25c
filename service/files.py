"""Reading input files for the CLI: plain text or JSONL, line by line, with line numbers and clear errors."""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from service.errors import InputError, RecordError
from service.limits import MAX_RECORD_BYTES

BINARY_SNIFF_BYTES = 8192
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_not_binary(path: Path) -> None:
    """Refuse files that hold NUL bytes near the start, as text files never do."""
    with open(path, "rb") as handle:
        if b"\0" in handle.read(BINARY_SNIFF_BYTES):
            raise InputError(f"{path} looks like a binary file, not UTF-8 text")


def check_utf8(path: Path) -> None:
    """Stream through a text file and name the first line that is not valid UTF-8."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise InputError(f"{path} line {number}: invalid UTF-8 ({error.reason})") from None


def _lines(stream: Iterable[bytes]) -> Iterator[tuple[int, bytes | None, int]]:
    """(line number, line, its size in bytes) for each line of a byte stream, less the UTF-8 byte order mark that
    Windows tools put before the first one. From a file, a line over MAX_RECORD_BYTES comes as None, read past but
    never held, so one huge line (a file with no newline) costs no more memory than the limit."""
    read = getattr(stream, "readline", None)
    lines = iter(stream) if read is None else iter(lambda: read(MAX_RECORD_BYTES + 1), b"")
    for number, raw in enumerate(lines, 1):
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        size = len(raw)
        if size > MAX_RECORD_BYTES:
            size += _skip_rest_of_line(read, raw)
            raw = None
        yield number, raw, size


def _skip_rest_of_line(read, start: bytes) -> int:
    """Read past the rest of a line whose start was read already; how many more bytes it held."""
    skipped = 0
    while read is not None and not start.endswith(b"\n") and (start := read(MAX_RECORD_BYTES)):
        skipped += len(start)
    return skipped


def _too_long(size: int) -> RecordError:
    return RecordError(f"record of {size} bytes exceeds the limit of {MAX_RECORD_BYTES}")


def text_lines(stream: Iterable[bytes], name: str) -> Iterator[tuple[int, str | RecordError]]:
    """(line number, line) for a plain-text stream, a RecordError in place of a line over the limit; invalid UTF-8
    stops everything."""
    for number, raw, size in _lines(stream):
        if raw is None:
            yield number, _too_long(size)
            continue
        if b"\0" in raw:
            raise InputError(f"{name} line {number}: binary data (NUL byte)")
        try:
            yield number, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as error:
            raise InputError(f"{name} line {number}: invalid UTF-8 ({error.reason})") from None


def text_records(stream: Iterable[bytes], name: str) -> Iterator[tuple[int, dict | RecordError]]:
    """(line number, {"body": line} or RecordError) for each non-blank line of a plain-text stream."""
    for number, line in text_lines(stream, name):
        if isinstance(line, RecordError):
            yield number, line
        elif line.strip():
            yield number, {"body": line}


def lone_surrogate(value) -> str | None:
    """Where a parsed JSON value holds a lone surrogate (JSON allows "\\ud800", UTF-8 cannot carry it), or None."""
    pending = [("$", value)]
    while pending:  # a loop, not recursion: JSONL lines have no nesting limit
        path, item = pending.pop()
        if isinstance(item, str):
            found = _SURROGATE.search(item)
            if found:
                return f"{path} (\\u{ord(found.group()):04x} at character {found.start()})"
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                pending += [(f"{path}.{key}", child), (f"{path} (a key)", key)]
        elif isinstance(item, list):
            pending += [(f"{path}[{index}]", child) for index, child in reversed(list(enumerate(item)))]
    return None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def strict_json(text: str):
    """json.loads, refusing what RFC 8259 has no place for: NaN, Infinity and numbers that overflow to them.

    Python accepts them and would write them back out bare, which other JSON readers cannot parse.
    Raises ValueError (json.JSONDecodeError for syntax) with a message for the sender.
    """
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def jsonl_records(stream: Iterable[bytes]) -> Iterator[tuple[int, dict | RecordError]]:
    """(line number, record or RecordError) for each non-blank JSONL line."""
    for number, raw, size in _lines(stream):
        if raw is None:
            yield number, _too_long(size)
            continue
        if not raw.strip():
            continue
        try:
            record = strict_json(raw.decode("utf-8"))
        except UnicodeDecodeError as error:
            yield number, RecordError(f"invalid UTF-8 ({error.reason})")
            continue
        except json.JSONDecodeError as error:
            yield number, RecordError(f"invalid JSON ({error.msg} at column {error.colno})")
            continue
        except ValueError as error:  # NaN, Infinity, an overflowing or over-long number
            yield number, RecordError(f"invalid JSON ({error})")
            continue
        where = lone_surrogate(record)
        if where:
            yield number, RecordError(f"invalid Unicode: a lone surrogate at {where}")
            continue
        yield number, record
