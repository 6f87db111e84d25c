"""The analyst web UI: search, read an article side by side, translate, ingest. Server-rendered."""
from __future__ import annotations

import json

from flask import Blueprint, current_app, render_template, request, url_for

from service.files import RecordError, jsonl_records
from service.index import lifecycle
from service.ingest import ingest
from service.search.query import QueryError
from service.search.searcher import search
from service.web.api import read_texts, search_request, translate_texts
from service.web.auth import check_key
from service.web.errors import ApiError

bp = Blueprint("ui", __name__)
LOW_CONFIDENCE = -1.0  # mean token log-probability below which a sentence is marked for review


def services():
    return current_app.extensions["mt"]


@bp.app_context_processor
def page_context():
    found = services()
    return {"demo_model": found.demo, "model_id": getattr(found.translator, "model_id", None),
            "low_confidence": LOW_CONFIDENCE}


@bp.get("/")
def search_page():
    args = request.args
    if not args.get("q", "").strip():
        return render_template("search.html", result=None, error=None, args=args)
    try:
        query = search_request(args)
        result = search(services().client, services().alias, query, services().translator)
    except (ApiError, QueryError) as error:
        message = error.message if isinstance(error, ApiError) else str(error)
        return render_template("search.html", result=None, error=message, args=args), 400
    pages = min(-(-result["total"] // query.size), 10_000 // query.size)

    def page_url(number: int) -> str:
        return url_for("ui.search_page", **{**args.to_dict(flat=False), "page": number})
    return render_template("search.html", result=result, error=None, args=args, page=query.page, pages=pages,
                           prev_url=page_url(query.page - 1) if query.page > 1 else None,
                           next_url=page_url(query.page + 1) if query.page < pages else None)


@bp.get("/articles/<path:article_id>")
def article_page(article_id: str):
    document = services().client.get(index=services().alias, id=article_id)["_source"]
    return render_template("article.html", doc=document)


@bp.route("/translation", methods=["GET", "POST"])  # POST /translate is LibreTranslate's
def translate_page():
    if request.method == "GET":
        return render_template("translate.html", text="", results=None, error=None)
    text = request.form.get("text", "")
    try:
        read_texts({"text": text})
        results = translate_texts([text])
    except ApiError as error:
        return render_template("translate.html", text=text, results=None, error=error.message), error.status
    return render_template("translate.html", text=text, results=results[0], error=None)


def _uploaded_records(upload):
    """(line, record) from an uploaded JSONL file, or one article from a plain-text file."""
    data = upload.read()
    if upload.filename.lower().endswith((".jsonl", ".json")):
        return list(jsonl_records(data.splitlines(keepends=True)))
    try:
        return [(1, {"title": upload.filename, "body": data.decode("utf-8")})]
    except UnicodeDecodeError:
        return [(1, RecordError("the file is not UTF-8 text"))]


@bp.route("/ingest", methods=["GET", "POST"])
def ingest_page():
    if request.method == "GET":
        return render_template("ingest.html", report=None, error=None)
    try:
        check_key(write=True)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ApiError(400, "choose a file to upload")
        found = services()
        if found.translator is None:
            raise ApiError(503, found.model_error or "no translation model")
        lifecycle.create(found.client, found.alias, found.settings.opensearch_shards, found.settings.opensearch_replicas)
        report = ingest(_uploaded_records(upload), found.client, found.alias, found.translator)
    except ApiError as error:
        return render_template("ingest.html", report=None, error=error.message), error.status
    return render_template("ingest.html", report=report, error=None,
                           rejects=[r.to_dict() for r in report.rejects], as_json=json.dumps)
