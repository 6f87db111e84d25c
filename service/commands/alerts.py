"""`python -m service alerts deliver [--once]`: deliver the alerts' pending webhooks from the matches outbox."""

from __future__ import annotations

import contextlib
import json
import signal
import threading


def register(commands) -> None:
    parser = commands.add_parser("alerts", help="saved searches that alert")
    actions = parser.add_subparsers(dest="alerts_command", required=True)
    deliver = actions.add_parser(
        "deliver", help="POST the pending alert webhooks (retries with back-off; the web service does it too)"
    )
    deliver.add_argument("--once", action="store_true", help="deliver what is due now, print the counts and exit")
    deliver.set_defaults(handler=run_deliver)


def run_deliver(args, services) -> int:
    deliverer = services.alert_deliverer()
    if args.once:
        print(json.dumps(deliverer.run_once().to_dict()))
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())  # finish the delivery in hand, then exit
    with contextlib.suppress(KeyboardInterrupt):  # a claimed delivery is due again when its lease ends
        deliverer.run(stop)
    return 0
