"""Gunicorn classes for `serve`: errors gunicorn answers itself as JSON, and logs that never show API keys.

Outside service.web on purpose: gunicorn's master process imports this module, and should not load the app.
"""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import unquote

from gunicorn import util
from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

from service.errors import hide_credentials

# The statuses gunicorn answers itself, named as service/web/errors.py names the app's.
CODES = {
    400: "bad_request",
    403: "forbidden",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
}
# Secret-bearing query parameters: any whose name ends in key, token, secret or password (api_key, the feeds'
# token, access_token...), percent-encoded or not. The value runs to the next & or space, quotes included: a stray
# quote must not end the mask early. A name starts only where no name character precedes it, so the pattern is
# tried once per name, never once per character of a long one (access log lines carry client headers).
_PARAMETER = re.compile(r"(?<![\w%])([\w%]+=)([^&\s]+)")
_SECRET_NAMES = ("key=", "token=", "secret=", "password=")
_BEARER = re.compile(r"(?i)(bearer\s+)[^&\s]+")


def redact(line: str) -> str:
    """line with the values of secret-bearing query parameters (`api_key=`, `token=`...), `Bearer` and back-end
    URLs' passwords masked."""
    line = _PARAMETER.sub(_masked_if_secret, _BEARER.sub(r"\1[redacted]", line))
    return hide_credentials(line)


def _masked_if_secret(parameter: re.Match) -> str:
    name = parameter.group(1)
    secret = unquote(name).lower().endswith(_SECRET_NAMES)  # Werkzeug reads ?%74oken= as token
    return name + "[redacted]" if secret else parameter.group()


def redact_record(record: logging.LogRecord) -> bool:
    """A logging filter: the record's message with its keys masked."""
    record.msg, record.args = redact(record.getMessage()), None
    return True


class RedactingLogger(Logger):
    """Gunicorn's logger; every access and error line has its API keys masked (request lines carry query strings)."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.addFilter(redact_record)  # addFilter ignores a filter already there (setup runs on reload)

    def atoms(self, resp, req, environ, request_time):
        """Gunicorn's log atoms, less the Basic-auth user name (%(u)s), which may be a key."""
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["u"] = "-"
        return atoms


class _Captured:
    """Stands in for the client socket while gunicorn writes its own HTML error page, to keep the status."""

    def __init__(self):
        self.data = b""

    def gettimeout(self):
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.data += data


def json_error(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 response carrying {"error": {"code", "message"}}, the app's error shape."""
    from service.web.security import HEADERS  # here, in a worker, where the app has loaded service.web already

    body = json.dumps({"error": {"code": CODES.get(status, "error"), "message": message}}).encode()
    headers = "".join(f"{name}: {value}\r\n" for name, value in HEADERS.items())
    return (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{headers}\r\n"
    ).encode("latin-1") + body


class JsonErrorWorker(ThreadWorker):
    """gthread, answering the requests gunicorn rejects itself (414 over-long URL, 400 bad request line, ...)
    in JSON, like the app, instead of gunicorn's HTML page."""

    def handle_error(self, req, client, addr, exc):
        captured = _Captured()
        super().handle_error(req, captured, addr, exc)  # gunicorn's status, logging and access log, unchanged
        status_line = captured.data.split(b"\r\n", 1)[0].decode("latin-1")
        _, status, reason = ([*status_line.split(" ", 2), "", ""])[:3]
        if not status.isdigit():
            return
        status = int(status)
        message = str(exc) if status < 500 else "internal error; it has been logged"
        try:
            util.write_nonblock(client, json_error(status, reason, redact(message)))
        except Exception:
            self.log.debug("Failed to send error message.")
