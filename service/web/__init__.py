"""The Flask app: create_app(settings) wires the API, LibreTranslate, health, UI and docs blueprints."""
from __future__ import annotations

from typing import Optional

from flask import Flask

from service.config import Settings
from service.web import api, errors, health, libre, openapi, ui
from service.web.auth import init_limiter
from service.web.metrics import Metrics
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
    limiter = init_limiter(app, settings.rate_limit)
    errors.init_app(app)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    for blueprint in (libre.bp, ui.bp, openapi.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(health.bp)
    limiter.exempt(health.bp)
    return app
