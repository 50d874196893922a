"""Fixtures for the drills: a broker of their own, so a drill may kill or restart it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.broker import EmbeddedBroker, free_port
from streams.settings import Settings
from tests.conftest import process_env


@pytest.fixture
def drill_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """An embedded broker for one drill only, on a free port."""
    with EmbeddedBroker(port=free_port(), log_path=tmp_path / "logs" / "broker.log") as broker:
        yield broker


@pytest.fixture
def drill_env(drill_broker: EmbeddedBroker, tmp_path: Path) -> dict[str, str]:
    """Environment of journeyhub processes under drill, pointing at :func:`drill_broker`."""
    return process_env(drill_broker.bootstrap_servers, tmp_path)


@pytest.fixture
def drill_settings(drill_env: dict[str, str]) -> Settings:
    """Settings read from :func:`drill_env`."""
    return Settings.from_env(drill_env)
