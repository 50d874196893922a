"""A scenario's cluster: on a configured Kafka too, its logs have a directory to go to."""

from pathlib import Path

import pytest

from tests.bench.cluster import fresh_cluster


def test_a_configured_kafka_gets_the_log_directory_the_scenarios_write_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.example.org:9092")
    log_dir = tmp_path / "bench" / "run"

    with fresh_cluster(log_dir) as cluster:
        assert not cluster.embedded
        assert cluster.bootstrap == "kafka.example.org:9092"
        assert log_dir.is_dir()
