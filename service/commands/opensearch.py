"""`python -m service opensearch start|stop|status [--nodes N]`: the local node, or a local N-node cluster."""

from __future__ import annotations

import json

from service.index import node


def register(commands) -> None:
    parser = commands.add_parser("opensearch", help="start, stop or inspect the local OpenSearch node or cluster")
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument(
        "--nodes",
        type=int,
        default=None,
        help="start: how many local nodes (default 1; N > 1 is a cluster on consecutive ports from OPENSEARCH_URL's); "
        "stop and status act on the nodes the last start started",
    )
    parser.set_defaults(handler=run)


def run(args, services) -> int:
    settings = services.settings
    if args.action == "start":
        nodes = node.local_cluster(settings, args.nodes or 1)
        health = node.start_cluster(nodes) if len(nodes) > 1 else node.start(nodes[0])
        node.remember(nodes)
        where = ", ".join(n.url for n in nodes)
        print(
            f"OpenSearch {nodes[0].version} is {health['status']} with {health['number_of_nodes']} node(s) at {where} "
            f"(files in {nodes[0].node_dir.parent})"
        )
        if len(nodes) > 1:
            print(f"export OPENSEARCH_URL={node.cluster_url(nodes)}")
        return 0
    nodes = node.local_cluster(settings, args.nodes) if args.nodes else node.remembered(settings)
    if args.action == "stop":
        for local in nodes:
            print(
                f"stopped {local.name} at {local.url}"
                if node.stop(local)
                else f"no local node was running at {local.url}"
            )
    else:
        found = node.cluster_status(nodes)
        print(json.dumps(found[0] if len(found) == 1 else found, indent=2))
    return 0
