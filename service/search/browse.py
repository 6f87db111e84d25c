"""Browsing without a query: the articles under the chosen sources, categories and dates, newest first, one per
story, with the same facets, timeline and story members as a search (the start page's source, category and date
links land here)."""

from __future__ import annotations

from dataclasses import replace

from opensearchpy import OpenSearch

from service.search.body import build_body
from service.search.request import SearchRequest
from service.search.results import parse_response
from service.search.searcher import _run as run_request  # its errors: no index yet, a refused request
from service.search.stories import page_members_body, with_members


def browse_body(request: SearchRequest) -> dict:
    """A search's body with no wording to match (pure): every article within the dates, the facets as a
    post_filter as in a search, newest first, nothing to highlight."""
    body = build_body(replace(request, sort="date"), [])
    body["query"] = {"bool": {"filter": body["query"]["bool"]["filter"]}}
    body["sort"] = [{"published": {"order": "desc", "missing": "_last"}}, {"id": "asc"}]
    body.pop("highlight", None)
    return body


def browse(client: OpenSearch, alias: str, request: SearchRequest) -> dict:
    """The search result's shape, with nothing searched."""
    request.validate()
    result = parse_response(run_request(client, alias, browse_body(request)))
    request.check_page(result["total"], len(result["hits"]), result.get("stories"))
    if request.collapse and result["hits"]:
        stories = run_request(client, alias, page_members_body([hit["cluster_id"] for hit in result["hits"]]))
        result["hits"] = with_members(result["hits"], stories)
    result["query"] = {"language": request.lang, "searched": [], "not_searched": []}
    return result
