"""The OpenSearch client, built from settings: one host or a cluster, with optional basic auth and TLS."""
from __future__ import annotations

from urllib.parse import urlparse

from opensearchpy import OpenSearch

from service.config import Settings
from service.index.node import LocalNode, NodeError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def make_client(settings: Settings, **options) -> OpenSearch:
    """A client for OPENSEARCH_URL; retries on timeouts and node failures across the hosts."""
    auth = None
    if settings.opensearch_user:
        auth = (settings.opensearch_user, settings.opensearch_password or "")
    return OpenSearch(
        hosts=list(settings.opensearch_urls), http_auth=auth,
        verify_certs=settings.opensearch_verify_certs,
        ca_certs=str(settings.opensearch_ca_certs) if settings.opensearch_ca_certs else None,
        ssl_show_warn=settings.opensearch_verify_certs,
        timeout=options.pop("timeout", 30), max_retries=options.pop("max_retries", 3),
        retry_on_timeout=True, **options)


def local_node(settings: Settings, name: str = "local") -> LocalNode:
    """The local node that OPENSEARCH_URL points at; a remote cluster is refused with NodeError."""
    url = urlparse(settings.opensearch_urls[0])
    if url.hostname not in LOCAL_HOSTS or url.scheme != "http":
        raise NodeError(f"OPENSEARCH_URL={settings.opensearch_urls[0]} is not a local http node; "
                         "`opensearch start|stop` manage only a node on this machine")
    return LocalNode(settings.opensearch_local_dir, settings.opensearch_version, name=name,
                     port=url.port or 9200, heap=settings.opensearch_heap)
