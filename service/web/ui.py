"""The analyst web UI: search, read an article side by side, translate, ingest. Server-rendered."""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, redirect, render_template, request, url_for
from opensearchpy.exceptions import OpenSearchException
from werkzeug.datastructures import MultiDict

from service.errors import ServiceError
from service.limits import MAX_RESULT_WINDOW
from service.search.overview import collection_overview
from service.search.query import QueryError
from service.search.request import PastLastPage, SearchRequest
from service.search.stories import cluster_members
from service.web import article_view, searchpage
from service.web.actions import (
    article_id_or_404,
    key_owner,
    read_texts,
    related_articles,
    run_search,
    search_request,
    submit_job,
    translate_texts,
)
from service.web.auth import caller, check_key
from service.web.errors import ApiError
from service.web.services import app_services
from service.web.sessions import signing_in_available

bp = Blueprint("ui", __name__)
LOW_CONFIDENCE = -1.0  # mean token log-probability below which a sentence is marked for review
# Pages with no data of their own: it comes through the keyed API.
SHELL_PAGES = {"ui.ingest_page", "ui.jobs_page", "ui.alerts_page"}
WORDINGS = ("q_ar", "q_en", "q_names", "wording_for")  # the user's own wordings, and the query they belong to
log = logging.getLogger(__name__)


@bp.before_request
def pages_need_a_key_when_reads_do():
    """With READ_REQUIRES_KEY=on, pages that show articles, searches or translations need a key, as the API does;
    a browser that has not signed in is sent to sign in first, and brought back."""
    if request.endpoint in SHELL_PAGES:
        return None
    if request.method == "GET" and caller().key_state == "none" and signing_in_available():
        settings = app_services().settings
        if settings.read_requires_key and settings.api_keys:
            return redirect(url_for("signin.sign_in_page", next=request.full_path.rstrip("?")))
    check_key(write=False)
    return None


@bp.app_context_processor
def page_context():
    services = app_services()
    return {
        "demo_model": services.demo,
        "model_id": services.model_id,
        "low_confidence": LOW_CONFIDENCE,
    }


@bp.app_template_global()
def search_url(values: dict, drop: tuple[str, ...] = (), **changes) -> str:
    """The search page's URL for these arguments (lists of values by name, as MultiDict.to_dict(flat=False)),
    less those named in drop, with the changes."""
    return url_for("ui.search_page", **{**searchpage.without(values, *drop), **changes})


bp.add_app_template_global(searchpage.facet_label, "facet_label")
bp.add_app_template_global(searchpage.exact_time, "exact_time")


@bp.app_template_global()
def time_ago(published: str | None) -> str:
    """The publication time in words, as of this request: "3 hours ago", or the date when it is older."""
    return searchpage.relative_time(published, dt.datetime.now(dt.UTC))


@bp.get("/")
def search_page():
    args = _with_current_wordings(request.args)
    if not args.get("q", "").strip():
        return render_template("search.html", result=None, problem=None, args=args, overview=_overview())
    values = args.to_dict(flat=False)
    try:
        searchpage.check_page_and_dates(values)
        query = search_request(args)
        result = run_search(query)
    except searchpage.PageProblem as problem:
        return _search_problem(args, problem)
    except PastLastPage as error:
        return _search_problem(args, searchpage.past_last_page(values, int(args["page"]), error.last_page))
    except (ApiError, QueryError) as error:
        return _search_problem(args, _in_user_words(error, values))
    return render_template("search.html", problem=None, args=args, **_results_context(args, query, result))


def _with_current_wordings(args: MultiDict) -> MultiDict:
    """The arguments without the user's own q_ar / q_en / q_names when they were written for another query.

    The search form carries them along (hidden) with `wording_for`, the query they belong to, so that changing a
    filter keeps them and typing a new query drops them.
    """
    written_for = args.get("wording_for")
    if written_for is None or written_for == args.get("q"):
        return args
    return MultiDict([(name, value) for name, value in args.items(multi=True) if name not in WORDINGS])


def _search_problem(args: MultiDict, problem: searchpage.PageProblem):
    return render_template("search.html", result=None, problem=problem, args=args, overview=None), 400


def _in_user_words(error: ApiError | QueryError, values: dict) -> searchpage.PageProblem:
    """The API's error as the page says it: the same facts, with a link that fixes the search where one does."""
    message = error.message if isinstance(error, ApiError) else str(error)
    code = getattr(error, "code", None)
    if code == "reversed_dates":
        return searchpage.reversed_dates(values)
    if "page" in message and code in ("out_of_range", "bad_request"):
        return searchpage.page_out_of_range(values)
    return searchpage.PageProblem(message)


def _results_context(args: MultiDict, query: SearchRequest, result: dict) -> dict:
    """What the results page shows beside the hits: pages, facets, the timeline, the wordings searched, CSV."""
    values = args.to_dict(flat=False)
    listed = result.get("stories", result["total"]) if query.collapse else result["total"]
    pages = min(-(-listed // query.size), MAX_RESULT_WINDOW // query.size)
    facets = result["facets"]
    return {
        "result": result,
        "views": [searchpage.hit_view(hit) for hit in result["hits"]],
        "page": query.page,
        "pages": pages,
        "prev_args": {**values, "page": [query.page - 1]} if query.page > 1 else None,
        "next_args": {**values, "page": [query.page + 1]} if query.page < pages else None,
        "collapsed": query.collapse,
        "facets": {
            name: searchpage.facet_options(facets.get(name, []), args.getlist(name)) for name in ("source", "category")
        },
        "timeline": searchpage.timeline(
            facets.get("published", []), values, dt.datetime.now(dt.UTC), (result.get("timeline") or {}).get("last")
        ),
        "mix_up": searchpage.language_mix_up(query.query, query.lang),
        "wordings": searchpage.other_wordings(result["query"]["searched"], query.q_ar, query.q_en, query.q_names),
        "saved_search": saved_search(query),
        "csv_url": url_for("api.search_articles", **{**searchpage.without(values, "wording_for"), "format": "csv"}),
        "back": request.full_path,
    }


def saved_search(query: SearchRequest) -> dict:
    """The search as the alerts API saves it: its query and filters, named as the search API names them."""
    filters = {
        "lang": query.lang,
        "source": list(query.sources),
        "category": list(query.categories),
        "from": query.date_from,
        "to": query.date_to,
        "q_ar": query.q_ar,
        "q_en": query.q_en,
        "q_names": query.q_names,
    }
    return {"query": query.query, "filters": {name: value for name, value in filters.items() if value}}


def _overview() -> dict | None:
    """The collection's figures and latest stories for the start page; None when the index cannot be read."""
    services = app_services()
    try:
        return collection_overview(services.client, services.alias)
    except (OpenSearchException, ServiceError):  # no index yet, the cluster down or unusable: the page still works
        log.warning("the start page could not read the collection", exc_info=True)
        return None


@bp.get("/stories/<path:cluster_id>")
def story_page(cluster_id: str):
    """Every outlet's version of a story, oldest first."""
    services = app_services()
    story = cluster_members(services.client, services.alias, article_id_or_404(cluster_id))
    if story is None:
        raise ApiError(404, "no story with this id")
    return render_template("story.html", story=story, back=article_view.safe_back(request.args.get("back"), None))


@bp.get("/articles/<path:article_id>/similar")
def similar_page(article_id: str):
    """More like this: related coverage in either language, outside the article's story, each with its evidence."""
    return render_template("similar.html", found=related_articles(article_id, request.args))


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
        job, _created = submit_job(key_owner())
    except ApiError as error:
        return render_template("ingest.html", error=error.message), error.status
    return redirect(url_for("ui.jobs_page", highlight=job["id"]), 303)


@bp.get("/jobs")
def jobs_page():
    """A shell: jobs are private, so the page's script lists the jobs of the key this browser signed in with."""
    return render_template("jobs.html", highlight=request.args.get("highlight"))


@bp.get("/alerts")
def alerts_page():
    """A shell: alerts are private, so the page's script lists the alerts of the key this browser signed in with."""
    return render_template("alerts.html", highlight=request.args.get("highlight"))
