"""The local stack behind `journeyhub up`: embedded broker plus supervised parts.

Each part runs only when no real counterpart is configured: no embedded broker when
KAFKA_BOOTSTRAP_SERVERS is set, no sandbox CRM when CRM_URL is set, and so on.
"""

from __future__ import annotations

import contextlib
import time
import urllib.request
from collections.abc import Callable, Iterator

from streams.broker import EmbeddedBroker
from streams.errors import JourneyhubError
from streams.settings import Settings
from streams.supervisor import Part, Supervisor, child_environment, journeyhub_command

READY_TIMEOUT_SECONDS = 90.0


class StackError(JourneyhubError):
    """The local stack could not be brought up."""


@contextlib.contextmanager
def embedded_broker_if_needed(
    settings: Settings, say: Callable[[str], None]
) -> Iterator[EmbeddedBroker | None]:
    """Start the embedded broker unless a real one is configured; stop it on exit."""
    if not settings.uses_embedded_broker:
        yield None
        return
    broker = EmbeddedBroker(
        port=settings.broker_port, log_path=settings.data_dir / "logs" / "broker.log"
    )
    broker.start()
    say(f"broker      kafka://{broker.bootstrap_servers} (embedded, in memory)")
    try:
        yield broker
    finally:
        broker.stop()


def stack_parts(settings: Settings) -> list[Part]:
    """The processes of the local stack, given what is configured."""
    logs = settings.data_dir / "logs"
    parts = [Part("worker", journeyhub_command("worker"), logs / "worker.log")]
    if settings.crm_url is None:
        parts.append(
            Part("sandbox-crm", journeyhub_command("sandbox-crm"), logs / "sandbox-crm.log")
        )
    return parts


def wait_until_healthy(url: str, timeout: float, supervisor: Supervisor) -> None:
    """Poll a health URL until it answers 200, or fail with the reason."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own URL
                if response.status == 200:
                    return
        if any(p.process is not None and p.process.poll() is not None for p in supervisor.parts):
            dead = [p.name for p in supervisor.parts if not p.running]
            msg = f"{', '.join(dead)} stopped during start; see {settings_hint(supervisor)}"
            raise StackError(msg)
        time.sleep(0.5)
    msg = f"{url} did not report healthy within {timeout:.0f} s"
    raise StackError(msg)


def settings_hint(supervisor: Supervisor) -> str:
    """Where the logs of the parts are."""
    return ", ".join(str(p.log_path) for p in supervisor.parts)


def run_stack(settings: Settings, say: Callable[[str], None]) -> None:
    """Bring everything up, print the endpoints, supervise until Ctrl-C, stop everything."""
    with embedded_broker_if_needed(settings, say):
        supervisor = Supervisor(stack_parts(settings), child_environment({}), say)
        supervisor.start_all()
        try:
            base = f"http://{settings.web_host}:{settings.web_port}"
            wait_until_healthy(f"{base}/healthz", READY_TIMEOUT_SECONDS, supervisor)
            say(f"worker      {base}  (/healthz, /metrics, /customers, /tracking, /budgets)")
            if settings.crm_url is None:
                say("sandbox CRM http://127.0.0.1:8099")
            say(f"logs        {settings.data_dir / 'logs'}")
            say("journeyhub is up; Ctrl-C stops everything")
            supervisor.watch()
        finally:
            say("stopping ...")
            supervisor.stop_all()
