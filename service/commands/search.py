"""`python -m service search QUERY ...`: bilingual search from the command line."""

from __future__ import annotations

import html
import json
import re

from service.limits import MAX_PAGE_SIZE
from service.search.query import QueryError
from service.search.request import LANGS, SORTS, SearchRequest
from service.search.searcher import search

_TAGS = re.compile(r"</?mark>")
SHOWN_CHARS = 200


def _shown(text: str) -> str:
    """Highlights as *word*, shortened for the terminal (--json has everything)."""
    plain = _TAGS.sub("*", html.unescape(text or ""))
    return plain if len(plain) <= SHOWN_CHARS else plain[:SHOWN_CHARS] + "…"


def register(commands) -> None:
    parser = commands.add_parser("search", help="search the news in English or Arabic")
    parser.add_argument("query", help='words, "phrases", AND, OR, NOT, parentheses')
    parser.add_argument("--lang", choices=LANGS, default="auto")
    parser.add_argument("--q-ar", help="your own Arabic for the query, searched instead of its machine translation")
    parser.add_argument("--q-en", help="your own English for the query, searched instead of its machine translation")
    parser.add_argument(
        "--q-names", help="your own Arabic spellings of the query's names, searched instead of the collection's"
    )
    parser.add_argument("--source", action="append", default=[], help="filter by source (repeatable)")
    parser.add_argument("--category", action="append", default=[], help="filter by category (repeatable)")
    parser.add_argument("--from", dest="date_from", help="published on or after (YYYY-MM-DD)")
    parser.add_argument("--to", dest="date_to", help="published on or before (YYYY-MM-DD)")
    parser.add_argument("--sort", choices=SORTS, default="relevance")
    parser.add_argument("--size", type=int, default=10, help=f"hits per page (1-{MAX_PAGE_SIZE})")
    parser.add_argument("--page", type=int, default=1)
    parser.add_argument(
        "--no-collapse", dest="collapse", action="store_false", help="every article, not one per story cluster"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=run)


def run(args, services) -> int:
    request = SearchRequest(
        args.query,
        lang=args.lang,
        sources=tuple(args.source),
        categories=tuple(args.category),
        date_from=args.date_from,
        date_to=args.date_to,
        sort=args.sort,
        size=args.size,
        page=args.page,
        q_ar=args.q_ar,
        q_en=args.q_en,
        q_names=args.q_names,
        collapse=args.collapse,
    )
    try:
        request.validate()
    except ValueError as error:
        raise QueryError(str(error)) from None
    translated_boost = services.settings.search_translated_query_boost
    to = services.query_translators()  # to each side's language
    result = search(services.client, services.alias, request, to["en"], to["ar"], translated_boost, services.meaning)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    searched = "; ".join(f"{f['lang']} ({f['by']}): {f['text']}" for f in result["query"]["searched"])
    print(f"{result['total']} articles, searched {searched}")
    for side in result["query"]["not_searched"]:
        print(f"not searched in {side['lang']}: {side['why']}")
    for hit in result["hits"]:
        others = f"  (+{hit['cluster_size'] - 1} in its story)" if hit.get("cluster_size", 1) > 1 else ""
        print(f"\n{hit['published'] or ''} {hit['source'] or ''}  [{hit['score']:.2f}]  {hit['id']}{others}")
        print(
            f"  {_shown(hit['title_en'])}\n  {_shown(hit['title'])}" + ("  [demo model: noise]" if hit["demo"] else "")
        )
        for pair in hit["sentences"][:2]:
            print(f"    EN: {_shown(pair['en_highlighted'])}\n    AR: {_shown(pair['ar_highlighted'])}")
    return 0
