"""The Flask app, built and run in explicit steps.

create_app(settings, services) wires the API, LibreTranslate, health, UI and docs blueprints around the
process's Services (service/services.py); it starts no thread. start_workers(app) starts the job workers where the
process serves (gunicorn's post_worker_init hook in service/gunicorn_hooks.py, or `serve --dev`), and
check_setup(settings) is what `serve` runs before the exec into gunicorn.
"""

from __future__ import annotations

from flask import Flask

from service.config import Settings
from service.jobs.pool import WorkerPool
from service.services import Services
from service.web import alerts, api, errors, feeds, health, jobs, libre, openapi, security, signin, ui
from service.web.auth import init_limiter
from service.web.metrics import Metrics
from service.web.payload import BoundedRequest, DrainUnreadBody, limit_bodies
from service.web.services import EXTENSION, METRICS_EXTENSION, services_of
from service.web.sessions import init_sessions


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
    app.extensions[METRICS_EXTENSION] = metrics = Metrics()
    if services.translator is not None:  # the metrics read its counters and the job queue's depth when scraped
        metrics.watch_translator(services.translator)
    metrics.watch_queue(services.job_store.queued_items)
    metrics.init_app(app)
    limit_bodies(app, settings.max_request_bytes, settings.max_upload_bytes)
    limiter = init_limiter(app, settings)
    init_sessions(app, settings)  # its CSRF check runs after the limiter's, so refused requests count too
    errors.init_app(app)
    security.init_app(app, settings)
    app.wsgi_app = DrainUnreadBody(app.wsgi_app)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(jobs.bp, url_prefix="/api/v1/jobs")
    app.register_blueprint(alerts.bp, url_prefix="/api/v1/alerts")
    for blueprint in (libre.bp, ui.bp, signin.bp, openapi.bp, feeds.bp):
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
    """Start the app's job worker threads and webhook deliverer (Services.start_workers); where the process serves."""
    return services_of(app).start_workers()


def warm_up(app: Flask) -> None:
    """Make ready in the background what the first searches would otherwise wait for (Services.warm_up)."""
    services_of(app).warm_up()


def stop_workers(app: Flask) -> None:
    """Stop them (gunicorn's worker_exit, the end of `serve --dev`)."""
    services_of(app).stop_workers()
