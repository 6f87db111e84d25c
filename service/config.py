"""All configuration: read from environment variables once, validated at start-up, passed in explicitly.

Each setting is declared once in SETTINGS (variable, default, help); the README's configuration
table is checked against it by tests/test_config.py.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEVICES = ("cpu", "cuda")
COMPUTE_TYPES = (
    "auto",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
)


class ConfigError(ValueError):
    """A setting has an invalid value; the message names the variable."""


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Setting:
    env: str
    default: str | None
    help: str
    parse: Callable[[str], object] = str


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


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


SETTINGS: dict[str, Setting] = {
    "model_dir": Setting(
        "MT_MODEL_DIR",
        None,
        "Model directory. Unset: models/opus-mt-ar-en, else the generated demo model in models/demo.",
        Path,
    ),
    "device": Setting("MT_DEVICE", "cpu", "Where the model runs: cpu or cuda.", _choice(DEVICES)),
    "compute_type": Setting(
        "MT_COMPUTE_TYPE",
        "auto",
        "CTranslate2 compute type; auto is int8 on CPU, int8_float16 on CUDA.",
        _choice(COMPUTE_TYPES),
    ),
    "inter_threads": Setting(
        "MT_INTER_THREADS", None, "Batches translated in parallel. Default: cores / intra threads.", _positive_int
    ),
    "intra_threads": Setting("MT_INTRA_THREADS", "1", "Threads inside one batch.", _positive_int),
    "beam_size": Setting("MT_BEAM_SIZE", "4", "Beam size.", _positive_int),
    "batch_tokens": Setting(
        "MT_BATCH_TOKENS",
        "384",
        "Source tokens per batch (padding included); bench/translate.py measured 384 as fast as 1024 with half the memory.",
        _positive_int,
    ),
    "max_input_tokens": Setting(
        "MT_MAX_INPUT_TOKENS",
        "200",
        "Longest sentence sent to the model, in tokens; longer ones are split, never truncated.",
        _positive_int,
    ),
    "decode_length_ratio": Setting(
        "MT_DECODE_LENGTH_RATIO",
        "2.0",
        "Longest output, as a multiple of the input length (plus MT_DECODE_LENGTH_EXTRA).",
        _positive_float,
    ),
    "decode_length_extra": Setting(
        "MT_DECODE_LENGTH_EXTRA", "10", "Output tokens allowed on top of the ratio.", _positive_int
    ),
    "repetition_penalty": Setting(
        "MT_REPETITION_PENALTY", "1.0", "Penalty on tokens already produced (1.0 is off).", _positive_float
    ),
    "no_repeat_ngram_size": Setting(
        "MT_NO_REPEAT_NGRAM_SIZE", "0", "Forbid repeating n-grams of this size (0 is off).", int
    ),
    "memory_enabled": Setting("MT_MEMORY", "on", "Sentence-level translation memory: on or off.", _flag),
    "memory_path": Setting(
        "MT_MEMORY_PATH",
        str(PROJECT_ROOT / "data" / "translation-memory.sqlite3"),
        "SQLite file of the translation memory.",
        Path,
    ),
    "memory_max_entries": Setting(
        "MT_MEMORY_MAX_ENTRIES",
        "2000000",
        "Most sentences the translation memory keeps; the least recently used go first.",
        _positive_int,
    ),
    "opensearch_urls": Setting("OPENSEARCH_URL", "http://127.0.0.1:9200", "OpenSearch hosts, comma-separated.", _urls),
    "opensearch_user": Setting("OPENSEARCH_USER", None, "User for basic auth (optional)."),
    "opensearch_password": Setting("OPENSEARCH_PASSWORD", None, "Password for basic auth (optional)."),
    "opensearch_verify_certs": Setting("OPENSEARCH_VERIFY_CERTS", "on", "Verify TLS certificates: on or off.", _flag),
    "opensearch_ca_certs": Setting("OPENSEARCH_CA_CERTS", None, "CA bundle for TLS (optional).", Path),
    "opensearch_timeout": Setting(
        "OPENSEARCH_TIMEOUT",
        "5",
        "Seconds an interactive OpenSearch call (search, get, readyz, lookups) may take.",
        _positive_float,
    ),
    "opensearch_bulk_timeout": Setting(
        "OPENSEARCH_BULK_TIMEOUT",
        "120",
        "Seconds a bulk OpenSearch call (bulk indexing, index creation, migration) may take.",
        _positive_float,
    ),
    "opensearch_index": Setting(
        "OPENSEARCH_INDEX", "articles", "The alias that search and ingest use; versioned indices sit behind it.", str
    ),
    "opensearch_shards": Setting("OPENSEARCH_SHARDS", "1", "Primary shards of a new index.", _positive_int),
    "opensearch_replicas": Setting("OPENSEARCH_REPLICAS", "0", "Replicas of a new index (0 on a single node).", int),
    "opensearch_version": Setting(
        "OPENSEARCH_VERSION", "2.19.2", "Version of the local node (2.x runs on Java 17).", str
    ),
    "opensearch_local_dir": Setting(
        "OPENSEARCH_LOCAL_DIR",
        str(PROJECT_ROOT / ".opensearch"),
        "Where the local node's distribution, data and logs live.",
        Path,
    ),
    "opensearch_heap": Setting("OPENSEARCH_HEAP", "512m", "Java heap of the local node.", _heap),
    "api_keys": Setting("API_KEYS", None, "Comma-separated API keys (8+ characters); write endpoints need one.", _keys),
    "admin_api_keys": Setting(
        "ADMIN_API_KEYS",
        None,
        "Comma-separated admin keys (8+ characters): valid write keys that also see and cancel every job.",
        _keys,
    ),
    "read_requires_key": Setting("READ_REQUIRES_KEY", "off", "Whether read endpoints need an API key too.", _flag),
    "max_request_bytes": Setting("MAX_REQUEST_BYTES", "1048576", "Largest JSON request body, in bytes.", _positive_int),
    "max_request_chars": Setting(
        "MAX_REQUEST_CHARS", "100000", "Most characters of text in one translate request.", _positive_int
    ),
    "max_batch_texts": Setting("MAX_BATCH_TEXTS", "64", "Most texts in one translate request.", _positive_int),
    "max_api_articles": Setting(
        "MAX_API_ARTICLES",
        "100",
        "Most articles in one POST /api/v1/articles; larger loads go to bulk jobs.",
        _positive_int,
    ),
    "max_upload_bytes": Setting(
        "MAX_UPLOAD_BYTES", "52428800", "Largest file the web UI accepts for ingest.", _positive_int
    ),
    "rate_limit": Setting(
        "RATE_LIMIT", "600 per minute", "Requests per API key (or per address without one), or off.", _rate
    ),
    "rate_limit_failed_keys": Setting(
        "RATE_LIMIT_FAILED_KEYS",
        "10 per minute",
        "Failed API key checks per client address, or off; past it every keyed request from the address is a 429.",
        _rate,
    ),
    "rate_limit_storage": Setting(
        "RATE_LIMIT_STORAGE",
        "memory://",
        "Where rate-limit counters live: memory:// (per process) or redis://host:port (shared).",
        _storage_uri,
    ),
    "trusted_proxies": Setting(
        "TRUSTED_PROXIES",
        "0",
        "Reverse proxies in front of the service whose X-Forwarded-For/-Proto are trusted.",
        _count,
    ),
    "jobs_db": Setting("JOBS_DB", str(PROJECT_ROOT / "data" / "jobs.sqlite3"), "SQLite file of the bulk jobs.", Path),
    "jobs_workers": Setting(
        "JOBS_WORKERS", "1", "Job worker threads inside the web service (0: none; run `jobs worker` processes).", int
    ),
    "job_batch_items": Setting(
        "JOB_BATCH_ITEMS", "32", "Items a worker claims and translates together.", _positive_int
    ),
    "max_active_jobs": Setting("MAX_ACTIVE_JOBS", "5", "Unfinished jobs one API key may have.", _positive_int),
    "job_lease_seconds": Setting(
        "JOB_LEASE_SECONDS",
        "120",
        "How long a claimed item waits before another worker may take it (a dead worker's items).",
        _positive_float,
    ),
}


@dataclass(frozen=True)
class Settings:
    """Validated settings; build with Settings.from_env() or pass values directly in tests."""

    model_dir: Path | None = None
    device: str = "cpu"
    compute_type: str = "auto"
    inter_threads: int | None = None
    intra_threads: int = 1
    beam_size: int = 4
    batch_tokens: int = 384
    max_input_tokens: int = 200
    decode_length_ratio: float = 2.0
    decode_length_extra: int = 10
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    memory_enabled: bool = True
    memory_path: Path = PROJECT_ROOT / "data" / "translation-memory.sqlite3"
    memory_max_entries: int = 2_000_000
    opensearch_urls: tuple[str, ...] = ("http://127.0.0.1:9200",)
    opensearch_user: str | None = None
    opensearch_password: str | None = None
    opensearch_verify_certs: bool = True
    opensearch_ca_certs: Path | None = None
    opensearch_timeout: float = 5.0
    opensearch_bulk_timeout: float = 120.0
    opensearch_index: str = "articles"
    opensearch_shards: int = 1
    opensearch_replicas: int = 0
    opensearch_version: str = "2.19.2"
    opensearch_local_dir: Path = PROJECT_ROOT / ".opensearch"
    opensearch_heap: str = "512m"
    api_keys: tuple[str, ...] = ()  # every valid key: ADMIN_API_KEYS are added to it
    admin_api_keys: tuple[str, ...] = ()
    read_requires_key: bool = False
    max_request_bytes: int = 1_048_576
    max_request_chars: int = 100_000
    max_batch_texts: int = 64
    max_api_articles: int = 100
    max_upload_bytes: int = 52_428_800
    rate_limit: str = "600 per minute"
    rate_limit_failed_keys: str = "10 per minute"
    rate_limit_storage: str = "memory://"
    trusted_proxies: int = 0
    jobs_db: Path = PROJECT_ROOT / "data" / "jobs.sqlite3"
    jobs_workers: int = 1
    job_batch_items: int = 32
    max_active_jobs: int = 5
    job_lease_seconds: float = 120.0

    def __post_init__(self) -> None:
        # An admin key is a valid key everywhere, so every key check needs only api_keys.
        object.__setattr__(self, "api_keys", tuple(dict.fromkeys((*self.api_keys, *self.admin_api_keys))))

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
                raise ConfigError(f"{setting.env}={raw!r}: {error}") from None
        return cls(**values)

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
