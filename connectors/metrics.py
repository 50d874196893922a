"""Prometheus metrics of the connectors (`journeyhub_connector_*`), in an explicit registry.

Labelled by connector and topic, never by customer; served on an optional `/metrics` port
so each connector process can be scraped on its own.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from streams.metrics import Metrics

DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds one delivery of a batch takes: 5 ms to a minute."""

_LABELS = ("connector", "topic")


class ConnectorMetrics(Metrics):
    """The metrics of the sink runtime.

    Attributes:
        delivered: Records the target confirmed (or that needed no call).
        retries: Records scheduled for another delivery attempt.
        dead_letters: Records sent to `dlq.<topic>`.
        delivery_seconds: Duration of one delivery call of the sink.
        lag: Records of the assigned partitions not yet delivered and committed.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self.delivered = Counter(
            "journeyhub_connector_delivered_total",
            "Records a connector delivered to its target.",
            _LABELS,
            registry=self.registry,
        )
        self.retries = Counter(
            "journeyhub_connector_retries_total",
            "Records a connector scheduled for another delivery attempt.",
            _LABELS,
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "journeyhub_connector_dead_letters_total",
            "Records a connector sent to a dead-letter topic.",
            _LABELS,
            registry=self.registry,
        )
        self.delivery_seconds = Histogram(
            "journeyhub_connector_delivery_seconds",
            "Time a connector spends on one delivery call of a batch.",
            _LABELS,
            buckets=DELIVERY_BUCKETS,
            registry=self.registry,
        )
        self.lag = Gauge(
            "journeyhub_connector_lag",
            "Records of the assigned partitions a connector has not delivered yet.",
            _LABELS,
            registry=self.registry,
        )
        self.device_steps = Counter(
            "journeyhub_connector_device_steps_total",
            "Device step attempts (render, print, frank, dispatch) by outcome.",
            ["step", "status"],
            registry=self.registry,
        )
        self.alerts = Counter(
            "journeyhub_connector_alerts_total",
            "Alerts sent to the people responsible, by kind.",
            ["kind"],
            registry=self.registry,
        )

    def serve(self, port: int, host: str = "127.0.0.1") -> Callable[[], None]:
        """Serve `/metrics` on `host:port` in a background thread.

        Returns:
            A function that stops the server.
        """
        server, thread = start_http_server(port, addr=host, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        return stop
