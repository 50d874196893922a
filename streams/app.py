"""The Faust application factory: the one place that wires settings, codec, metrics and agents.

Domain modules stay free of wiring: each offers handlers for its source topics, and the
factory subscribes one intake agent to every source topic and dispatches to them.
"""

from __future__ import annotations

from typing import Any

import faust

from schemas.catalog import CATALOG
from schemas.codec import make_codec
from streams import budget_agent, customer_api, identity_agent, profile_agent, tracking_agent
from streams.bursts import run_in_bursts
from streams.context import Registrar, WorkerContext
from streams.embedded_transport import use_embedded_transport
from streams.intake import Intake
from streams.kafka import faust_broker_options
from streams.lean_consumer import use_lean_consume_path
from streams.lean_registry import LeanRegistry
from streams.lean_table import LeanTable
from streams.lean_topic import LeanTopic
from streams.metrics import WorkerMetrics
from streams.partitioner import KeyPartitioner
from streams.persisted_offsets import PersistedOffsetsTableManager
from streams.rocksdb_store import SCHEME, register_store
from streams.settings import Settings
from streams.web import register_views, token_middleware

APP_ID = "journeyhub"
SOURCE_TOPICS = tuple(spec.name for spec in CATALOG.values() if spec.kind == "source")
BURST_SIZE = 500
"""Most source records taken in before the intake sends what they gathered."""
BURST_SECONDS = 0.05
"""Longest wait of a source record for the end of its burst while records keep coming.

Short, as every event of a person waits this long before the resolver sees it; 50 ms at a
load of 2,000 events per second still bundles a hundred of them.
"""


DOMAINS: tuple[Registrar, ...] = (
    budget_agent.register,
    identity_agent.register,
    profile_agent.register,
    tracking_agent.register,
    customer_api.register,
)
"""Every domain of the worker, in the order they are registered."""


def _faust_options(settings: Settings) -> dict[str, Any]:
    store = f"{SCHEME}://" if settings.state_store == "rocksdb" else "memory://"
    return {
        **faust_broker_options(settings),
        "store": store,
        "datadir": str(settings.worker_state_dir),
        "table_standby_replicas": settings.table_standby_replicas,
        "web_port": settings.web_port,
        "web_bind": settings.web_host,
        "web_host": settings.web_host,
        "web_application_options": {"middlewares": [token_middleware(settings.api_token)]},
        "topic_partitions": max(spec.partitions for spec in CATALOG.values()),
        "consumer_auto_offset_reset": "earliest",
        "autodiscover": False,
        "producer_partitioner": KeyPartitioner(),
        "Topic": LeanTopic,
        "Table": LeanTable,
        "TableManager": PersistedOffsetsTableManager,
        "Serializers": LeanRegistry,
    }


def create_worker(settings: Settings, *, embedded_broker: bool = False) -> WorkerContext:
    """Build the Faust app with its intake agent and HTTP views, not yet started.

    ``embedded_broker`` adapts the transport to the embedded broker, which lists a partition's
    end short of its last record: table recovery learns the true ends by fetching, so the
    producer may send batches of many records, in send order (:mod:`streams.embedded_transport`).
    Records are handed to the streams a fetched batch at a time (:mod:`streams.lean_consumer`)
    and to the producer without turns of the event loop (:mod:`streams.lean_topic`); tables read
    a key with one lookup in their store and encode a write once (:mod:`streams.lean_table`),
    and write their persisted offsets at commit (:mod:`streams.persisted_offsets`); keys and
    values are JSON without building an encoder each time (:mod:`streams.lean_registry`); offsets
    are committed only once the broker has every record sent before
    (:mod:`streams.draining_producer`). Tables recover, and standby copies keep up, a queued
    batch of changelog records at a time (:mod:`streams.batch_recovery`).
    """
    register_store()
    app = faust.App(APP_ID, **_faust_options(settings))
    if embedded_broker:
        use_embedded_transport(app)
    use_lean_consume_path(app, embedded_broker=embedded_broker)
    metrics = WorkerMetrics()
    codec = make_codec(settings.schema_registry_url)
    worker = WorkerContext(app, settings, codec, metrics, Intake(app, codec, metrics))

    sources = app.topic(*SOURCE_TOPICS, key_serializer="raw", value_serializer="raw")

    async def take_in(event: faust.EventT) -> None:
        await worker.intake.process(event, worker.handlers)

    @app.agent(sources, name="intake")
    async def intake(stream: faust.StreamT[bytes]) -> None:
        await run_in_bursts(
            stream, take_in, worker.intake.end_burst, most=BURST_SIZE, longest=BURST_SECONDS
        )

    async def mark_ready(sender: faust.App, **_: Any) -> None:
        worker.ready = True
        metrics.up.set(1)

    app.on_rebalance_complete.connect(mark_ready)  # type: ignore[arg-type]

    register_views(worker)
    for register in DOMAINS:
        register(worker)
    return worker
