from pathlib import Path

import pytest

from streams.broker import EmbeddedBroker, free_port
from streams.errors import BrokerError
from streams.settings import Settings
from streams.stack import (
    LOCAL_RESPONSIBLE,
    embedded_broker_if_needed,
    endpoint_lines,
    stack_parts,
)


def worker_tables(settings: Settings, rows: bytes) -> Path:
    """A table file of the worker's, as an earlier or a running worker leaves it."""
    table = settings.worker_state_dir / "tables" / "customer-profiles-1.db"
    table.parent.mkdir(parents=True)
    table.write_bytes(rows)
    return table


def connector_envs(settings: Settings) -> dict[str, dict[str, str]]:
    parts = stack_parts(settings)
    return {part.name: dict(part.env) for part in parts if part.name.startswith("connect-")}


def test_the_local_stack_names_someone_for_device_alerts_when_nobody_is_configured() -> None:
    settings = Settings.from_env({})
    envs = connector_envs(settings)
    assert set(envs) == {"connect-crm", "connect-mail", "connect-print", "connect-alerts"}
    assert all(env["JOURNEYHUB_RESPONSIBLE"] == LOCAL_RESPONSIBLE for env in envs.values())
    assert f"alerts      mailed to {LOCAL_RESPONSIBLE} (set JOURNEYHUB_RESPONSIBLE)" in (
        endpoint_lines(settings)
    )


def test_a_configured_responsible_or_a_real_mail_server_gets_no_made_up_address() -> None:
    configured = Settings.from_env({"JOURNEYHUB_RESPONSIBLE": "ops@example.com"})
    real_mail = Settings.from_env({"SMTP_URL": "smtp://mail.example.com:587"})
    for settings in (configured, real_mail):
        envs = connector_envs(settings)
        assert envs and all("JOURNEYHUB_RESPONSIBLE" not in env for env in envs.values())
        assert not any(line.startswith("alerts ") for line in endpoint_lines(settings))


def test_the_embedded_broker_starts_the_worker_without_the_tables_of_an_earlier_run(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env(
        {"JOURNEYHUB_DATA_DIR": str(tmp_path), "JOURNEYHUB_BROKER_PORT": str(free_port())}
    )
    worker_tables(settings, b"rows of a broker that is gone")

    with embedded_broker_if_needed(settings, say=lambda _: None) as broker:
        assert broker is not None
        assert not settings.worker_state_dir.exists()


def test_with_a_real_kafka_the_worker_keeps_its_tables(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"JOURNEYHUB_DATA_DIR": str(tmp_path), "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092"}
    )
    kept = worker_tables(settings, b"rows mirrored from the changelog")

    with embedded_broker_if_needed(settings, say=lambda _: None) as broker:
        assert broker is None
    assert kept.read_bytes() == b"rows mirrored from the changelog"


def test_a_second_stack_on_a_taken_port_leaves_the_running_workers_tables_alone(
    tmp_path: Path,
) -> None:
    port = free_port()
    settings = Settings.from_env(
        {"JOURNEYHUB_DATA_DIR": str(tmp_path), "JOURNEYHUB_BROKER_PORT": str(port)}
    )
    running = worker_tables(settings, b"rows of the running stack")

    with EmbeddedBroker(port=port, log_path=tmp_path / "first.log"):
        with (
            pytest.raises(BrokerError, match="already in use"),
            embedded_broker_if_needed(settings, say=lambda _: None),
        ):
            pass

    assert running.read_bytes() == b"rows of the running stack"
