"""The WSGI entry point for gunicorn: `gunicorn service.web.wsgi:app`. Configuration comes from the environment."""

from service.runtime import tune_malloc

tune_malloc()  # before the model's worker threads start

from service.web import create_app  # noqa: E402

app = create_app()
