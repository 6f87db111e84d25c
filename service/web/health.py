"""Health and metrics: /healthz (the process is up), /readyz (model loaded, OpenSearch, the job store and its
broker reachable, job workers running where configured), /metrics."""

from __future__ import annotations

from flask import Blueprint, jsonify

from service.web.services import app_metrics, app_services

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    services = app_services()
    checks = {"model": services.translator is not None, "opensearch": False}
    try:
        checks["opensearch"] = bool(services.client.ping(request_timeout=services.settings.opensearch_timeout))
    except Exception:  # any failure to reach the cluster means "not ready", never a 500
        checks["opensearch"] = False
    checks.update(services.job_store.health())
    if services.settings.jobs_workers > 0:  # this process should run job workers: are they all alive?
        checks["jobs_workers"] = services.workers is not None and services.workers.healthy
    ready = all(checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": checks,
        "model": services.translator.manifest.to_dict() if services.translator is not None else services.model_error,
    }
    return jsonify(body), 200 if ready else 503


@bp.get("/metrics")
def metrics():
    return app_metrics().response()
