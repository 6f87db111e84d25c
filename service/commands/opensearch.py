"""`python -m service opensearch start|stop|status`: the local node."""

from __future__ import annotations

import json

from service.index import node
from service.index.node import local_node


def register(commands) -> None:
    parser = commands.add_parser("opensearch", help="start, stop or inspect the local OpenSearch node")
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.set_defaults(handler=run)


def run(args, settings) -> int:
    local = local_node(settings)
    if args.action == "start":
        health = node.start(local)
        print(f"OpenSearch {local.version} is {health['status']} at {local.url} (files in {local.node_dir})")
    elif args.action == "stop":
        print("stopped" if node.stop(local) else f"no local node was running at {local.url}")
    else:
        print(json.dumps(node.status(local), indent=2))
    return 0
