"""LibreTranslate-compatible routes: POST /translate, POST /detect, GET /languages.

Fields as in LibreTranslate's API: `q` (string or list), `source` (a code or "auto"), `target`,
`format` (text or html, tags kept), `api_key`; answers with `translatedText` and, for auto,
`detectedLanguage` ({confidence 0-100, language}); errors as {"error": "..."}.
"""

from __future__ import annotations

import html
import re

from flask import Blueprint, jsonify

from service.text import langid
from service.web.actions import translate_texts
from service.web.auth import check_key
from service.web.errors import ApiError
from service.web.payload import form_or_json
from service.web.services import app_services

bp = Blueprint("libre", __name__)
LANGUAGES = [{"code": "ar", "name": "Arabic", "targets": ["en"]}, {"code": "en", "name": "English", "targets": []}]
_TAG = re.compile(r"(<[^<>]*>)")  # no < inside: a < left open is text, not a tag to look for to the end each time
HTML_PIECES_PER_TEXT = 16  # html mode: text pieces between tags per request, at most MAX_BATCH_TEXTS times this


def _texts_and_shape(body: dict) -> tuple[list[str], bool]:
    """The texts in `q`, and whether `q` was a list (the answer takes the same shape)."""
    q = body.get("q")
    if isinstance(q, str):
        return [q], False
    if isinstance(q, list) and q and all(isinstance(item, str) for item in q):
        return q, True
    raise ApiError(400, "Invalid request: missing q parameter")


def split_tags(text: str) -> list[str]:
    """The text between tags at even positions, the tags at odd ones, in time linear in the text."""
    return _TAG.split(text)


def _translate_html(texts: list[str], source: str) -> list[str]:
    """Translate the text between tags, all texts in one batch, and keep the tags as they are."""
    split = [split_tags(text) for text in texts]
    slots = [
        (n, i)
        for n, parts in enumerate(split)
        for i, part in enumerate(parts)
        if not _TAG.fullmatch(part) and part.strip()
    ]
    limit = app_services().settings.max_batch_texts * HTML_PIECES_PER_TEXT
    if len(slots) > limit:
        raise ApiError(
            400, f"Invalid request: the html holds {len(slots)} text pieces between tags; the limit is {limit}"
        )
    if slots:
        results = translate_texts([html.unescape(split[n][i]) for n, i in slots], source)
        for (n, i), result in zip(slots, results, strict=True):
            part = split[n][i]
            leading, trailing = part[: len(part) - len(part.lstrip())], part[len(part.rstrip()) :]
            split[n][i] = leading + html.escape(result["body_en"], quote=False) + trailing
    return ["".join(parts) for parts in split]


def _detected_language(text: str) -> dict:
    """LibreTranslate's detectedLanguage: {confidence 0-100, language}."""
    detection = langid.detect(text)
    return {"confidence": round(detection.confidence * 100, 1), "language": detection.language}


def _check_limits(texts: list[str]) -> None:
    """The limits of /api/v1/translate (MAX_BATCH_TEXTS, MAX_REQUEST_CHARS), in LibreTranslate's words."""
    settings = app_services().settings
    if len(texts) > settings.max_batch_texts:
        raise ApiError(400, f"Invalid request: request ({len(texts)}) exceeds batch limit ({settings.max_batch_texts})")
    if sum(map(len, texts)) > settings.max_request_chars:
        raise ApiError(
            400, f"Invalid request: request ({sum(map(len, texts))}) exceeds text limit ({settings.max_request_chars})"
        )


@bp.post("/translate")
def translate():
    body = form_or_json(app_services().settings.max_request_bytes)
    check_key(write=False)
    texts, is_list = _texts_and_shape(body)
    source, target = body.get("source", "auto"), body.get("target", "en")
    text_format = body.get("format", "text")
    if source not in ("auto", "ar", "en"):
        raise ApiError(400, f"{source} is not supported: this service translates Arabic to English")
    if target != "en":
        raise ApiError(400, f"{target} is not supported as a target language: only en")
    if text_format not in ("text", "html"):
        raise ApiError(400, "format must be text or html")
    _check_limits(texts)
    if source == "en" or not any(t.strip() for t in texts):
        translated = list(texts)
    elif text_format == "html":
        translated = _translate_html(texts, source)
    else:
        nonblank = [i for i, t in enumerate(texts) if t.strip()]
        results = translate_texts([texts[i] for i in nonblank], source)
        translated = list(texts)
        for i, result in zip(nonblank, results, strict=True):
            translated[i] = result["body_en"]
    answer = {"translatedText": translated if is_list else translated[0]}
    if source == "auto":
        detections = [_detected_language(t) for t in texts]
        answer["detectedLanguage"] = detections if is_list else detections[0]
    return jsonify(answer)


@bp.post("/detect")
def detect():
    body = form_or_json(app_services().settings.max_request_bytes)
    check_key(write=False)
    texts, _ = _texts_and_shape(body)
    _check_limits(texts)
    return jsonify([_detected_language(" ".join(texts))])


@bp.get("/languages")
def languages():
    return jsonify(LANGUAGES)
