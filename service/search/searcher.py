"""Run a search: detect the query's language, translate an Arabic query, query OpenSearch, shape the hits."""

from __future__ import annotations

from opensearchpy import OpenSearch
from opensearchpy.exceptions import RequestError, TransportError

from service.errors import SearchUnavailable
from service.index.bulk import RETRYABLE_STATUS
from service.index.errors import refusal_reason
from service.search import query as query_parser
from service.search.body import build_body
from service.search.query import ParsedQuery, QueryError
from service.search.request import SearchRequest
from service.search.results import parse_response
from service.text import langid
from service.text.normalize import normalize_text


def query_language(request: SearchRequest, parsed: ParsedQuery) -> str:
    """en or ar: as asked, or detected from the query's words (anything not Arabic searches English)."""
    if request.lang != "auto":
        return request.lang
    return "ar" if langid.detect(parsed.terms).language == "ar" else "en"


def translate_query(parsed: ParsedQuery, translator) -> ParsedQuery | None:
    """The English translation of an Arabic query's terms, or None without a real translator.

    A demo model's translation is noise that would match the noise it wrote into the index.
    """
    if translator is None or translator.demo:
        return None
    english = translator.translate([normalize_text(parsed.terms)])[0].target
    return ParsedQuery.from_words(english) if english.strip() else None


def search(client: OpenSearch, alias: str, request: SearchRequest, translator=None) -> dict:
    """Search the alias; raises QueryError or ValueError for bad input, with a message for the user."""
    request.validate()
    parsed = query_parser.parse(request.query)
    lang = query_language(request, parsed)
    translated = translate_query(parsed, translator) if lang == "ar" else None
    body = build_body(request, parsed, lang, translated)
    try:
        response = client.search(index=alias, body=body)
    except RequestError as error:  # e.g. a date filter OpenSearch cannot parse
        raise QueryError(f"OpenSearch rejected the search: {refusal_reason(error)}") from None
    except TransportError as error:  # overloaded or shards unavailable: the cluster's trouble, not the query's
        if error.status_code not in RETRYABLE_STATUS:
            raise
        raise SearchUnavailable(f"OpenSearch could not run the search: {refusal_reason(error)}") from None
    result = parse_response(response)
    request.check_page(result["total"], len(result["hits"]))
    result["query"] = {"language": lang, "translation": translated.terms if translated else None}
    return result
