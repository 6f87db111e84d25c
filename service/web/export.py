"""Parallel text of an indexed article, or of a job's results, as TSV or TMX 1.4b, and a search's hits or a job's
results as CSV (pure)."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from urllib.parse import quote

from service.provenance import PRETRANSLATED_MODEL, provenance
from service.text.xmlsafe import xml_text

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _one_line(text: str) -> str:
    """One line of text: whitespace runs (tabs and newlines included) become one space, so columns hold."""
    return " ".join(xml_text(text).split())


TSV_COLUMNS = ("position", "field", "paragraph", "score", "ar", "en", "source", "published", "url")


def to_tsv(document: dict) -> str:
    """One line per sentence pair: position, field, paragraph, score, Arabic, English, then the article's source,
    publication date and URL on every line (added last, so readers of the first six columns keep working), so
    that lines pasted into another file still say where they came from."""
    return "".join([_tsv_header(), *_tsv_pairs(document)])


def _tsv_header() -> str:
    return "\t".join(TSV_COLUMNS) + "\n"


def _tsv_pairs(document: dict) -> Iterator[str]:
    """The document's sentence pairs as TSV lines (no header)."""
    article = [document.get(key) for key in ("source", "published", "url")]
    human = provenance(document)["kind"] == "human"  # a person's translation has no model score: 0.0 would read as none
    for s in document["sentences"]:
        score = "human" if human else s["score"]
        sentence = [s["position"], s["field"], s["paragraph"], score, s["ar"], s["en"]]
        yield "\t".join(_tsv_cell(value) for value in [*sentence, *article]) + "\n"


TMX_HEADER = {
    "creationtool": "mt-news",
    "creationtoolversion": "1",
    "segtype": "sentence",
    "o-tmf": "ctranslate2",
    "adminlang": "en",
    "srclang": "ar",
    "datatype": "plaintext",
}
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def to_tmx(document: dict) -> bytes:
    """TMX 1.4b with one <tu> per sentence pair, Arabic as the source language."""
    tmx = ET.Element("tmx", version="1.4")
    ET.SubElement(tmx, "header", TMX_HEADER)
    body = ET.SubElement(tmx, "body")
    body.extend(_tmx_units(document))
    return _XML_DECLARATION + ET.tostring(tmx, encoding="utf-8")


def _tmx_units(document: dict) -> Iterator[ET.Element]:
    """One <tu> per sentence pair of the document: its id and position, the model, the Arabic and the English."""
    for s in document["sentences"]:
        unit = ET.Element("tu", tuid=xml_text(f"{document['id']}-{s['position']}"))
        ET.SubElement(unit, "prop", type="x-model").text = xml_text(document.get("model") or "none")
        for lang, text in (("ar", s["ar"]), ("en", s["en"])):
            variant = ET.SubElement(unit, "tuv", {XML_LANG: lang})
            ET.SubElement(variant, "seg").text = xml_text(text)
        yield unit


SEARCH_CSV_COLUMNS = (
    "id",
    "published",
    "source",
    "category",
    "title_en",
    "title",
    "translation",
    "model",
    "matched_en",
    "matched_ar",
    "article_link",
    "url",
    "cluster_size",
)
# A search's CSV holds at most this many rows (OpenSearch pages no further: MAX_RESULT_WINDOW); the page that
# offers it says when the results hold more.
MAX_CSV_ROWS = 10_000
CSV_BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only after this mark; without it Arabic shows as mojibake
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets run as a formula (OWASP's list)


def _cell(value) -> str:
    """A spreadsheet cell (every CSV and TSV export's): a leading apostrophe disarms text that would start a
    formula, so it shows as text; numbers (a negative score) stay numbers."""
    if not isinstance(value, str):
        return "" if value is None else str(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def _tsv_cell(value) -> str:
    """A TSV cell: text on one line, so columns hold, then disarmed like any spreadsheet cell."""
    return _cell(_one_line(value) if isinstance(value, str) else value)


def _csv_line(cells: Iterable) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([_cell(value) for value in cells])
    return out.getvalue()


def search_csv_row(hit: dict, article_link: str) -> list:
    """A search hit as a CSV row: what it is, where its English comes from ("human", "machine" with the model,
    "original", "demo"), the sentence pair that matched (the first), and links to our page and the outlet's."""
    origin = hit.get("provenance") or {}
    pair = (hit.get("sentences") or [{}])[0]
    row = {
        **hit,
        "translation": origin.get("kind"),
        "model": origin.get("model"),
        "matched_en": pair.get("en"),
        "matched_ar": pair.get("ar"),
        "article_link": article_link,
        "cluster_size": hit.get("cluster_size", 1),
    }
    return [row.get(column) for column in SEARCH_CSV_COLUMNS]


def search_csv_lines(rows: Iterable[list]) -> Iterator[str]:
    """The CSV a spreadsheet opens as UTF-8 (the BOM first), a line at a time so a long export streams."""
    yield CSV_BOM + _csv_line(SEARCH_CSV_COLUMNS)
    for row in rows:
        yield _csv_line(row)


def search_csv(hits: list[dict], link_of=lambda hit: "") -> str:
    """Every hit as a CSV row, in one string (search_csv_lines streams it)."""
    return "".join(search_csv_lines(search_csv_row(hit, link_of(hit)) for hit in hits))


JOB_CSV_COLUMNS = ("id", "outcome", "title_en", "title", "body_en", "body", "translation", "model")


def job_result_row(result: dict) -> list:
    """A job's result (one JSON object) as a CSV row: the English beside the Arabic, and where the English comes
    from, as a search's CSV says it."""
    translation = result.get("translation") or {}
    model = translation.get("model")
    if not translation.get("translated", model is not None):
        kind, model = "original", None
    elif translation.get("demo"):
        kind = "demo"
    elif model in (None, PRETRANSLATED_MODEL):
        kind, model = "human", None
    else:
        kind = "machine"
    row = {**result, "id": result.get("doc_id", result.get("id")), "translation": kind, "model": model}
    return [row.get(column) for column in JOB_CSV_COLUMNS]


def job_csv_lines(results: Iterable[str]) -> Iterator[str]:
    """A job's results (JSON lines, as the store streams them) as CSV lines, the BOM first."""
    yield CSV_BOM + _csv_line(JOB_CSV_COLUMNS)
    for line in results:
        yield _csv_line(job_result_row(json.loads(line)))


def job_result_document(result: dict, number: int) -> dict:
    """A job's result (the translation JSON shape) as the stored article's shape that to_tsv and to_tmx read: its
    id (the item's number in the results where the input gave none), provenance, outlet and sentence pairs."""
    translation = result.get("translation") or {}
    return {
        "id": result.get("doc_id") or result.get("id") or f"item-{number}",
        "model": translation.get("model"),
        "demo": translation.get("demo"),
        "translated": translation.get("translated", translation.get("model") is not None),
        "source": result.get("source"),
        "published": result.get("published") or result.get("date"),
        "url": result.get("url"),
        "sentences": [
            {**pair, "position": position, "ar": pair["source"], "en": pair["target"]}
            for position, pair in enumerate(result.get("sentences") or [])
        ],
    }


def _job_documents(results: Iterable[str]) -> Iterator[dict]:
    for number, line in enumerate(results, 1):
        yield job_result_document(json.loads(line), number)


def job_tsv_lines(results: Iterable[str]) -> Iterator[str]:
    """A job's results (JSON lines, as the store streams them) as one TSV, the article TSV's columns: a line per
    sentence pair of every article, in input order."""
    yield _tsv_header()
    for document in _job_documents(results):
        yield from _tsv_pairs(document)


def job_tmx_chunks(results: Iterable[str]) -> Iterator[bytes]:
    """A job's results as one TMX 1.4b document, streamed: the article TMX's header, then its <tu> for every
    sentence pair of every article, in input order."""
    header = ET.tostring(ET.Element("header", TMX_HEADER), encoding="unicode")
    yield _XML_DECLARATION + f'<tmx version="1.4">{header}<body>'.encode()
    for document in _job_documents(results):
        yield b"".join(ET.tostring(unit, encoding="utf-8", xml_declaration=False) for unit in _tmx_units(document))
    yield b"</body></tmx>"


def download_name(*parts: str, extension: str) -> str:
    """A file name that says what the file holds ("search-gaza-ceasefire-2026-12-07.csv"): the parts' words
    joined by hyphens, without what file systems refuse, at most 80 characters before the extension."""
    words = [word for part in parts for word in re.findall(r"\w+", part or "")]
    return ("-".join(words)[:80].strip("-") or "export") + "." + extension


def attachment(filename: str) -> str:
    """A Content-Disposition header for filename: an ASCII fallback, and the UTF-8 name (RFC 6266) that browsers
    prefer, so an Arabic query keeps its words."""
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("_") or "export"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
