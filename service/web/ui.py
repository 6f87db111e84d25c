"""The analyst web UI: search, read an article side by side, translate, ingest. Server-rendered."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from service.limits import MAX_RESULT_WINDOW
from service.search.query import QueryError
from service.web import article_view
from service.web.actions import job_owner, read_texts, run_search, search_request, submit_job, translate_texts
from service.web.auth import check_key
from service.web.errors import ApiError
from service.web.services import app_services

bp = Blueprint("ui", __name__)
LOW_CONFIDENCE = -1.0  # mean token log-probability below which a sentence is marked for review
SHELL_PAGES = {"ui.ingest_page", "ui.jobs_page"}  # no data of their own: it comes through the keyed API


@bp.before_request
def pages_need_a_key_when_reads_do():
    """With READ_REQUIRES_KEY=on, pages that show articles, searches or translations need a key, as the API does."""
    if request.endpoint not in SHELL_PAGES:
        check_key(write=False)


@bp.app_context_processor
def page_context():
    services = app_services()
    return {
        "demo_model": services.demo,
        "model_id": services.model_id,
        "low_confidence": LOW_CONFIDENCE,
    }


@bp.get("/")
def search_page():
    args = request.args
    if not args.get("q", "").strip():
        return render_template("search.html", result=None, error=None, args=args)
    try:
        query = search_request(args)
        result = run_search(query)
    except (ApiError, QueryError) as error:
        message = error.message if isinstance(error, ApiError) else str(error)
        return render_template("search.html", result=None, error=message, args=args), 400
    pages = min(-(-result["total"] // query.size), MAX_RESULT_WINDOW // query.size)

    def page_url(number: int) -> str:
        return url_for("ui.search_page", **{**args.to_dict(flat=False), "page": number})

    return render_template(
        "search.html",
        result=result,
        error=None,
        args=args,
        page=query.page,
        pages=pages,
        prev_url=page_url(query.page - 1) if query.page > 1 else None,
        next_url=page_url(query.page + 1) if query.page < pages else None,
    )


@bp.get("/articles/<path:article_id>")
def article_page(article_id: str):
    """Side by side (or, with view=reading, English paragraphs); with q, the query's matches marked on both sides."""
    services = app_services()
    document = services.client.get(index=services.alias, id=article_id)["_source"]
    query = request.args.get("q", "").strip()
    matches, query_error = article_view.query_matches(services, article_id, query) if query else ({}, None)
    rows = article_view.sentence_rows(document, matches)
    reading = request.args.get("view") == "reading"
    results = url_for("ui.search_page", q=query) if query else None
    back = article_view.safe_back(request.args.get("back"), results)

    def view_url(view: str | None) -> str:
        """This page in the other view, with the query and a back link of the caller's own (None values drop)."""
        own_back = back if back != results else None
        return url_for("ui.article_page", article_id=article_id, view=view, q=query or None, back=own_back)

    return render_template(
        "article.html",
        doc=document,
        rows=rows,
        paragraphs=article_view.reading_paragraphs(rows) if reading else None,
        query=query,
        query_error=query_error,
        match_count=len(matches),
        back=back,
        reading_url=view_url("reading"),
        side_by_side_url=view_url(None),
        origin=article_view.provenance_label(document),
    )


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
    paragraphs = [line for line in results[0]["body_en"].split("\n") if line.strip()]  # the input's own breaks
    return render_template("translate.html", text=text, results=results[0], paragraphs=paragraphs, error=None)


@bp.route("/ingest", methods=["GET", "POST"])
def ingest_page():
    """Upload a file: it becomes a bulk job (translate and index), and the jobs page shows its progress."""
    if request.method == "GET":
        return render_template("ingest.html", error=None)
    try:
        check_key(write=True)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ApiError(400, "choose a file to upload")
        job, _created = submit_job(job_owner())
    except ApiError as error:
        return render_template("ingest.html", error=error.message), error.status
    return redirect(url_for("ui.jobs_page", highlight=job["id"]), 303)


@bp.get("/jobs")
def jobs_page():
    """A shell: jobs are private, so the page's script lists the jobs of the key kept in the browser tab."""
    return render_template("jobs.html", highlight=request.args.get("highlight"))
