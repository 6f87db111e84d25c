# ruff: noqa: RUF009 - _declare returns a dataclasses.field, parsed once at import
"""All configuration: read from environment variables once, validated at start-up, passed in explicitly.

Each setting is declared once, as a field of Settings: its variable, its default as written in the
environment (the README's configuration table shows the same text; tests/test_config.py checks it),
its help and its parser. The typed default is parsed from that text, and SETTINGS is derived from the
fields. Limits that are part of the service's contract rather than a deployment's choice are named
constants in service/limits.py.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path

from service.errors import ServiceError, hide_credentials

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEVICES = ("cpu", "cuda")
# CTranslate2's compute types: a model is quantized to one at install, and may be run in any of them.
QUANTIZATIONS = ("int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16", "float32")
COMPUTE_TYPES = ("auto", *QUANTIZATIONS)
ENCODERS = ("use", "e5", "e5+use")  # sentence encoders (service/embedding/models.py), besides off
# The meaning channel's cut per encoder, as each model spreads its cosines its own way (e5's bunch near 0.85):
# the floor (the least cosine of a matching sentence: at most 5% of queries about topics absent from the collection
# reach an article, fitted by bench/floor.py on held-in tico19 and ud_pud), and the margin below the
# collection's best match (the most precision for the least recall, ibid.).
MEANING_FLOORS = {"use": 0.37, "e5": 0.88, "e5+use": 0.60}
MEANING_MARGINS = {"use": 0.1, "e5": 0.05, "e5+use": 0.05}


class ConfigError(ServiceError, ValueError):
    """A setting has an invalid value; the message names the variable."""

    code = "bad_configuration"


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, its default as written there (None: unset), its help and parser."""

    env: str
    default: str | None
    help: str
    parse: Callable[[str], object] = str
    unset: object = None  # the value when the variable is not set and has no default

    @property
    def default_value(self) -> object:
        """What Settings holds when the variable is not set."""
        return self.unset if self.default is None else self.parse(self.default)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be greater than 0")
    return value


def _cosine(text: str) -> float:
    value = float(text)
    if not -1 < value < 1:
        raise ValueError("must be a cosine between -1 and 1")
    return value


def _margin(text: str) -> float:
    """A cosine margin, or off: an infinite one (no cut below the floor)."""
    if text == "off":
        return math.inf
    value = float(text)
    if not 0 < value <= 2:
        raise ValueError("must be above 0 and at most 2, or off")
    return value


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return text

    return parse


def _flag(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be on or off")


def _urls(text: str) -> tuple[str, ...]:
    urls = tuple(u.strip().rstrip("/") for u in text.split(",") if u.strip())
    bad = [u for u in urls if not u.startswith(("http://", "https://"))]
    if not urls or bad:
        raise ValueError("must be comma-separated http:// or https:// URLs")
    return urls


def _heap(text: str) -> str:
    if not (text[:-1].isdigit() and text[-1] in "mg"):
        raise ValueError("must be a size such as 512m or 1g")
    return text


def _keys(text: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    if any(len(k) < 8 for k in keys):
        raise ValueError("each key must be at least 8 characters")
    return keys


def _secret_key(text: str) -> str:
    if len(text) < 32:
        raise ValueError(
            "must be at least 32 characters (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return text


def _header_name(text: str) -> str | None:
    if not text:
        return None
    if not re.fullmatch(r"[A-Za-z0-9-]+", text):
        raise ValueError("must be an HTTP header name such as X-Forwarded-User")
    return text


def _networks(text: str) -> tuple[str, ...]:
    """Addresses and CIDR networks, comma-separated, as canonical networks."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if entry:
            try:
                networks.append(str(ipaddress.ip_network(entry, strict=False)))
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or a CIDR network") from None
    return tuple(networks)


def _rate(text: str) -> str:
    if text != "off" and not re.fullmatch(r"\d+ per (second|minute|hour|day)", text):
        raise ValueError("must be like '600 per minute', or off")
    return text


RATE_LIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")


def _storage_uri(text: str) -> str:
    scheme, separator, _ = text.partition("://")
    if not separator or scheme not in RATE_LIMIT_SCHEMES:
        raise ValueError(
            f"must be a URI with one of the schemes {', '.join(RATE_LIMIT_SCHEMES)}, "
            "such as memory:// or redis://host:6379"
        )
    return text


MEMORY_URL_SCHEMES = ("redis", "rediss", "unix")


def _memory_url(text: str) -> str | None:
    if not text:
        return None
    scheme, separator, _ = text.partition("://")
    if not separator or scheme not in MEMORY_URL_SCHEMES:
        raise ValueError("must be empty (the SQLite file) or a redis://host:6379/0 URL")
    return text


def _zero_or_more(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _replicas(text: str) -> int | None:
    """A replica count, or auto (None): one replica when the cluster has a second data node, else none."""
    return None if text == "auto" else _zero_or_more(text)


def _postgres_url(text: str) -> str | None:
    if not text:
        return None
    if not text.startswith(("postgresql://", "postgres://")):
        raise ValueError("must be a postgresql:// URL")
    return text


def _amqp_url(text: str) -> str | None:
    if not text:
        return None
    if not text.startswith(("amqp://", "amqps://")):
        raise ValueError("must be an amqp:// URL")
    return text


def _model_dir_or_off(text: str) -> Path | str:
    return "off" if text.lower() == "off" else Path(text)


def _share(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise ValueError("must be above 0 and at most 1")
    return value


def _webhook_allow(text: str) -> tuple[str, ...]:
    """Hosts (lower-case) and networks (CIDR, or one address) that webhooks may reach although not public."""
    entries = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            entries.append(str(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9.])?", entry):
                raise ValueError(f"{entry!r} is neither a host name nor an address or CIDR network") from None
            entries.append(entry.lower().rstrip("."))
    return tuple(entries)


def _mail_domains(text: str) -> tuple[str, ...]:
    """E-mail domains (lower-case), comma-separated, each a host name with a dot."""
    domains = []
    for entry in (part.strip().lower().rstrip(".") for part in text.split(",")):
        if not entry:
            continue
        if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", entry):
            raise ValueError(f"{entry!r} is not an e-mail domain such as example.org")
        domains.append(entry)
    return tuple(dict.fromkeys(domains))


def _public_url(text: str) -> str:
    urls = _urls(text)
    if len(urls) != 1:
        raise ValueError("must be one http:// or https:// URL")
    return urls[0]


def _declare(
    env: str, default: str | None, help: str, parse: Callable[[str], object] = str, unset: object = None
) -> Field:
    """A Settings field read from env; its typed default is parsed from the text default, so both agree."""
    setting = Setting(env, default, help, parse, unset)
    return field(default=setting.default_value, metadata={"setting": setting})


@dataclass(frozen=True)
class Settings:
    """Validated settings; build with Settings.from_env() or pass values directly in tests."""

    model_dir: Path | None = _declare(
        "MT_MODEL_DIR",
        None,
        "Model directory. Unset: models/opus-mt-ar-en, else the generated demo model in models/demo.",
        Path,
    )
    reverse_model_dir: Path | str | None = _declare(
        "MT_REVERSE_MODEL_DIR",
        None,
        "English→Arabic model directory, for English queries to search the Arabic too; off to disable. "
        "Unset: models/opus-mt-en-ar when installed.",
        _model_dir_or_off,
    )
    device: str = _declare("MT_DEVICE", "cpu", "Where the model runs: cpu or cuda.", _choice(DEVICES))
    compute_type: str = _declare(
        "MT_COMPUTE_TYPE",
        "auto",
        "CTranslate2 compute type; auto is int8 on CPU, int8_float16 on CUDA.",
        _choice(COMPUTE_TYPES),
    )
    inter_threads: int | None = _declare(
        "MT_INTER_THREADS", None, "Batches translated in parallel. Default: cores / intra threads.", _positive_int
    )
    intra_threads: int = _declare("MT_INTRA_THREADS", "1", "Threads inside one batch.", _positive_int)
    beam_size: int = _declare("MT_BEAM_SIZE", "4", "Beam size.", _positive_int)
    batch_tokens: int = _declare(
        "MT_BATCH_TOKENS",
        "384",
        "Source tokens per batch (padding included); bench/translate.py measured 384 as fast as 1024 with half the memory.",
        _positive_int,
    )
    batch_decode_tokens: int = _declare(
        "MT_BATCH_DECODE_TOKENS",
        "2048",
        "Most output tokens one batch may be decoding at once (sentences x beam x longest output allowed); a batch "
        "over it is decoded in smaller pieces. Bounds the decoder's memory, 30-40 KB per token with the base model.",
        _positive_int,
    )
    scheduler_wait_ms: int = _declare(
        "MT_SCHEDULER_WAIT_MS",
        "2",
        "Milliseconds a batch may wait for other requests' sentences to join it while another batch is on the "
        "model (none once a batch's worth waits, none on an idle model, none for the rest of a request already "
        "on it).",
        _zero_or_more,
    )
    scheduler_queue_sentences: int = _declare(
        "MT_SCHEDULER_QUEUE_SENTENCES",
        "2048",
        "Sentences that may wait for the model; past it interactive requests get a 503 and bulk jobs wait.",
        _positive_int,
    )
    scheduler_bulk_slots: int = _declare(
        "MT_SCHEDULER_BULK_SLOTS",
        "0",
        "Batches bulk job work may have on the model at once. 0: all MT_INTER_THREADS while no interactive request "
        "came in the last 30 s, all but one after one did.",
        _zero_or_more,
    )
    max_input_tokens: int = _declare(
        "MT_MAX_INPUT_TOKENS",
        "200",
        "Longest sentence sent to the model, in tokens; longer ones are split, never truncated.",
        _positive_int,
    )
    decode_length_ratio: float = _declare(
        "MT_DECODE_LENGTH_RATIO",
        "2.0",
        "Longest output, as a multiple of the input length (plus MT_DECODE_LENGTH_EXTRA).",
        _positive_float,
    )
    decode_length_extra: int = _declare(
        "MT_DECODE_LENGTH_EXTRA", "10", "Output tokens allowed on top of the ratio.", _positive_int
    )
    repetition_penalty: float = _declare(
        "MT_REPETITION_PENALTY", "1.0", "Penalty on tokens already produced (1.0 is off).", _positive_float
    )
    no_repeat_ngram_size: int = _declare(
        "MT_NO_REPEAT_NGRAM_SIZE", "0", "Forbid repeating n-grams of this size (0 is off).", _zero_or_more
    )
    alignments: bool = _declare(
        "MT_ALIGNMENTS",
        "on",
        "Word alignments from the model's attention, stored with each sentence: on or off.",
        _flag,
    )
    memory_enabled: bool = _declare("MT_MEMORY", "on", "Sentence-level translation memory: on or off.", _flag)
    memory_path: Path = _declare(
        "MT_MEMORY_PATH",
        str(PROJECT_ROOT / "data" / "translation-memory.sqlite3"),
        "SQLite file of the translation memory.",
        Path,
    )
    memory_max_entries: int = _declare(
        "MT_MEMORY_MAX_ENTRIES",
        "2000000",
        "Most sentences the translation memory keeps; the least recently used go first.",
        _positive_int,
    )
    memory_url: str | None = _declare(
        "MT_MEMORY_URL",
        None,
        "Shared translation memory for several hosts: redis://host:6379/0. Unset: the SQLite file at MT_MEMORY_PATH.",
        _memory_url,
    )
    memory_ttl_days: int = _declare(
        "MT_MEMORY_TTL_DAYS",
        "30",
        "With MT_MEMORY_URL: days a sentence stays in the shared memory after its last use (each hit renews it).",
        _positive_int,
    )
    encoder: str = _declare(
        "ENCODER",
        "use",
        "Sentence encoder for search across the language line: use (USE multilingual v3), e5 (multilingual-e5-small), "
        "e5+use (both, their cosines averaged) or off. bench/encoders.py measured the choice.",
        _choice((*ENCODERS, "off")),
    )
    search_translated_query_boost: float = _declare(
        "SEARCH_TRANSLATED_QUERY_BOOST",
        "0.5",
        "Weight of a query's machine translation in search, against 1 for the user's own words.",
        _positive_float,
    )
    search_meaning_weight: float = _declare(
        "SEARCH_MEANING_WEIGHT",
        "80",
        "Weight of the vector channel in search: its score (cosine mapped to 0-1) times this is added to BM25's "
        "(bench/fusion.py measured it).",
        _positive_float,
    )
    search_meaning_floor: float | None = _declare(
        "SEARCH_MEANING_FLOOR",
        None,
        "Least cosine similarity between a query and a sentence for the article to match in meaning. Unset: the "
        "floor bench/floor.py calibrated for ENCODER (use 0.37, e5 0.88, e5+use 0.60): a query about nothing in "
        "the collection finds nothing by meaning.",
        _cosine,
    )
    search_meaning_margin: float | None = _declare(
        "SEARCH_MEANING_MARGIN",
        None,
        "An article matches in meaning only if its best sentence is within this cosine of the collection's best "
        "for the query (one more small request per search); off: the floor alone. Unset: the margin bench/floor.py "
        "chose for ENCODER (use 0.1, e5 0.05, e5+use 0.05).",
        _margin,
    )
    opensearch_urls: tuple[str, ...] = _declare(
        "OPENSEARCH_URL", "http://127.0.0.1:9200", "OpenSearch hosts, comma-separated.", _urls
    )
    opensearch_user: str | None = _declare("OPENSEARCH_USER", None, "User for basic auth (optional).")
    opensearch_password: str | None = _declare("OPENSEARCH_PASSWORD", None, "Password for basic auth (optional).")
    opensearch_verify_certs: bool = _declare(
        "OPENSEARCH_VERIFY_CERTS", "on", "Verify TLS certificates: on or off.", _flag
    )
    opensearch_ca_certs: Path | None = _declare("OPENSEARCH_CA_CERTS", None, "CA bundle for TLS (optional).", Path)
    opensearch_timeout: float = _declare(
        "OPENSEARCH_TIMEOUT",
        "5",
        "Seconds an interactive OpenSearch call (search, get, readyz, lookups) may take.",
        _positive_float,
    )
    opensearch_bulk_timeout: float = _declare(
        "OPENSEARCH_BULK_TIMEOUT",
        "120",
        "Seconds a bulk OpenSearch call (bulk indexing, index creation, migration) may take.",
        _positive_float,
    )
    opensearch_index: str = _declare(
        "OPENSEARCH_INDEX", "articles", "The alias that search and ingest use; versioned indices sit behind it.", str
    )
    opensearch_shards: int = _declare("OPENSEARCH_SHARDS", "1", "Primary shards of a new index.", _positive_int)
    opensearch_replicas: int | None = _declare(
        "OPENSEARCH_REPLICAS",
        "auto",
        "Replicas of a new index: a number, or auto (1 when the cluster has 2 or more data nodes, else 0).",
        _replicas,
    )
    opensearch_version: str = _declare(
        "OPENSEARCH_VERSION",
        "2.19.1",
        "Version of the local node: 2.19.1 (Java 17) or 3.5.0 (Java 21+) have the k-NN plugin; others run without it.",
        str,
    )
    opensearch_local_dir: Path = _declare(
        "OPENSEARCH_LOCAL_DIR",
        str(PROJECT_ROOT / ".opensearch"),
        "Where the local node's distribution, data and logs live.",
        Path,
    )
    opensearch_heap: str = _declare("OPENSEARCH_HEAP", "512m", "Java heap of the local node.", _heap)
    cluster_threshold: float = _declare(
        "CLUSTER_THRESHOLD",
        "0.4",
        "Jaccard similarity of word shingles at which an article joins a story cluster (bench/clusters.py).",
        _share,
    )
    cluster_xlang_threshold: float = _declare(
        "CLUSTER_XLANG_THRESHOLD",
        "0.6",
        "Share of the shorter article's sentences with a counterpart (sentence vectors, cosine at least 0.6) at which "
        "an article joins a story in the other language (bench/xlang_clusters.py); needs ENCODER.",
        _share,
    )
    api_keys: tuple[str, ...] = _declare(
        "API_KEYS", None, "Comma-separated API keys (8+ characters); write endpoints need one.", _keys, unset=()
    )  # every valid key: ADMIN_API_KEYS are added to it
    admin_api_keys: tuple[str, ...] = _declare(
        "ADMIN_API_KEYS",
        None,
        "Comma-separated admin keys (8+ characters): valid write keys that also see and cancel every job.",
        _keys,
        unset=(),
    )
    read_requires_key: bool = _declare("READ_REQUIRES_KEY", "off", "Whether read endpoints need an API key too.", _flag)
    secret_key: str | None = _declare(
        "SECRET_KEY",
        None,
        "Signs the browser sign-in cookie (32+ characters, the same on every web replica); unset: signing in is off. "
        "Changing it signs everyone out.",
        _secret_key,
    )
    session_hours: float = _declare(
        "SESSION_HOURS", "168", "Hours a browser stays signed in after signing in.", _positive_float
    )
    sso_header: str | None = _declare(
        "SSO_HEADER",
        None,
        "Request header in which a single-sign-on proxy names the signed-in user (X-Forwarded-User); unset: off.",
        _header_name,
    )
    sso_proxies: tuple[str, ...] = _declare(
        "SSO_PROXIES",
        None,
        "Addresses or CIDR networks of the single-sign-on proxies whose SSO_HEADER is believed; needed with it.",
        _networks,
        (),
    )
    max_request_bytes: int = _declare(
        "MAX_REQUEST_BYTES", "1048576", "Largest JSON request body, in bytes.", _positive_int
    )
    max_request_chars: int = _declare(
        "MAX_REQUEST_CHARS", "100000", "Most characters of text in one translate request.", _positive_int
    )
    max_batch_texts: int = _declare("MAX_BATCH_TEXTS", "64", "Most texts in one translate request.", _positive_int)
    max_api_articles: int = _declare(
        "MAX_API_ARTICLES",
        "100",
        "Most articles in one POST /api/v1/articles; larger loads go to bulk jobs.",
        _positive_int,
    )
    max_upload_bytes: int = _declare(
        "MAX_UPLOAD_BYTES", "52428800", "Largest file the web UI accepts for ingest.", _positive_int
    )
    rate_limit: str = _declare(
        "RATE_LIMIT",
        "600 per minute",
        "Requests per valid API key (per address without one), across all routes, or off.",
        _rate,
    )
    rate_limit_failed_keys: str = _declare(
        "RATE_LIMIT_FAILED_KEYS",
        "10 per minute",
        "Failed API key checks per client address, or off; past it every keyed request from the address is a 429.",
        _rate,
    )
    rate_limit_storage: str = _declare(
        "RATE_LIMIT_STORAGE",
        "memory://",
        "Where rate-limit counters live: memory:// (per process) or redis://host:port (shared).",
        _storage_uri,
    )
    trusted_proxies: int = _declare(
        "TRUSTED_PROXIES",
        "0",
        "Reverse proxies in front of the service whose X-Forwarded-For/-Proto are trusted.",
        _zero_or_more,
    )
    jobs_db: Path = _declare(
        "JOBS_DB", str(PROJECT_ROOT / "data" / "jobs.sqlite3"), "SQLite file of the bulk jobs.", Path
    )
    jobs_database_url: str | None = _declare(
        "JOBS_DATABASE_URL",
        None,
        "PostgreSQL URL of the job store (postgresql://user:password@host:5432/db), shared by workers on several "
        "hosts; unset: SQLite at JOBS_DB.",
        _postgres_url,
    )
    jobs_backend: str = _declare(
        "JOBS_BACKEND",
        "store",
        "How job batches reach workers: store (workers claim them from the job store) or celery (one task per "
        "batch on RabbitMQ's bulk queue; needs JOBS_BROKER_URL and JOBS_DATABASE_URL).",
        _choice(("store", "celery")),
    )
    jobs_broker_url: str | None = _declare(
        "JOBS_BROKER_URL",
        None,
        "RabbitMQ URL of the Celery broker (amqp://user:password@host:5672//), with JOBS_BACKEND=celery.",
        _amqp_url,
    )
    jobs_timeout: float = _declare(
        "JOBS_TIMEOUT",
        "5",
        "Seconds a call to the job database or the broker may wait for its connection, and then for each answer; "
        "past it a request gets a 503 and /readyz says not ready.",
        _positive_float,
    )
    jobs_workers: int = _declare(
        "JOBS_WORKERS",
        "1",
        "Job worker threads inside the web service (0: none; run `jobs worker` processes).",
        _zero_or_more,
    )
    job_batch_items: int = _declare(
        "JOB_BATCH_ITEMS", "32", "Items a worker claims and translates together.", _positive_int
    )
    max_active_jobs: int = _declare("MAX_ACTIVE_JOBS", "5", "Unfinished jobs one API key may have.", _positive_int)
    alerts_per_key: int = _declare(
        "ALERTS_PER_KEY", "100", "Saved searches (alerts) one API key may have.", _positive_int
    )
    alert_backfill_articles: int = _declare(
        "ALERT_BACKFILL_ARTICLES",
        "100",
        "Most existing articles (newest first) an alert created with backfill lists as its first matches.",
        _positive_int,
    )
    job_lease_seconds: float = _declare(
        "JOB_LEASE_SECONDS",
        "120",
        "How long a claimed item waits before another worker may take it (a dead worker's items).",
        _positive_float,
    )
    job_item_max_attempts: int = _declare(
        "JOB_ITEM_MAX_ATTEMPTS",
        "3",
        "Times an item's worker may die (killed, out of memory, stalled past its lease) before the item fails.",
        _positive_int,
    )
    alert_webhook_allow: tuple[str, ...] = _declare(
        "ALERT_WEBHOOK_ALLOW",
        None,
        "Hosts and networks (CIDR), comma-separated, that alert webhooks may reach although not public.",
        _webhook_allow,
        (),
    )
    alert_webhook_timeout: float = _declare(
        "ALERT_WEBHOOK_TIMEOUT", "5", "Seconds one webhook POST may take, connection included.", _positive_float
    )
    alert_webhook_retry_seconds: float = _declare(
        "ALERT_WEBHOOK_RETRY_SECONDS",
        "30",
        "Wait before the first retry of a failed webhook delivery; it doubles each time (with jitter).",
        _positive_float,
    )
    alert_webhook_retry_max_seconds: float = _declare(
        "ALERT_WEBHOOK_RETRY_MAX_SECONDS", "3600", "Longest wait between two webhook attempts.", _positive_float
    )
    alert_webhook_give_up_hours: float = _declare(
        "ALERT_WEBHOOK_GIVE_UP_HOURS",
        "48",
        "Hours after a match that its webhook stops being retried and is marked failed.",
        _positive_float,
    )
    alert_delivery: bool = _declare(
        "ALERT_DELIVERY", "on", "Whether the web service delivers alert webhooks in a thread where it serves.", _flag
    )
    alert_delivery_poll_seconds: float = _declare(
        "ALERT_DELIVERY_POLL_SECONDS", "5", "Seconds between two looks for due webhook deliveries.", _positive_float
    )

    smtp_host: str | None = _declare(
        "SMTP_HOST",
        None,
        "SMTP server that alert digests are mailed through; unset: no digests (the Alerts page says so).",
    )
    smtp_port: int = _declare("SMTP_PORT", "25", "Port of SMTP_HOST.", _positive_int)
    smtp_from: str | None = _declare("SMTP_FROM", None, "From address of alert digests; needed with SMTP_HOST.")
    smtp_starttls: bool = _declare(
        "SMTP_STARTTLS",
        "off",
        "Whether digests upgrade the SMTP connection with STARTTLS (certificate checked).",
        _flag,
    )
    smtp_user: str | None = _declare("SMTP_USER", None, "User name to log in to SMTP_HOST with (unset: no login).")
    smtp_password: str | None = _declare("SMTP_PASSWORD", None, "Password of SMTP_USER (only over STARTTLS).")
    smtp_timeout: float = _declare(
        "SMTP_TIMEOUT",
        "10",
        "Seconds one digest's whole SMTP exchange may take, the host's DNS look-up, connection, STARTTLS and login included.",
        _positive_float,
    )
    public_url: str | None = _declare(
        "PUBLIC_URL",
        None,
        "The service's address as readers reach it (https://news.example.org): digests link to it; needed with "
        "SMTP_HOST.",
        _public_url,
    )
    alert_digest_addresses_per_key: int = _declare(
        "ALERT_DIGEST_ADDRESSES_PER_KEY",
        "3",
        "Distinct e-mail addresses one API key's alerts may mail digests to.",
        _positive_int,
    )
    alert_digest_domains: tuple[str, ...] = _declare(
        "ALERT_DIGEST_DOMAINS",
        None,
        "E-mail domains, comma-separated, that alert digests may be mailed to (unset: digest addresses are refused).",
        _mail_domains,
        (),
    )

    def __post_init__(self) -> None:
        # An admin key is a valid key everywhere, so every key check needs only api_keys.
        object.__setattr__(self, "api_keys", tuple(dict.fromkeys((*self.api_keys, *self.admin_api_keys))))
        if self.sso_header and not self.sso_proxies:
            raise ConfigError("SSO_HEADER needs SSO_PROXIES: the addresses of the proxies allowed to set it")
        if self.sso_header and not self.secret_key:
            raise ConfigError("SSO_HEADER needs SECRET_KEY: a single sign-on becomes a signed session cookie")
        if self.smtp_host and not (self.smtp_from and self.public_url):
            raise ConfigError("SMTP_HOST needs SMTP_FROM (the digests' sender) and PUBLIC_URL (what they link to)")
        if self.smtp_user and not (self.smtp_password and self.smtp_starttls):
            raise ConfigError("SMTP_USER needs SMTP_PASSWORD and SMTP_STARTTLS=on: a password never goes in clear")
        if self.jobs_backend == "celery" and not (self.jobs_broker_url and self.jobs_database_url):
            raise ConfigError("JOBS_BACKEND=celery needs JOBS_BROKER_URL (amqp://...) and JOBS_DATABASE_URL")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Read every setting from the environment; raise ConfigError naming the bad variable."""
        values = {}
        for name, setting in SETTINGS.items():
            raw = environ.get(setting.env, "").strip() or setting.default
            if raw is None:
                continue
            try:
                values[name] = setting.parse(raw)
            except ValueError as error:
                raise ConfigError(hide_credentials(f"{setting.env}={raw!r}: {error}")) from None
        return cls(**values)

    @property
    def meaning_floor(self) -> float:
        """SEARCH_MEANING_FLOOR, or unset, the floor calibrated for ENCODER."""
        if self.search_meaning_floor is not None:
            return self.search_meaning_floor
        return MEANING_FLOORS.get(self.encoder, MEANING_FLOORS["use"])

    @property
    def meaning_margin(self) -> float | None:
        """SEARCH_MEANING_MARGIN, or unset, the margin chosen for ENCODER; None when off."""
        margin = self.search_meaning_margin
        if margin is None:
            return MEANING_MARGINS.get(self.encoder, MEANING_MARGINS["use"])
        return None if math.isinf(margin) else margin

    @property
    def threads(self) -> tuple[int, int]:
        """(inter, intra) threads; by default one batch per core."""
        inter = self.inter_threads or max(1, _cpu_count() // self.intra_threads)
        return inter, self.intra_threads

    @property
    def resolved_compute_type(self) -> str:
        if self.compute_type != "auto":
            return self.compute_type
        return "int8_float16" if self.device == "cuda" else "int8"


SETTINGS: dict[str, Setting] = {f.name: f.metadata["setting"] for f in fields(Settings)}
