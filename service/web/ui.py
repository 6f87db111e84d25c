"""The analyst web UI: search, read an article side by side, translate, ingest. Server-rendered."""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, redirect, render_template, request, url_for
from opensearchpy.exceptions import OpenSearchException
from werkzeug.datastructures import MultiDict

from service.alerts.model import watches, watching_in_words
from service.errors import SearchUnavailable, ServiceError
from service.limits import MAX_RESULT_WINDOW
from service.search.coverage import related_stories, story_size, story_versions
from service.search.names import collection_names, english_names_in
from service.search.overview import collection_overview
from service.search.people import name_summary
from service.search.query import QueryError
from service.search.request import PastLastPage, SearchRequest
from service.search.topstories import BREAKING_HOURS
from service.web import article_view, export, searchpage, storypage
from service.web.actions import (
    article_id_or_404,
    browse_request,
    every_result_csv,
    key_owner,
    read_texts,
    related_articles,
    run_browse,
    run_search,
    search_request,
    submit_job,
    translate_texts,
)
from service.web.auth import caller, check_key
from service.web.errors import ApiError, is_search_outage
from service.web.services import app_services
from service.web.sessions import signing_in_available

bp = Blueprint("ui", __name__)
LOW_CONFIDENCE = -1.0  # mean token log-probability below which a sentence is marked for review
# Pages with no data of their own: it comes through the keyed API.
SHELL_PAGES = {"ui.ingest_page", "ui.jobs_page", "ui.alerts_page"}
OPEN_TO_ALL = SHELL_PAGES | {"ui.hide_demo_banner"}  # no key asked, whatever READ_REQUIRES_KEY says
DEMO_BANNER_COOKIE = "demo_banner"  # set when the reader hid the demo model notice; only its presence counts
DEMO_BANNER_HIDDEN_FOR = 365 * 24 * 3600  # seconds
# The start page's example searches: each finds something in the sample `make run` indexes.
NAME_PAGE_STORIES = 10  # a person's or place's page: its newest stories, and its newest articles
NAME_PAGE_ARTICLES = 10
EXAMPLE_SEARCHES = (("en", "coronavirus"), ("en", '"World Health Organization"'), ("ar", "كورونا"), ("ar", "الصين"))
log = logging.getLogger(__name__)


@bp.before_request
def pages_need_a_key_when_reads_do():
    """With READ_REQUIRES_KEY=on, pages that show articles, searches or translations need a key, as the API does;
    a browser that has not signed in is sent to sign in first, and brought back."""
    if request.endpoint in OPEN_TO_ALL:
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
        "demo_banner_cookie": DEMO_BANNER_COOKIE,
    }


@bp.post("/demo-notice/hide")
def hide_demo_banner():
    """Hide the demo model notice in this browser (a cookie), and go back to the page it was hidden on.

    It takes five lines of a phone's first screen on every page; each result still says where its English comes
    from, so hiding it hides no fact."""
    response = redirect(article_view.safe_back(request.form.get("back"), url_for("ui.search_page")), 303)
    response.set_cookie(
        DEMO_BANNER_COOKIE,
        "hidden",
        max_age=DEMO_BANNER_HIDDEN_FOR,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )
    return response


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
    focus = request.args.get("focus")  # the control that changed: focused again on the new page (search.js)
    args = _with_current_wordings(MultiDict([(n, v) for n, v in request.args.items(multi=True) if n != "focus"]))
    values = args.to_dict(flat=False)
    browsing = searchpage.is_browse(values)
    if not browsing and not args.get("q", "").strip():
        return render_template("search.html", result=None, problem=None, args=args, **_start_context())
    try:
        dated = MultiDict(searchpage.check_page_and_dates(values))  # even without a query: a bad date is told
        query = browse_request(dated) if browsing else search_request(dated)
        result = run_browse(query) if browsing else run_search(query)
    except searchpage.PageProblem as problem:
        return _search_problem(args, problem)
    except PastLastPage as error:
        return _search_problem(args, searchpage.past_last_page(values, int(args["page"]), error.last_page))
    except QueryError as error:
        return _search_problem(args, searchpage.query_problem(error, values))
    except ApiError as error:
        return _search_problem(args, _in_user_words(error, values))
    except (SearchUnavailable, OpenSearchException) as error:
        if not is_search_outage(error):
            raise
        log.warning("search is down: %s", error)
        return _search_problem(args, search_down(values))
    context = _results_context(args, query, result, dated.to_dict(flat=False), browsing)
    return render_template("search.html", problem=None, args=args, focus=focus, browsing=browsing, **context)


@bp.get("/browse.csv")
def browse_csv():
    """A listing without a query (the search page's filters alone) as CSV: every article under the filters, newest
    first, as the search API's format=csv gives a search's (a query is not needed here, as it is there)."""
    query = browse_request(MultiDict(searchpage.check_page_and_dates(request.args.to_dict(flat=False))))
    return every_result_csv(query, run_browse(query), run_browse, "articles", *query.sources, *query.categories)


def search_down(values: dict) -> searchpage.PageProblem:
    """An outage in the user's words: the query stays in the form, one click runs it again, Translate still works."""
    problem = searchpage.PageProblem(
        "Search is down for a moment: the news collection cannot be reached. Your search is kept; try it again "
        "in a few seconds.",
        "Try this search again",
        values,
    )
    problem.status, problem.code = SearchUnavailable.status, SearchUnavailable.code
    return problem


def _with_current_wordings(args: MultiDict) -> MultiDict:
    """The arguments without the user's own q_ar / q_en / q_names when they were written for another query.

    The search form carries them along (hidden) with `wording_for`, the query they belong to, so that changing a
    filter keeps them and typing a new query drops them.
    """
    written_for = args.get("wording_for")
    if written_for is None or written_for == args.get("q"):
        return args
    return MultiDict([(name, value) for name, value in args.items(multi=True) if name not in searchpage.WORDINGS])


def _search_problem(args: MultiDict, problem: searchpage.PageProblem):
    return render_template("search.html", result=None, problem=problem, args=args, overview=None), problem.status


def _in_user_words(error: ApiError, values: dict) -> searchpage.PageProblem:
    """The API's error as the page says it: the same facts, with a link that fixes the search where one does."""
    message, code = error.message, error.code
    if code == "reversed_dates":
        return searchpage.reversed_dates(values)
    if "page" in message and code in ("out_of_range", "bad_request"):
        return searchpage.page_out_of_range(values)
    return searchpage.PageProblem(message)


def _results_context(args: MultiDict, query: SearchRequest, result: dict, dated: dict, browsing: bool) -> dict:
    """What the results page shows beside the hits: pages, facets, the timeline, the wordings searched, CSV.

    dated: the arguments with the dates in ISO form, as the API reads them (the page keeps the user's own)."""
    values = args.to_dict(flat=False)
    listed = result.get("stories", result["total"]) if query.collapse else result["total"]
    pages = min(-(-listed // query.size), MAX_RESULT_WINDOW // query.size)
    facets = result["facets"]
    names = searchpage.name_options(facets.get("names", []), args.getlist("name"))
    saved = saved_search(query)
    watchable = browsing and watches("", saved["filters"])  # a browse by source, category or name can be followed
    return {
        "result": result,
        "views": [searchpage.hit_view(hit) for hit in result["hits"]],
        "page": query.page,
        "pages": pages,
        "prev_args": {**values, "page": [query.page - 1]} if query.page > 1 else None,
        "next_args": {**values, "page": [query.page + 1]} if query.page < pages else None,
        "collapsed": query.collapse,
        "facets": {
            name: searchpage.facet_options(
                facets.get(name, []), args.getlist(name), result.get("collection_facets", {}).get(name, [])
            )
            for name in ("source", "category")
        },
        "names": names,
        "active_filters": searchpage.active_filters(values, {option.value: option.label for option in names}),
        "stop_words": searchpage.stop_words_only(query.query) if result["total"] == 0 and query.query else [],
        "spellings_to_try": _spellings_to_try(query, result, values) if result["total"] == 0 else [],
        "timeline": searchpage.timeline(
            facets.get("published", []), values, dt.datetime.now(dt.UTC), (result.get("timeline") or {}).get("last")
        ),
        "mix_up": searchpage.language_mix_up(query.query, query.lang) if query.query else None,
        "wordings": searchpage.other_wordings(result["query"]["searched"], query.q_ar, query.q_en, query.q_names),
        "saved_search": saved,
        "watchable": watchable,
        "save_name": watching_in_words(saved["filters"], {option.value: option.label for option in names})
        if watchable
        else query.query,
        "csv_rows": min(listed, export.MAX_CSV_ROWS),
        "csv_cut": listed > export.MAX_CSV_ROWS,
        "csv_url": url_for("ui.browse_csv", **searchpage.without(dated, "q", "page"))
        if browsing
        else url_for("api.search_articles", **{**searchpage.without(dated, "wording_for"), "format": "csv"}),
        "back": request.full_path,
    }


def _spellings_to_try(query: SearchRequest, result: dict, values: dict) -> list[searchpage.SpellingToTry]:
    """For a search that found nothing, the Arabic spellings of its English names, where the names' wording was
    not searched (a name beside other words): a search on the Arabic side is one click away (issue 21 item 2)."""
    if not query.query or any(form["by"] == "names" for form in result["query"]["searched"]):
        return []
    services = app_services()
    names = collection_names(services.client, services.alias)  # cached: the search read them
    return searchpage.spellings_to_try(values, english_names_in(query.query, names)) if names else []


def saved_search(query: SearchRequest) -> dict:
    """The search as the alerts API saves it: its query and filters, named as the search API names them."""
    filters = {
        "lang": query.lang,
        "source": list(query.sources),
        "category": list(query.categories),
        "name": list(query.names),
        "from": query.date_from,
        "to": query.date_to,
    }
    if query.query:  # the user's own wordings of its words; a browse has none to reword
        filters.update(q_ar=query.q_ar, q_en=query.q_en, q_names=query.q_names)
    return {"query": query.query, "filters": {name: value for name, value in filters.items() if value}}


def _start_context() -> dict:
    """The start page: the collection's figures, top stories, sources, categories, timeline and example searches."""
    now = dt.datetime.now(dt.UTC)
    overview = _overview(now)
    timeline = (overview or {}).get("timeline") or {"buckets": [], "interval": None}
    return {
        "overview": overview,
        "now": now,
        "ago": storypage.ago,
        "collection_bars": storypage.collection_timeline(timeline["buckets"], timeline["interval"]),
        "examples": EXAMPLE_SEARCHES,
        "breaking_hours": BREAKING_HOURS,
    }


def _overview(now: dt.datetime) -> dict | None:
    """The collection's figures and stories for the start page; None when the index cannot be read."""
    services = app_services()
    try:
        return collection_overview(services.client, services.alias, now)
    except (OpenSearchException, ServiceError) as error:  # no index yet, the cluster down or unusable: it still works
        log.warning("the start page could not read the collection", exc_info=True)
        return {"search_down": True} if is_search_outage(error) else None


@bp.get("/stories/<path:cluster_id>")
def story_page(cluster_id: str):
    """Full coverage of a story: who reported first, its pace, each version's lead and what it adds or drops
    against the first report, and related stories."""
    services = app_services()
    story = story_versions(services.client, services.alias, article_id_or_404(cluster_id))
    if story is None:
        raise ApiError(404, "no story with this id")
    versions = story["versions"]
    try:
        related = related_stories(services.client, services.alias, versions[0], story["cluster_id"])
    except OpenSearchException:  # the story still reads without its neighbours
        log.warning("related stories could not be read", exc_info=True)
        related = []
    return render_template(
        "story.html",
        story=story,
        views=storypage.version_views(versions),
        outlets=list(dict.fromkeys(v["source"] for v in versions if v.get("source"))),
        bars=storypage.story_timeline([v.get("published") for v in versions]),
        related=related,
        back=article_view.safe_back(request.args.get("back"), None),
        here=request.full_path.rstrip("?"),
        now=dt.datetime.now(dt.UTC),
        ago=storypage.ago,
    )


@bp.get("/names/<path:key>")
def name_page(key: str):
    """A person or place: its spellings, its stories over time, and its latest articles."""
    services = app_services()
    summary = name_summary(services.client, services.alias, key)
    if summary is None:
        raise ApiError(404, "no article names this person or place")
    stories = run_browse(SearchRequest("", names=(key,), sort="date", size=NAME_PAGE_STORIES))
    latest = run_browse(SearchRequest("", names=(key,), sort="date", size=NAME_PAGE_ARTICLES, collapse=False))
    filtered = {"name": [key]}
    timeline = searchpage.timeline(
        stories["facets"].get("published", []),
        filtered,
        dt.datetime.now(dt.UTC),
        (stories.get("timeline") or {}).get("last"),
    )
    return render_template(
        "name.html",
        name=summary,
        stories=stories,
        latest=latest["hits"],
        timeline=timeline,
        args=MultiDict(filtered),
        here=request.full_path.rstrip("?"),
    )


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
        story=_story_of(document, back),
        rows=rows,
        paragraphs=article_view.reading_paragraphs(rows) if reading else None,
        query=query,
        query_error=query_error,
        match_count=len(matches),
        back=back,
        reading_url=view_url("reading"),
        side_by_side_url=view_url(None),
        origin=article_view.provenance_label(document),
        language=article_view.language_label(document),
        english_original=article_view.is_english_original(document),
    )


def _story_of(document: dict, back: str | None) -> dict | None:
    """The article's story when it has other versions: {"versions", "url"}; the link keeps the way back to the
    results (coming from the story page, it is that page, with its own way back)."""
    services = app_services()
    cluster_id = document.get("cluster_id")
    versions = story_size(services.client, services.alias, cluster_id) if cluster_id else 1
    if versions < 2:
        return None
    page = url_for("ui.story_page", cluster_id=cluster_id)
    came_from_it = back is not None and back.split("?", 1)[0] == page
    return {
        "versions": versions,
        "url": back if came_from_it else url_for("ui.story_page", cluster_id=cluster_id, back=back),
    }


@bp.route("/translation", methods=["GET", "POST"])  # POST /translate is LibreTranslate's
def translate_page():
    if request.method == "GET":
        return render_template("translate.html", text="", results=None, error=None)
    text = request.form.get("text", "")
    limit = app_services().settings.max_request_chars
    if len(text) > limit:  # the API's words name a JSON field; the page's name the user's text
        error = f"The text is too long: at most {limit:,} characters; yours has {len(text):,}."
        return render_template("translate.html", text=text, results=None, error=error), 413
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
    index_choice = request.form.get("index")
    try:
        check_key(write=True)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            raise ApiError(400, "choose a file to upload")
        job, _created = submit_job(key_owner())
    except ApiError as error:
        return render_template("ingest.html", error=_sentence(error.message), index_choice=index_choice), error.status
    return redirect(url_for("ui.jobs_page", highlight=job["id"]), 303)


def _sentence(message: str) -> str:
    """An API message (lower-case, for a client to embed) as a sentence on a page."""
    return message[:1].upper() + message[1:] + ("" if message.endswith((".", "!", "?")) else ".")


@bp.get("/jobs")
def jobs_page():
    """A shell: jobs are private, so the page's script lists the jobs of the key this browser signed in with."""
    return render_template("jobs.html", highlight=request.args.get("highlight"))


@bp.get("/alerts")
def alerts_page():
    """A shell: alerts are private, so the page's script lists the alerts of the key this browser signed in with."""
    settings = app_services().settings
    digests_on = bool(settings.smtp_host)  # without a mail server the form says no digest goes out
    return render_template(
        "alerts.html",
        highlight=request.args.get("highlight"),
        digests_on=digests_on,
        digest_domains=settings.alert_digest_domains,
    )
