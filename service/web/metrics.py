"""Prometheus metrics, one registry per app: requests and latency by endpoint, tokens, memory hits, queue depths.

Under gunicorn with several workers each process counts its own requests, and a scrape reaches one of them; so
`serve` runs gunicorn with PROMETHEUS_MULTIPROC_DIR set (a fresh directory per instance), prometheus-client then
keeps every process's values in files there, and /metrics sums them (MultiProcessCollector). Gauges read by a
callback at scrape time (set_function) cannot work that way, so the translator's counters and the queue depth are
plain gauges this process sets: the counters after each of its requests and when it answers a scrape, summed over
processes (dead ones included, as those counts only grow); the queue depth when scraped, the freshest value shown.
Without the variable (the development server, tests) the one registry is the process's, as before.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from service.alerts import matching
from service.translation import scheduler
from service.translation.interface import SentenceTranslator

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# A client may send any token as its method, and each label value is a time series kept for good: the methods HTTP
# defines for resources are counted by name, any other as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """method as the requests counter labels it: one of METHODS, else "other"."""
    return method if method in METHODS else "other"


def multiprocess() -> bool:
    """Whether prometheus-client keeps values in per-process files (it reads the variable once, at import)."""
    return bool(os.environ.get(MULTIPROCESS_DIR))


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total", "HTTP requests", ["endpoint", "method", "status"], registry=self.registry
        )
        self.latency = Histogram("http_request_seconds", "HTTP request latency", ["endpoint"], registry=self.registry)
        self.queue_depth = Gauge(
            "job_queue_depth", "Items waiting in bulk jobs", registry=self.registry, multiprocess_mode="livemostrecent"
        )
        self.alert_matching_failures = Gauge(
            "alert_matching_failures",
            "Articles indexed whose matching against the saved searches failed (only grows; see service/alerts)",
            registry=self.registry,
            multiprocess_mode="sum",
        )
        self._queued_items: Callable[[], int] | None = None
        self._translator: SentenceTranslator | None = None
        self._tokens: Gauge | None = None
        self._model_seconds: Gauge | None = None
        self._hits: Gauge | None = None
        self._misses: Gauge | None = None
        self._scheduler_gauges: dict[str, Gauge] = {}

    def watch_queue(self, queued_items: Callable[[], int]) -> None:
        """The queue depth, read when scraped."""
        self._queued_items = queued_items

    def watch_translator(self, translator: SentenceTranslator) -> None:
        """Tokens translated, time in the model and translation-memory hits, read from the translator's counters."""
        self._translator = translator
        self._tokens = Gauge(
            "translated_tokens",
            "Output tokens the model produced (only grows)",
            registry=self.registry,
            multiprocess_mode="sum",
        )
        self._model_seconds = Gauge(
            "translation_model_seconds",
            "Seconds batches spent in CTranslate2, from submission until their results were ready (only grows)",
            registry=self.registry,
            multiprocess_mode="sum",
        )
        self._scheduler_gauges = {  # by SchedulerStats field
            field: Gauge(name, text, registry=self.registry, multiprocess_mode=mode)
            for field, name, text, mode in (
                ("waiting", "translation_queue_sentences", "Sentences waiting for a batch in the scheduler", "livesum"),
                ("batches", "translation_batches", "Batches the scheduler sent to the model (only grows)", "sum"),
                (
                    "sentences",
                    "translation_batch_sentences",
                    "Sentences in those batches (/ batches: mean size)",
                    "sum",
                ),
            )
        }
        if translator.counters().memory_hits is not None:  # a translation memory is in front of the model
            self._hits = Gauge(
                "translation_memory_hits",
                "Sentences served from the translation memory",
                registry=self.registry,
                multiprocess_mode="sum",
            )
            self._misses = Gauge(
                "translation_memory_misses",
                "Sentences sent to the model",
                registry=self.registry,
                multiprocess_mode="sum",
            )

    def _read_translator(self) -> None:
        if self._translator is None or self._tokens is None or self._model_seconds is None:
            return
        counters = self._translator.counters()
        self._tokens.set(counters.tokens_translated)
        self._model_seconds.set(counters.model_seconds)
        stats = scheduler.process_stats()
        for field, gauge in self._scheduler_gauges.items():
            gauge.set(getattr(stats, field))
        if self._hits is not None and self._misses is not None:
            self._hits.set(counters.memory_hits or 0)
            self._misses.set(counters.memory_misses or 0)

    def init_app(self, app: Flask) -> None:
        @app.before_request
        def start_timer():
            g.started = time.perf_counter()

        @app.after_request
        def observe(response):
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"  # the route, never the path
            self.requests.labels(endpoint, method_label(request.method), str(response.status_code)).inc()
            if "started" in g:
                self.latency.labels(endpoint).observe(time.perf_counter() - g.started)
            self._read_translator()
            self.alert_matching_failures.set(matching.failures())  # each process its own count, summed when scraped
            return response

    def response(self) -> Response:
        self._read_translator()
        self.alert_matching_failures.set(matching.failures())
        if self._queued_items is not None:
            self.queue_depth.set(self._queued_items())
        if multiprocess():
            from prometheus_client import multiprocess as mp

            registry = CollectorRegistry()
            mp.MultiProcessCollector(registry)
        else:
            registry = self.registry
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
