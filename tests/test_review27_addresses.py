"""review27: an address already in use by alerts saved before address slots is refused to a new alert."""

from dataclasses import replace

import pytest

from service.alerts.model import saved_wording
from service.alerts.store import AlertStore
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
