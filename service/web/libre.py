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
from service.web.api import services, translate_texts
from service.web.auth import check_key
from service.web.errors import ApiError
from service.web.payload import form_or_json

bp = Blueprint("libre", __name__)
LANGUAGES = [{"code": "ar", "name": "Arabic", "targets": ["en"]}, {"code": "en", "name": "English", "targets": []}]
_TAG = re.compile(r"(<[^>]*>)")


def _queries(body: dict) -> tuple[list[str], bool]:
    q = body.get("q")
    if isinstance(q, str):
        return [q], False
    if isinstance(q, list) and q and all(isinstance(item, str) for item in q):
        return q, True
    raise ApiError(400, "Invalid request: missing q parameter")


def _translate_html(text: str, source: str) -> str:
    """Translate the text between tags and keep the tags as they are."""
    parts = _TAG.split(text)
    slots = [i for i, part in enumerate(parts) if not _TAG.fullmatch(part) and part.strip()]
    if slots:
        results = translate_texts([html.unescape(parts[i]) for i in slots], source)
        for slot, result in zip(slots, results):
            leading = parts[slot][:len(parts[slot]) - len(parts[slot].lstrip())]
            trailing = parts[slot][len(parts[slot].rstrip()):]
            parts[slot] = leading + html.escape(result["body_en"], quote=False) + trailing
    return "".join(parts)


def _detected(text: str) -> dict:
    found = langid.detect(text)
    return {"confidence": round(found.confidence * 100, 1), "language": found.language}


@bp.post("/translate")
def translate():
    body = form_or_json(services().settings.max_request_bytes)
    check_key(write=False)
    texts, is_list = _queries(body)
    source, target = body.get("source", "auto"), body.get("target", "en")
    text_format = body.get("format", "text")
    if source not in ("auto", "ar", "en"):
        raise ApiError(400, f"{source} is not supported: this service translates Arabic to English")
    if target != "en":
        raise ApiError(400, f"{target} is not supported as a target language: only en")
    if text_format not in ("text", "html"):
        raise ApiError(400, "format must be text or html")
    if sum(map(len, texts)) > services().settings.max_request_chars:
        raise ApiError(400, f"Invalid request: request ({sum(map(len, texts))}) exceeds text limit "
                            f"({services().settings.max_request_chars})")
    if source == "en" or not any(t.strip() for t in texts):
        translated = list(texts)
    elif text_format == "html":
        translated = [_translate_html(t, source) for t in texts]
    else:
        nonblank = [i for i, t in enumerate(texts) if t.strip()]
        results = translate_texts([texts[i] for i in nonblank], source)
        translated = list(texts)
        for i, result in zip(nonblank, results):
            translated[i] = result["body_en"]
    answer = {"translatedText": translated if is_list else translated[0]}
    if source == "auto":
        detections = [_detected(t) for t in texts]
        answer["detectedLanguage"] = detections if is_list else detections[0]
    return jsonify(answer)


@bp.post("/detect")
def detect():
    body = form_or_json(services().settings.max_request_bytes)
    check_key(write=False)
    texts, _ = _queries(body)
    return jsonify([_detected(" ".join(texts))])


@bp.get("/languages")
def languages():
    return jsonify(LANGUAGES)
