from prometheus_client import REGISTRY, CollectorRegistry

from streams.metrics import WorkerMetrics

WORKER_METRICS = (
    "journeyhub_worker_events_in_total",
    "journeyhub_worker_events_out_total",
    "journeyhub_worker_dead_letters_total",
    "journeyhub_worker_duplicates_total",
    "journeyhub_worker_processing_seconds",
    "journeyhub_worker_event_lag_seconds",
    "journeyhub_worker_table_entries",
    "journeyhub_worker_up",
)


def test_the_exposition_describes_every_worker_metric() -> None:
    body, content_type = WorkerMetrics().render()

    text = body.decode()
    assert content_type.startswith("text/plain")
    for name in WORKER_METRICS:
        assert f"# TYPE {name} " in text


def test_counted_events_show_up_by_topic() -> None:
    metrics = WorkerMetrics()

    metrics.events_in.labels(topic="shop.events").inc(3)
    metrics.dead_letters.labels(topic="shop.events", reason="SchemaError").inc()
    metrics.up.set(1)

    text = metrics.render()[0].decode()
    assert 'journeyhub_worker_events_in_total{topic="shop.events"} 3.0' in text
    assert (
        'journeyhub_worker_dead_letters_total{reason="SchemaError",topic="shop.events"} 1.0'
    ) in text
    assert "journeyhub_worker_up 1.0" in text


def test_processing_time_buckets_run_from_half_a_millisecond_to_ten_seconds() -> None:
    metrics = WorkerMetrics()

    metrics.processing_seconds.labels(agent="profile").observe(0.0003)

    text = metrics.render()[0].decode()
    assert 'journeyhub_worker_processing_seconds_bucket{agent="profile",le="0.0005"} 1.0' in text
    assert 'journeyhub_worker_processing_seconds_bucket{agent="profile",le="10.0"} 1.0' in text


def test_workers_keep_their_metrics_in_their_own_registry() -> None:
    registry = CollectorRegistry()
    first, second = WorkerMetrics(registry), WorkerMetrics()

    first.events_out.labels(topic="alerts").inc()

    assert registry.get_sample_value("journeyhub_worker_events_out_total", {"topic": "alerts"})
    assert (
        second.registry.get_sample_value("journeyhub_worker_events_out_total", {"topic": "alerts"})
        is None
    )
    assert REGISTRY.get_sample_value("journeyhub_worker_up") is None
