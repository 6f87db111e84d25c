"""Reading input files: binary and bad UTF-8 refused with the line, JSONL records one by one with clear reasons."""

import io
import json
import tracemalloc

import pytest

from service import files
from service.errors import InputError, RecordError
from service.limits import MAX_RECORD_BYTES


def write(tmp_path, data: bytes):
    path = tmp_path / "input"
    path.write_bytes(data)
    return path


def test_a_nul_byte_near_the_start_means_binary(tmp_path):
    path = write(tmp_path, "قال الرئيس.\n".encode() + b"\0rest")
    with pytest.raises(InputError, match="looks like a binary file, not UTF-8 text"):
        files.check_not_binary(path)


def test_only_the_start_of_a_file_is_sniffed_for_binary(tmp_path):
    files.check_not_binary(write(tmp_path, "نص\n".encode()))
    files.check_not_binary(write(tmp_path, b"a" * files.BINARY_SNIFF_BYTES + b"\0"))  # past the sniff: not refused


def test_invalid_utf8_is_named_by_its_line(tmp_path):
    path = write(tmp_path, "سطر أول\n".encode() + b"second\n\xff\xfe third\n")
    with pytest.raises(InputError, match=r"input line 3: invalid UTF-8 \(invalid start byte\)"):
        files.check_utf8(path)
    files.check_utf8(write(tmp_path, "كله سليم\nall good\n".encode()))


def test_text_lines_are_numbered_and_lose_their_line_ends():
    stream = io.BytesIO("قال الرئيس.\r\n\nStocks rose.".encode())
    assert list(files.text_lines(stream, "in.txt")) == [(1, "قال الرئيس."), (2, ""), (3, "Stocks rose.")]


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"good\nbad \0 line\n", r"in\.txt line 2: binary data \(NUL byte\)"),
        (b"good\n\xc3\x28\n", r"in\.txt line 2: invalid UTF-8 \(invalid continuation byte\)"),
    ],
)
def test_text_lines_stop_at_the_first_bad_line(data, reason):
    lines = files.text_lines(io.BytesIO(data), "in.txt")
    assert next(lines) == (1, "good")
    with pytest.raises(InputError, match=reason):
        next(lines)


@pytest.mark.parametrize(
    "value,where",
    [
        ({"body": "ok", "tags": ["a", "x\ud800"]}, "$.tags[1] (\\ud800 at character 1)"),
        ({"bad\udfffkey": 1}, "$ (a key) (\\udfff at character 3)"),
        ("\udc00", "$ (\\udc00 at character 0)"),
        ({"a": {"b": [{"c": "😀 fine"}, "\ud83d"]}}, "$.a.b[1] (\\ud83d at character 0)"),
    ],
)
def test_a_lone_surrogate_is_found_with_its_path(value, where):
    assert files.lone_surrogate(value) == where


def test_valid_text_has_no_lone_surrogate():
    assert files.lone_surrogate({"body": "قال 😀", "n": [1, 2.5, None, True], "nested": {"x": ["y"]}}) is None


def test_a_deeply_nested_record_is_walked_without_recursion():
    deep = "\ud800"
    for _ in range(5000):  # far deeper than Python's recursion limit
        deep = [deep]
    assert files.lone_surrogate(deep) == "$" + "[0]" * 5000 + " (\\ud800 at character 0)"


def test_jsonl_records_come_with_their_line_numbers_and_errors_in_place():
    good = {"id": "a1", "body": "قال الرئيس."}
    lines = [
        json.dumps(good, ensure_ascii=False).encode(),
        b"",
        b"   ",
        b"{broken",
        b'{"body": "\xff"}',
        b'{"body": "\\ud800"}',
        b'{"id": "a2", "body": "\\u0646\\u0635"}',
    ]
    results = list(files.jsonl_records(io.BytesIO(b"\n".join(lines) + b"\n")))
    assert [number for number, _ in results] == [1, 4, 5, 6, 7]  # blank lines are skipped, not renumbered
    assert results[0][1] == good and results[4][1] == {"id": "a2", "body": "نص"}
    errors = {number: item for number, item in results if isinstance(item, Exception)}
    assert set(errors) == {4, 5, 6} and all(isinstance(e, RecordError) for e in errors.values())
    assert str(errors[4]) == "invalid JSON (Expecting property name enclosed in double quotes at column 2)"
    assert str(errors[5]) == "invalid UTF-8 (invalid start byte)"
    assert str(errors[6]) == "invalid Unicode: a lone surrogate at $.body (\\ud800 at character 0)"


def test_an_oversized_record_is_rejected_unread():
    size = MAX_RECORD_BYTES + 1
    oversized = b'{"body": "' + b"x" * (size - 13) + b'"}\n'  # size bytes with the newline
    assert len(oversized) == size
    results = list(files.jsonl_records(io.BytesIO(oversized + b'{"body": "ok"}\n')))
    assert str(results[0][1]) == f"record of {size} bytes exceeds the limit of {MAX_RECORD_BYTES}"
    assert results[1] == (2, {"body": "ok"})


def test_jsonl_lines_with_nan_infinity_or_overflowing_numbers_are_rejected():
    lines = [b'{"body": "a", "n": NaN}\n', b'{"body": "b", "n": 1e400}\n', b'{"body": "c", "n": 2.5}\n']
    results = dict(files.jsonl_records(io.BytesIO(b"".join(lines))))
    assert isinstance(results[1], RecordError) and "NaN is not a JSON value" in str(results[1])
    assert isinstance(results[2], RecordError) and "out of range" in str(results[2])
    assert results[3] == {"body": "c", "n": 2.5}


def test_a_byte_order_mark_before_the_first_line_is_not_part_of_it():
    bom = "\ufeff".encode()
    records = list(files.jsonl_records(io.BytesIO(bom + b'{"body": "a"}\n{"body": "b"}\n')))
    assert records == [(1, {"body": "a"}), (2, {"body": "b"})]
    assert list(files.text_lines(io.BytesIO(bom + "قال.\nثم.\n".encode()), "in")) == [(1, "قال."), (2, "ثم.")]


def test_a_line_over_the_record_limit_is_reported_without_being_held(tmp_path):
    """A file with one huge line (no newline in 48 MB) costs a few times the limit in memory, not the line."""
    path = tmp_path / "one-line.txt"
    path.write_bytes(b"\xef\xbb\xbfgood\n" + b"x" * (12 * MAX_RECORD_BYTES) + b"\nalso good")
    with open(path, "rb") as stream:
        tracemalloc.start()
        try:
            records = list(files.text_records(stream, "one-line.txt"))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert records[0] == (1, {"body": "good"}) and records[2] == (3, {"body": "also good"})
    assert isinstance(records[1][1], RecordError) and f"{12 * MAX_RECORD_BYTES + 1} bytes" in str(records[1][1])
    assert peak < 5 * MAX_RECORD_BYTES, f"{peak / 1e6:.1f} MB for a {12 * MAX_RECORD_BYTES / 1e6:.0f} MB line"
    with open(path, "rb") as stream:
        refused = [number for number, record in files.jsonl_records(stream) if isinstance(record, RecordError)]
    assert refused == [1, 2, 3]
