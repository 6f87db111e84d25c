"""Alerts and their matches in OpenSearch: `<alias>-alerts` (percolator queries) and `<alias>-alert-matches`.

The alerts index holds each alert's percolator query (search/body.py's alert_query over the query wordings saved with
it) beside the alert's own fields under `alert`. A percolator query is parsed with the index's mapping, so that
index also maps the article fields the queries search, copied with their analyzers from the newest articles
config when the index is made (index_config/alerts-v1.json has the rest). Changing those analyzers means making
the alerts index again and storing every alert anew.

Beside `query`, an alert's document holds `filter_query` (percolator: its exclusions, dates and facets, without
its words: body.py alert_filter_query) and `meaning` (its query's vector and encoder id, not indexed: alerts/meaning.py),
so an article found near the alert in meaning at ingest is matched only if the alert's filters let it through. An
alerts index made before these fields gets them added (`ensure`); its alerts get theirs when first matched by
meaning (AlertStore.set_meaning).

The matches index holds one entry per (alert, story), its id match_id(alert, story): recorded once with `create`;
a later article of the story adds its id and outlet with an update guarded by if_seq_no/if_primary_term, so
concurrent writers (ingest processes, the webhook deliverer) never undo each other. Entries of an alert with a
webhook carry `webhook: {state: pending, attempts: 0, next_attempt}` for the deliverer.

A key's limit (ALERTS_PER_KEY) holds under concurrent creates, in any number of processes, through
`<alias>-alert-slots`: a key has `limit` slots, documents `<owner>:<n>` each naming the alert that holds it, taken
with `create` (one writer wins a slot) before the alert is written and freed after it is deleted. An alert that no
slot names (saved before slots, or by a caller without a limit) takes one too.

A key's distinct digest addresses (ALERT_DIGEST_ADDRESSES_PER_KEY) are held the same way, by slots
`<owner>:address:<n>` each naming an address and the alert last saved with it: an alert is saved with an address only
after it took (`create`) or touched (a write guarded by if_seq_no/if_primary_term) the slot naming it, so two saves
at once cannot both count the same free slot. A slot whose address no other alert of the key uses is free to the
alert that last touched it (an address changed) and, ABANDONED_SLOT after its last touch, to any (an alert deleted,
or a save that died): a save under way has touched its slot just before, so its address is never taken from it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from functools import partial

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import ConflictError, NotFoundError, RequestError

from service.alerts.meaning import AlertVector
from service.alerts.model import Alert, StoryMatch, saved_wording, wording_dict
from service.errors import ServiceError
from service.index.bulk import with_retries
from service.index.client import bulk_timeout
from service.index.lifecycle import ALREADY_EXISTS, INDEX_CONFIG_DIR, config_versions, read_config
from service.index.mappings import check_index_body
from service.search.body import alert_filter_query, alert_query
from service.search.query import QueryWording

ALERTS_CONFIG = INDEX_CONFIG_DIR / "alerts-v1.json"
MATCHES_CONFIG = INDEX_CONFIG_DIR / "alert-matches-v1.json"
SLOTS_CONFIG = INDEX_CONFIG_DIR / "alert-slots-v1.json"
DIGESTS_CONFIG = INDEX_CONFIG_DIR / "alert-digests-v1.json"
PERCOLATED_FIELDS = ("title", "body", "title_en", "body_en", "published", "source", "category", "name_keys")
FILTERED_FIELDS = ("published", "source", "category", "name_keys")  # what an alert's dates and facets read
PERCOLATE_PAGE = 1000  # alerts per page of percolate hits
MAX_LISTED = 1000  # alerts list_for returns at most (a key's limit is ALERTS_PER_KEY)
UPDATE_ROUNDS = 5  # tries of an entry's update when another writer changed it in between
SECRET_BYTES = 32
# A slot whose alert is still missing this long after it was taken was left by a create or delete that died midway
# (a create writes its alert right after taking the slot, retries included well within this)
ABANDONED_SLOT = dt.timedelta(minutes=10)
MATCH_NOTHING = {"match_none": {}}


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def alerts_index_body() -> dict:
    """The alerts index: its own config, plus the searched article fields and their analysis from the articles'."""
    articles = read_config(config_versions()[max(config_versions())])
    body = read_config(ALERTS_CONFIG)
    body["settings"]["analysis"] = articles["settings"]["analysis"]
    fields = articles["mappings"]["properties"]
    body["mappings"]["properties"].update({name: fields[name] for name in PERCOLATED_FIELDS})
    return body


def percolated_document(document: dict, fields: tuple[str, ...] = PERCOLATED_FIELDS) -> dict:
    """The part of an article document that alert queries read (or the fields named)."""
    return {name: document[name] for name in fields if document.get(name) is not None}


def _meaning_source(vector: AlertVector | None, filter_query: dict) -> dict | None:
    """The stored `meaning`: the vector, and what its filters read of an article: its text (exclusions), only its
    dates and facets, or nothing (an alert without filters lets every article it reaches through)."""
    if vector is None:
        return None
    passing = filter_query["bool"]
    reads = "text" if passing.get("must_not") else "fields" if passing.get("filter") else "nothing"
    return {**vector.to_source(), "filters_read": reads}


@dataclass(frozen=True)
class SavedMeaning:
    alert_id: str
    webhook: bool
    vector: AlertVector | None  # None: saved before vectors (or with ENCODER off), or without words
    filters_read: str  # text (it has exclusions), fields (dates or facets only), or nothing (no filters)
    has_words: bool  # False: a saved browse (filters only), never matched in meaning


def _alert_of(source: dict) -> Alert:
    saved = dict(source["alert"])
    saved.pop("webhook_secret", None)
    return Alert(**{**saved, "searched": tuple(saved.get("searched") or ())})


MAX_ALERT_ID = 64  # alert ids are 32 hex digits: a longer one is no alert's


class AlertLimitReached(ServiceError):
    """The owner holds as many alerts as the limit allows."""

    status, code = 429, "rate_limited"


class DigestAddressesReached(ServiceError):
    """The key's alerts mail as many distinct addresses as ALERT_DIGEST_ADDRESSES_PER_KEY allows."""

    status, code = 400, "too_many_digest_addresses"


class AlertChanged(ServiceError):
    """Another writer changed the alert between reading and writing it: the change was not made."""

    status, code = 409, "conflict"
    client_message = "the alert changed while this update was made; read it again and retry"


class AlertStore:
    """Alerts and their matches behind one articles alias; alert methods taking owner see only that owner's."""

    def __init__(self, client: OpenSearch, alias: str, attempts: int = 3):
        self.client, self.alias, self.attempts = client, alias, attempts
        self.alerts_index = f"{alias}-alerts"
        self.matches_index = f"{alias}-alert-matches"
        self.slots_index = f"{alias}-alert-slots"
        self.digests_index = f"{alias}-alert-digests"

    def ensure(self) -> None:
        """Make the indices if missing, and give those made by an earlier version their later fields; safe to call
        concurrently."""
        for index, body in self._bodies().items():
            if self.client.indices.exists(index=index):
                self._add_later_fields(index, body)
                continue
            check_index_body(body, index)  # the alerts index takes article fields: checked as sent, too
            try:
                self.client.indices.create(index=index, body=body, request_timeout=bulk_timeout(self.client))
            except RequestError as error:
                if error.error != ALREADY_EXISTS:
                    raise
            self.client.cluster.health(index=index, wait_for_status="yellow", request_timeout=bulk_timeout(self.client))

    def bring_up_to_date(self) -> None:
        """Give the indices that exist the fields an earlier version made them without (making none)."""
        for index, body in self._bodies().items():
            if self.client.indices.exists(index=index):
                self._add_later_fields(index, body)

    def _bodies(self) -> dict[str, dict]:
        return {
            self.alerts_index: alerts_index_body(),
            self.matches_index: read_config(MATCHES_CONFIG),
            self.slots_index: read_config(SLOTS_CONFIG),
            self.digests_index: read_config(DIGESTS_CONFIG),
        }

    def _add_later_fields(self, index: str, body: dict) -> None:
        """Add the fields (and an object's fields) that an index made by an earlier version lacks: the alerts'
        filter_query, meaning, paused and digest_*, the matches' snippet (adding fields is allowed in place)."""
        (found,) = self.client.indices.get_mapping(index=index).values()
        fields = found["mappings"].get("properties", {})
        missing = {}
        for name, kind in body["mappings"]["properties"].items():
            if name not in fields:
                missing[name] = kind
            elif "properties" in kind:
                inner = fields[name].get("properties", {})
                if later := {sub: sub_kind for sub, sub_kind in kind["properties"].items() if sub not in inner}:
                    missing[name] = {"properties": later}
        if missing:
            self.client.indices.put_mapping(index=index, body={"properties": missing})

    # alerts

    def create(
        self,
        owner: str,
        name: str,
        query: str,
        filters: dict,
        wordings: list[QueryWording],
        webhook_url: str | None = None,
        refresh: str | bool = "wait_for",
        limit: int | None = None,
        meaning: AlertVector | None = None,
        digest_email: str | None = None,
        digest_cadence: str = "off",
        address_limit: int | None = None,
        watching: str | None = None,
    ) -> tuple[Alert, str | None]:
        """A new alert of owner's, and its webhook secret when it has a webhook (given out this once).

        refresh: wait_for makes it match the next ingest and show in list_for at once; False (loading many) leaves
        that to the index's next refresh. limit: AlertLimitReached when owner holds that many alerts already.
        meaning: the query's vector, matched against new articles' sentences (None: by words only, until an ingest
        with an encoder gives it one). address_limit: DigestAddressesReached when digest_email would be one more
        distinct address than that among owner's alerts. watching: an alert without words, its filters in words."""
        self.ensure()
        alert = Alert(
            id=uuid.uuid4().hex,
            owner=owner,
            name=name,
            query=query,
            filters=filters,
            feed_token=secrets.token_urlsafe(24),
            webhook_url=webhook_url,
            created=now_iso(),
            last_seen=None,
            searched=tuple(wording_dict(wording) for wording in wordings),
            digest_email=digest_email,
            digest_cadence=digest_cadence,
            watching=watching,
        )
        secret = secrets.token_urlsafe(SECRET_BYTES) if webhook_url else None
        if limit is not None and not self._take_slot(owner, alert.id, limit):
            raise AlertLimitReached(f"at most {limit} alerts per API key")
        try:
            self._hold_digest_address(alert, address_limit)
            self._put(alert, wordings, secret, meaning, op_type="create", refresh=refresh)
        except Exception:
            self._free_slot(alert.id)
            raise
        return alert, secret

    def _take_slot(self, owner: str, alert_id: str, limit: int) -> bool:
        """Take a free one of owner's slots for alert_id; False when every one is held.

        An alert saved before slots existed gets a slot first, so that every alert counted holds one and two creates
        at once cannot both count it out. Two such creates may each give it one: the key then has a slot fewer until
        that alert is deleted (which frees all of its slots), never one more."""
        alerts = self.list_for(owner)  # first: an alert listed has its slot already (taken before it was written)
        slots = self._read_slots([f"{owner}:{n}" for n in range(limit)])
        named = {slot["_source"]["alert_id"] for slot in slots if slot.get("found")}
        waiting = [alert.id for alert in alerts if alert.id not in named] + [alert_id]
        for slot in slots:
            if not waiting:
                break
            if slot.get("found") and not self._abandoned(slot):
                continue
            claim = {"owner": owner, "alert_id": waiting[0], "claimed": now_iso()}
            # an abandoned slot only if no one took it over since it was read; a free one only if still free
            if self._write_slot_as_read(slot, claim, refresh=True):  # else another create took it first
                waiting.pop(0)
        return not waiting

    def _read_slots(self, slot_ids: list[str]) -> list[dict]:
        """The slots of these ids as mget answers them (found or not, with their versions)."""
        read = partial(self.client.mget, index=self.slots_index, body={"ids": slot_ids})
        return with_retries(read, attempts=self.attempts)["docs"]

    def _write_slot_as_read(self, slot: dict, claim: dict, refresh: bool = False) -> bool:
        """Write the claim into the slot if it is still as _read_slots found it: still missing (`create`), or at the
        version read (a guarded write); False when another writer came first."""
        unchanged = (
            {"if_seq_no": slot["_seq_no"], "if_primary_term": slot["_primary_term"]}
            if slot.get("found")
            else {"op_type": "create"}
        )
        take = partial(
            self.client.index, index=self.slots_index, id=slot["_id"], body=claim, refresh=refresh, **unchanged
        )
        try:
            with_retries(take, attempts=self.attempts)
        except ConflictError:
            return False
        return True

    def _abandoned(self, slot: dict) -> bool:
        """Whether a held slot was left by a create or delete that died midway: old, and its alert missing."""
        claimed = dt.datetime.fromisoformat(slot["_source"]["claimed"])
        return dt.datetime.now(dt.UTC) - claimed > ABANDONED_SLOT and self._read(slot["_source"]["alert_id"]) is None

    def _free_slot(self, alert_id: str) -> None:
        """Free the slot alert_id holds, if any (slots are written with refresh, so the search finds it)."""
        # address slots stay: one touched by this alert is freed by its address's own rule
        query = {"bool": {"filter": [{"term": {"alert_id": alert_id}}], "must_not": [{"exists": {"field": "address"}}]}}
        body = {"query": query, "_source": False}
        with contextlib.suppress(NotFoundError):  # no slots index (alerts saved before slots), or freed already
            held = with_retries(lambda: self.client.search(index=self.slots_index, body=body), attempts=self.attempts)
            for slot in held["hits"]["hits"]:
                free = partial(self.client.delete, index=self.slots_index, id=slot["_id"], refresh=True)
                with_retries(free, attempts=self.attempts)

    def _hold_digest_address(self, alert: Alert, limit: int | None) -> None:
        """Take or touch the slot of the alert's digest address for it; DigestAddressesReached when every one of its
        owner's `limit` slots holds another address in use (an address in use that no slot names, saved before
        address slots, counts as one held)."""
        if limit is None or not alert.digest_email:
            return
        wanted = alert.digest_email.lower()
        slot_ids = [f"{alert.owner}:address:{n}" for n in range(limit)]
        claim = {"owner": alert.owner, "alert_id": alert.id, "address": wanted, "claimed": now_iso()}
        for _ in range(UPDATE_ROUNDS):
            slots = self._read_slots(slot_ids)
            held = {slot["_source"]["address"]: slot for slot in slots if slot.get("found")}
            if wanted in held:
                chosen = held[wanted]
            else:
                in_use = {
                    other.digest_email.lower()
                    for other in self.list_for(alert.owner)
                    if other.digest_email and other.id != alert.id
                }
                free = [slot for slot in slots if not slot.get("found") or self._address_free(slot, alert.id, in_use)]
                # every address in use that no slot names (saved before address slots, or by a save that failed
                # after its touch) needs a slot too, this one included
                if len(free) < len((in_use | {wanted}) - held.keys()):
                    raise DigestAddressesReached(
                        f"this key's alerts already mail {limit} addresses, the most allowed; use one of them"
                    )
                chosen = free[0]
            if self._write_slot_as_read(chosen, claim):
                return
            # another save took or touched it first: read the slots again
        raise AlertChanged("the key's digest addresses changed while this alert was saved; retry")

    @staticmethod
    def _address_free(slot: dict, alert_id: str, in_use: set[str]) -> bool:
        """Whether an address slot may be taken for another address by alert_id: no other alert uses its address,
        and alert_id touched it last (its address changed) or no one did for ABANDONED_SLOT."""
        held = slot["_source"]
        if held["address"] in in_use:
            return False
        touched = dt.datetime.fromisoformat(held["claimed"])
        return held.get("alert_id") == alert_id or dt.datetime.now(dt.UTC) - touched > ABANDONED_SLOT

    def _put(
        self,
        alert: Alert,
        wordings: list[QueryWording],
        secret: str | None,
        meaning: AlertVector | None = None,
        refresh: str | bool = "wait_for",
        **options,
    ) -> None:
        # a paused alert's percolator queries match nothing, by words or (through filter_query) by meaning; its
        # meaning stays stored, so resuming it needs no encoder
        filter_query = alert_filter_query(alert.request(), wordings)
        source = {
            "query": MATCH_NOTHING if alert.paused else alert_query(alert.request(), wordings),
            "filter_query": MATCH_NOTHING if alert.paused else filter_query,
            "meaning": _meaning_source(meaning, filter_query),
            "alert": {**alert.to_dict(), "owner": alert.owner, "webhook_secret": secret},
        }
        with_retries(
            lambda: self.client.index(index=self.alerts_index, id=alert.id, body=source, refresh=refresh, **options),
            attempts=self.attempts,
        )

    def _read(self, alert_id: str) -> dict | None:
        """The alert's stored document with its _seq_no and _primary_term, or None."""
        if len(alert_id) > MAX_ALERT_ID:  # no alert has it: spare OpenSearch the lookup
            return None
        try:
            return self.client.get(index=self.alerts_index, id=alert_id)
        except NotFoundError:  # no such alert, or no alerts index yet
            return None

    def _stored(self, alert_id: str) -> dict | None:
        found = self._read(alert_id)
        return found["_source"] if found else None

    def get(self, alert_id: str, owner: str | None) -> Alert | None:
        """The alert, when owner's (any owner's with None: the feed and the deliverer); else None."""
        source = self._stored(alert_id)
        if source is None or (owner is not None and source["alert"]["owner"] != owner):
            return None
        return _alert_of(source)

    def list_for(self, owner: str) -> list[Alert]:
        """owner's alerts, newest first."""
        body = {"query": {"term": {"alert.owner": owner}}, "size": MAX_LISTED, "sort": [{"alert.created": "desc"}]}
        return [_alert_of(hit["_source"]) for hit in self._search(body)]

    def digest_alerts(self) -> list[Alert]:
        """Every alert with an e-mail digest (hourly or daily) that is not paused, paged over the alerts."""
        query = {
            "bool": {
                "filter": [{"terms": {"alert.digest_cadence": ["hourly", "daily"]}}],
                "must_not": [{"term": {"alert.paused": True}}],
            }
        }
        return [_alert_of(hit["_source"]) for hit in self._pages(query, ["alert.id"], source=["alert"])]

    def matching_parts(self, alert_ids: list[str]) -> dict[str, tuple[list[QueryWording], AlertVector | None]]:
        """{alert id: (its query wordings, its query vector or None)} of those that exist: what a match's snippet
        is found with."""
        if not alert_ids:
            return {}
        body = {"ids": alert_ids}
        docs = with_retries(
            lambda: self.client.mget(index=self.alerts_index, body=body, _source=["alert.searched", "meaning"]),
            attempts=self.attempts,
        )["docs"]
        return {
            doc["_id"]: (
                [saved_wording(wording) for wording in doc["_source"]["alert"].get("searched") or ()],
                AlertVector.from_source(doc["_source"].get("meaning")),
            )
            for doc in docs
            if doc.get("found")
        }

    def count_for(self, owner: str) -> int:
        try:
            return self.client.count(index=self.alerts_index, body={"query": {"term": {"alert.owner": owner}}})["count"]
        except NotFoundError:
            return 0

    def update(
        self,
        alert_id: str,
        owner: str,
        name: str,
        query: str,
        filters: dict,
        wordings: list[QueryWording],
        webhook_url: str | None,
        meaning: AlertVector | None = None,
        paused: bool | None = None,
        digest: tuple[str | None, str] | None = None,
        address_limit: int | None = None,
        watching: str | None = None,
    ) -> tuple[Alert, str | None] | None:
        """Replace owner's alert's definition (paused, digest (address, cadence): None keeps it as it is);
        (alert, a new webhook secret when a webhook was added), or None. address_limit, watching: as create's.

        The secret stays while the alert has a webhook (a changed URL keeps it), and goes with the webhook.
        meaning: the new query's vector; None keeps the stored one while the query text stays, else drops it.
        The write is conditional on the version read: an alert deleted meanwhile stays deleted (None), and one
        changed meanwhile raises AlertChanged rather than losing that change.
        """
        self.ensure()  # an index an earlier version made takes the fields this write may carry (a slot's address)
        found = self._read(alert_id)
        if found is None or found["_source"]["alert"]["owner"] != owner:
            return None
        source = found["_source"]
        secret = source["alert"].get("webhook_secret")
        fresh = None
        if webhook_url and not secret:
            secret = fresh = secrets.token_urlsafe(SECRET_BYTES)
        alert = replace(
            _alert_of(source),
            name=name,
            query=query,
            filters=filters,
            webhook_url=webhook_url,
            searched=tuple(wording_dict(wording) for wording in wordings),
            watching=watching,
        )
        if paused is not None:
            alert = replace(alert, paused=paused)
        if digest is not None:
            alert = replace(alert, digest_email=digest[0], digest_cadence=digest[1])
            self._hold_digest_address(alert, address_limit)
        try:
            self._put(
                alert,
                wordings,
                secret if webhook_url else None,
                meaning or _kept_meaning(source, query),
                if_seq_no=found["_seq_no"],
                if_primary_term=found["_primary_term"],
            )
        except ConflictError:
            if self._read(alert_id) is None:
                return None
            raise AlertChanged(f"alert {alert_id} changed while it was being updated") from None
        return alert, fresh

    def delete(self, alert_id: str, owner: str) -> bool:
        """Delete owner's alert, its matches and its digests (they hold its address); False when there is no such
        alert of owner's."""
        if self.get(alert_id, owner) is None:
            return False
        try:
            self.client.delete(index=self.alerts_index, id=alert_id, refresh="wait_for")
        except NotFoundError:  # another request deleted it in between
            return False
        self._free_slot(alert_id)
        # a digest being sent now is deleted by its sender, which finds the alert gone
        for index in (self.matches_index, self.digests_index):
            entries = helpers.scan(
                self.client,
                index=index,
                query={"query": {"term": {"alert_id": alert_id}}},
                _source=False,
                ignore_unavailable=True,  # no digest opened yet
            )
            helpers.bulk(
                self.client,
                ({"_op_type": "delete", "_index": index, "_id": hit["_id"]} for hit in entries),
                raise_on_error=False,
                refresh="wait_for",
            )
        return True

    def webhook_secret(self, alert_id: str) -> str | None:
        """The secret the alert's webhook deliveries are signed with; None without a webhook."""
        source = self._stored(alert_id)
        return source["alert"].get("webhook_secret") if source else None

    def mark_seen(self, alert_id: str, owner: str, when: str | None = None) -> Alert | None:
        """Record that owner looked at the alert's matches now (or at when); None when not owner's."""
        if self.get(alert_id, owner) is None:
            return None
        seen = when or now_iso()
        try:  # an update, not an index: it fails on an alert deleted in between rather than making it again
            self.client.update(
                index=self.alerts_index, id=alert_id, body={"doc": {"alert": {"last_seen": seen}}}, refresh="wait_for"
            )
        except NotFoundError:
            return None
        return self.get(alert_id, owner)

    def _search(self, body: dict) -> list[dict]:
        try:
            return self.client.search(index=self.alerts_index, body=body)["hits"]["hits"]
        except NotFoundError:
            return []

    # matching

    def percolate(self, documents: list[dict]) -> dict[str, tuple[bool, list[int]]]:
        """{alert id: (whether it has a webhook, the positions in documents it matches)}, in one percolate query
        over all the documents (paged over the alerts)."""
        if not documents or not self._has_alerts():
            return {}
        query = {
            "constant_score": {
                "filter": {"percolate": {"field": "query", "documents": [percolated_document(d) for d in documents]}}
            }
        }
        return {
            hit["fields"]["alert.id"][0]: (
                bool(hit["fields"].get("alert.webhook_url")),
                hit["fields"]["_percolator_document_slot"],
            )
            for hit in self._pages(query, ["alert.id", "alert.webhook_url"])
        }

    def percolate_filters(
        self, documents: list[dict], candidates: dict[str, list[int]], reading_text: Collection[str] | None = None
    ) -> dict[str, list[int]]:
        """Of candidates ({alert id: positions in documents}, found by meaning), the positions whose documents the
        alert's filter_query lets through (exclusions, dates, facets): a percolate query over those documents,
        restricted to those alerts. An alert without a filter_query yet lets none through.

        reading_text: the candidates whose filters read the articles' text (exclusions; None: all). The others are
        percolated with the articles' dates and facets alone: analysing their text is most of a percolate's cost."""
        if reading_text is None:
            return self._filters_passed(documents, candidates, PERCOLATED_FIELDS)
        passed = self._filters_passed(
            documents, {a: s for a, s in candidates.items() if a not in reading_text}, FILTERED_FIELDS
        )
        texts = {a: s for a, s in candidates.items() if a in reading_text}
        return {**passed, **self._filters_passed(documents, texts, PERCOLATED_FIELDS)}

    def _filters_passed(
        self, documents: list[dict], candidates: dict[str, list[int]], fields: tuple[str, ...]
    ) -> dict[str, list[int]]:
        slots = sorted({slot for found in candidates.values() for slot in found})
        if not slots:
            return {}
        percolate = {
            "field": "filter_query",
            "documents": [percolated_document(documents[slot], fields) for slot in slots],
        }
        query = {"bool": {"filter": [{"ids": {"values": sorted(candidates)}}, {"percolate": percolate}]}}
        passed: dict[str, list[int]] = {}
        for hit in self._pages(query, ["alert.id"]):
            alert_id = hit["fields"]["alert.id"][0]
            through = {slots[n] for n in hit["fields"]["_percolator_document_slot"]}
            kept = [slot for slot in candidates[alert_id] if slot in through]
            if kept:
                passed[alert_id] = kept
        return passed

    def saved_meanings(self) -> list[SavedMeaning]:
        """Every alert's id, whether it has a webhook, its stored query vector (or None), and what its filters
        read, paged over the alerts."""
        saved = []
        fields = ["alert.id", "alert.webhook_url", "alert.query"]
        for hit in self._pages({"match_all": {}}, fields, source=["meaning"]):
            meaning = (hit.get("_source") or {}).get("meaning") or {}
            saved.append(
                SavedMeaning(
                    hit["fields"]["alert.id"][0],
                    bool(hit["fields"].get("alert.webhook_url")),
                    AlertVector.from_source(meaning),
                    meaning.get("filters_read", "text"),
                    any(query.strip() for query in hit["fields"].get("alert.query", [])),
                )
            )
        return saved

    def set_meaning(self, alert_id: str, vector_of: Callable[[Alert], AlertVector]) -> AlertVector | None:
        """Give an alert saved without a vector of the current encoder (before vectors, or under another ENCODER)
        its vector_of(alert), and its filter_query; the vector, or None when the alert is gone. Written only over
        the version read: an update made meanwhile (which wrote its own) wins."""
        found = self._read(alert_id)
        if found is None:
            return None
        alert = _alert_of(found["_source"])
        vector = vector_of(alert)
        filter_query = alert_filter_query(alert.request(), alert.wordings())
        change = {"meaning": _meaning_source(vector, filter_query), "filter_query": filter_query}
        with contextlib.suppress(ConflictError, NotFoundError):
            self.client.update(
                index=self.alerts_index,
                id=alert_id,
                body={"doc": change},
                if_seq_no=found["_seq_no"],
                if_primary_term=found["_primary_term"],
            )
        return vector

    def _pages(self, query: dict, fields: list[str], source: list[str] | bool = False):
        """The hits of query over the alerts index, PERCOLATE_PAGE at a time in alert id order (none without the
        index); fields are read from doc values, so no alert's stored source is parsed unless source names it."""
        after = None
        while True:
            body = {
                "query": query,
                "size": PERCOLATE_PAGE,
                "sort": [{"alert.id": "asc"}],
                "track_total_hits": False,
                "_source": source,
                "docvalue_fields": fields,
                **({"search_after": after} if after else {}),
            }
            try:
                hits = with_retries(
                    lambda body=body: self.client.search(index=self.alerts_index, body=body), attempts=self.attempts
                )["hits"]["hits"]
            except NotFoundError:  # no alert was ever saved
                return
            yield from hits
            if len(hits) < PERCOLATE_PAGE:
                return
            after = hits[-1]["sort"]

    def _has_alerts(self) -> bool:
        """Whether any alert is saved: percolating analyses every document's text again (15% of pre-translated
        ingest in bench/alerts.py), which a count of the alerts, a millisecond or two, saves when there are none."""
        try:
            return with_retries(lambda: self.client.count(index=self.alerts_index), attempts=self.attempts)["count"] > 0
        except NotFoundError:  # no alert was ever saved
            return False

    def record_matches(self, matches: list[StoryMatch], notify: frozenset[str] = frozenset()) -> list[StoryMatch]:
        """Record each (alert, story) once; later articles of a recorded story join its entry. Returns the entries
        created now. Entries of the alerts in notify get a pending webhook delivery."""
        merged: dict[str, StoryMatch] = {}
        for match in matches:
            merged[match.id] = merged[match.id].joined(match) if match.id in merged else match
        created: list[StoryMatch] = []
        pending = merged
        for _ in range(UPDATE_ROUNDS):
            if not pending:
                break
            pending = self._record_round(pending, notify, created)
        return created

    def _record_round(self, matches: dict[str, StoryMatch], notify, created: list[StoryMatch]) -> dict:
        """One round of creates and guarded updates; returns the entries to try again (a writer came between)."""
        stored = with_retries(
            lambda: self.client.mget(index=self.matches_index, body={"ids": list(matches)}), attempts=self.attempts
        )["docs"]
        actions, new = [], {}
        for doc in stored:
            match = matches[doc["_id"]]
            if not doc.get("found"):
                source = match.to_dict()
                if match.alert_id in notify and not match.backfill:
                    source["webhook"] = {"state": "pending", "attempts": 0, "next_attempt": match.matched_at}
                actions.append({"_op_type": "create", "_index": self.matches_index, "_id": match.id, "_source": source})
                new[match.id] = match
                continue
            joined = match_of(doc["_source"]).joined(match)
            if joined.article_ids == tuple(doc["_source"]["article_ids"]):
                continue  # nothing new: an article already listed, matched again (e.g. an update)
            actions.append(
                {
                    "_op_type": "update",
                    "_index": self.matches_index,
                    "_id": match.id,
                    "if_seq_no": doc["_seq_no"],
                    "if_primary_term": doc["_primary_term"],
                    "doc": {"article_ids": list(joined.article_ids), "outlets": list(joined.outlets)},
                }
            )
        if not actions:
            return {}
        _, errors = with_retries(
            lambda: helpers.bulk(self.client, actions, raise_on_error=False, max_retries=0), attempts=self.attempts
        )
        conflicts = {}
        for error in errors:
            (item,) = error.values()
            if item.get("status") != 409:
                raise RuntimeError(f"recording a match was refused: {item.get('error')}")
            conflicts[item["_id"]] = matches[item["_id"]]
        created.extend(match for match_id, match in new.items() if match_id not in conflicts)
        return conflicts

    def matches(
        self, alert_id: str, since: str | None = None, page: int = 1, size: int = 20
    ) -> tuple[int, list[StoryMatch]]:
        """(how many, one page of) the alert's entries matched after since, newest first."""
        query: dict = {"bool": {"filter": [{"term": {"alert_id": alert_id}}]}}
        if since:
            query["bool"]["filter"].append({"range": {"matched_at": {"gt": since}}})
        body = {
            "query": query,
            "sort": [{"matched_at": "desc"}, {"id": "asc"}],
            "from": (page - 1) * size,
            "size": size,
            "track_total_hits": True,
        }
        try:
            answer = self.client.search(index=self.matches_index, body=body)
        except NotFoundError:
            return 0, []
        return answer["hits"]["total"]["value"], [match_of(hit["_source"]) for hit in answer["hits"]["hits"]]


def _kept_meaning(source: dict, query: str) -> AlertVector | None:
    """The stored vector while the query it was made from stays (the filters do not change it)."""
    return AlertVector.from_source(source.get("meaning")) if source["alert"]["query"] == query else None


def match_of(source: dict) -> StoryMatch:
    entry = {key: value for key, value in source.items() if key != "digest_id"}  # the digests' mark (digests.py)
    return StoryMatch(**{**entry, "article_ids": tuple(source["article_ids"]), "outlets": tuple(source["outlets"])})
