"""The jobs API under /api/v1/jobs: submit (202 once stored), list, status, results and errors (streamed), cancel."""
from __future__ import annotations

import hashlib

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from service.files import jsonl_records
from service.web import schemas
from service.web.auth import presented_key, requires_key
from service.web.errors import ApiError
from service.web.payload import json_body
from service.web.validation import check_arguments, check_body

bp = Blueprint("jobs", __name__)


def store():
    return current_app.extensions["mt_jobs"]


def _owner() -> str:
    key = presented_key() or request.remote_addr or "anonymous"
    return hashlib.sha256(key.encode()).hexdigest()[:16]  # never store the key itself


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
@requires_key(write=False)
def list_jobs():
    return jsonify({"jobs": [job.to_dict() for job in store().list()]})


def _job(job_id: str):
    found = store().status(job_id)
    if found is None:
        raise ApiError(404, f"no job {job_id}")
    return found


@bp.get("/<job_id>")
@requires_key(write=False)
def job_status(job_id: str):
    return jsonify(_job(job_id).to_dict())


@bp.get("/<job_id>/results")
@requires_key(write=False)
def job_results(job_id: str):
    _job(job_id)
    return Response(stream_with_context(store().results(job_id)), mimetype="application/x-ndjson")


@bp.get("/<job_id>/errors")
@requires_key(write=False)
def job_errors(job_id: str):
    _job(job_id)
    return Response(stream_with_context(store().errors(job_id)), mimetype="application/x-ndjson")


@bp.delete("/<job_id>")
@requires_key(write=True)
def cancel(job_id: str):
    _job(job_id)
    store().cancel(job_id)
    return jsonify(_job(job_id).to_dict())
