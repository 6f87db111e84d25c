"""`python -m service alerts create|deliver`: save an alert for an API key; deliver the pending webhooks from the
matches outbox."""

from __future__ import annotations

import contextlib
import json
import signal
import threading


def register(commands) -> None:
    parser = commands.add_parser("alerts", help="saved searches that alert")
    actions = parser.add_subparsers(dest="alerts_command", required=True)
    deliver = actions.add_parser(
        "deliver",
        help="POST the pending alert webhooks and mail the due digests (retries with back-off; the web service does it too)",
    )
    deliver.add_argument("--once", action="store_true", help="deliver what is due now, print the counts and exit")
    deliver.set_defaults(handler=run_deliver)
    create = actions.add_parser("create", help="save an alert for an API key, as POST /api/v1/alerts does")
    create.add_argument("name")
    create.add_argument("query", help="the search, in English or Arabic, as the search box takes it")
    create.add_argument("--key", required=True, help="the API key (one of API_KEYS) the alert belongs to")
    create.add_argument("--webhook-url", help="POST each new match here (ALERT_WEBHOOK_ALLOW applies)")
    create.add_argument("--backfill", action="store_true", help="list the matching articles already indexed")
    create.set_defaults(handler=run_create)


def run_create(args, services) -> int:
    from service.alerts.usecases import AlertSpec, create_alert
    from service.errors import InputError
    from service.web.auth import key_is_valid, owner_of_key

    if not key_is_valid(args.key, services.settings.api_keys):
        raise InputError("--key is not one of API_KEYS: an alert belongs to a key the API accepts")
    spec = AlertSpec(args.name, args.query, webhook_url=args.webhook_url, backfill=args.backfill)
    owner, translators = owner_of_key(args.key), services.query_translators()
    saved = create_alert(services.alert_store, owner, spec, services.settings, translators, services.encoder)
    print(json.dumps(saved.to_dict(), ensure_ascii=False, indent=2))
    return 0


def run_deliver(args, services) -> int:
    deliverer = services.alert_deliverer()
    if args.once:
        report = deliverer.run_once().to_dict()
        if deliverer.digests is not None:
            report["digests"] = deliverer.digests.run_once()
        print(json.dumps(report))
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())  # finish the delivery in hand, then exit
    with contextlib.suppress(KeyboardInterrupt):  # a claimed delivery is due again when its lease ends
        deliverer.run(stop)
    return 0
