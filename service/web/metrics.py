"""Prometheus metrics, one registry per app: requests and latency by endpoint, tokens, memory hits, queue depth."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from service.translation.interface import SentenceTranslator


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total", "HTTP requests", ["endpoint", "method", "status"], registry=self.registry
        )
        self.latency = Histogram("http_request_seconds", "HTTP request latency", ["endpoint"], registry=self.registry)
        self.queue_depth = Gauge("job_queue_depth", "Items waiting in bulk jobs", registry=self.registry)

    def watch_translator(self, translator: SentenceTranslator) -> None:
        """Gauges read from the translator's counters when scraped: tokens translated, translation-memory hits."""
        Gauge(
            "translated_tokens", "Output tokens the model produced (only grows)", registry=self.registry
        ).set_function(lambda: translator.counters().tokens_translated)
        if translator.counters().memory_hits is not None:  # a translation memory is in front of the model
            Gauge(
                "translation_memory_hits", "Sentences served from the translation memory", registry=self.registry
            ).set_function(lambda: translator.counters().memory_hits)
            Gauge("translation_memory_misses", "Sentences sent to the model", registry=self.registry).set_function(
                lambda: translator.counters().memory_misses
            )

    def init_app(self, app: Flask) -> None:
        @app.before_request
        def start_timer():
            g.started = time.perf_counter()

        @app.after_request
        def observe(response):
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"
            self.requests.labels(endpoint, request.method, str(response.status_code)).inc()
            if "started" in g:
                self.latency.labels(endpoint).observe(time.perf_counter() - g.started)
            return response

    def response(self) -> Response:
        return Response(generate_latest(self.registry), mimetype=CONTENT_TYPE_LATEST)
