"""`python -m service serve`: the web app under gunicorn (or Flask's development server with --dev)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile

from service.gunicorn_hooks import METRICS_DIR_PREFIX, MULTIPROCESS_DIR
from service.limits import SERVE_TIMEOUT_SECONDS


def register(commands) -> None:
    parser = commands.add_parser("serve", help="serve the web UI and the API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--workers", type=int, default=1, help="gunicorn processes; each loads the model (threads share it)"
    )
    parser.add_argument("--threads", type=int, default=8, help="threads per worker")
    parser.add_argument("--dev", action="store_true", help="Flask's development server instead of gunicorn")
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log each request on stdout, API keys masked (default: on)",
    )
    parser.add_argument(
        "--control-socket",
        metavar="PATH",
        help="gunicorn's control socket for gunicornc (default: none; give each instance its own)",
    )
    parser.set_defaults(handler=run)


def run(args, services) -> int:
    from service.web import check_setup, create_app, start_workers, stop_workers, warm_up

    settings = services.settings
    if args.dev:
        from service.serving import redact_record

        logging.getLogger("werkzeug").addFilter(redact_record)  # its request log shows query strings too
        app = create_app(settings)
        start_workers(app)
        warm_up(app)
        try:
            app.run(host=args.host, port=args.port, threaded=True)
        finally:
            stop_workers(app)
        return 0
    check_setup(settings)  # fail here, with one clear line, before gunicorn forks workers
    # Every gunicorn worker writes its metrics under this instance's own fresh directory, and /metrics sums them
    # (web.metrics); set before the exec, so each worker's prometheus-client sees it on import. on_exit removes it.
    os.environ[MULTIPROCESS_DIR] = tempfile.mkdtemp(prefix=METRICS_DIR_PREFIX)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:service.gunicorn_hooks",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--worker-class",
        "service.serving.JsonErrorWorker",
        "--bind",
        f"{args.host}:{args.port}",
        "--timeout",
        str(SERVE_TIMEOUT_SECONDS),
        "--logger-class",
        "service.serving.RedactingLogger",
        # gunicorn's default control socket is one path per user: a second instance would take it over
        *(["--control-socket", args.control_socket] if args.control_socket else ["--no-control-socket"]),
        *(["--access-logfile", "-"] if args.access_log else []),
        "service.web.wsgi:app",
    ]
    print(f"serving on http://{args.host}:{args.port}/", file=sys.stderr, flush=True)
    os.execve(sys.executable, command, os.environ)
