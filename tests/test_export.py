"""Parallel-text export of an indexed article: TSV and TMX 1.4b that other tools can read back."""

import csv
import io
import json
import xml.etree.ElementTree as ET

from service.web import export

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
DOCUMENT = {
    "id": "a1",
    "model": "opus-mt-ar-en@1",
    "source": "BBC\tArabic",
    "published": "2018-03-01T09:00:00Z",
    "url": "https://example.org/a1",
    "sentences": [
        {"position": 0, "field": "title", "paragraph": 0, "score": -0.5, "ar": "عنوان الخبر", "en": "News title"},
        {
            "position": 1,
            "field": "body",
            "paragraph": 2,
            "score": -0.1235,
            "ar": "قال\tالرئيس\nإن الاقتصاد تحسن.",
            "en": "The president said\r\nthe economy  improved.",
        },
        {
            "position": 2,
            "field": "body",
            "paragraph": 3,
            "score": 0.0,
            "ar": "نص\x00\x0b\ufffe",
            "en": "bell\x07 & <b>",
        },
    ],
}


def test_xml_text_drops_what_xml_forbids_and_keeps_the_rest():
    assert export.xml_text("a\x00b\x08c\x0bd\x1fe\ufffef\uffffg\ud800h") == "abcdefgh"
    assert export.xml_text("tab\tnew\nline\rعربي 😀 \ue000") == "tab\tnew\nline\rعربي 😀 \ue000"
    assert export.xml_text(42) == "42"


def test_tsv_has_a_header_and_one_line_per_sentence_pair():
    lines = export.to_tsv(DOCUMENT).split("\n")
    where = "\tBBC Arabic\t2018-03-01T09:00:00Z\thttps://example.org/a1"  # the article's, on every line
    assert lines[0] == "position\tfield\tparagraph\tscore\tar\ten\tsource\tpublished\turl"
    assert lines[1] == "0\ttitle\t0\t-0.5\tعنوان الخبر\tNews title" + where
    assert lines[2] == (
        "1\tbody\t2\t-0.1235\tقال الرئيس إن الاقتصاد تحسن.\tThe president said the economy improved." + where
    )
    assert lines[3] == "2\tbody\t3\t0.0\tنص\tbell & <b>" + where
    assert lines[4:] == [""]  # ends with a newline


def test_tsv_columns_hold_whatever_the_text_holds():
    rows = list(csv.reader(io.StringIO(export.to_tsv(DOCUMENT)), delimiter="\t"))
    assert [len(row) for row in rows] == [9, 9, 9, 9]


def test_an_article_without_sentences_is_a_header_alone():
    header = "position\tfield\tparagraph\tscore\tar\ten\tsource\tpublished\turl\n"
    assert export.to_tsv({"id": "e", "sentences": []}) == header


def test_tmx_parses_and_holds_one_unit_per_sentence_pair():
    data = export.to_tmx(DOCUMENT)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    tmx = ET.fromstring(data)  # the forbidden characters are gone, so the document parses
    assert tmx.tag == "tmx" and tmx.get("version") == "1.4"
    header = tmx.find("header")
    assert (header.get("srclang"), header.get("segtype"), header.get("datatype")) == ("ar", "sentence", "plaintext")
    units = tmx.findall("body/tu")
    assert [u.get("tuid") for u in units] == ["a1-0", "a1-1", "a1-2"]
    assert {u.find("prop[@type='x-model']").text for u in units} == {"opus-mt-ar-en@1"}
    pairs = [{v.get(XML_LANG): v.find("seg").text for v in u.findall("tuv")} for u in units]
    assert pairs[0] == {"ar": "عنوان الخبر", "en": "News title"}
    # kept as they are; an XML parser reads CR LF as LF
    assert pairs[1] == {"ar": "قال\tالرئيس\nإن الاقتصاد تحسن.", "en": "The president said\nthe economy  improved."}
    assert pairs[2] == {"ar": "نص", "en": "bell & <b>"}  # markup is escaped, not interpreted


def test_tmx_names_no_model_as_none_and_cleans_the_unit_id():
    document = {"id": "bad\x01id", "model": None, "sentences": [{"position": 0, "ar": "نص", "en": "Text"}]}
    unit = ET.fromstring(export.to_tmx(document)).find("body/tu")
    assert unit.get("tuid") == "badid-0" and unit.find("prop").text == "none"


def test_search_csv_parses_with_its_header_and_disarms_formulas():
    import csv
    import io

    from service.web.export import SEARCH_CSV_COLUMNS, search_csv

    hits = [
        {"id": "a1", "published": "2018-03-01", "source": "BBC", "title_en": "=HYPERLINK(1)", "title": "عنوان، «1»"},
        {
            "id": "@b2",
            "source": None,
            "title_en": 'He said "no",\nthen left',
            "url": "https://x.test/a",
            "cluster_size": 3,
        },
    ]
    text = search_csv(hits)
    assert text.startswith("\ufeff")  # Excel reads the file as UTF-8 only after this mark
    rows = [
        dict(zip(SEARCH_CSV_COLUMNS, row, strict=True)) for row in csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    ]
    assert list(rows[0].values()) == list(SEARCH_CSV_COLUMNS)
    assert [rows[1][c] for c in ("id", "title_en", "title", "cluster_size")] == [
        "a1",
        "'=HYPERLINK(1)",
        "عنوان، «1»",
        "1",
    ]
    assert [rows[2][c] for c in ("id", "title_en", "url", "cluster_size")] == [
        "'@b2",
        'He said "no",\nthen left',
        "https://x.test/a",
        "3",
    ]


def test_a_search_csv_row_says_where_its_english_comes_from_and_what_matched():
    hit = {
        "id": "a1",
        "category": "politics",
        "provenance": {"kind": "human", "model": None},
        "sentences": [{"ar": "وقف إطلاق النار", "en": "A ceasefire", "score": 0.0}],
    }
    row = dict(zip(export.SEARCH_CSV_COLUMNS, export.search_csv_row(hit, "http://x.test/articles/a1"), strict=True))
    assert (row["category"], row["translation"], row["model"]) == ("politics", "human", None)  # not "score 0.0"
    assert (row["matched_en"], row["matched_ar"], row["article_link"]) == (
        "A ceasefire",
        "وقف إطلاق النار",
        "http://x.test/articles/a1",
    )
    machine = {**hit, "provenance": {"kind": "machine", "model": "opus-mt-ar-en@1"}, "sentences": []}
    row = dict(zip(export.SEARCH_CSV_COLUMNS, export.search_csv_row(machine, ""), strict=True))
    assert (row["translation"], row["model"], row["matched_en"]) == ("machine", "opus-mt-ar-en@1", None)


def test_a_jobs_results_read_as_csv_with_their_provenance():
    results = [
        {"doc_id": "w1", "outcome": "indexed", "title": "خبر", "title_en": "News", "translation": {"model": "m@1"}},
        {"body": "نص", "body_en": "=text", "translation": {"model": "pretranslated", "translated": True}},
    ]
    text = "".join(export.job_csv_lines(json.dumps(r, ensure_ascii=False) for r in results))
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [(r["id"], r["outcome"], r["title_en"], r["translation"], r["model"]) for r in rows] == [
        ("w1", "indexed", "News", "machine", "m@1"),
        ("", "", "", "human", ""),
    ]
    assert rows[1]["body_en"] == "'=text"  # disarmed like every spreadsheet cell


JOB_RESULTS = [  # an indexing job's result, and a translate-only one's whose input had no id, as the store keeps them
    {
        "doc_id": "w1",
        "source": "BBC Arabic",
        "date": "2018-03-01",
        "translation": {"model": "m@1", "demo": False, "translated": True},
        "sentences": [
            {"field": "body", "paragraph": 0, "source": "قال الوزير.", "target": "The minister said.", "score": -0.2}
        ],
    },
    {
        "translation": {"model": "pretranslated", "translated": True},
        "sentences": [{"field": "title", "paragraph": 0, "source": "خبر", "target": "=News", "score": 0.0}],
    },
]


def test_a_jobs_parallel_text_reads_as_the_articles_tsv_and_tmx_do():
    lines = [json.dumps(result, ensure_ascii=False) for result in JOB_RESULTS]
    rows = list(csv.reader(io.StringIO("".join(export.job_tsv_lines(lines))), delimiter="\t"))
    assert rows[0] == list(export.TSV_COLUMNS)
    assert rows[1:] == [
        ["0", "body", "0", "-0.2", "قال الوزير.", "The minister said.", "BBC Arabic", "2018-03-01", ""],
        ["0", "title", "0", "human", "خبر", "'=News", "", "", ""],  # a person's translation, disarmed
    ]
    tmx = ET.fromstring(b"".join(export.job_tmx_chunks(lines)))
    assert tmx.find("header").get("srclang") == "ar"
    units = tmx.findall("body/tu")
    assert [unit.get("tuid") for unit in units] == ["w1-0", "item-2-0"]  # an item without an id: its number
    assert [seg.text for seg in units[0].iter("seg")] == ["قال الوزير.", "The minister said."]
    assert ET.fromstring(b"".join(export.job_tmx_chunks([]))).find("body") is not None  # nothing done yet


def test_a_human_translations_tsv_says_human_not_a_zero_score():
    human = {**DOCUMENT, "model": "pretranslated"}
    rows = list(csv.reader(io.StringIO(export.to_tsv(human)), delimiter="\t"))
    assert {row[3] for row in rows[1:]} == {"human"}
    rows = list(csv.reader(io.StringIO(export.to_tsv(DOCUMENT)), delimiter="\t"))
    assert rows[3][3] == "0.0"  # a model's score stays a number


def test_download_names_say_what_the_file_holds():
    assert export.download_name("search", "Gaza ceasefire!", "2026-12-07", extension="csv") == (
        "search-Gaza-ceasefire-2026-12-07.csv"
    )
    assert export.download_name("search", "وقف إطلاق النار", "2026-12-07", extension="csv") == (
        "search-وقف-إطلاق-النار-2026-12-07.csv"
    )
    assert export.download_name("", extension="csv") == "export.csv"
    header = export.attachment("search-غزة-2026-12-07.csv")
    assert header.startswith("attachment; filename=\"search-_-2026-12-07.csv\"; filename*=UTF-8''search-%D8%BA")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP's list: what a spreadsheet may run as a formula


def formula_cells(rows: list[list[str]]) -> list[str]:
    """The cells of a parsed export that a spreadsheet would run: text starting with a formula character."""
    return [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]


def test_every_text_cell_of_every_spreadsheet_export_is_disarmed():
    texts = [start + "1+cmd|' /C calc'!A0" for start in FORMULA_STARTS] + ["=\t=x", "\r\n@SUM(A1)"]
    document = {
        "id": "f1",
        "source": "=source",
        "published": "-1",
        "url": "@url",
        "sentences": [
            {"position": i, "field": "body", "paragraph": 0, "score": -0.25, "ar": text, "en": text}
            for i, text in enumerate(texts)
        ],
    }
    tsv = list(csv.reader(io.StringIO(export.to_tsv(document)), delimiter="\t"))
    assert formula_cells(tsv) == ["-0.25"] * len(texts)  # a negative score is a number, kept as it is
    assert [row[4] for row in tsv[1:3]] == ["'=1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"]
    assert tsv[1][6:] == ["'=source", "'-1", "'@url"]
    hits = [{"id": text, "source": text, "title_en": text, "title": text, "url": text} for text in texts]
    rows = list(csv.reader(io.StringIO(export.search_csv(hits).removeprefix("\ufeff"), newline="")))
    assert formula_cells(rows) == []
    assert rows[1][0] == "'=1+cmd|' /C calc'!A0" and rows[5][0] == "'\t1+cmd|' /C calc'!A0"
