"""Parallel text of an indexed article as TSV or TMX 1.4b, and a search's hits as CSV (pure)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

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
    article = [document.get(key) for key in ("source", "published", "url")]
    lines = ["\t".join(TSV_COLUMNS)]
    for s in document["sentences"]:
        sentence = [s["position"], s["field"], s["paragraph"], s["score"], s["ar"], s["en"]]
        lines.append("\t".join(_tsv_cell(value) for value in [*sentence, *article]))
    return "\n".join(lines) + "\n"


def to_tmx(document: dict) -> bytes:
    """TMX 1.4b with one <tu> per sentence pair, Arabic as the source language."""
    tmx = ET.Element("tmx", version="1.4")
    ET.SubElement(
        tmx,
        "header",
        {
            "creationtool": "mt-news",
            "creationtoolversion": "1",
            "segtype": "sentence",
            "o-tmf": "ctranslate2",
            "adminlang": "en",
            "srclang": "ar",
            "datatype": "plaintext",
        },
    )
    body = ET.SubElement(tmx, "body")
    for s in document["sentences"]:
        unit = ET.SubElement(body, "tu", tuid=xml_text(f"{document['id']}-{s['position']}"))
        ET.SubElement(unit, "prop", type="x-model").text = xml_text(document.get("model") or "none")
        for lang, text in (("ar", s["ar"]), ("en", s["en"])):
            variant = ET.SubElement(unit, "tuv", {XML_LANG: lang})
            ET.SubElement(variant, "seg").text = xml_text(text)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tmx, encoding="utf-8")


SEARCH_CSV_COLUMNS = ("id", "published", "source", "title_en", "title", "url", "cluster_size")
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


def search_csv(hits: list[dict]) -> str:
    """One row per hit: id, published, source, title_en, title, url, cluster_size (1 for an unclustered hit)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(SEARCH_CSV_COLUMNS)
    for hit in hits:
        row = {**hit, "cluster_size": hit.get("cluster_size", 1)}
        writer.writerow([_cell(row.get(column)) for column in SEARCH_CSV_COLUMNS])
    return out.getvalue()
