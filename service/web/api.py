"""The JSON API under /api/v1: translate, detect, articles (with parallel-text export), search, story clusters."""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import MethodNotAllowed

from service.ingest import IndexTarget, ingest_stream, machine_translation
from service.provenance import provenance
from service.search.stories import cluster_members
from service.text import langid
from service.web import export, schemas
from service.web.actions import (
    article_id_or_404,
    every_result_csv,
    loaded_translator,
    read_texts,
    related_articles,
    run_search,
    search_request,
    translate_texts,
)
from service.web.auth import requires_key
from service.web.errors import ApiError, error_response
from service.web.payload import json_body
from service.web.services import app_services
from service.web.validation import check_arguments, check_body

bp = Blueprint("api", __name__)
INTERACTIVE_ATTEMPTS = 2  # a client waits on the request: an outage is a quick 503, not minutes of back-off


@bp.post("/translate")
@requires_key(write=False)
def translate():
    body = json_body(app_services().settings.max_request_bytes)
    texts = read_texts(body, decoding=True)
    beam = body.get("beam_size")  # JSON Schema counts 2.0 as an integer, and so the document allows it
    results = translate_texts(texts, body.get("source", "auto"), None if beam is None else int(beam))
    translator = loaded_translator()
    return jsonify(
        {
            "model": translator.model_id,
            "demo": translator.demo,
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
    texts = read_texts(json_body(app_services().settings.max_request_bytes))
    return jsonify({"detections": [langid.detect(text).to_dict() for text in texts]})


@bp.post("/articles")
@requires_key(write=True)
def add_articles():
    services = app_services()
    settings = services.settings
    body = json_body(settings.max_request_bytes)
    check_body(body, schemas.articles_request(settings))
    articles = body if isinstance(body, list) else [body]
    target = IndexTarget.from_settings(
        settings, services.client, attempts=INTERACTIVE_ATTEMPTS, encoder=services.encoder
    )
    report = ingest_stream(list(enumerate(articles)), target, machine_translation(loaded_translator()))
    return jsonify({**report.to_dict(), "items": [_article_item(o) for o in report.outcomes.values()]})


def _article_item(outcome) -> dict:
    item = {"index": outcome.line, "id": outcome.doc_id, "status": outcome.status}
    if outcome.cluster_id:
        item["cluster_id"] = outcome.cluster_id
    if outcome.reason:
        item["reason"] = outcome.reason
    if outcome.dropped:  # stored without these fields
        item["rejected_fields"] = outcome.dropped
    return item


@bp.get("/articles/<path:article_id>")
@requires_key(write=False)
def get_article(article_id: str):
    services = app_services()
    arguments = check_arguments(request.args, [schemas.EXPORT_FORMAT, schemas.EXPORT_DOWNLOAD])
    export_format = arguments.get("format", "json")
    document = services.client.get(
        index=services.alias,
        id=article_id_or_404(article_id),
        _source_excludes=["cluster_bands"],  # look-up keys, not content
    )["_source"]
    filename = re.sub(r"[^\w.-]", "_", article_id)[:100] or "article"
    if export_format == "json":
        answer = jsonify({**document, "provenance": provenance(document)})
        if arguments.get("download"):  # the article page's link: saved as a file, not shown as raw text in the tab
            answer.headers["Content-Disposition"] = f'attachment; filename="{filename}.json"'
        return answer
    if export_format == "tsv":
        return Response(
            export.to_tsv(document),
            mimetype="text/tab-separated-values",
            headers={"Content-Disposition": f'attachment; filename="{filename}.tsv"'},
        )
    if export_format == "tmx":
        return Response(
            export.to_tmx(document),
            mimetype="application/x-tmx+xml",
            headers={"Content-Disposition": f'attachment; filename="{filename}.tmx"'},
        )


@bp.get("/articles/<path:article_id>/similar")
@requires_key(write=False)
def similar_articles(article_id: str):
    """More like this: related articles in either language, outside the article's story, each saying why."""
    return jsonify(related_articles(article_id, request.args))


@bp.delete("/articles/<path:article_id>")
def delete_article(article_id: str):
    """An article's delete; DELETE on .../similar is the wrong method for that resource (whose GET route takes the
    same path), answered before the key is asked for."""
    if article_id.endswith("/similar"):
        raise MethodNotAllowed(valid_methods=["GET", "HEAD", "OPTIONS"])
    return _delete_article(article_id)


@requires_key(write=True)
def _delete_article(article_id: str):
    services = app_services()
    article_id = article_id_or_404(article_id)
    # A delete waits for the refresh that lets search see it (up to a second); an id that is not there has nothing
    # to wait for, and a realtime exists() says so at once.
    if not services.client.exists(index=services.alias, id=article_id):
        return error_response(404, "not found")
    services.client.delete(index=services.alias, id=article_id, refresh="wait_for")
    return "", 204


@bp.get("/clusters/<path:cluster_id>")
@requires_key(write=False)
def get_cluster(cluster_id: str):
    services = app_services()
    found = cluster_members(
        services.client, services.alias, article_id_or_404(cluster_id)
    )  # cluster ids are article ids
    if found is None:
        raise ApiError(404, "not found")
    return jsonify(found)


@bp.get("/search")
@requires_key(write=False)
def search_articles():
    export_format = check_arguments(request.args, [schemas.SEARCH_FORMAT]).get("format", "json")
    query = search_request(request.args)
    result = run_search(query)  # the search as asked, so a bad page or date is a 400 before any CSV is sent
    if export_format == "csv":
        return every_result_csv(query, result, run_search, "search", query.query)
    return jsonify(result)
