"""Health and metrics: /healthz (the process is up), /readyz (model loaded, OpenSearch reachable, job workers
running where configured), /metrics."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    found = current_app.extensions["mt"]
    checks = {"model": found.translator is not None, "opensearch": False}
    try:
        checks["opensearch"] = bool(found.client.ping(request_timeout=found.settings.opensearch_timeout))
    except Exception:  # any failure to reach the cluster means "not ready", never a 500
        checks["opensearch"] = False
    if found.settings.jobs_workers > 0:  # this process should run job workers: are they all alive?
        pool = current_app.extensions.get("mt_workers")
        checks["jobs_workers"] = pool is not None and pool.healthy
    ready = all(checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": checks,
        "model": found.translator.manifest.to_dict() if found.translator is not None else found.model_error,
    }
    return jsonify(body), 200 if ready else 503


@bp.get("/metrics")
def metrics():
    return current_app.extensions["mt_metrics"].response()
