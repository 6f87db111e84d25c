"""The jobs API under /api/v1/jobs: submit (202 once stored), list, status, results and errors (streamed), cancel.

Jobs are private: every route needs a valid key, and a key sees only the jobs it submitted (another
key's job is a 404), except an admin key (ADMIN_API_KEYS), which sees and cancels them all.
"""
from __future__ import annotations

from typing import Optional

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from service.files import RecordError, jsonl_records
from service.web.auth import current_owner, key_is_valid, presented_key, requires_key
from service.web.errors import ApiError
from service.web.payload import json_body

bp = Blueprint("jobs", __name__)


def store():
    return current_app.extensions["mt_jobs"]


def _owner() -> str:
    """The hash of the request's valid key (the view has checked it); the store never sees the key itself."""
    owner = current_owner()
    if owner is None:
        raise ApiError(401, "an API key is required: send `Authorization: Bearer KEY`")
    return owner


def _visible_owner() -> Optional[str]:
    """Whose jobs this request may see: its own, or everyone's (None) for an admin key."""
    key = presented_key()
    if key is not None and key_is_valid(key, current_app.extensions["mt"].settings.admin_api_keys):
        return None
    return _owner()


def _uploaded_items():
    """(line, record) from a multipart JSONL or text upload, or from a JSON list of texts or articles."""
    upload = request.files.get("file")
    if upload is not None:
        data = upload.read()
        if upload.filename.lower().endswith((".jsonl", ".json")):
            return list(jsonl_records(data.splitlines(keepends=True)))
        try:
            lines = data.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise ApiError(400, "the uploaded text file is not UTF-8") from None
        return [(n, {"body": line}) for n, line in enumerate(lines, 1) if line.strip()]
    body = json_body(current_app.extensions["mt"].settings.max_upload_bytes)
    entries = body.get("items") if isinstance(body, dict) else body
    if not isinstance(entries, list) or not entries:
        raise ApiError(400, "send a file (multipart `file`) or a JSON list of texts or articles")
    return [(n, {"body": e} if isinstance(e, str) else e if isinstance(e, dict) else RecordError("not a text or article"))
            for n, e in enumerate(entries, 1)]


def _options() -> dict:
    """index and beam_size, from the form of an upload or the query string of a JSON submission."""
    source = request.form if request.files else request.args
    index = str(source.get("index", "false")).lower() in ("1", "true", "on", "yes")
    beam = source.get("beam_size")
    try:
        beam = int(beam) if beam not in (None, "") else None
    except (TypeError, ValueError):
        raise ApiError(400, "`beam_size` must be an integer") from None
    if beam is not None and not 1 <= beam <= 16:
        raise ApiError(400, "`beam_size` must be from 1 to 16")
    return {"index": index, "beam_size": beam}


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
