"""The one way views reach the process's Services (service/services.py) and the app's metrics.

create_app keeps both in app.extensions; a view asks for them with app_services() and app_metrics().
"""

from __future__ import annotations

from flask import Flask, current_app

from service.services import Services
from service.web.metrics import Metrics

EXTENSION = "mt"  # where create_app keeps the Services in app.extensions
METRICS_EXTENSION = "mt.metrics"


def services_of(app: Flask) -> Services:
    """The Services an app was built with (tests, gunicorn hooks: anywhere outside a request)."""
    return app.extensions[EXTENSION]


def app_services() -> Services:
    """The current app's Services, for views and request hooks."""
    return services_of(current_app)


def app_metrics() -> Metrics:
    """The current app's metrics, for the /metrics view."""
    return current_app.extensions[METRICS_EXTENSION]
