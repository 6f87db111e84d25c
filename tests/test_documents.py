"""From an input record to the index document: the one check every writer uses, the id, the hash and the shape."""

import hashlib
import json

import pytest

from service.errors import ArticleError
from service.index import documents
from service.limits import MAX_ID_BYTES

UNREACHABLE = 'id starts with "/" or has a "." or ".." segment between slashes, which URLs do not keep'
RECORD = {
    "id": " a1 ",
    "title": "عنوان",
    "body": "قال الرئيس.",
    "source": "BBC Arabic",
    "category": "economy",
    "date": "2018-03-01T09:00:00Z",
    "url": " https://example.org/a1 ",
}


def test_a_good_record_gets_its_id_hash_and_checked_fields():
    checked = documents.check_record(RECORD)
    assert checked.doc_id == "a1"  # stripped
    assert checked.digest == documents.content_hash(RECORD) and len(checked.digest) == 64
    assert checked.fields == {
        "source": "BBC Arabic",
        "url": "https://example.org/a1",
        "published": "2018-03-01T09:00:00+00:00",
        "category": "economy",
    }
    assert checked.record == RECORD and checked.dropped == {}


def test_a_bad_url_is_dropped_with_its_reason_and_the_record_kept():
    checked = documents.check_record({**RECORD, "url": "javascript:alert(1)"})
    assert checked.fields["url"] is None and "url" not in checked.record
    assert checked.dropped == {"url": "url 'javascript:alert(1)' is not an http(s) URL; it was left out"}
    assert checked.digest == documents.content_hash({**RECORD, "url": "javascript:alert(1)"})  # of the input


def test_the_content_hash_is_of_the_canonical_json():
    canonical = json.dumps(RECORD, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert documents.content_hash(RECORD) == hashlib.sha256(canonical.encode()).hexdigest()
    assert documents.content_hash(dict(reversed(RECORD.items()))) == documents.content_hash(RECORD)
    assert documents.content_hash({**RECORD, "body": "قال الرئيس!"}) != documents.content_hash(RECORD)


@pytest.mark.parametrize(
    "given,expected",
    [
        ("x1", "x1"),
        (" x1\n", "x1"),
        (7, "7"),
        (0, "0"),
        ("", None),
        ("  ", None),
        (True, None),
        (None, None),
        ([1], None),
    ],
)
def test_the_id_is_the_record_s_own_or_its_content_hash(given, expected):
    assert documents.document_id({"id": given}, "d1g35t") == (expected or "sha256-d1g35t")


@pytest.mark.parametrize(
    "doc_id,reason",
    [
        ("x" * 513, "id is 513 bytes of UTF-8; at most 512 are allowed"),
        ("é" * 257, "id is 514 bytes of UTF-8; at most 512 are allowed"),
        ("tab\tid", "id contains control characters"),
        ("nul\x00", "id contains control characters"),
        *((doc_id, UNREACHABLE) for doc_id in ("/x", "//x", "/", ".", "..", "a/./b", "a/../b", "../x", "x/..")),
    ],
)
def test_an_id_opensearch_would_refuse_is_an_article_error(doc_id, reason):
    with pytest.raises(ArticleError, match=f"^{reason}$"):
        documents.check_id(doc_id)
    with pytest.raises(ArticleError, match=f"^{reason}$"):
        documents.check_record({**RECORD, "id": doc_id})


def test_the_longest_id_allowed_passes():
    documents.check_id("x" * MAX_ID_BYTES)
    documents.check_id("مرحبا 1")
    for doc_id in ("a/b", "a//b", "x/", "...", ".x/x.", "%2F", "https://example.org/a?b#c", "é/ü"):
        documents.check_id(doc_id)


@pytest.mark.parametrize(
    "record,reason",
    [
        ({"title": "no body"}, "missing or empty 'body'"),
        ({"body": "نص", "date": "yesterday"}, "date 'yesterday' is not ISO-8601"),
        (
            {"body": "نص", "published": "9999-12-31T23:59:59-14:00"},
            "date '9999-12-31T23:59:59-14:00' is out of range in UTC \\(years 1 to 9999\\)",
        ),
        (
            {"body": "نص", "date": "0001-01-01T00:00:00+14:00"},
            "date '0001-01-01T00:00:00\\+14:00' is out of range in UTC \\(years 1 to 9999\\)",
        ),
        ({"body": "نص\ud800"}, "record holds a lone surrogate, which is not valid Unicode"),
        ("not an object", "record is not a JSON object"),
    ],
)
def test_an_unfit_record_is_refused_with_the_reason(record, reason):
    with pytest.raises(ArticleError, match=f"^{reason}$"):
        documents.check_record(record)


@pytest.mark.parametrize(
    "value",
    ["javascript:alert(1)", "DATA:text/html,x", "ftp://example.org/f", "http://", "https:///path", "/relative/path"],
)
def test_only_http_urls_with_a_host_are_kept(value):
    with pytest.raises(ValueError, match="is not an http\\(s\\) URL; it was left out"):
        documents.checked_url(value)


def test_urls_blank_missing_or_odd():
    assert documents.checked_url(None) is None and documents.checked_url("  ") is None
    assert documents.checked_url("HTTPS://Example.org/a?b=1") == "HTTPS://Example.org/a?b=1"
    with pytest.raises(ValueError, match="url is not a string"):
        documents.checked_url(42)
    with pytest.raises(ValueError, match="url contains spaces or control characters"):
        documents.checked_url("https://example.org/a b")


def test_the_publication_date_is_published_or_date_in_iso_8601():
    assert documents.published_date({"published": "2018-03-01", "date": "1999-01-01"}) == "2018-03-01T00:00:00"
    assert documents.published_date({"date": "2018-03-01T09:00:00+03:00"}) == "2018-03-01T09:00:00+03:00"
    assert documents.published_date({"date": ""}) is None and documents.published_date({}) is None
    # the range's very ends, with and without a zone, are fine
    assert documents.published_date({"date": "9999-12-31T23:59:59Z"}) == "9999-12-31T23:59:59+00:00"
    assert documents.published_date({"date": "0001-01-01T00:00:00"}) == "0001-01-01T00:00:00"


def test_optional_text_fields_are_left_out_when_blank_or_not_text():
    fields = documents.check_record({"body": "نص", "source": "  ", "category": 7}).fields
    assert fields == {"source": None, "url": None, "published": None, "category": "7"}


def test_the_document_is_the_translated_article_and_its_checked_record():
    checked = documents.check_record(RECORD)
    result = {
        **RECORD,
        "language": {"language": "ar", "confidence": 0.99, "method": "script"},
        "title_en": "Title",
        "body_en": "The president said.",
        "sentences": [
            {"field": "title", "paragraph": 0, "span": [0, 5], "source": "عنوان", "target": "Title", "score": -0.5},
            {
                "field": "body",
                "paragraph": 0,
                "span": [0, 11],
                "source": "قال الرئيس.",
                "target": "He said.",
                "score": -1,
            },
        ],
        "translation": {"model": "m@1", "demo": True, "translated": True, "score": -0.8},
    }
    document = documents.to_document(result, checked, "2024-01-02T03:04:05+00:00")
    assert document == {
        "id": "a1",
        "source": "BBC Arabic",
        "url": "https://example.org/a1",
        "published": "2018-03-01T09:00:00+00:00",
        "category": "economy",
        "language": "ar",
        "language_confidence": 0.99,
        "model": "m@1",
        "demo": True,
        "translated": True,
        "translation_score": -0.8,
        "ingested_at": "2024-01-02T03:04:05+00:00",
        "content_hash": checked.digest,
        "title": "عنوان",
        "body": "قال الرئيس.",
        "title_en": "Title",
        "body_en": "The president said.",
        "sentences": [
            {
                "position": 0,
                "field": "title",
                "paragraph": 0,
                "start": 0,
                "end": 5,
                "score": -0.5,
                "ar": "عنوان",
                "en": "Title",
            },
            {
                "position": 1,
                "field": "body",
                "paragraph": 0,
                "start": 0,
                "end": 11,
                "score": -1,
                "ar": "قال الرئيس.",
                "en": "He said.",
            },
        ],
    }


def test_an_article_without_a_title_gets_an_empty_one():
    checked = documents.check_record({"body": "Markets rose."})
    result = {
        "body": "Markets rose.",
        "language": {"language": "en", "confidence": 0.9, "method": "langdetect"},
        "title_en": "",
        "body_en": "Markets rose.",
        "sentences": [],
        "translation": {"model": None, "demo": False, "translated": False, "score": 0.0},
    }
    document = documents.to_document(result, checked, "t")
    assert document["title"] == "" and document["id"] == f"sha256-{checked.digest}" and document["sentences"] == []
