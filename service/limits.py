"""Fixed limits: bounds the API document, the index and the input formats are built around, so constants.

What a deployment tunes (request sizes, hosts, workers) is a setting in service/config.py. These stay
put because clients, the OpenAPI document or OpenSearch itself rely on them; each says where it comes from.
"""

from __future__ import annotations

MAX_BEAM = 16  # the API's documented beam range is 1 to this; decoding time grows with the beam
MAX_BODY_CHARS = 500_000  # one article's body: bounds what one article costs to translate and hold
MAX_RECORD_BYTES = 2_000_000  # one JSONL line; larger lines are rejected unread
MAX_ID_BYTES = 512  # OpenSearch refuses a longer _id, and with it the whole bulk request
MAX_QUERY_CHARS = 500  # one search query
MAX_PAGE_SIZE = 100  # search hits per page
MAX_RESULT_WINDOW = 10_000  # OpenSearch's index.max_result_window: page x size may not go past it
SERVE_TIMEOUT_SECONDS = 120  # gunicorn restarts a worker that is silent this long (serve)
