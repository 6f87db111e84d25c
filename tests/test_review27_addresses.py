"""review27: an address already in use by alerts saved before address slots is refused to a new alert."""

from dataclasses import replace

import pytest

from service.alerts.model import saved_wording
from service.alerts.store import SLOTS_CONFIG, AlertStore
from service.index.lifecycle import read_config
from service.web import create_app
from service.web.auth import key_digest

pytest.importorskip("aiosmtpd.controller")
from test_alert_digests import digest_settings, smtp_port  # noqa: F401  (the module's fixtures)

LEGACY_KEY = "digest-legacy-key-cdef"


def test_a_key_at_its_address_limit_may_still_use_an_address_its_older_alerts_mail(digest_settings, client, alias):  # noqa: F811
    store = AlertStore(client, alias)
    owner = key_digest(LEGACY_KEY)[:16]
    wording = saved_wording({"lang": "en", "text": "ceasefire", "by": "user"})
    for address in ("old1@example.org", "old2@example.org"):  # saved before address slots: no slot names them
        store.create(owner, "legacy", "ceasefire", {}, [wording], digest_email=address, digest_cadence="daily")
    app = create_app(replace(digest_settings, api_keys=(*digest_settings.api_keys, LEGACY_KEY)))
    body = {"name": "new", "query": "ceasefire", "digest_email": "old1@example.org", "digest_cadence": "daily"}
    answer = app.test_client().post("/api/v1/alerts", json=body, headers={"X-API-Key": LEGACY_KEY})
    # the README and the refusal itself say "use one of them": using one adds no address
    assert answer.status_code == 201, answer.json


def test_an_alert_saved_before_address_slots_can_be_given_a_digest_by_an_edit(digest_settings, client):  # noqa: F811
    """A process that has not run AlertStore.ensure since the upgrade (no create, no ingest, no digest turn yet)."""
    alias = "review27-upgrade"
    settings = replace(digest_settings, opensearch_index=alias, api_keys=(*digest_settings.api_keys, LEGACY_KEY))
    http, auth = create_app(settings).test_client(), {"X-API-Key": LEGACY_KEY}
    store = AlertStore(client, alias)
    try:
        made = http.post("/api/v1/alerts", json={"name": "old", "query": "ceasefire"}, headers=auth)
        assert made.status_code == 201, made.json
        old_slots = read_config(SLOTS_CONFIG)  # the slots index as the version before this one made it
        del old_slots["mappings"]["properties"]["address"]
        client.indices.delete(index=store.slots_index)
        client.indices.create(index=store.slots_index, body=old_slots)
        body = {"digest_email": "desk@example.org", "digest_cadence": "daily"}
        edited = http.patch(f"/api/v1/alerts/{made.json['id']}", json=body, headers=auth)
        assert edited.status_code == 200, edited.json
    finally:
        for index in (store.alerts_index, store.matches_index, store.slots_index, store.digests_index):
            client.indices.delete(index=index, ignore=404)
