"""The JSON API under /api/v1: translate, detect, articles (with parallel-text export), search."""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, jsonify, request

from service.errors import ArticleError
from service.index import lifecycle
from service.index.documents import MAX_ID_BYTES
from service.ingest import ingest
from service.pipeline import translate_articles
from service.search.request import SearchRequest
from service.search.searcher import search
from service.text import langid
from service.web import export, schemas
from service.web.auth import requires_key
from service.web.errors import ApiError
from service.web.payload import json_body
from service.web.validation import check_arguments, check_body

bp = Blueprint("api", __name__)
INTERACTIVE_ATTEMPTS = 2  # a client waits on the request: an outage is a quick 503, not minutes of back-off


def services():
    return current_app.extensions["mt"]


def translator():
    found = services()
    if found.translator is None:
        raise ApiError(503, found.model_error or "no translation model", "model_unavailable")
    return found.translator


def read_texts(body, decoding: bool = False) -> list[str]:
    """`text` or `texts` from a JSON object, checked against the declared schema and the configured limits."""
    settings = services().settings
    check_body(body, schemas.texts_request(settings, decoding))
    texts = body["texts"] if "texts" in body else [body["text"]]
    if sum(map(len, texts)) > settings.max_request_chars:  # the one limit JSON Schema cannot state: a sum
        raise ApiError(413, f"at most {settings.max_request_chars} characters per request")
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
    texts = read_texts(body, decoding=True)
    beam = body.get("beam_size")  # JSON Schema counts 2.0 as an integer, and so the document allows it
    results = translate_texts(texts, body.get("source", "auto"), None if beam is None else int(beam))
    model = translator()
    return jsonify(
        {
            "model": model.model_id,
            "demo": model.demo,
            "translations": [
                {
                    "text": r["body"],
                    "translation": r["body_en"],
                    "language": r["language"],
                    "score": r["translation"]["score"],
                    "sentences": [
                        {"source": s["source"], "target": s["target"], "score": s["score"], "span": s["span"]}
                        for s in r["sentences"]
                    ],
                }
                for r in results
            ],
        }
    )


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
    check_body(body, schemas.articles_request(found.settings))
    articles = body if isinstance(body, list) else [body]
    lifecycle.ensure(found.client, found.alias, found.settings.opensearch_shards, found.settings.opensearch_replicas)
    report = ingest(enumerate(articles), found.client, found.alias, translator(), attempts=INTERACTIVE_ATTEMPTS)
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


def stored_id(article_id: str) -> str:
    """The id, or a 404 for one no article can have (OpenSearch would refuse the request instead)."""
    if len(article_id.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise ApiError(404, "not found")
    return article_id


@bp.get("/articles/<path:article_id>")
@requires_key(write=False)
def get_article(article_id: str):
    found = services()
    kind = check_arguments(request.args, [schemas.EXPORT_FORMAT]).get("format", "json")
    document = found.client.get(index=found.alias, id=stored_id(article_id))["_source"]
    filename = re.sub(r"[^\w.-]", "_", article_id)[:100] or "article"
    if kind == "json":
        return jsonify(document)
    if kind == "tsv":
        return Response(
            export.to_tsv(document),
            mimetype="text/tab-separated-values",
            headers={"Content-Disposition": f'attachment; filename="{filename}.tsv"'},
        )
    if kind == "tmx":
        return Response(
            export.to_tmx(document),
            mimetype="application/x-tmx+xml",
            headers={"Content-Disposition": f'attachment; filename="{filename}.tmx"'},
        )


@bp.delete("/articles/<path:article_id>")
@requires_key(write=True)
def delete_article(article_id: str):
    found = services()
    found.client.delete(index=found.alias, id=stored_id(article_id), refresh="wait_for")
    return "", 204


def search_request(args) -> SearchRequest:
    """A SearchRequest from query-string arguments, checked against the declared parameters; a mismatch is a 400."""
    values = check_arguments(args, schemas.SEARCH_PARAMETERS)

    def chosen(name: str) -> tuple[str, ...]:
        return tuple(value for value in values.get(name, ()) if value)  # an empty select means "all"

    query = SearchRequest(
        values["q"],
        values.get("lang", "auto"),
        chosen("source"),
        chosen("category"),
        values.get("from") or None,
        values.get("to") or None,
        values.get("sort", "relevance"),
        values.get("size", 10),
        values.get("page", 1),
    )
    try:
        query.validate()
    except ValueError as error:  # what the parameters cannot state each alone: page x size past the result window
        raise ApiError(400, str(error), "out_of_range") from None
    return query


@bp.get("/search")
@requires_key(write=False)
def search_articles():
    found = services()
    return jsonify(search(found.client, found.alias, search_request(request.args), found.translator))
