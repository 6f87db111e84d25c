"""The OpenSearch client, built from settings: one host or a cluster, with optional basic auth and TLS.

Two timeouts: the client's default is OPENSEARCH_TIMEOUT, for interactive calls (search, get, ping,
mget), so a frozen node costs a request seconds, not minutes; bulk work (bulk indexing, index
creation, migration) passes request_timeout=bulk_timeout(client), OPENSEARCH_BULK_TIMEOUT, per call.
The transport retries only to fail over: once, at once, on another host (see service/index/bulk.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from opensearchpy import OpenSearch

from service.config import Settings

DEFAULT_BULK_TIMEOUT = Settings.opensearch_bulk_timeout


class Client(OpenSearch):
    """An OpenSearch client that also carries the timeout for bulk work (its own default is the interactive one)."""

    def __init__(self, *args, bulk_timeout: float = DEFAULT_BULK_TIMEOUT, **kwargs):
        super().__init__(*args, **kwargs)
        self.bulk_timeout = bulk_timeout


def bulk_timeout(client: OpenSearch) -> float:
    """Seconds a bulk call through this client may take."""
    return getattr(client, "bulk_timeout", DEFAULT_BULK_TIMEOUT)


def failover_retries(hosts: Sequence[str]) -> int:
    """The transport's retries: one, on another host, when there is one; none with a single host."""
    return min(1, len(hosts) - 1)


# Connections kept open per host. urllib3 keeps one unless told, so every call beside another (a server's threads, a
# page's requests side by side) opened a connection of its own and threw it away, with a warning on the CLI.
POOL_MAXSIZE = 32


def make_client(settings: Settings, **options) -> OpenSearch:
    """A client for OPENSEARCH_URL with the interactive timeout; fails over to another host, never backs off."""
    auth = None
    if settings.opensearch_user:
        auth = (settings.opensearch_user, settings.opensearch_password or "")
    hosts = list(settings.opensearch_urls)
    return Client(
        hosts=hosts,
        http_auth=auth,
        verify_certs=settings.opensearch_verify_certs,
        ca_certs=str(settings.opensearch_ca_certs) if settings.opensearch_ca_certs else None,
        ssl_show_warn=settings.opensearch_verify_certs,
        timeout=options.pop("timeout", settings.opensearch_timeout),
        bulk_timeout=options.pop("bulk_timeout", settings.opensearch_bulk_timeout),
        # Status codes (429/502/503/504) are with_retries' to back off on; a timed-out host is marked dead.
        max_retries=options.pop("max_retries", failover_retries(hosts)),
        retry_on_status=(),
        retry_on_timeout=True,
        pool_maxsize=options.pop("pool_maxsize", POOL_MAXSIZE),
        **options,
    )
