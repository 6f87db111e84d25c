"""The JSON API under /api/v1: translate, detect, articles (with parallel-text export), search."""
from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, jsonify, request

from service.index import lifecycle
from service.ingest import ingest
from service.pipeline import ArticleError, translate_articles
from service.search.request import SearchRequest
from service.search.searcher import search
from service.text import langid
from service.web import export
from service.web.auth import requires_key
from service.web.errors import ApiError
from service.web.payload import json_body

bp = Blueprint("api", __name__)
INTERACTIVE_ATTEMPTS = 2  # a client waits on the request: an outage is a quick 503, not minutes of back-off
MAX_BEAM = 16


def services():
    return current_app.extensions["mt"]


def translator():
    found = services()
    if found.translator is None:
        raise ApiError(503, found.model_error or "no translation model", "model_unavailable")
    return found.translator


def read_texts(body) -> list[str]:
    """`text` or `texts` from a JSON object, within the configured limits."""
    settings = services().settings
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    if "texts" in body:
        texts = body["texts"]
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            raise ApiError(400, "`texts` must be a non-empty list of strings")
    elif "text" in body:
        if not isinstance(body["text"], str):
            raise ApiError(400, "`text` must be a string")
        texts = [body["text"]]
    else:
        raise ApiError(400, "send `text` (a string) or `texts` (a list of strings)")
    if len(texts) > settings.max_batch_texts:
        raise ApiError(413, f"at most {settings.max_batch_texts} texts per request")
    if sum(map(len, texts)) > settings.max_request_chars:
        raise ApiError(413, f"at most {settings.max_request_chars} characters per request")
    for index, text in enumerate(texts):
        if not text.strip():
            raise ApiError(422, f"text {index} is empty")
    return texts


def translate_texts(texts: list[str], source: str = "auto", beam_size: int | None = None) -> list[dict]:
    """Each text through the pipeline, batched together; one untranslatable text fails the request."""
    decoding = {"beam_size": beam_size} if beam_size else {}
    results = []
    items = enumerate({"body": text} for text in texts)
    for index, result in translate_articles(items, translator(), language="ar" if source == "ar" else None, **decoding):
        if isinstance(result, ArticleError):
            raise ApiError(422, f"text {index}: {result}")
        results.append(result)
    return results


@bp.post("/translate")
@requires_key(write=False)
def translate():
    body = json_body(services().settings.max_request_bytes)
    texts = read_texts(body)
    source = body.get("source", "auto")
    if source not in ("auto", "ar"):
        raise ApiError(400, "`source` must be auto or ar (this service translates Arabic to English)")
    beam = body.get("beam_size")
    if beam is not None and not (isinstance(beam, int) and not isinstance(beam, bool) and 1 <= beam <= MAX_BEAM):
        raise ApiError(400, f"`beam_size` must be an integer from 1 to {MAX_BEAM}")
    results = translate_texts(texts, source, beam)
    model = translator()
    return jsonify({"model": model.model_id, "demo": model.demo, "translations": [
        {"text": r["body"], "translation": r["body_en"], "language": r["language"], "score": r["translation"]["score"],
         "sentences": [{"source": s["source"], "target": s["target"], "score": s["score"], "span": s["span"]}
                       for s in r["sentences"]]}
        for r in results]})


@bp.post("/detect")
@requires_key(write=False)
def detect():
    texts = read_texts(json_body(services().settings.max_request_bytes))
    return jsonify({"detections": [langid.detect(text).to_dict() for text in texts]})


@bp.post("/articles")
@requires_key(write=True)
def add_articles():
    found = services()
    body = json_body(found.settings.max_request_bytes)
    articles = body if isinstance(body, list) else [body]
    if not articles or not all(isinstance(a, dict) for a in articles):
        raise ApiError(400, "send one article object or a non-empty list of them")
    if len(articles) > found.settings.max_api_articles:
        raise ApiError(413, f"at most {found.settings.max_api_articles} articles per request; "
                            "submit larger loads as a bulk job")
    lifecycle.ensure(found.client, found.alias, found.settings.opensearch_shards, found.settings.opensearch_replicas)
    report = ingest(enumerate(articles), found.client, found.alias, translator(),
                    attempts=INTERACTIVE_ATTEMPTS)
    reasons = {r.line: r.reason for r in report.rejects}
    items = []
    for index in range(len(articles)):
        status, doc_id = report.outcomes.get(index, ("rejected", None))
        item = {"index": index, "id": doc_id, "status": status}
        if index in reasons:
            item["reason"] = reasons[index]
        if index in report.dropped_fields:  # stored without these fields
            item["rejected_fields"] = report.dropped_fields[index]
        items.append(item)
    return jsonify({**report.to_dict(), "items": items})


@bp.get("/articles/<path:article_id>")
@requires_key(write=False)
def get_article(article_id: str):
    found = services()
    document = found.client.get(index=found.alias, id=article_id)["_source"]
    kind = request.args.get("format", "json")
    filename = re.sub(r"[^\w.-]", "_", article_id)[:100] or "article"
    if kind == "json":
        return jsonify(document)
    if kind == "tsv":
        return Response(export.to_tsv(document), mimetype="text/tab-separated-values",
                        headers={"Content-Disposition": f'attachment; filename="{filename}.tsv"'})
    if kind == "tmx":
        return Response(export.to_tmx(document), mimetype="application/x-tmx+xml",
                        headers={"Content-Disposition": f'attachment; filename="{filename}.tmx"'})
    raise ApiError(400, "`format` must be json, tsv or tmx")


@bp.delete("/articles/<path:article_id>")
@requires_key(write=True)
def delete_article(article_id: str):
    found = services()
    found.client.delete(index=found.alias, id=article_id, refresh="wait_for")
    return "", 204


def search_request(args) -> SearchRequest:
    """A SearchRequest from query-string arguments; bad numbers are a 400."""
    try:
        size, page = int(args.get("size", 10)), int(args.get("page", 1))
    except ValueError:
        raise ApiError(400, "`size` and `page` must be integers") from None
    def chosen(name: str) -> tuple[str, ...]:
        return tuple(value for value in args.getlist(name) if value)  # an empty select means "all"
    query = SearchRequest(args.get("q", ""), args.get("lang") or "auto", chosen("source"), chosen("category"),
                          args.get("from") or None, args.get("to") or None, args.get("sort") or "relevance",
                          size, page)
    try:
        query.validate()
    except ValueError as error:
        raise ApiError(400, str(error)) from None
    return query


@bp.get("/search")
@requires_key(write=False)
def search_articles():
    found = services()
    return jsonify(search(found.client, found.alias, search_request(request.args), found.translator))
