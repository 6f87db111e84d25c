"""The Flask app: create_app(settings) wires the API, LibreTranslate, health, UI and docs blueprints."""
from __future__ import annotations

import threading
from typing import Optional

from flask import Flask

from service.config import Settings
from service.jobs.store import JobStore
from service.jobs.worker import Worker
from service.web import api, errors, health, jobs, libre, openapi, security, ui
from service.web.auth import init_limiter
from service.web.metrics import Metrics
from service.web.payload import DrainUnreadBody
from service.web.services import Services


def create_app(settings: Optional[Settings] = None, services: Optional[Services] = None) -> Flask:
    """Build the app from explicit settings (default: the environment), loading the model once."""
    settings = settings or Settings.from_env()
    services = services or Services.from_settings(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = max(settings.max_request_bytes, settings.max_upload_bytes)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions["mt"] = services
    metrics = Metrics()
    metrics.init_app(app)
    if services.translator is not None:
        metrics.watch_translator(services.translator)
    app.extensions["mt_metrics"] = metrics
    limiter = init_limiter(app, settings)
    errors.init_app(app)
    security.init_app(app, settings)
    app.wsgi_app = DrainUnreadBody(app.wsgi_app)
    app.extensions["mt_jobs"] = JobStore(settings.jobs_db, settings.job_lease_seconds)
    metrics.queue_depth.set_function(app.extensions["mt_jobs"].queued_items)
    _start_workers(app, settings, services)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(jobs.bp, url_prefix="/api/v1/jobs")
    for blueprint in (libre.bp, ui.bp, openapi.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(health.bp)
    limiter.exempt(health.bp)
    return app


def _start_workers(app: Flask, settings: Settings, services: Services) -> None:
    """The in-process worker pool: JOBS_WORKERS daemon threads sharing the process's translator."""
    if services.translator is None or settings.jobs_workers < 1:
        return
    stop = threading.Event()
    for _ in range(settings.jobs_workers):
        worker = Worker(JobStore(settings.jobs_db, settings.job_lease_seconds), services.translator, services.client, services.alias,
                        settings.job_batch_items)
        threading.Thread(target=worker.run, args=(stop,), name=worker.name, daemon=True).start()
