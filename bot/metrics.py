"""Prometheus metrics: one registry per process, built at start-up and passed in."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from bot.licensespring.client import LicenseApiClient

UPSTREAM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
WEBHOOK_ALERT_BUCKETS = (0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0)


class _ClientCollector(Collector):
    """Reads the License API client's own counters at scrape time (no double bookkeeping)."""

    def __init__(self, client: LicenseApiClient) -> None:
        self._client = client

    def collect(self) -> Iterator[CounterMetricFamily]:
        stats = self._client.stats
        errors = CounterMetricFamily(
            "licensespring_errors", "License API failures by code", labels=["code"]
        )
        for code, count in sorted(stats.errors_by_code.items()):
            errors.add_metric([code], count)
        yield errors
        yield CounterMetricFamily(
            "licensespring_requests",
            "Requests sent to the License API",
            value=stats.upstream_requests,
        )
        yield CounterMetricFamily(
            "licensespring_retries", "License API requests retried", value=stats.retries
        )
        yield CounterMetricFamily(
            "licensespring_cache_hits", "Lookups answered from the cache", value=stats.cache_hits
        )
        yield CounterMetricFamily(
            "licensespring_coalesced",
            "Lookups that joined an identical one in flight",
            value=stats.coalesced,
        )
        yield CounterMetricFamily(
            "licensespring_rate_limit_waits",
            "Requests the client-side rate limiter held back",
            value=self._client.limiter.waits,
        )


class Metrics:
    def __init__(self, client: LicenseApiClient | None = None) -> None:
        self.registry = CollectorRegistry()
        self.lookups = Counter(
            "lookups",
            "Customer lookups by outcome and surface",
            ["outcome", "surface"],
            registry=self.registry,
        )
        self.upstream_seconds = Histogram(
            "licensespring_upstream_seconds",
            "License API time per lookup (retries included)",
            buckets=UPSTREAM_BUCKETS,
            registry=self.registry,
        )
        self.acks = Counter(
            "slack_requests",
            "Requests from Slack answered, by kind and status",
            ["kind", "status"],
            registry=self.registry,
        )
        self.alerts = Gauge(
            "alerts",
            "Channel alerts in the outbox by status (all workers)",
            ["status"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "licensespring_webhooks",
            "LicenseSpring webhooks by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.webhook_alert_seconds = Histogram(
            "webhook_to_alert_seconds",
            "From the first webhook that woke a watch to its alert posted (this process's poller)",
            buckets=WEBHOOK_ALERT_BUCKETS,
            registry=self.registry,
        )
        self.alerts_unconfirmed = Counter(
            "alerts_unconfirmed",
            "Alert posts whose outcome is unknown (timeout, reset, shutdown): not repeated",
            registry=self.registry,
        )
        if client is not None:
            self.registry.register(_ClientCollector(client))

    def render(self) -> bytes:
        return generate_latest(self.registry)
