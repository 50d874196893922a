"""Running the stream worker as a process: logging, topics, broker check, then Faust.

Kept apart from the app factory so tests can build and drive the app without a process.
The process runs on uvloop's event loop, as Faust advises for production: every event passes
many futures, callbacks and socket reads of the loop, which uvloop runs in C.
"""

from __future__ import annotations

import faust
import mode.loop

from schemas.catalog import CATALOG
from streams.app import create_worker
from streams.broker import broker_is_reachable
from streams.errors import BrokerError
from streams.heap import collect_less_often, freeze_heap_after_rebalances
from streams.kafka import ensure_topics, is_embedded_broker
from streams.logs import configure_logging
from streams.settings import Settings

FAUST_LOG_LEVELS = {"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "ERROR": "error"}


def require_broker(settings: Settings) -> None:
    """Fail with one clear line when no broker answers where we expect one."""
    if broker_is_reachable(settings.bootstrap_servers, timeout=5):
        return
    hint = (
        "start it with `journeyhub up` or set KAFKA_BOOTSTRAP_SERVERS"
        if settings.uses_embedded_broker
        else "check KAFKA_BOOTSTRAP_SERVERS and the security settings"
    )
    msg = f"no Kafka broker answers at {settings.bootstrap_servers}; {hint}"
    raise BrokerError(msg)


def run_worker(settings: Settings) -> None:
    """Start the stream worker in the foreground until SIGINT or SIGTERM."""
    mode.loop.use("uvloop")  # before the app exists, so every loop of the process is uvloop's
    configure_logging(settings.log_level, settings.log_format)
    require_broker(settings)
    ensure_topics(settings, CATALOG.values())
    worker = create_worker(settings, embedded_broker=is_embedded_broker(settings))
    collect_less_often()
    freeze_heap_after_rebalances(worker.app)
    faust.Worker(
        worker.app,
        loglevel=FAUST_LOG_LEVELS.get(settings.log_level.upper(), "warn"),
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,
    ).execute_from_commandline()
