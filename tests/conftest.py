"""Shared fixtures: a real Kafka and a clean environment for each test."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.broker import EmbeddedBroker, free_port
from streams.settings import Settings


@pytest.fixture
def kafka_bootstrap(tmp_path: Path) -> Iterator[str]:
    """The Kafka of one test: ``KAFKA_BOOTSTRAP_SERVERS`` or an embedded broker of its own.

    A broker per test keeps tests apart: no test recovers another's tables, joins a
    consumer group another left mid-rebalance, or reads another's dead letters. The
    embedded broker starts in a fraction of a second, on a free ephemeral port, so it
    never meets a running ``journeyhub up`` on 19092 or another test session.
    """
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    with EmbeddedBroker(port=free_port(), log_path=tmp_path / "logs" / "broker.log") as broker:
        yield broker.bootstrap_servers


@pytest.fixture
def test_env(kafka_bootstrap: str, tmp_path: Path) -> dict[str, str]:
    """Environment variables for a journeyhub process under test, isolated per test.

    The short session timeout lets consumers join a group within seconds on any broker.
    """
    return process_env(kafka_bootstrap, tmp_path)


def process_env(bootstrap: str, data_dir: Path) -> dict[str, str]:
    """Environment of a journeyhub process under test: its broker, data dir and free port."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "JOURNEYHUB_DATA_DIR": str(data_dir),
        "JOURNEYHUB_WEB_PORT": str(free_port()),
        "JOURNEYHUB_STATE": "memory",
        "LOG_FORMAT": "console",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def settings(test_env: dict[str, str]) -> Settings:
    """Settings read from :func:`test_env`."""
    return Settings.from_env(test_env)


@pytest.fixture
def unique_topic_prefix() -> str:
    """A prefix that keeps this test's topics apart on the shared broker."""
    return f"test-{uuid.uuid4().hex[:8]}."
