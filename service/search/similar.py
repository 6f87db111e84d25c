"""More like this: an article's related coverage in either language, outside its own story, each related article
with the sentence pair that made it related.

The stored vectors are not in `_source` (service/index/vectors.py), so the article's first SIMILAR_SENTENCES
sentences (its original side, as the write path encodes them) are encoded again, at interactive priority: the
encoder's scheduler puts them before any job's passages (bench/xlang_clusters.py and the note give the cost). Each
is looked up by a nested knn search among the sentences of the articles of the same encoder, its own story left
out, all in one msearch; an article's similarity is the mean, over the looked-up sentences, of its best cosine with
each (0 where it was not among a sentence's nearest), so sharing several sentences counts more than one close
phrase. Without an encoder, or without vectors of it in the index, OpenSearch's more_like_this on the English
fields stands in, and the answer says so (method "words", with the reason).

The bodies and the ranking are pure; similar_articles, at the end, does the I/O.
"""

from __future__ import annotations

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from service.errors import SearchUnavailable
from service.index import vectors
from service.index.errors import reason_in
from service.search.searcher import vector_dimension

SIMILAR_SENTENCES = 8  # of the article, looked up: its title and lead say what it is about
SIMILAR_K = 50  # Lucene's HNSW candidates (sentences) per looked-up sentence
PER_SENTENCE = 20  # articles returned per looked-up sentence
SIMILAR_FLOOR = 0.5  # least cosine of the best pair for an article to count as related (USE: unrelated pairs ~0.2)
DEFAULT_SIZE, MAX_SIZE = 10, 50
MEANING, WORDS = "meaning", "words"
ARTICLE_SOURCE = [
    "id",
    "title",
    "title_en",
    "language",
    "cluster_id",
    "sentences.position",
    "sentences.ar",
    "sentences.en",
]
HIT_SOURCE = ["id", "title", "title_en", "published", "source", "category", "url", "language", "cluster_id"]
PAIR_SOURCE = [f"sentences.{key}" for key in ("position", "ar", "en")]


def outside_story(article_id: str, cluster_id: str) -> dict:
    """Articles of other stories than this one's (the article itself included in its story)."""
    return {"bool": {"must_not": [{"term": {"cluster_id": cluster_id}}, {"ids": {"values": [article_id]}}]}}


def sentence_search(vector, encoder_id: str, article_id: str, cluster_id: str) -> dict:
    """The articles (of this encoder, outside the story) holding the sentences nearest one of the article's, each
    with its nearest sentence as the inner hit."""
    articles = outside_story(article_id, cluster_id)
    articles["bool"]["filter"] = [{"term": {vectors.ENCODER_FIELD: encoder_id}}]
    pair = {"name": "pair", "size": 1, "_source": PAIR_SOURCE}
    return {
        "size": PER_SENTENCE,
        "_source": HIT_SOURCE,
        "query": vectors.nearest_sentences(vector, SIMILAR_K, articles, inner_hits=pair),
    }


def words_body(index: str, article_id: str, cluster_id: str, size: int) -> dict:
    """OpenSearch's more_like_this on the English fields (every article has English), outside the story."""
    query = outside_story(article_id, cluster_id)
    query["bool"]["must"] = [
        {
            "more_like_this": {
                "fields": ["title_en", "body_en"],
                "like": [{"_index": index, "_id": article_id}],
                "min_term_freq": 1,
                "min_doc_freq": 1,
                "max_query_terms": 40,
                "minimum_should_match": "10%",  # of the article's 40 most telling terms: a few shared are related
            }
        }
    ]
    return {"size": size, "_source": HIT_SOURCE, "query": query}


def _article_fields(source: dict) -> dict:
    return {key: source.get(key) for key in HIT_SOURCE if key != "id"}


def _sentence(sentence: dict, lang: str) -> dict:
    """A sentence as the answer shows it: in its article's original language (text), and in English."""
    text = sentence.get(lang) or sentence.get("ar") or ""
    return {"position": sentence.get("position"), "lang": lang, "text": text, "en": sentence.get("en") or ""}


def rank_by_meaning(
    looked_up: list[dict], own_lang: str, answers: list[dict], size: int, floor: float = SIMILAR_FLOOR
) -> list[dict]:
    """The related articles, most similar first (ties: id), at most size: each with its similarity (the mean of
    its best cosines with the looked-up sentences) and why, the pair with the highest cosine.

    looked_up: the article's sentences that were looked up, in the order of answers (one search answer each)."""
    found: dict[str, dict] = {}
    for i, (sentence, answer) in enumerate(zip(looked_up, answers, strict=True)):
        for hit in answer["hits"]["hits"]:
            cosine = 2 * hit["_score"] - 1  # Lucene's cosinesimil score is (1 + cosine) / 2
            entry = found.setdefault(
                hit["_id"], {"source": hit["_source"], "best": [0.0] * len(looked_up), "why": None, "top": -2.0}
            )
            entry["best"][i] = max(entry["best"][i], cosine)
            if cosine > entry["top"]:
                pair = hit["inner_hits"]["pair"]["hits"]["hits"][0]["_source"]
                other_lang = "ar" if hit["_source"].get("language") == "ar" else "en"
                entry["top"] = cosine
                entry["why"] = {
                    "sentence": _sentence(sentence, own_lang),
                    "counterpart": _sentence(pair, other_lang),
                    "similarity": round(cosine, 4),
                }
    related = [
        {
            "id": doc_id,
            **_article_fields(entry["source"]),
            "similarity": round(sum(entry["best"]) / len(entry["best"]), 4),
            "why": entry["why"],
        }
        for doc_id, entry in found.items()
        if entry["top"] >= floor
    ]
    related.sort(key=lambda hit: (-hit["similarity"], hit["id"]))
    return related[:size]


def rank_by_words(response: dict) -> list[dict]:
    """more_like_this's hits, in its order, each saying it shares words (no sentence pair: BM25 has none)."""
    return [
        {
            "id": hit["_id"],
            **_article_fields(hit["_source"]),
            "similarity": None,
            "why": {"by": WORDS, "score": hit.get("_score")},
        }
        for hit in response["hits"]["hits"]
    ]


def _msearch(client: OpenSearch, alias: str, searches: list[dict]) -> list[dict]:
    lines = [line for search in searches for line in ({"index": alias}, search)]
    answers = client.msearch(body=lines)["responses"]
    for answer in answers:
        if "error" in answer:
            raise SearchUnavailable(f"OpenSearch could not look up related sentences: {reason_in(answer['error'])}")
    return answers


def similar_articles(client: OpenSearch, alias: str, article_id: str, encoder, size: int = DEFAULT_SIZE) -> dict | None:
    """{"article", "method", "not_by_meaning", "encoder", "hits"}; None when there is no such article.

    encoder: the process's SentenceEncoder, or None (ENCODER=off): related articles by words then."""
    try:
        found = client.get(index=alias, id=article_id, _source_includes=ARTICLE_SOURCE)
    except NotFoundError:
        return None
    source = found["_source"]
    cluster_id = source.get("cluster_id") or article_id
    lang = "ar" if source.get("language") == "ar" else "en"
    article = {"id": article_id, "title": source.get("title"), "title_en": source.get("title_en"), "language": lang}
    article["cluster_id"] = cluster_id
    why_not = _why_not_by_meaning(client, alias, encoder)
    if why_not is None:
        looked_up = (source.get("sentences") or [])[:SIMILAR_SENTENCES]
        texts = vectors.original_texts({"language": lang, "sentences": looked_up})
        rows = encoder.encode_passages(texts) if texts else []  # interactive: before any job's passages
        searches = [sentence_search(row, encoder.encoder_id, article_id, cluster_id) for row in rows]
        answers = _msearch(client, alias, searches) if searches else []
        hits = rank_by_meaning(looked_up, lang, answers, size)
        return {
            "article": article,
            "method": MEANING,
            "encoder": encoder.encoder_id,
            "not_by_meaning": None,
            "hits": hits,
        }
    index = found["_index"]
    response = client.search(index=alias, body=words_body(index, article_id, cluster_id, size))
    return {
        "article": article,
        "method": WORDS,
        "encoder": None,
        "not_by_meaning": why_not,
        "hits": rank_by_words(response),
    }


def _why_not_by_meaning(client: OpenSearch, alias: str, encoder) -> str | None:
    if encoder is None:
        return "no sentence encoder (ENCODER=off): related by shared English words"
    if vector_dimension(client, alias) != encoder.dimension:
        return "the index holds no sentence vectors of this encoder (`index migrate` gives them): related by words"
    return None
