"""The Flask app, built and run in explicit steps.

create_app(settings, services) wires the API, LibreTranslate, health, UI and docs blueprints around the
process's services (web/services.py); it starts no thread. start_workers(app) starts the job workers where the
process serves (gunicorn's post_worker_init hook in service/gunicorn_hooks.py, or `serve --dev`), and
check_setup(settings) is what `serve` runs before the exec into gunicorn.
"""

from __future__ import annotations

from flask import Flask

from service.alerts.delivery import Deliverer, DeliveryThread
from service.alerts.store import AlertStore
from service.config import Settings
from service.jobs.backends import open_job_store
from service.jobs.pool import WorkerPool
from service.jobs.worker import Worker
from service.web import alerts, api, errors, feeds, health, jobs, libre, openapi, security, ui
from service.web.auth import init_limiter
from service.web.payload import BoundedRequest, DrainUnreadBody, limit_bodies
from service.web.services import EXTENSION, Services, services_of


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Wire the app around services (opened from settings, default the environment, when not given)."""
    settings = settings or Settings.from_env()
    services = services or Services.open(settings)
    app = Flask(__name__)
    app.request_class = BoundedRequest
    app.config["MAX_CONTENT_LENGTH"] = max(settings.max_request_bytes, settings.max_upload_bytes)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions[EXTENSION] = services  # what views reach through services.app_services()
    services.metrics.init_app(app)
    limit_bodies(app, settings.max_request_bytes, settings.max_upload_bytes)
    limiter = init_limiter(app, settings)
    errors.init_app(app)
    security.init_app(app, settings)
    app.wsgi_app = DrainUnreadBody(app.wsgi_app)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(jobs.bp, url_prefix="/api/v1/jobs")
    app.register_blueprint(alerts.bp, url_prefix="/api/v1/alerts")
    for blueprint in (libre.bp, ui.bp, openapi.bp, feeds.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(health.bp)
    limiter.exempt(health.bp)
    limiter.exempt(app.view_functions["static"])  # a page's own CSS and script do not use up its reader's budget
    return app


def check_setup(settings: Settings) -> None:
    """Raise the first problem building the app would meet, so `serve` reports it before the exec into gunicorn.

    Opens what create_app opens and closes it again, but reads only the model's manifest: each gunicorn worker
    loads the weights itself, and loading them here as well would only double the start-up time.
    """
    services = Services.open(settings, load_model=False)
    try:
        create_app(settings, services)
    finally:
        services.close()


def start_workers(app: Flask) -> WorkerPool | None:
    """Start the process's JOBS_WORKERS worker threads, sharing its translator, and its webhook deliverer
    (ALERT_DELIVERY); only where the process serves."""
    services = services_of(app)
    settings = services.settings
    if settings.alert_delivery and services.deliverer is None:
        store = AlertStore(services.client, services.alias)
        services.deliverer = DeliveryThread(Deliverer(store, settings)).start()
    if services.translator is None or settings.jobs_workers < 1 or services.workers is not None:
        return services.workers
    # Each worker thread opens its own job store rather than sharing the request threads' one: a store serialises
    # its one SQLite connection behind a lock, so a worker committing a batch of results would hold up status and
    # results requests; on their own connections, WAL lets those reads go on while a worker writes.
    workers = [
        Worker.from_settings(settings, open_job_store(settings), services.translator, services.client)
        for _ in range(settings.jobs_workers)
    ]
    services.workers = WorkerPool(workers).start()
    return services.workers


def stop_workers(app: Flask) -> None:
    """Stop the worker threads and the deliverer (gunicorn's worker_exit, the end of `serve --dev`)."""
    services = services_of(app)
    deliverer, services.deliverer = services.deliverer, None
    if deliverer is not None:
        deliverer.stop()
    pool, services.workers = services.workers, None
    if pool is not None:
        pool.stop()
