"""One error base: every project error is a ServiceError, which the CLI and the web app each catch once."""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil

import pytest
from flask import Flask

import service
from service import cli
from service.errors import ServiceError, TranslatorBusy
from service.web import errors as web_errors


def project_exceptions() -> list[type[BaseException]]:
    """Every public exception class defined in service/ (a leading underscore marks one that never leaves its
    module)."""
    found = []
    for module_info in pkgutil.walk_packages(service.__path__, "service."):
        if module_info.name.endswith("__main__"):
            continue
        module = importlib.import_module(module_info.name)
        found += [
            member
            for name, member in inspect.getmembers(module, inspect.isclass)
            if issubclass(member, BaseException) and member.__module__ == module.__name__ and not name.startswith("_")
        ]
    return found


def test_every_project_exception_is_a_service_error_with_a_status_and_code():
    exceptions = project_exceptions()
    assert len(exceptions) >= 20  # the walk found them
    assert [e.__name__ for e in exceptions if not issubclass(e, ServiceError)] == []
    assert all(400 <= e.status <= 599 and e.code for e in exceptions)


class Teapot(ServiceError):
    status, code = 418, "teapot"


def test_the_cli_prints_a_service_error_on_one_line_and_exits_2(monkeypatch, capsys):
    def fail(args, settings):
        raise Teapot("short and stout")

    parser = argparse.ArgumentParser()
    parser.set_defaults(handler=fail)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main([]) == 2
    assert capsys.readouterr().err.splitlines() == ["error: short and stout"]


@pytest.fixture
def client():
    app = Flask(__name__)
    web_errors.init_app(app)
    raised = {
        "teapot": Teapot("short and stout"),
        "busy": TranslatorBusy("the translator is busy", retry_after=7),
        "internal": ServiceError("the operator's details"),
    }

    @app.get("/api/v1/<name>")
    def fail(name):
        raise raised[name]

    return app.test_client()


def test_the_web_app_answers_a_service_error_with_its_status_and_code(client):
    answer = client.get("/api/v1/teapot")
    assert answer.status_code == 418
    assert answer.json == {"error": {"code": "teapot", "message": "short and stout"}}


def test_the_web_app_adds_the_error_headers(client):
    answer = client.get("/api/v1/busy")
    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "7")
    assert answer.json == {"error": {"code": "translator_busy", "message": "the translator is busy"}}


def test_a_status_500_error_keeps_its_message_from_the_client(client):
    answer = client.get("/api/v1/internal")
    assert answer.status_code == 500
    assert answer.json == {"error": {"code": "internal_error", "message": "internal error; it has been logged"}}
