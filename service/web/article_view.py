"""What the article page shows beyond the stored article: the search query's matches in its sentences (marked on
both sides), the way back to the results, English paragraphs for the reading view, and where its English comes
from. No routes here: ui.article_page calls these.

Markup: sentence text is escaped here, and the only tags added are <mark>s, either OpenSearch's (its html encoder
escapes the text around them) or ours around escaped Arabic words, so a Markup value never carries user markup.
"""

from __future__ import annotations

from itertools import groupby

from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from service.provenance import provenance
from service.search.body import sentence_clause
from service.search.names import collection_names
from service.search.query import QueryError
from service.search.query import parse as parse_query
from service.search.results import parse_hit
from service.search.searcher import query_wordings
from service.web.actions import search_request
from service.web.errors import ApiError
from service.web.searchpage import mark_spans

MAX_MARKED_SENTENCES = 50  # per side: the index's max_inner_result_window; more matching sentences stay unmarked
PROVENANCE_LABELS = {
    "machine": "Machine translation",
    "human": "Human translation",
    "demo": "Demo model: random weights, this English is noise",
    "original": "Original English, not translated",
}


LANGUAGE_NAMES = {"ar": "Arabic", "en": "English"}


def language_label(document: dict) -> str:
    """The detected language in words: "Arabic (detected, 100%)", not "language ar (1.00)"."""
    code = document.get("language") or "und"
    name = LANGUAGE_NAMES.get(code, code)
    confidence = document.get("language_confidence")
    return f"{name} (detected, {confidence:.0%})" if isinstance(confidence, (int, float)) else name


def is_english_original(document: dict) -> bool:
    """An article written in English: its text is shown once, not repeated as its own "Arabic"."""
    return document.get("language") == "en" or provenance(document)["kind"] == "original"


def safe_back(value: str | None, fallback: str) -> str:
    """value when it is a path on this site ("/?q=…"), else fallback: never a way to another site.

    Browsers read "//host", "/\\host" and paths with tabs or newlines in them ("/\\t/host") as other hosts, so any
    backslash, control character or space, and any start other than one "/", is refused.
    """
    if not value or not value.startswith("/") or value.startswith("//"):
        return fallback
    if "\\" in value or any(ord(char) <= 0x20 or ord(char) == 0x7F for char in value):
        return fallback
    return value


def provenance_label(document: dict) -> dict:
    """{"kind", "text"}: this article's own provenance, shown in place of a claim about every article."""
    origin = provenance(document)
    text = PROVENANCE_LABELS[origin["kind"]]
    if origin["kind"] == "machine" and origin["model"]:
        text += f" ({origin['model']})"
    return {"kind": origin["kind"], "text": text}


def query_matches(services, article_id: str, query: str) -> tuple[dict[int, dict], str | None]:
    """The article's sentences that the search query matches, by position, each with both sides as Markup, and
    an error message for a query that cannot be searched (then nothing is marked).

    One OpenSearch request: the search's own sentence clauses (the query and its translation to the other side,
    analysed as the search analyses them), limited to this article, with up to MAX_MARKED_SENTENCES inner hits.
    """
    try:
        request = search_request(MultiDict({"q": query}))
        parsed = parse_query(request.query)
    except (ApiError, QueryError) as error:
        return {}, error.message if isinstance(error, ApiError) else str(error)
    translators = {"en": services.translator, "ar": services.reverse_translator}
    names = collection_names(services.client, services.alias)  # cached: the search read them
    wordings, _not_searched = query_wordings(request, parsed, translators, names=names)  # translations cached too
    clauses = []
    for lang in dict.fromkeys(wording.lang for wording in wordings):
        clause = sentence_clause(lang, [(wording, 1.0) for wording in wordings if wording.lang == lang])
        clause["nested"]["inner_hits"]["size"] = MAX_MARKED_SENTENCES  # every matching sentence, not the best 3
        clauses.append(clause)
    body = {
        "query": {"bool": {"filter": [{"ids": {"values": [article_id]}}], "should": clauses}},
        "_source": ["model", "translated", "demo"],
        "size": 1,
    }
    hits = services.client.search(index=services.alias, body=body)["hits"]["hits"]
    if not hits:
        return {}, None
    return {pair["position"]: _marked_pair(pair) for pair in parse_hit(hits[0])["sentences"]}, None


def _marked_pair(pair: dict) -> dict:
    """The pair's two sides as Markup: the matched side with OpenSearch's marks, the Arabic words aligned to marked
    English words marked too; `matched` names the side (or sides) the query hit."""
    arabic = Markup(pair["ar_highlighted"])
    if pair["matched"] == "en" and pair.get("alignment"):
        spans = sorted({tuple(span) for marked in pair["alignment"] for span in marked["ar"]})
        arabic = mark_spans(pair["ar"], spans, "aligned-word")
    return {"matched": pair["matched"], "en": Markup(pair["en_highlighted"]), "ar": arabic}


def sentence_rows(document: dict, matches: dict[int, dict]) -> list[dict]:
    """Every sentence pair for the side-by-side table, with its marks and its number among the matches (1, 2, …)."""
    rows, number, previous = [], 0, None
    for sentence in document.get("sentences") or []:
        marked = matches.get(sentence["position"])
        if marked:
            number += 1
        paragraph = (sentence.get("field"), sentence.get("paragraph"))
        rows.append(
            {
                **sentence,
                "new_paragraph": previous is not None and paragraph != previous,  # the body's breaks, kept
                "en_html": marked["en"] if marked else sentence["en"],
                "ar_html": marked["ar"] if marked else sentence["ar"],
                "matched": marked["matched"] if marked else None,
                "match_number": number if marked else None,
            }
        )
        previous = paragraph
    return rows


def reading_paragraphs(rows: list[dict]) -> list[dict]:
    """The body's English in its paragraphs (the title is the page's heading), each with its Arabic original."""
    body = [row for row in rows if row.get("field") != "title"]
    paragraphs = []
    for _key, group in groupby(body, key=lambda row: (row.get("field"), row.get("paragraph"))):
        members = list(group)
        paragraphs.append(
            {
                "en": Markup(" ").join(escape(row["en_html"]) for row in members),
                "ar": Markup(" ").join(escape(row["ar_html"]) for row in members),
                "match_number": next((row["match_number"] for row in members if row["match_number"]), None),
            }
        )
    return paragraphs
