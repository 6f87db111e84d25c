"""The jobs API under /api/v1/jobs: submit (202 once stored), list, status, results and errors (streamed), cancel.

Jobs are private: every route needs a valid key, and a key sees only the jobs it submitted (another
key's job is a 404), except an admin key (ADMIN_API_KEYS), which sees and cancels them all.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from service.files import jsonl_records
from service.web import schemas
from service.web.auth import current_owner, key_is_valid, presented_key, requires_key
from service.web.errors import ApiError
from service.web.payload import json_body
from service.web.validation import check_arguments, check_body

bp = Blueprint("jobs", __name__)


def store():
    return current_app.extensions["mt_jobs"]


def _owner() -> str:
    """The hash of the request's valid key (the view has checked it); the store never sees the key itself."""
    owner = current_owner()
    if owner is None:
        raise ApiError(401, "an API key is required: send `Authorization: Bearer KEY`")
    return owner


def _visible_owner() -> str | None:
    """Whose jobs this request may see: its own, or everyone's (None) for an admin key."""
    key = presented_key()
    if key is not None and key_is_valid(key, current_app.extensions["mt"].settings.admin_api_keys):
        return None
    return _owner()


def _uploaded_items():
    """(line, record) from a multipart JSONL or text upload, or from a JSON list of texts or articles."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ApiError(400, "send the items as a multipart `file` (JSONL, or text with one item per line)")
        data = upload.read()
        if (upload.filename or "").lower().endswith((".jsonl", ".json")):
            items = list(jsonl_records(data.splitlines(keepends=True)))
        else:
            try:
                lines = data.decode("utf-8").splitlines()
            except UnicodeDecodeError:
                raise ApiError(400, "the uploaded text file is not UTF-8", "invalid_utf8") from None
            items = [(n, {"body": line}) for n, line in enumerate(lines, 1) if line.strip()]
        if not items:
            raise ApiError(400, "the uploaded file holds no items", "no_items")
        return items
    body = json_body(current_app.extensions["mt"].settings.max_upload_bytes)
    check_body(body, schemas.JOB_JSON_REQUEST)
    entries = body["items"] if isinstance(body, dict) else body
    return [(n, {"body": e} if isinstance(e, str) else e) for n, e in enumerate(entries, 1)]


def _options() -> dict:
    """index and beam_size, from the query string or, for an upload, its form fields (which win)."""
    values = check_arguments(request.args, schemas.JOB_OPTIONS)
    if request.mimetype == "multipart/form-data":
        values.update(check_arguments(request.form, schemas.JOB_OPTIONS))
    return {"index": values.get("index", False), "beam_size": values.get("beam_size")}


@bp.post("")
@requires_key(write=True)
def submit():
    settings = current_app.extensions["mt"].settings
    owner = _owner()
    if store().active_jobs(owner) >= settings.max_active_jobs:
        raise ApiError(429, f"at most {settings.max_active_jobs} unfinished jobs per API key")
    options = _options()
    items = _uploaded_items()
    job_id, created = store().create("translate", items, options, owner=owner)
    status = store().status(job_id).to_dict()
    return jsonify({**status, "duplicate": not created}), 202 if created else 200


@bp.get("")
@requires_key(write=True)  # jobs are private: reading them needs a key whatever READ_REQUIRES_KEY says
def list_jobs():
    return jsonify({"jobs": [job.to_dict() for job in store().list(owner=_visible_owner())]})


def _job(job_id: str):
    """The job, if this request's key may see it; 404 alike for a missing job and for another key's."""
    found = store().status(job_id)
    owner = _visible_owner()
    if found is None or (owner is not None and found.owner != owner):
        raise ApiError(404, f"no job {job_id}")
    return found


@bp.get("/<job_id>")
@requires_key(write=True)
def job_status(job_id: str):
    return jsonify(_job(job_id).to_dict())


@bp.get("/<job_id>/results")
@requires_key(write=True)
def job_results(job_id: str):
    _job(job_id)
    return Response(stream_with_context(store().results(job_id)), mimetype="application/x-ndjson")


@bp.get("/<job_id>/errors")
@requires_key(write=True)
def job_errors(job_id: str):
    _job(job_id)
    return Response(stream_with_context(store().errors(job_id)), mimetype="application/x-ndjson")


@bp.delete("/<job_id>")
@requires_key(write=True)
def cancel(job_id: str):
    _job(job_id)
    store().cancel(job_id)
    return jsonify(_job(job_id).to_dict())
