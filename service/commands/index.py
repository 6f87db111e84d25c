"""`python -m service index create|migrate|delete`: the versioned index behind the alias."""

from __future__ import annotations

from service.embedding import dimension_of
from service.index import lifecycle


def register(commands) -> None:
    parser = commands.add_parser("index", help="create, migrate or delete the search index")
    parser.add_argument("action", choices=("create", "migrate", "delete"))
    parser.add_argument("--keep-old", action="store_true", help="with migrate: keep the previous index")
    parser.add_argument(
        "--drop-vectors",
        action="store_true",
        help="with migrate and no encoder (ENCODER=off): copy an index holding vectors without them",
    )
    parser.set_defaults(handler=run)


def run(args, services) -> int:
    settings, client = services.settings, services.client
    alias = settings.opensearch_index
    shape = (settings.opensearch_shards, settings.opensearch_replicas)
    if args.action == "create":
        print(f"{alias} → {lifecycle.create(client, alias, *shape, dimension=dimension_of(settings))}")
    elif args.action == "migrate":
        # every article is embedded again by ENCODER (vectors do not travel through _source)
        new = lifecycle.migrate(
            client, alias, *shape, keep_old=args.keep_old, encoder=services.encoder, drop_vectors=args.drop_vectors
        )
        print(f"{alias} → {new}")
    else:
        deleted = lifecycle.delete(client, alias)
        print(f"deleted {', '.join(deleted)}" if deleted else f"no index behind {alias}")
    return 0
