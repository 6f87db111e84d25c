"""Checking a request against its declared schema (service/web/schemas.py), as the API's JSON 4xx errors.

A body that breaks a limit (too many items, too long) is a 413, a blank text a 422, any other mismatch a 400;
query and form arguments are read as their declared type first, and any mismatch there is a 400.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from werkzeug.datastructures import MultiDict

from service.web.errors import ApiError

BODY_STATUS = {"maxItems": 413, "maxLength": 413, "pattern": 422}
_INTEGER = re.compile(r"-?[0-9]+")
_FLAGS = {"true": True, "false": False}
_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def validator(schema: dict) -> Draft202012Validator:
    """A compiled validator per distinct schema (schemas built per app compare equal, so they share one)."""
    return _validator(json.dumps(schema, sort_keys=True))


def _where(name: str, path: Iterable) -> str:
    """`texts[2]`, `items[0].id`, `size`; "the body" for the whole body (name "", no path)."""
    text = name + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
    return f"`{text}`" if text else "the body"


def describe(error: ValidationError, name: str = "") -> str:
    """A short message naming the field (in the body, or the argument `name`), without echoing its value."""
    where, schema, keyword = _where(name, error.absolute_path), error.schema, error.validator
    if keyword == "type":
        wanted = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        return f"{where} must be {' or '.join(_TYPE_NAMES.get(t, t) for t in wanted)}"
    if keyword == "required":
        missing = [name for name in schema["required"] if name not in error.instance]
        return f"{where} needs `{missing[0]}`" if missing else error.message
    if keyword in ("minItems", "minLength") and error.validator_value == 1:
        return f"{where} must not be empty"
    if keyword == "minItems":
        return f"{where} needs at least {error.validator_value} items"
    if keyword == "maxItems":
        return f"{where}: {schema.get('description', f'at most {error.validator_value} items')}"
    if keyword == "maxLength":
        return f"{where} is longer than {error.validator_value} characters"
    if keyword == "pattern":
        return f"{where} is blank"
    if keyword == "enum":
        return f"{where} must be one of {', '.join(map(str, error.validator_value))}"
    if keyword in ("minimum", "maximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            return f"{where} must be from {low} to {high}"
        return f"{where} must be at least {low}" if high is None else f"{where} must be at most {high}"
    if keyword in ("oneOf", "anyOf", "not") and "description" in schema:
        return f"{where}: {schema['description']}" if where != "the body" else schema["description"]
    return f"{where}: {error.message[:200]}"


def check_body(body, schema: dict) -> None:
    """The ApiError for the body's first mismatch with schema: shape (400) before limits (413) and blanks (422)."""
    # best_match looks inside oneOf/anyOf for the branch the body was meant for
    errors = [best_match([error]) for error in validator(schema).iter_errors(body)]
    if errors:
        first = min(errors, key=lambda e: (_status(e), len(e.absolute_path), e.validator != "type"))
        raise ApiError(_status(first), describe(first))


def _status(error: ValidationError) -> int:
    return BODY_STATUS.get(error.validator, 400)


def _typed(raw: str, name: str, schema: dict):
    kind = schema.get("type", "string")
    if kind == "integer":
        if not _INTEGER.fullmatch(raw):
            raise ApiError(400, f"`{name}` must be an integer")
        return int(raw)
    if kind == "boolean":
        if raw.lower() not in _FLAGS:
            raise ApiError(400, f"`{name}` must be true or false")
        return _FLAGS[raw.lower()]
    return raw


def check_arguments(arguments: MultiDict, parameters: list[dict]) -> dict:
    """The declared query (or form) arguments that were sent, read as their declared types and validated."""
    values = {}
    for declared in parameters:
        name, schema = declared["name"], declared["schema"]
        if name not in arguments:
            if declared.get("required"):
                raise ApiError(400, f"`{name}` is required")
            continue
        if schema.get("type") == "array":
            value = [_typed(raw, name, schema["items"]) for raw in arguments.getlist(name)]
        else:
            value = _typed(arguments[name], name, schema)
        for error in validator(schema).iter_errors(value):
            raise ApiError(400, describe(error, name))
        values[name] = value
    return values
