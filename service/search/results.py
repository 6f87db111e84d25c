"""OpenSearch response → bilingual hits with aligned sentences, and facets (pure)."""

from __future__ import annotations

import datetime as dt
import html
import re

from service.provenance import ALIGNMENT_ABSENT, provenance
from service.search.body import COLLECTION_FACETS, FACETS, MEANING, WORDS
from service.search.timeline import bucket_interval
from service.wordalign import aligned_spans

COUNTERPART = {"ar": "en", "en": "ar", "both": None}
FACET_LABELS = {"middle_east": "Middle East", "us": "US", "uk": "UK", "un": "UN"}  # where capitalising is wrong
_KEY = re.compile(r"[a-z0-9]+(?:[_-][a-z0-9]+)*")


def _sentence_pairs(inner_hits: dict, kind: str, original: str = "ar") -> list[dict]:
    """Matched sentences from both languages' inner hits and the meaning channel's, each with its counterpart.

    `matched` says which side the query hit: "ar", "en", or "both" (an Arabic query and its translation); a
    sentence found by meaning matched on its article's original side. `counterpart` names the other side, the
    matched sentence's own translation or source. `by` says how: the query's words, or its meaning.
    """
    pairs: dict[int, dict] = {}
    alignments: dict[int, str | None] = {}
    for name, matched in (("sentences_ar", "ar"), ("sentences_en", "en")):
        for inner in inner_hits.get(name, {}).get("hits", {}).get("hits", []):
            source = inner["_source"]
            position = source.get("position", inner["_nested"]["offset"])
            highlight = inner.get("highlight", {})
            marked = (highlight.get(f"sentences.{matched}") or highlight.get(f"sentences.{matched}.exact") or [None])[0]
            if position in pairs:
                pair = pairs[position]
                pair["matched"] = "both"
            else:
                alignments[position] = source.get("alignment")
                pair = pairs[position] = _pair(source, position, matched, WORDS)
            if marked:
                pair[f"{matched}_highlighted"] = marked
    for inner in inner_hits.get("sentences_meaning", {}).get("hits", {}).get("hits", []):
        source = inner["_source"]
        position = source.get("position", inner["_nested"]["offset"])
        if position in pairs:  # found by its words too: shown once, highlighted
            continue
        alignments[position] = None  # nothing highlighted to align
        similarity = round(2 * inner["_score"] - 1, 4) if inner.get("_score") is not None else None
        pairs[position] = {**_pair(source, position, original, MEANING), "similarity": similarity}
    for position, pair in pairs.items():
        pair["counterpart"] = COUNTERPART[pair["matched"]]
        pair.update(_word_alignment(pair, alignments[position], kind))
    return sorted(pairs.values(), key=lambda p: p["position"])


def _word_alignment(pair: dict, alignment: str | None, kind: str) -> dict:
    """The Arabic word spans behind each highlighted English word, or null with the reason there are none."""
    if alignment is None:
        return {"alignment": None, "alignment_absent": ALIGNMENT_ABSENT[kind]}
    return {"alignment": aligned_spans(pair["en"], pair["ar"], pair["en_highlighted"], alignment)}


def _snippets(highlight: dict, fields: tuple[str, str]) -> list[str]:
    return [fragment for f in fields for fragment in highlight.get(f, [])]


def story_of(hit: dict) -> str:
    """The story cluster of a raw hit: its cluster_id, or the article alone (indexed before clustering)."""
    return hit["_source"].get("cluster_id", hit["_id"])


def parse_hit(hit: dict) -> dict:
    source = hit["_source"]
    highlight = hit.get("highlight", {})
    origin = provenance(source)
    return {
        "id": hit["_id"],
        "title": source.get("title", ""),
        "title_en": source.get("title_en", ""),
        # the whole title with the query's words in <mark>, where the title matched; else null
        "title_highlighted": (highlight.get("title") or [None])[0],
        "title_en_highlighted": (highlight.get("title_en") or [None])[0],
        "published": source.get("published"),
        "source": source.get("source"),
        "category": source.get("category"),
        "url": source.get("url"),
        "language": source.get("language"),
        "translation_score": source.get("translation_score"),
        "demo": source.get("demo", False),
        "provenance": origin,
        "score": hit.get("_score"),
        "snippets": {
            "ar": _snippets(highlight, ("title", "body")),
            "en": _snippets(highlight, ("title_en", "body_en")),
        },
        "sentences": _sentence_pairs(
            hit.get("inner_hits", {}), origin["kind"], "ar" if source.get("language") == "ar" else "en"
        ),
        "sentences_matched": _sentences_matched(hit.get("inner_hits", {})),
        "matched_by": [name for name in (WORDS, MEANING) if name in hit.get("matched_queries", ())],
        "cluster_id": story_of(hit),
    }


def _sentences_matched(inner_hits: dict) -> int:
    """How many sentences the query's words matched on the side that matched most (its inner hits hold at most
    MATCHED_SENTENCES of them)."""
    totals = [inner_hits.get(name, {}).get("hits", {}).get("total", {}) for name in ("sentences_ar", "sentences_en")]
    return max((total.get("value", 0) if isinstance(total, dict) else total for total in totals), default=0)


def parse_response(response: dict) -> dict:
    """{"total", "hits", "facets", "timeline"}: the shape the CLI prints with --json and the API returns.

    facets.published counts the results by day, week, month or year, whichever draws their span in at most
    MAX_BARS bars, regardless of the chosen dates; timeline says which, and the first and last publication time."""
    aggs = response.get("aggregations", {})
    stories = {"stories": aggs["stories"]["count"]["value"]} if "stories" in aggs else {}
    timeline = _timeline(aggs.get("published", {}))
    return {
        "total": response["hits"]["total"]["value"],
        **stories,
        "hits": [parse_hit(hit) for hit in response["hits"]["hits"]],
        "facets": {
            **{facet: _buckets(aggs.get(facet, {}).get("values", {})) for facet in FACETS if facet != "names"},
            "names": _name_buckets(aggs.get("names", {}).get("values", {})),
            "published": timeline["buckets"],
        },
        # each facet's values in the whole collection, largest first: a list no search reorders
        "collection_facets": {
            facet: [b["key"] for b in aggs.get("collection", {}).get(facet, {}).get("buckets", [])]
            for facet in COLLECTION_FACETS
        },
        "timeline": {key: timeline[key] for key in ("interval", "first", "last")},
    }


def _timeline(published: dict) -> dict:
    """The buckets of the interval the results' span calls for; none when no result has a date."""
    first, last = (published.get(end, {}).get("value_as_string") for end in ("first", "last"))
    try:
        interval = bucket_interval(dt.date.fromisoformat(first[:10]), dt.date.fromisoformat(last[:10]))
    except (TypeError, ValueError):  # no dated result, or a date before year 1 once in UTC
        return {"interval": None, "first": None, "last": None, "buckets": []}
    buckets = published.get(interval, {}).get("buckets", [])
    return {
        "interval": interval,
        "first": first,
        "last": last,
        "buckets": [{"value": b["key_as_string"], "count": b["doc_count"], "interval": interval} for b in buckets],
    }


def _buckets(terms: dict) -> list[dict]:
    return [{"value": b["key"], "count": b["doc_count"]} for b in terms.get("buckets", [])]


def _name_buckets(terms: dict) -> list[dict]:
    """People and places: each key with its display form, kind and the Arabic spellings its articles use."""
    buckets = []
    for b in terms.get("buckets", []):
        articles = [hit.get("_source", {}) for hit in b.get("labels", {}).get("hits", {}).get("hits", [])]
        buckets.append({"value": b["key"], "count": b["doc_count"], **name_label(b["key"], articles)})
    return buckets


def facet_label(value: str) -> str:
    """A readable label for a stored key: middle_east → Middle East; a name (BBC Arabic) stays as it is."""
    if value in FACET_LABELS:
        return FACET_LABELS[value]
    if not _KEY.fullmatch(value):
        return value
    return " ".join(FACET_LABELS.get(word, word.capitalize()) for word in re.split(r"[_-]", value))


def name_label(key: str, articles: list[dict]) -> dict:
    """A name's display form, kind and spellings, as the articles' stored names give them (the key alone, with
    none)."""
    entries = [entry for article in articles for entry in article.get("names") or [] if entry.get("key") == key]
    spellings = list(dict.fromkeys(spelling for entry in entries for spelling in entry.get("ar") or []))
    first = entries[0] if entries else {}
    return {"label": first.get("display") or key, "kind": first.get("kind"), "spellings": spellings}


def _pair(source: dict, position: int, matched: str, by: str) -> dict:
    """A sentence pair as a hit shows it, unhighlighted: highlighting replaces the side that matched."""
    return {
        "position": position,
        "field": source.get("field"),
        "score": source.get("score"),
        "matched": matched,
        "ar": source.get("ar", ""),
        "en": source.get("en", ""),
        "ar_highlighted": html.escape(source.get("ar", "")),
        "en_highlighted": html.escape(source.get("en", "")),
        "by": by,
    }
