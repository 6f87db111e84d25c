"""What the API, LibreTranslate, UI and jobs views do, as plain functions they share: read and translate texts,
build and run a search, submit a job. No routes here: views call these and shape the answer.

Errors are ApiErrors (the status and message a client gets); the request being read is Flask's current one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime

from flask import Response, request, stream_with_context, url_for

from service.errors import ArticleError, InputError
from service.files import jsonl_records, text_records
from service.ingest import repeats_rule
from service.jobs.store import ActiveJobLimit
from service.limits import MAX_ID_BYTES, MAX_PAGE_SIZE
from service.pipeline import translate_articles
from service.search.request import SearchRequest
from service.search.searcher import browse, search
from service.search.similar import similar_articles
from service.translation.interface import SentenceTranslator
from service.web import export, schemas
from service.web.auth import current_owner, request_key
from service.web.errors import ApiError
from service.web.payload import json_body
from service.web.services import app_services
from service.web.validation import check_arguments, check_body

MAX_FILE_NAME = 200  # characters of an upload's name kept with its job
KEY_LABEL_CHARS = 4


def loaded_translator() -> SentenceTranslator:
    """The app's translator, or a 503 when no model is installed."""
    services = app_services()
    if services.translator is None:
        raise ApiError(503, services.model_error or "no translation model", "model_unavailable")
    return services.translator


def read_texts(body, decoding: bool = False) -> list[str]:
    """`text` or `texts` from a JSON object, checked against the declared schema and the configured limits."""
    settings = app_services().settings
    check_body(body, schemas.texts_request(settings, decoding))
    texts = body["texts"] if "texts" in body else [body["text"]]
    if sum(map(len, texts)) > settings.max_request_chars:  # the one limit JSON Schema cannot state: a sum
        raise ApiError(413, f"at most {settings.max_request_chars} characters per request")
    return texts


def translate_texts(texts: list[str], source: str = "auto", beam_size: int | None = None) -> list[dict]:
    """Each text through the pipeline, batched together; one untranslatable text fails the request.

    No view that translates texts shows word alignments (search results and parallel text read the stored ones),
    so the model is not asked for the attention they come from; a translation memory stores them all the same.
    """
    decoding = {"alignments": False} | ({"beam_size": beam_size} if beam_size else {})
    results = []
    items = enumerate({"body": text} for text in texts)
    translator = loaded_translator()
    for index, result in translate_articles(items, translator, language="ar" if source == "ar" else None, **decoding):
        if isinstance(result, ArticleError):
            raise ApiError(422, f"text {index}: {result}")
        results.append(result)
    return results


def article_id_or_404(article_id: str) -> str:
    """The id, or a 404 for one no article can have (OpenSearch would refuse the request instead)."""
    if len(article_id.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise ApiError(404, "not found")
    return article_id


def search_request(args) -> SearchRequest:
    """A SearchRequest from query-string arguments, checked against the declared parameters; a mismatch is a 400."""
    values = check_arguments(args, schemas.SEARCH_PARAMETERS)
    return _request(values, values["q"], values.get("sort", "relevance"))


def browse_request(args) -> SearchRequest:
    """The same for a listing without a query (the search page's filters alone): newest first."""
    values = check_arguments(args, [p for p in schemas.SEARCH_PARAMETERS if p["name"] != "q"])
    return _request(values, "", "date")


def _request(values: dict, text: str, sort: str) -> SearchRequest:
    def chosen(name: str) -> tuple[str, ...]:
        """Repeated values and comma lists alike; an empty select means "all".

        A value with commas also stands for itself, so a source named "Reuters, Cairo" is still found.
        """
        parts = (part.strip() for value in values.get(name, ()) for part in (value, *value.split(",")))
        return tuple(dict.fromkeys(part for part in parts if part))

    query = SearchRequest(
        text,
        lang=values.get("lang", "auto"),
        sources=chosen("source"),
        categories=chosen("category"),
        names=chosen("name"),
        date_from=values.get("from") or None,
        date_to=values.get("to") or None,
        sort=sort,
        size=values.get("size", 10),
        page=values.get("page", 1),
        q_ar=values.get("q_ar", "").strip() or None,  # an empty field means "the machine's translation"
        q_en=values.get("q_en", "").strip() or None,
        q_names=values.get("q_names", "").strip() or None,  # empty: the collection's spellings
        collapse=values.get("collapse", True),
    )
    try:
        query.validate()
    except ValueError as error:  # what the parameters cannot state each alone: page x size, a reversed date range
        raise ApiError(400, str(error), getattr(error, "code", "out_of_range")) from None
    return query


def run_search(query: SearchRequest) -> dict:
    """Hits, total and facets for the query, translated to the other side where a real model for it is loaded."""
    services = app_services()
    return search(
        services.client,
        services.alias,
        query,
        services.translator,
        services.reverse_translator,
        services.settings.search_translated_query_boost,
        services.meaning,
    )


def run_browse(query: SearchRequest) -> dict:
    """The articles within the query's filters, newest first, without a query."""
    services = app_services()
    return browse(services.client, services.alias, query)


def every_result_csv(
    query: SearchRequest, result: dict, run: Callable[[SearchRequest], dict], *name_parts: str
) -> Response:
    """Every result of a search or a listing (run_search, run_browse; not one page), up to export.MAX_CSV_ROWS, as
    a CSV attachment named after name_parts and the day, streamed a page of hits at a time."""
    listed = result.get("stories", result["total"]) if query.collapse else result["total"]
    pages = -(-min(listed, export.MAX_CSV_ROWS) // MAX_PAGE_SIZE)

    def rows():
        for page in range(1, pages + 1):
            for hit in run(replace(query, size=MAX_PAGE_SIZE, page=page))["hits"]:
                yield export.search_csv_row(hit, url_for("ui.article_page", article_id=hit["id"], _external=True))

    name = export.download_name(*name_parts, datetime.now(UTC).date().isoformat(), extension="csv")
    return Response(
        stream_with_context(export.search_csv_lines(rows())),
        mimetype="text/csv",
        headers={"Content-Disposition": export.attachment(name)},
    )


def related_articles(article_id: str, args) -> dict:
    """An article's related coverage in either language, outside its story (GET .../similar, the page's section);
    a 404 when there is no such article, a 400 for a bad size."""
    services = app_services()
    size = check_arguments(args, [schemas.SIMILAR_SIZE]).get("size", schemas.SIMILAR_SIZE["schema"]["default"])
    found = similar_articles(services.client, services.alias, article_id_or_404(article_id), services.encoder, size)
    if found is None:
        raise ApiError(404, "not found")
    return found


def key_owner() -> str:
    """The hash of the request's valid key, owner of its jobs and alerts; stores never see the key itself."""
    owner = current_owner()
    if owner is None:
        raise ApiError(401, "an API key is required: send `Authorization: Bearer KEY`")
    return owner


def submit_job(owner: str) -> tuple[dict, bool]:
    """The request's items stored as a job of owner's, or the identical unfinished job: (its status, whether new)."""
    services = app_services()
    limit = services.settings.max_active_jobs
    if services.job_store.active_jobs(owner) >= limit:  # before the upload is read and stored, only to be rolled back
        raise ApiError(429, f"at most {limit} unfinished jobs per API key")
    options = _job_options()
    items = _job_items(options["index"])
    try:
        job_id, created = services.job_store.create(
            items, options, owner=owner, max_active=limit, repeats=repeats_rule(options)
        )
    except ActiveJobLimit:
        raise ApiError(429, f"at most {limit} unfinished jobs per API key") from None
    return services.job_store.status(job_id).to_dict(), created


# Plain text has no titles, dates or sources: indexed, each line would be an untitled, undated article in the
# shared collection, in every filter and timeline. Analysts who upload text want its English, so that is offered.
PLAIN_TEXT_NOT_INDEXED = (
    "a plain-text file holds texts, not articles: it has no titles, dates or sources, so it cannot be indexed for "
    "search. Choose \u201ctranslate only\u201d to get its English as a download, or upload JSONL "
    "({id, title, body, source, date} per line) to index articles"
)


def _is_jsonl(filename: str | None) -> bool:
    return (filename or "").lower().endswith((".jsonl", ".json"))


def _job_items(index: bool):
    """(line, record) from a multipart JSONL or text upload, or from a JSON list of texts or articles; texts are
    translated only (PLAIN_TEXT_NOT_INDEXED)."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ApiError(400, "send the items as a multipart `file` (JSONL, or text with one item per line)")
        if index and not _is_jsonl(upload.filename):
            raise ApiError(400, PLAIN_TEXT_NOT_INDEXED, "text_not_indexable")
        items = _upload_items(upload)
        first = next(items, None)
        if first is None:
            raise ApiError(400, "the uploaded file holds no items", "no_items")
        return itertools.chain([first], items)
    body = json_body(app_services().settings.max_upload_bytes)
    check_body(body, schemas.JOB_JSON_REQUEST)
    entries = body["items"] if isinstance(body, dict) else body
    if index and any(isinstance(entry, str) for entry in entries):
        raise ApiError(400, PLAIN_TEXT_NOT_INDEXED, "text_not_indexable")
    return [(n, {"body": e} if isinstance(e, str) else e) for n, e in enumerate(entries, 1)]


def _upload_items(upload) -> Iterator[tuple[int, object]]:
    """The upload's items, read a line at a time from the file the form parser spooled it to, so that memory does
    not grow with its size."""
    if _is_jsonl(upload.filename):
        yield from jsonl_records(upload.stream)
        return
    try:
        yield from text_records(upload.stream, "the uploaded file")
    except InputError as error:
        raise ApiError(400, str(error), "invalid_utf8") from None


def _job_options() -> dict:
    """index and beam_size, from the query string or, for an upload, its form fields (which win); with what tells
    the job apart on the jobs page: the uploaded file's name, and the key's label."""
    values = check_arguments(request.args, schemas.JOB_OPTIONS)
    options = {}
    if request.mimetype == "multipart/form-data":
        values.update(check_arguments(request.form, schemas.JOB_OPTIONS))
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            options["file_name"] = upload_name(upload.filename)
    return {"index": values.get("index", False), "beam_size": values.get("beam_size"), **options, **_key_label()}


def upload_name(filename: str) -> str:
    """The name of an uploaded file as shown, never as a path: its last part, without control characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(char for char in name if char.isprintable())[:MAX_FILE_NAME] or "upload"


def _key_label() -> dict:
    """{"key_label": "…0123"}: the submitting key's last characters, which tell its owner's keys apart on the jobs
    page (only that key, or an admin, sees the job) and give too little of an 8+ character key to guess it."""
    key = request_key()
    return {"key_label": f"…{key[-KEY_LABEL_CHARS:]}"} if key else {}
