"""Gunicorn settings that `serve` passes with `--config python:service.gunicorn_hooks`.

Job workers start in each gunicorn worker process once it has loaded the app, never in the
master or before the exec into gunicorn, and stop when the worker exits (SIGTERM, restarts).
Metrics: `serve` gives the instance a fresh PROMETHEUS_MULTIPROC_DIR; a worker's live gauges leave with it
(child_exit, in the master, so a worker that was killed counts too), and the directory goes with the master.
Outside service.web on purpose: the master imports this module, and importing service.web (Flask, opensearch-py,
the job back ends) would cost it about 50 MB of RSS that it never uses.
"""

import os
import shutil
from pathlib import Path

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
METRICS_DIR_PREFIX = "mt-metrics-"


def post_worker_init(worker) -> None:
    """Start the job workers of this serving process (post_fork runs before the app is loaded; this runs after)."""
    from service.web import start_workers, warm_up

    start_workers(worker.wsgi)
    warm_up(worker.wsgi)


def worker_exit(server, worker) -> None:
    """Stop this process's job workers and give back what they hold."""
    from service.web import stop_workers

    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "extensions"):
        stop_workers(app)


def child_exit(server, worker) -> None:
    """Drop the live gauges of a worker that has gone (exited, killed or restarted); its counts stay summed."""
    if os.environ.get(MULTIPROCESS_DIR):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    """Remove the metrics directory `serve` made for this instance."""
    directory = os.environ.get(MULTIPROCESS_DIR)
    if directory and Path(directory).name.startswith(METRICS_DIR_PREFIX):
        shutil.rmtree(directory, ignore_errors=True)
