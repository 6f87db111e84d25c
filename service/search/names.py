"""Names in every spelling on the search side: the collection's own spellings, read from the index and cached per
process and alias, and the `names` wording they give a query (the counting and the guard are service/names/).

An English query made of names ("Trump", "Erdogan Putin") is searched on the Arabic side in the spellings the
collection uses (`"ترامب" OR "ترمب"`); an Arabic query's name words are searched in their other spellings beside
the user's own words. A user's `q_names` replaces the automatic spellings. With OpenSearch unreachable, or
arabnamer absent for English names, a search simply has no names wording."""

from __future__ import annotations

import functools
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, OpenSearchException

from service.names.collection import CollectionSpellings, capitalised_shares, word_counts
from service.names.english import english_to_arabic
from service.names.guard import is_probably_name
from service.search import query as query_parser
from service.search.query import QueryError, QueryWording
from service.search.request import SearchRequest

SCAN_ARTICLES = 5000  # the newest articles whose words give the spellings: ~1 s to read and count
SCAN_PAGE = 500
SPELLINGS_TTL_S = 300.0  # then rebuilt in the background, the old spellings serving meanwhile
RETRY_AFTER_FAILURE_S = 15.0  # an unreachable node is asked again after this, not on every search
MAX_SPELLINGS_PER_NAME = 8  # the most used first: a name with more spellings is rare, each one a clause
_LATIN_NAME = re.compile(r"^[A-Za-z][A-Za-z'-]*$")
_ARABIC_TOKEN = re.compile(r"^[\u0621-\u064a\u0640\u064b-\u0652]+$")


@dataclass(frozen=True)
class CollectionNames:
    """What the collection tells about names: its Arabic spellings, and how its English capitalises words."""

    spellings: CollectionSpellings
    capitalised: dict[str, float] = field(default_factory=dict)
    articles: int = 0


def collection_names_from(articles: list[dict]) -> CollectionNames:
    """Pure: from articles' source, title, body and body_en, counted per source (outlets spell names apart)."""
    texts: dict[str, list[str]] = defaultdict(list)
    for article in articles:
        texts[article.get("source") or ""] += [article.get("title") or "", article.get("body") or ""]
    by_source = {source: word_counts(arabic) for source, arabic in texts.items()}  # each distinct word made plain once
    english = (article.get("body_en") or "" for article in articles)
    return CollectionNames(CollectionSpellings.from_sources(by_source), capitalised_shares(english), len(articles))


def read_articles(client: OpenSearch, alias: str, limit: int = SCAN_ARTICLES) -> list[dict]:
    """The newest `limit` articles' fields that names are counted from, a page at a time."""
    articles: list[dict] = []
    after = None
    while len(articles) < limit:
        body = {
            "size": min(SCAN_PAGE, limit - len(articles)),
            "sort": [{"ingested_at": "desc"}, {"id": "asc"}],
            "_source": ["source", "title", "body", "body_en"],
            "query": {"match_all": {}},
            **({"search_after": after} if after else {}),
        }
        hits = client.search(index=alias, body=body)["hits"]["hits"]
        articles.extend(hit["_source"] for hit in hits)
        if len(hits) < body["size"]:
            break
        after = hits[-1]["sort"]
    return articles


class _Cache:
    """One CollectionNames per (client, alias), rebuilt in a background thread when older than the TTL."""

    def __init__(self, read: Callable[[OpenSearch, str], list[dict]] = read_articles):
        self._read = read
        self._lock = threading.Lock()
        self._entries: dict[tuple[int, str], tuple[float, CollectionNames | None]] = {}
        self._refreshing: set[tuple[int, str]] = set()
        self._first_builds: dict[tuple[int, str], threading.Lock] = {}  # one scan, however many first searches

    def get(self, client: OpenSearch, alias: str) -> CollectionNames | None:
        key = (id(client), alias)
        with self._lock:
            entry = self._entries.get(key)
            first = self._first_builds.setdefault(key, threading.Lock()) if entry is None else None
        if first is not None:  # the first searches of the process on this alias wait for one scan (~1 s)
            with first:
                with self._lock:
                    entry = self._entries.get(key)
                if entry is None:
                    return self._build(client, alias)
        built_at, names = entry
        max_age = SPELLINGS_TTL_S if names is not None else RETRY_AFTER_FAILURE_S
        if time.monotonic() - built_at > max_age:
            with self._lock:
                start = key not in self._refreshing
                self._refreshing.add(key)
            if start:
                threading.Thread(target=self._build, args=(client, alias), daemon=True, name="names-spellings").start()
        return names

    def _build(self, client: OpenSearch, alias: str) -> CollectionNames | None:
        key = (id(client), alias)
        try:
            names = collection_names_from(self._read(client, alias))
        except NotFoundError:  # no articles yet
            names = collection_names_from([])
        except OpenSearchException:  # unreachable or refusing: the search goes on without names
            names = None
        with self._lock:
            self._entries[key] = (time.monotonic(), names)
            self._refreshing.discard(key)
        return names

    def forget(self, alias: str | None = None) -> None:
        with self._lock:
            for key in [key for key in self._entries if alias is None or key[1] == alias]:
                del self._entries[key]


_CACHE = _Cache()


def collection_names(client: OpenSearch, alias: str) -> CollectionNames | None:
    """The alias's names (cached per process); None while OpenSearch cannot be read."""
    return _CACHE.get(client, alias)


def forget_collection_names(alias: str | None = None) -> None:
    """Drop the cached spellings (of one alias, or all): the next search reads the index again."""
    _CACHE.forget(alias)


@functools.lru_cache(maxsize=4096)
def _ranked_arabic(english_word: str) -> tuple[str, ...]:
    return tuple(english_to_arabic(english_word))


def english_name_spellings(word: str, names: CollectionNames) -> list[str]:
    """The collection's Arabic spellings of an English word that is probably a name; [] otherwise."""
    if not _LATIN_NAME.match(word) or not is_probably_name(word, capitalised_share=names.capitalised.get(word.lower())):
        return []
    return names.spellings.spellings_for(_ranked_arabic(word))[:MAX_SPELLINGS_PER_NAME]


def arabic_name_spellings(word: str, names: CollectionNames) -> list[str]:
    """The word and the collection's other spellings of it, when it is a name spelled more than one way; else []."""
    if not _ARABIC_TOKEN.match(word):
        return []
    found = names.spellings.searchable_spellings(word)[:MAX_SPELLINGS_PER_NAME]
    return found if len(found) > 1 else []


def either(spellings: list[str]) -> str:
    """The spellings as one query: any of them, each as a phrase."""
    return " OR ".join(f'"{spelling}"' for spelling in spellings)


def respelled(text: str, spell: Callable[[str], list[str]], every_word: bool) -> str | None:
    """The query text with each searched word that `spell` knows as a name replaced by its spellings, in the
    user's syntax (operators and exclusions kept); None when no word was, or (every_word) when one was not."""
    tokens = query_parser.tokens(text)
    out: list[str] = []
    replaced = False
    negated_depth = None  # inside an excluded group: its words are left as they are
    depth = 0
    negate = False
    for token in tokens:
        if token in ("AND", "OR", "NOT", "-"):
            negate = token in ("NOT", "-")
            out.append(token)
            continue
        if token == "(":
            depth += 1
            if negate and negated_depth is None:
                negated_depth = depth
        elif token == ")":
            if negated_depth == depth:
                negated_depth = None
            depth -= 1
        elif not (negate or token.startswith("-") or negated_depth is not None):
            spellings = [] if token.startswith('"') else spell(token)
            if spellings:
                alone = len(tokens) == 1
                token, replaced = (either(spellings) if alone else f"({either(spellings)})"), True
            elif every_word:
                return None
        negate = False
        out.append(token)
    return " ".join(out) if replaced else None


def english_names_in(text: str, names: CollectionNames) -> dict[str, list[str]]:
    """The query's English names that the collection writes in Arabic, each with its spellings there, in the
    query's order (excluded words left out): what a search that found nothing can offer to try instead."""
    found: dict[str, list[str]] = {}

    def spell(word: str) -> list[str]:
        spellings = english_name_spellings(word, names)
        if spellings:
            found.setdefault(word, spellings)
        return spellings

    respelled(text, spell, every_word=False)
    return found


def name_wordings(
    request: SearchRequest, wordings: list[QueryWording], names: CollectionNames | None
) -> list[QueryWording]:
    """The Arabic `names` wordings of the user's wordings: the user's q_names when given, else one per user
    wording with names in it. An English wording counts only when every word searched is a name (a name beside
    other words would match every article naming the person)."""
    if request.q_names:
        return [QueryWording("ar", request.q_names, query_parser.parse(request.q_names), "names")]
    if names is None:
        return []
    found: list[QueryWording] = []
    for wording in wordings:
        if wording.by != "user":
            continue
        if wording.lang == "en":
            text = respelled(wording.text, lambda word: english_name_spellings(word, names), every_word=True)
        else:
            text = respelled(wording.text, lambda word: arabic_name_spellings(word, names), every_word=False)
        if text is None or any(other.text == text for other in found):
            continue
        try:
            found.append(QueryWording("ar", text, query_parser.parse(text), "names"))
        except QueryError:  # longer than a query may be: search without it
            continue
    return found
