"""The one write path: checked articles → translated → documents → enriched → indexed → matched.

Every writer stores articles through write_articles: the CLI's `ingest` (plain, and `--resume` as a job), `sample`,
`POST /api/v1/articles`, and every job worker (in the service, `jobs worker`, Celery). It does, in order:

1. ensure the managed index behind the alias (created on the first write);
2. check each record (ArticleError: rejected with its reason); of records with the same document id, the last
   is kept and the earlier ones are rejected, naming the line that replaces them (repeated_id_reason);
3. skip records whose stored content hash matches: unchanged, never translated or indexed again;
4. translate the rest with the caller's Translate (the model, the record's own human English, or a worker's
   translations kept from an attempt that could not be stored);
5. build the documents and run the enrichment steps (ENRICHMENT_STEPS: sentence vectors, the people and places
   each names, then story clusters, which use the vectors across the language line) over them;
6. index them, then match the indexed ones against the saved searches (service/alerts).

It returns one Outcome per record, so every writer counts and reports alike. A new enrichment step is one entry
in ENRICHMENT_STEPS, and reaches every writer.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice

from opensearchpy import OpenSearch

from service import align
from service.alerts.matching import match_indexed
from service.config import Settings
from service.embedding.interface import SentenceEncoder
from service.errors import ArticleError, ServiceError
from service.index import lifecycle, vectors
from service.index.bulk import Progress, index_documents, stored_hashes, update_missing, with_retries
from service.index.client import bulk_timeout
from service.index.cluster_lookup import cluster_documents
from service.index.documents import CheckedRecord, check_record, to_document
from service.index.errors import reason_in
from service.names.collection import CollectionSpellings, word_counts
from service.names.lexicon import lexicon_id, name_lexicon, romanised
from service.names.people import CollectionEvidence, names_in
from service.pipeline import DETECT_CHARS, translate_articles
from service.search.names import collection_names
from service.text import langid

log = logging.getLogger(__name__)
WINDOW_RECORDS = 256
INDEXED, UNCHANGED, REJECTED = "indexed", "unchanged", "rejected"

# (line, record) pairs in, (line, aligned translation or ArticleError) pairs out, in any order


@dataclass(frozen=True)
class Translate:
    """How a writer translates a window of (line, record) pairs, and whether what it makes is the demo model's
    noise: a writer with a real model translates stored demo English again instead of keeping it as unchanged."""

    run: Callable[[list[tuple[int, dict]]], Iterable[tuple[int, dict | ArticleError]]]
    demo: bool = False

    def __call__(self, pairs: list[tuple[int, dict]]) -> Iterable[tuple[int, dict | ArticleError]]:
        return self.run(pairs)


@dataclass(frozen=True)
class IndexTarget:
    """Where and how writers store: the alias, the shape of the index made behind it on the first write, the
    story-cluster threshold, and how often each OpenSearch call is tried while the cluster is down."""

    client: OpenSearch
    alias: str
    shards: int = 1
    replicas: int | None = 0
    cluster_threshold: float = Settings().cluster_threshold
    attempts: int = 10  # with back-off; an HTTP request passes few
    encoder: SentenceEncoder | None = None  # gives each sentence its vector (ENCODER); None stores no vectors
    cluster_xlang_threshold: float | None = Settings().cluster_xlang_threshold  # across languages; None: off
    meaning_floor: float = Settings().meaning_floor  # saved searches match new articles in meaning as search

    @classmethod
    def from_settings(
        cls, settings: Settings, client: OpenSearch, attempts: int = 10, encoder: SentenceEncoder | None = None
    ) -> IndexTarget:
        return cls(
            client,
            settings.opensearch_index,
            shards=settings.opensearch_shards,
            replicas=settings.opensearch_replicas,
            cluster_threshold=settings.cluster_threshold,
            attempts=attempts,
            encoder=encoder,
            cluster_xlang_threshold=settings.cluster_xlang_threshold,
            meaning_floor=settings.meaning_floor,
        )

    @property
    def dimension(self) -> int | None:
        """The vector fields' dimension for an index made on the first write: the encoder's."""
        return self.encoder.dimension if self.encoder is not None else None


@dataclass(frozen=True)
class Outcome:
    """What became of one record: indexed (with its story cluster), unchanged, or rejected (with the reason)."""

    line: int
    status: str
    doc_id: str | None = None
    reason: str | None = None
    cluster_id: str | None = None
    translation: dict | None = None  # the aligned translation indexed (jobs keep it as the item's result)
    dropped: dict[str, str] = field(default_factory=dict)  # {field: why it was left out}; stored without them


def _cluster(target: IndexTarget, documents: list[dict]) -> list[dict]:
    """Story clusters: by the bodies' words, or across the language line by the vectors _embed gave them."""
    return cluster_documents(
        target.client,
        target.alias,
        documents,
        target.cluster_threshold,
        target.attempts,
        target.cluster_xlang_threshold,
    )


def _embed(target: IndexTarget, documents: list[dict]) -> list[dict]:
    """Each sentence's vector, where the write index has a vector field of the encoder's dimension: an index made
    from articles-v2 has none (index.knn is fixed at creation; lifecycle.upgrade logged that `index migrate` makes
    one), and one made for another encoder has another dimension (its vectors are another space: migrate too)."""
    if target.encoder is None:
        return documents
    index = with_retries(lambda: lifecycle.current_index(target.client, target.alias), target.attempts)
    dimension = with_retries(lambda: vectors.index_dimension(target.client, index), target.attempts)
    if dimension != target.encoder.dimension:
        if dimension is not None:
            log.warning(
                "%s holds %d-d vectors and ENCODER makes %d-d ones: articles are stored without vectors until "
                "`python -m service index migrate`",
                index,
                dimension,
                target.encoder.dimension,
            )
        return documents
    return vectors.embed_documents(target.encoder, documents)


# Each step takes the target and the window's documents and returns them enriched, in the same order. Vectors
# first: the story step joins an English original and its Arabic reports by them.
# The collection's word counts tell names from common words once it holds this many articles; before, the
# window's own words are counted with them
MIN_EVIDENCE_ARTICLES = 500
NAMES_LEXICON = "names_lexicon"  # the lexicon_id an article's names were found with (every article: none in English)
NAME_BATCH = 64  # stored articles named (and embedded again) per bulk update in name_stored


def _name(target: IndexTarget, documents: list[dict]) -> list[dict]:
    """The people and places each Arabic article names (names/people.py): their keys, searched and counted by the
    search page's facet, and each one's display form and Arabic spellings. An English original has none: the
    extraction reads Arabic. Every article is marked with the lexicon it was named with (name_stored's mark)."""
    lexicon = name_lexicon()
    marked = [{**doc, NAMES_LEXICON: lexicon_id()} for doc in documents]
    arabic = [doc for doc in marked if doc.get("language") == "ar"]
    if not arabic or not (lexicon.given or lexicon.foreign or lexicon.places):
        return marked
    evidence = _name_evidence(target, arabic)
    named = {}
    for doc in arabic:
        found = names_in([doc.get("title") or "", doc.get("body") or ""], lexicon, evidence, romanised)
        named[doc["id"]] = {
            "name_keys": [entity.key for entity in found],
            "names": [{"key": e.key, "kind": e.kind, "display": e.display, "ar": list(e.spellings)} for e in found],
        }
    return [{**doc, **named.get(doc["id"], {})} for doc in marked]


def _name_evidence(target: IndexTarget, documents: list[dict]) -> CollectionEvidence:
    collection = collection_names(target.client, target.alias)  # cached per process; None while unreadable
    if collection is not None and collection.articles >= MIN_EVIDENCE_ARTICLES:
        return CollectionEvidence.of(collection.spellings)
    counts = word_counts(f"{doc.get('title') or ''}\n{doc.get('body') or ''}" for doc in documents)
    if collection is not None:
        counts.update(collection.spellings.counts)
    return CollectionEvidence.of(CollectionSpellings.from_counts(counts))


ENRICHMENT_STEPS: tuple[Callable[[IndexTarget, list[dict]], list[dict]], ...] = (_embed, _name, _cluster)


class NamingError(ServiceError, RuntimeError):
    """Stored articles could not be named; the message says how many and why, or what to run first."""

    status, code, log_level = 503, "naming_failed", logging.ERROR


def unnamed_query() -> dict:
    """Stored articles not named with this lexicon: stored before names existed, or before a lexicon package was
    installed or upgraded."""
    return {"bool": {"must_not": [{"term": {NAMES_LEXICON: lexicon_id()}}]}}


def name_stored(target: IndexTarget, progress: Progress | None = None) -> int:
    """Name every stored article of the alias that unnamed_query finds, with the write path's own _name step;
    return how many; progress as update_missing's (`index names`).

    An update rewrites a document from its `_source`, which does not keep the vectors (index/vectors.py), so each
    update gives the article its vectors again with target.encoder; where a stored article holds another encoder's
    vectors (or the index's are not of that encoder's dimension), naming is refused before anything is written. The articles are
    not matched against the saved searches: an alert is for articles that are new, and these are not.
    bulk.update_missing: bounded memory, resumable (the update that names an article marks it), safe beside
    writers (an article stored meanwhile keeps what its writer found).
    """
    client, timeout = target.client, bulk_timeout(target.client)
    index = with_retries(
        lambda: lifecycle.ensure(client, target.alias, target.shards, target.replicas, dimension=target.dimension),
        target.attempts,
    )  # an index made before names_lexicon existed takes it here
    encoder = target.encoder
    embeds = encoder is not None and vectors.index_dimension(client, index) == encoder.dimension
    # vectors an update would drop (they are not in _source) and ENCODER cannot give again: another encoder's, even
    # of the same dimension, would be relabelled as ENCODER's and leave the searches of the index's own encoder
    given_again = [{"term": {vectors.ENCODER_FIELD: encoder.encoder_id}}] if embeds else []
    lost = {
        "bool": {"filter": [unnamed_query(), {"exists": {"field": vectors.ENCODER_FIELD}}], "must_not": given_again}
    }
    found = client.search(
        index=index, body={"size": 1, "query": lost, "_source": [vectors.ENCODER_FIELD]}, request_timeout=timeout
    )
    if found["hits"]["hits"]:
        held = found["hits"]["hits"][0]["_source"].get(vectors.ENCODER_FIELD)
        raise NamingError(
            f"{index} holds articles with sentence vectors of encoder {held}, which an update would drop and "
            f"ENCODER cannot give again: set ENCODER to {held}, or `python -m service index migrate`"
        )

    def named(documents: list[dict]) -> list[dict]:
        found = _name(target, documents)
        if embeds:
            found = vectors.embed_documents(encoder, found)
        kept = ("name_keys", "names", NAMES_LEXICON) + (("sentences", vectors.ENCODER_FIELD) if embeds else ())
        return [{field: doc[field] for field in kept if field in doc} for doc in found]

    source = ["language", "title", "body"] + (["sentences"] if embeds else [])
    done, refused = update_missing(client, index, unnamed_query(), source, named, NAME_BATCH, progress)
    if refused:
        raise NamingError(
            f"{len(refused)} articles of {index} could not be named "
            f"(first: {reason_in(refused[0].get('error'))}); `index names` again retries"
        )
    log.info("named %d stored articles of %s with %s", done, index, lexicon_id())
    return done


def write_articles(
    records: list[tuple[int, object]], target: IndexTarget, translate: Translate, rewrite: Collection[int] = ()
) -> list[Outcome]:
    """Store (line, record or ArticleError) pairs; one Outcome per pair, in input order.

    rewrite: lines written even when their stored content matches: a job's items whose earlier attempt may have
    indexed them without matching them against the saved searches, or without telling its job."""
    with_retries(
        lambda: lifecycle.ensure(
            target.client, target.alias, target.shards, target.replicas, dimension=target.dimension
        ),
        target.attempts,
    )
    outcomes: dict[int, Outcome] = {}
    checked = _check(records, outcomes)
    ids = [c.doc_id for c in checked.values()]
    known = stored_hashes(target.client, target.alias, ids, target.attempts, demo_is_stale=not translate.demo)
    changed = {}
    for line, record in checked.items():
        if known.get(record.doc_id) == record.digest and line not in rewrite:
            outcomes[line] = Outcome(line, UNCHANGED, record.doc_id, dropped=record.dropped)
        else:
            changed[line] = record
    documents, translations = [], {}
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for line, result in translate([(line, record.record) for line, record in changed.items()]):
        record = changed[line]
        if isinstance(result, ArticleError):
            outcomes[line] = Outcome(line, REJECTED, record.doc_id, str(result), dropped=record.dropped)
            continue
        documents.append(to_document(result, record, now))
        translations[record.doc_id] = (line, result)
    for step in ENRICHMENT_STEPS:
        documents = step(target, documents) if documents else documents
    refused = index_documents(target.client, target.alias, documents, attempts=target.attempts) if documents else {}
    for doc in documents:
        line, result = translations[doc["id"]]
        dropped = changed[line].dropped
        if doc["id"] in refused:
            reason = f"refused by OpenSearch: {refused[doc['id']]}"
            outcomes[line] = Outcome(line, REJECTED, doc["id"], reason, dropped=dropped)
        else:
            outcomes[line] = Outcome(line, INDEXED, doc["id"], None, doc["cluster_id"], result, dropped)
    indexed = [doc for doc in documents if doc["id"] not in refused]
    match_indexed(target.client, target.alias, indexed, target.encoder, target.meaning_floor)
    return [outcomes[line] for line, _ in records]


def _check(records: list[tuple[int, object]], outcomes: dict[int, Outcome]) -> dict[int, CheckedRecord]:
    """{line: checked record} of the records fit to store, the last of each document id; the others' outcomes."""
    checked = {}
    for line, record in records:
        try:
            if isinstance(record, ArticleError):
                raise record
            checked[line] = check_record(record)
        except ArticleError as error:
            outcomes[line] = Outcome(line, REJECTED, reason=str(error))
    last = {record.doc_id: line for line, record in checked.items()}
    for line, record in list(checked.items()):
        if last[record.doc_id] != line:
            outcomes[line] = Outcome(
                line, REJECTED, record.doc_id, repeated_id_reason(record.doc_id, last[record.doc_id])
            )
            del checked[line]
    return checked


def repeated_id_reason(doc_id: str, kept_line: int) -> str:
    """Why a record is rejected when a later one has the same document id: the same words on every path."""
    return f"id {doc_id[:60]!r} comes again at line {kept_line}; that one is kept"


class RepeatedIds:
    """The repeated-id rule over a whole stream, for a writer that can read the stream before it writes it (a job
    when it is submitted, a file, a request's list): told each record in turn, it names the earlier record that
    this one replaces. Memory: one entry per document id."""

    def __init__(self):
        self._position_of: dict[str, int] = {}  # document id → the position of the record that holds it so far

    def replaces(self, position: int, line: int, record: object) -> tuple[int, str, str] | None:
        """(the earlier record's position, its document id, why it is rejected) when this record's id came before."""
        try:
            doc_id = check_record(record).doc_id
        except ArticleError:
            return None  # rejected on its own account when it is written
        earlier, self._position_of[doc_id] = self._position_of.get(doc_id), position
        return None if earlier is None else (earlier, doc_id, repeated_id_reason(doc_id, line))


def replaced_lines(records: Iterable[tuple[int, object]]) -> dict[int, tuple[str, str]]:
    """{line: (document id, reason)} of the records that a later record with the same id replaces: read before
    writing, so that they are never written (ingest_stream's replaced)."""
    repeats, replaced = RepeatedIds(), {}
    for line, record in records:
        found = repeats.replaces(line, line, record)
        if found:
            earlier, doc_id, reason = found
            replaced[earlier] = (doc_id, reason)
    return replaced


def repeats_rule(job_options: dict) -> RepeatedIds | None:
    """The repeated-id rule a job is submitted with: an indexing job's, none for a job that only translates."""
    return RepeatedIds() if job_options.get("index") else None


# Translate implementations: the model, the records' own human English, or either by record.


def machine_translation(translator, **decoding) -> Translate:
    """Through the model (translator: a SentenceTranslator); decoding: e.g. beam_size."""
    return Translate(lambda pairs: translate_articles(pairs, translator, **decoding), translator.demo)


def _assemble_human(pairs: list[tuple[int, dict]]) -> Iterator[tuple[int, dict | ArticleError]]:
    """Records that carry their own sentence pairs ([{source, target}], `--pretranslated`), aligned as they are."""
    for line, record in pairs:
        detection = langid.detect(f"{record.get('title') or ''}\n{record['body']}"[:DETECT_CHARS])
        if detection.language not in ("ar", "en"):
            yield line, ArticleError(f"language is {detection.language}, not Arabic or English")
            continue
        try:
            yield line, align.assemble_pretranslated(record, detection)
        except ValueError as error:
            yield line, ArticleError(str(error))


human_translation = Translate(_assemble_human)


def human_or_machine(translator, carries_human_english: Callable[[dict], bool]) -> Translate:
    """Records that carry_human_english keep it; the others go through the model."""

    def translate(pairs: list[tuple[int, dict]]) -> Iterator[tuple[int, dict | ArticleError]]:
        human = [pair for pair in pairs if carries_human_english(pair[1])]
        yield from human_translation(human)
        machine = [pair for pair in pairs if not carries_human_english(pair[1])]
        if machine:
            yield from translate_articles(machine, translator)

    return Translate(translate, translator.demo)


# A stream of records (a file), written a window at a time: the CLI, the API and the sample.


@dataclass(frozen=True)
class Reject:
    line: int
    reason: str
    id: str | None = None

    def to_dict(self) -> dict:
        return {"line": self.line, "id": self.id, "reason": self.reason}


@dataclass
class IngestReport:
    indexed: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)
    outcomes: dict[int, Outcome] = field(default_factory=dict)  # line → its outcome

    @property
    def clusters(self) -> dict[int, str]:
        """line → the story cluster its indexed article joined."""
        return {line: o.cluster_id for line, o in self.outcomes.items() if o.status == INDEXED}

    @property
    def dropped_fields(self) -> dict[int, dict[str, str]]:
        """line → {field: why it was left out} of records stored without some fields."""
        return {line: o.dropped for line, o in self.outcomes.items() if o.dropped}

    def to_dict(self) -> dict:
        return {"indexed": self.indexed, "unchanged": self.unchanged, "rejected": len(self.rejects)}


def ingest(
    records: Iterable[tuple[int, object]],
    client: OpenSearch,
    alias: str,
    translator=None,
    pretranslated: bool = False,
    on_reject: Callable[[Reject], None] = lambda r: None,
    window: int = WINDOW_RECORDS,
    attempts: int = 10,
    cluster_threshold: float = Settings().cluster_threshold,
) -> IngestReport:
    """ingest_stream onto alias, translated by the translator's model or, with pretranslated, with the records' own
    sentence pairs; attempts tries of each OpenSearch call while the cluster is down; CLUSTER_THRESHOLD."""
    if translator is None and not pretranslated:
        raise ValueError("ingest needs a translator unless the records are pre-translated")
    translate = human_translation if pretranslated else machine_translation(translator)
    target = IndexTarget(client, alias, cluster_threshold=cluster_threshold, attempts=attempts)
    return ingest_stream(records, target, translate, on_reject, window)


def ingest_stream(
    records: Iterable[tuple[int, object]],
    target: IndexTarget,
    translate: Translate,
    on_reject: Callable[[Reject], None] = lambda r: None,
    window: int = WINDOW_RECORDS,
    replaced: Mapping[int, tuple[str, str]] | None = None,
) -> IngestReport:
    """Write (line number, record or ArticleError) pairs a window at a time; report what went in and what not.

    replaced: replaced_lines() of the same records, where they can be read twice (a file; a list is read here):
    those lines are rejected without being written. A stream read once (standard input) comes without it: a
    record whose id comes again in a later window has been written by then, and is counted as rejected when the
    later one replaces it; should the later one be rejected itself, the earlier stays stored and counted.
    """
    if replaced is None and isinstance(records, Sequence):
        replaced = replaced_lines(records)
    replaced = replaced or {}
    report, line_of_id = IngestReport(), {}
    records = iter(records)
    while chunk := list(islice(records, window)):
        kept = [(line, record) for line, record in chunk if line not in replaced]
        written = {outcome.line: outcome for outcome in write_articles(kept, target, translate)} if kept else {}
        for line, _ in chunk:  # in input order
            outcome = Outcome(line, REJECTED, *replaced[line]) if line in replaced else written[line]
            if outcome.status != REJECTED and outcome.doc_id in line_of_id:
                outcome = _replaced(report, line_of_id[outcome.doc_id], outcome, on_reject)
            if outcome.doc_id is not None and outcome.status != REJECTED:
                line_of_id[outcome.doc_id] = outcome.line
            _count(report, outcome, on_reject)
    return report


def _count(report: IngestReport, outcome: Outcome, on_reject) -> None:
    report.outcomes[outcome.line] = replace(outcome, translation=None)  # a whole file's translations would not fit
    if outcome.status == INDEXED:
        report.indexed += 1
    elif outcome.status == UNCHANGED:
        report.unchanged += 1
    else:
        rejected = Reject(outcome.line, outcome.reason, outcome.doc_id)
        report.rejects.append(rejected)
        on_reject(rejected)


def _replaced(report: IngestReport, earlier_line: int, later: Outcome, on_reject) -> Outcome:
    """An earlier window's record whose id comes again is counted as rejected, the way one window counts it; the
    later record, unchanged only because the earlier one was just indexed, counts as indexed in its place."""
    earlier = report.outcomes[earlier_line]
    if earlier.status == INDEXED:
        report.indexed -= 1
    else:
        report.unchanged -= 1
    reason = repeated_id_reason(later.doc_id, later.line)
    _count(report, Outcome(earlier_line, REJECTED, later.doc_id, reason), on_reject)
    if earlier.status == INDEXED and later.status == UNCHANGED:
        return replace(later, status=INDEXED, cluster_id=earlier.cluster_id)
    return later
