"""The local stack behind `journeyhub up`: embedded broker plus supervised parts.

Each part runs only when no real counterpart is configured: no embedded broker when
KAFKA_BOOTSTRAP_SERVERS is set, no sandbox CRM when CRM_URL is set, and so on.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import urllib.request
from collections.abc import Callable, Iterator

from schemas.catalog import CATALOG
from streams.broker import EmbeddedBroker
from streams.errors import JourneyhubError
from streams.kafka import ensure_topics
from streams.settings import Settings
from streams.supervisor import (
    Part,
    Supervisor,
    child_environment,
    journeyhub_command,
    module_command,
)

READY_TIMEOUT_SECONDS = 90.0
SANDBOX_CRM_URL = "http://127.0.0.1:8099"
CONNECTOR_METRICS_PORTS = {"crm": 9201, "mail": 9202, "print": 9203, "alerts": 9204}
LOCAL_RESPONSIBLE = "device-operations@example.org"
"""Who hears about failed device steps on the local stack when `JOURNEYHUB_RESPONSIBLE` is
unset: the alert mails land in the local mailbox, where nobody would otherwise be told."""


class StackError(JourneyhubError):
    """The local stack could not be brought up."""


@contextlib.contextmanager
def embedded_broker_if_needed(
    settings: Settings, say: Callable[[str], None]
) -> Iterator[EmbeddedBroker | None]:
    """Start the embedded broker unless a real one is configured; stop it on exit.

    The embedded broker starts empty, so the worker's tables of an earlier run describe
    changelogs that are gone (Faust refuses to start on them): they are dropped once the
    broker holds its port, which a stack still running there would have refused.
    """
    if not settings.uses_embedded_broker:
        yield None
        return
    broker = EmbeddedBroker(
        port=settings.broker_port, log_path=settings.data_dir / "logs" / "broker.log"
    )
    broker.start()
    shutil.rmtree(settings.worker_state_dir, ignore_errors=True)
    say(f"broker      kafka://{broker.bootstrap_servers} (embedded, in memory)")
    try:
        yield broker
    finally:
        broker.stop()


def stack_parts(settings: Settings) -> list[Part]:
    """The processes of the local stack, given what is configured."""
    logs = settings.data_dir / "logs"

    def part(name: str, argv: list[str], env: dict[str, str] | None = None) -> Part:
        return Part(name, argv, logs / f"{name}.log", env or {})

    parts = [part("worker", journeyhub_command("worker"))]
    if settings.crm_url is None:
        parts.append(part("sandbox-crm", journeyhub_command("sandbox-crm")))
    if settings.smtp_url is None:
        parts.append(part("smtp-server", module_command("connectors.smtp_server")))
    if settings.franking_url is None or settings.dispatch_url is None:
        parts.append(part("device-simulators", module_command("connectors.devices")))
    connector_env: dict[str, str] = {}
    responsible = local_responsible(settings)
    if responsible is not None:
        connector_env["JOURNEYHUB_RESPONSIBLE"] = responsible
    parts.extend(
        part(
            f"connect-{name}",
            journeyhub_command("connect", name),
            {**connector_env, "JOURNEYHUB_METRICS_PORT": str(port)},
        )
        for name, port in CONNECTOR_METRICS_PORTS.items()
    )
    return parts


def local_responsible(settings: Settings) -> str | None:
    """The responsible person the stack names for device alerts, if it names one.

    Only when nobody is configured and the mail goes to the local SMTP server: a made-up
    address must never reach a real mail server.
    """
    if settings.default_responsible is None and settings.smtp_url is None:
        return LOCAL_RESPONSIBLE
    return None


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


@contextlib.contextmanager
def running_stack(
    settings: Settings,
    say: Callable[[str], None],
    before_parts: Callable[[], None] | None = None,
) -> Iterator[Supervisor]:
    """Broker and every part started and healthy; everything stopped on exit.

    ``before_parts`` runs once the broker is up and before any other part starts.
    """
    with embedded_broker_if_needed(settings, say):
        if before_parts is not None:
            before_parts()
        ensure_topics(settings, CATALOG.values())
        supervisor = Supervisor(stack_parts(settings), child_environment({}), say)
        supervisor.start_all()
        try:
            wait_until_healthy(f"{worker_url(settings)}/healthz", READY_TIMEOUT_SECONDS, supervisor)
            for line in endpoint_lines(settings):
                say(line)
            yield supervisor
        finally:
            say("stopping ...")
            supervisor.stop_all()


def worker_url(settings: Settings) -> str:
    """Base URL of the worker's HTTP API."""
    return f"http://{settings.web_host}:{settings.web_port}"


def endpoint_lines(settings: Settings) -> list[str]:
    """What `up` prints once everything is ready."""
    lines = [
        f"worker      {worker_url(settings)}  (/healthz /metrics /customers /tracking /budgets)"
    ]
    if settings.crm_url is None:
        lines.append(f"sandbox CRM {SANDBOX_CRM_URL}  (/contacts /leads /stats)")
    if settings.smtp_url is None:
        lines.append(f"SMTP        smtp://127.0.0.1:8025  (mail in {settings.data_dir / 'mail'})")
    if settings.franking_url is None or settings.dispatch_url is None:
        lines.append("devices     franking http://127.0.0.1:8101, dispatch http://127.0.0.1:8102")
    lines.append(f"print       {settings.data_dir / 'print'}")
    responsible = local_responsible(settings)
    if responsible is not None:
        lines.append(f"alerts      mailed to {responsible} (set JOURNEYHUB_RESPONSIBLE)")
    ports = ", ".join(f"{name} :{port}" for name, port in CONNECTOR_METRICS_PORTS.items())
    lines.append(f"connectors  /metrics on {ports}")
    lines.append(f"logs        {settings.data_dir / 'logs'}")
    return lines


def run_stack(settings: Settings, say: Callable[[str], None]) -> None:
    """Bring everything up, print the endpoints, supervise until Ctrl-C, stop everything."""
    with running_stack(settings, say) as supervisor:
        say("journeyhub is up; Ctrl-C stops everything")
        supervisor.watch()
