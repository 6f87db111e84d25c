"""Gunicorn settings that `serve` passes with `--config python:service.web.gunicorn_hooks`.

Job workers start in each gunicorn worker process once it has loaded the app, never in the
master or before the exec into gunicorn, and stop when the worker exits (SIGTERM, restarts).
"""


def post_worker_init(worker) -> None:
    """Start the job workers of this serving process (post_fork runs before the app is loaded; this runs after)."""
    from service.web import start_workers

    start_workers(worker.wsgi)


def worker_exit(server, worker) -> None:
    """Stop this process's job workers and give back what they hold."""
    from service.web import stop_workers

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        stop_workers(app)
