"""The index stage: a local OpenSearch node, the client, index lifecycle, documents and bulk loading."""
