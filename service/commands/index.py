"""`python -m service index create|migrate|embed|names|delete`: the versioned index behind the alias, its vectors
and the people and places its articles name."""

from __future__ import annotations

from tqdm import tqdm

from service.embedding import dimension_of
from service.index import lifecycle, vectors
from service.index.vectors import EmbedError
from service.ingest import NamingError, name_stored


def register(commands) -> None:
    parser = commands.add_parser(
        "index",
        help="create, migrate or delete the search index; embed: give vectors of ENCODER to the articles without; "
        "names: find the people and places of the articles stored before names (or before a lexicon change)",
    )
    parser.add_argument("action", choices=("create", "migrate", "embed", "names", "delete"))
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
    elif args.action == "embed":
        embed(services, alias)
    elif args.action == "names":
        name(services, alias)
    else:
        deleted = lifecycle.delete(client, alias)
        print(f"deleted {', '.join(deleted)}" if deleted else f"no index behind {alias}")
    return 0


def embed(services, alias: str) -> int:
    """Give every article of the alias's index without vectors of ENCODER its vectors, with a progress bar; how
    many. Stopped midway, it goes on where it stopped when run again; writers and searches may go on meanwhile."""
    client, encoder = services.client, services.encoder
    if encoder is None:
        raise EmbedError("ENCODER is off or its wheel is not installed: there is no encoder to embed with")
    index = lifecycle.current_index(client, alias)
    if index is None:
        raise EmbedError(f"no index behind {alias}: nothing to embed")
    dimension = vectors.index_dimension(client, index)
    if dimension != encoder.dimension:
        held = f"{dimension}-d vectors" if dimension else "no vector field"
        raise EmbedError(
            f"{index} has {held} and ENCODER makes {encoder.dimension}-d ones: "
            "`python -m service index migrate` makes an index for them (and embeds every article)"
        )
    with tqdm(unit="article", desc=f"embedding {index}", dynamic_ncols=True) as bar:
        done = vectors.embed_missing(client, index, encoder, progress=bar)
    print(f"{done} articles of {index} given vectors of {encoder.encoder_id}")
    return done


def name(services, alias: str) -> int:
    """Name every article of the alias's index not named with this lexicon, with a progress bar; how many. Each
    is embedded again (an update loses the vectors), so it runs with ENCODER as the index was written. Stopped
    midway, it goes on where it stopped when run again; writers and searches may go on meanwhile."""
    client = services.client
    index = lifecycle.current_index(client, alias)
    if index is None:
        raise NamingError(f"no index behind {alias}: nothing to name")
    target = services.index_target
    with tqdm(unit="article", desc=f"naming {index}", dynamic_ncols=True) as bar:
        done = name_stored(target, progress=bar)
    print(f"{done} articles of {index} named")
    return done
