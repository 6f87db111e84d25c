"""The jobs API under /api/v1/jobs: submit (202 once stored), list, status, results and errors (streamed), cancel.

Jobs are private: every route needs a valid key, and a key sees only the jobs it submitted (another
key's job is a 404), except an admin key (ADMIN_API_KEYS), which sees and cancels them all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask import Blueprint, Response, jsonify, request, stream_with_context

from service.web import export, schemas
from service.web.actions import key_owner, submit_job
from service.web.auth import key_is_valid, request_key, requires_key
from service.web.errors import ApiError
from service.web.services import app_services
from service.web.validation import check_arguments

bp = Blueprint("jobs", __name__)


def _visible_owner() -> str | None:
    """Whose jobs this request may see: its own, or everyone's (None) for an admin key."""
    key = request_key()
    if key is not None and key_is_valid(key, app_services().settings.admin_api_keys):
        return None
    return key_owner()


@bp.post("")
@requires_key(write=True)
def submit():
    job, created = submit_job(key_owner())
    return jsonify({**job, "duplicate": not created}), 202 if created else 200


@bp.get("")
@requires_key(write=True)  # jobs are private: reading them needs a key whatever READ_REQUIRES_KEY says
def list_jobs():
    return jsonify({"jobs": [job.to_dict() for job in app_services().job_store.list(owner=_visible_owner())]})


def _visible_job(job_id: str):
    """The job, if this request's key may see it; 404 alike for a missing job and for another key's."""
    job = app_services().job_store.status(job_id)
    owner = _visible_owner()
    if job is None or (owner is not None and job.owner != owner):
        raise ApiError(404, f"no job {job_id}")
    return job


@bp.get("/<job_id>")
@requires_key(write=True)
def job_status(job_id: str):
    return jsonify(_visible_job(job_id).to_dict())


# The results as files, each streamed: (lines or chunks from the store's JSON lines, its media type)
RESULT_FILES = {
    "csv": (export.job_csv_lines, "text/csv"),
    "tsv": (export.job_tsv_lines, "text/tab-separated-values"),
    "tmx": (export.job_tmx_chunks, "application/x-tmx+xml"),
}


@bp.get("/<job_id>/results")
@requires_key(write=True)
def job_results(job_id: str):
    job = _visible_job(job_id)
    results = app_services().job_store.results(job_id)
    chosen = check_arguments(request.args, [schemas.JOB_RESULTS_FORMAT]).get("format", "jsonl")
    if chosen in RESULT_FILES:
        lines, mimetype = RESULT_FILES[chosen]
        day = datetime.fromtimestamp(job.created, UTC).date().isoformat()
        name = export.download_name(Path(job.options.get("file_name", "job")).stem, "results", day, extension=chosen)
        return Response(
            stream_with_context(lines(results)),
            mimetype=mimetype,
            headers={"Content-Disposition": export.attachment(name)},
        )
    return Response(stream_with_context(results), mimetype="application/x-ndjson")


@bp.get("/<job_id>/errors")
@requires_key(write=True)
def job_errors(job_id: str):
    _visible_job(job_id)
    return Response(stream_with_context(app_services().job_store.errors(job_id)), mimetype="application/x-ndjson")


@bp.delete("/<job_id>")
@requires_key(write=True)
def cancel(job_id: str):
    _visible_job(job_id)
    app_services().job_store.cancel(job_id)
    return jsonify(_visible_job(job_id).to_dict())
