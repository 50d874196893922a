"""The identity resolver in the worker: every event about a person learns whose it is here.

Source events of people pass one single-partition topic, so the identity graph has one
writer and links form one total order: merges come out the same on every replay. Privacy
requests pass it too: they are looked up here, and an erasure's links are removed here. The
intake sends them in bundles, one record per burst (:mod:`streams.bundles`).

Why one partition: resolution reads the identities of any key (an e-mail may belong to the
person of another partition), and one writer makes merges deterministic and idempotent
without cross-partition coordination. The price: the worker that holds the partition resolves
the events of the whole group. A resolution is a few table reads and writes and the intake has
found the event's identifiers already (:class:`Sighting`), so the resolver costs its worker
about 60 µs per event (py-spy, one worker, the benchmark's mix): one partition carries at most
some 16,000 events a second, fewer as its worker also holds partitions of the other agents.
Beyond that the graph would have to be sharded by identifier, with a merge protocol.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
import structlog

from schemas.codec import Codec
from streams.bundles import BundleSender, PartitionedBundles, read_forwarded
from streams.context import WorkerContext
from streams.errors import InvalidRecordError
from streams.forwarded import COMMAND_HEADER, ForwardedEvent, internal_topic
from streams.identifiers import IdentityKey, identifiers_from
from streams.identity import (
    IdentityGraph,
    Resolution,
    ResolutionOutcome,
    StagedGraph,
    follow_alias,
    owners,
    resolve,
)
from streams.in_order_producer import delivered_before_durable_state
from streams.intake import SourceRecord
from streams.normalize import from_epoch_ms, to_epoch_ms
from streams.privacy import Erasure, suppression_key

log = structlog.get_logger(__name__)

PEOPLE_TOPICS = ("shop.events", "cms.events", "social.posts", "rfid.production", "consent.events")
"""Source topics whose events describe a person and so feed the customer-360 profile."""
IDENTITY_EVENTS = "journeyhub-identity-events"
"""Internal topic, one partition: events of people on their way to the resolver."""
PROFILE_EVENTS = "journeyhub-profile-events"
"""Internal topic: resolved events and merge commands, keyed by canonical customer id."""
TRACKING_EVENTS = "journeyhub-tracking-events"
"""Internal topic: RFID readings keyed by chip id, with the resolved customer id."""
IDENTITY_KEYS_TABLE = "identity-keys"
IDENTITY_ALIASES_TABLE = "identity-aliases"
IDENTITY_BORN_TABLE = "identity-born"
IDENTITY_OBJECTIONS_TABLE = "identity-objections"
"""Table: hashed identifier -> marketing refusals stated before an erasure (streams.privacy)."""
PRIVACY_REQUESTS = "privacy.requests"
PRIVACY_RESPONSES = "privacy.responses"

MERGE = "merge"
"""Command keyed by an absorbed customer id; its value is the event that proved the merge."""
SURVIVOR_HEADER = "journeyhub.survivor"
"""Header of a merge command: the customer id the absorbed one merges into."""
CUSTOMER_HEADER = "journeyhub.customer_id"
"""Header of a reading on the tracking topic: the customer the chip was resolved to."""
ERASE_LINKS = "erase-links"
"""Command to the resolver: remove an erased person's links; its value is the erasure."""
OBJECTIONS_HEADER = "journeyhub.objections"
"""Header of an event of a new person: JSON of the objections their identifiers carry."""
SIGHTING_HEADER = "journeyhub.sighting"
"""Header of an event on its way to the resolver: its :class:`Sighting`, as JSON."""
_SIGHTING_ENCODER = json.JSONEncoder(ensure_ascii=False)
"""Writes the sighting headers, built once: ``json.dumps`` with an option builds one per call."""


def event_time(topic: str, value: Mapping[str, Any]) -> datetime:
    """Return when an event of a person happened: ``posted_at`` for posts, else ``occurred_at``."""
    moment: datetime = value["posted_at"] if topic == "social.posts" else value["occurred_at"]
    return moment


@dataclass(frozen=True)
class Sighting:
    """What the resolver needs of an event of a person, found once, by the intake.

    The intake decodes and checks every event and must find its identifiers anyway, to refuse
    an event that names nobody; it hands them to the resolver in a header
    (:data:`SIGHTING_HEADER`), so the resolver, the one partition every event of a person
    passes, need not decode the event and find them again.
    """

    event_id: str
    occurred_at: datetime
    identifiers: list[IdentityKey]
    chip_id: str | None = None
    """The chip of an RFID reading, which the tracking agent is keyed by."""

    @classmethod
    def of(cls, topic: str, value: Mapping[str, Any]) -> Sighting:
        """Find the sighting in a decoded event of a person.

        Raises:
            InvalidRecordError: No identifier of the event is usable: it could never be
                attributed to a person, and the intake dead-letters it.
        """
        identifiers = identifiers_from(topic, value)
        if not identifiers:
            msg = (
                f"{topic} event {value.get('event_id')} names no person: "
                "every identifier (session, customer id, e-mail, phone, handle, chip, order) "
                "is empty or invalid"
            )
            raise InvalidRecordError(msg)
        chip_id = value["chip_id"] if topic == "rfid.production" else None
        return cls(value["event_id"], event_time(topic, value), identifiers, chip_id)

    @classmethod
    def read(cls, forwarded: ForwardedEvent, codec: Codec) -> Sighting:
        """The sighting an event carries, or found in its value if it carries none.

        An event forwarded by a worker of an earlier version, before an upgrade, has no
        :data:`SIGHTING_HEADER`.
        """
        carried = forwarded.headers.get(SIGHTING_HEADER)
        if carried is None:
            return cls.of(forwarded.topic, forwarded.decode(codec))
        event_id, occurred_at_ms, identifiers, chip_id = json.loads(carried)
        return cls(event_id, from_epoch_ms(occurred_at_ms), identifiers, chip_id)

    def header(self) -> dict[str, str]:
        """The header that carries the sighting to the resolver."""
        fields = [self.event_id, to_epoch_ms(self.occurred_at), self.identifiers, self.chip_id]
        return {SIGHTING_HEADER: _SIGHTING_ENCODER.encode(fields)}


class PrivacyResponses:
    """The ``privacy.responses`` topic: answers come from the resolver and the profile owners."""

    def __init__(self, worker: WorkerContext) -> None:
        """Declare the topic on the worker's app."""
        self._codec = worker.codec
        self._metrics = worker.metrics
        self._topic = worker.app.topic(
            PRIVACY_RESPONSES, key_serializer="raw", value_serializer="raw"
        )

    async def send(self, response: Mapping[str, Any]) -> None:
        """Publish the answer to a privacy request, keyed by its request id, and count it."""
        value = self._codec.encode(PRIVACY_RESPONSES, dict(response))
        await self._topic.send(key=response["request_id"].encode("utf-8"), value=value)
        self._metrics.events_out.labels(topic=PRIVACY_RESPONSES).inc()
        self._metrics.privacy_requests.labels(
            type=response["type"], status=response["status"]
        ).inc()
        log.info(
            "privacy_request_answered",
            request_id=response["request_id"],
            status=response["status"],
        )


class IdentityResolver:
    """The identity tables, the resolver agent and the intake handlers that feed it."""

    def __init__(self, worker: WorkerContext) -> None:
        """Declare the topics, tables and agent on the worker's app."""
        app = self._app = worker.app
        self._codec = worker.codec
        self._metrics = worker.metrics
        self._processing = worker.metrics.processing_seconds.labels(agent="identity-resolver")
        self._outcomes = {
            outcome: worker.metrics.identity_resolutions.labels(outcome=outcome.value)
            for outcome in ResolutionOutcome
        }
        self._inbox = internal_topic(app, IDENTITY_EVENTS, partitions=1)
        self._profiles = internal_topic(app, PROFILE_EVENTS)
        self._tracking = internal_topic(app, TRACKING_EVENTS)
        self.graph = IdentityGraph(
            keys=app.Table(IDENTITY_KEYS_TABLE, key_type=str, partitions=1),
            aliases=app.Table(IDENTITY_ALIASES_TABLE, key_type=str, partitions=1),
            born=app.Table(IDENTITY_BORN_TABLE, key_type=str, partitions=1),
        )
        self.objections = app.Table(IDENTITY_OBJECTIONS_TABLE, key_type=str, partitions=1)
        self._responses = PrivacyResponses(worker)
        self._to_resolver = BundleSender(self._inbox, partition=0)
        worker.intake.at_burst_end(self._to_resolver.send)
        self._to_profiles = PartitionedBundles(self._profiles, app.conf.topic_partitions)
        self._to_tracking = PartitionedBundles(self._tracking, app.conf.topic_partitions)

        @app.agent(self._inbox, name="identity-resolver")
        async def resolver(stream: faust.StreamT[bytes]) -> None:
            async for event in stream.events():
                await self._resolve_record(event)

    async def forward(self, record: SourceRecord) -> None:
        """Intake handler: add an event of a person to the resolver's next bundle.

        Raises:
            InvalidRecordError: The event names nobody; the intake dead-letters it.
        """
        sighting = Sighting.of(record.topic, record.value)
        await self._to_resolver.add(ForwardedEvent.from_record(record, sighting.header()))

    async def forward_privacy_request(self, record: SourceRecord) -> None:
        """Intake handler: add a privacy request to the bundle, in line with the events."""
        await self._to_resolver.add(ForwardedEvent.from_record(record))

    async def _resolve_record(self, event: faust.EventT) -> None:
        """Resolve the events of a record, send what they resolved to, then write the graph.

        Outputs first, then the graph, and they reach the broker in that order: a crash in
        between replays the record, whose merges and objections a graph already written
        would hide. A graph kept in RocksDB is written to disk at once and kept across a
        crash, so then the outputs are acknowledged first
        (:func:`delivered_before_durable_state`). Meanwhile the record's later events see the
        links its earlier events made (:class:`StagedGraph`).
        """
        staged = StagedGraph(self.graph)
        in_order = False
        for _, forwarded in read_forwarded(event):
            with self._processing.time():
                try:
                    in_order |= await self._resolve(forwarded, staged)
                except Exception as error:  # whatever fails one event dead-letters that event
                    await forwarded.dead_letter(self._app, self._metrics, error)
        deliveries = await self._to_profiles.send() + await self._to_tracking.send()
        if in_order:
            await delivered_before_durable_state(self._app, deliveries)
        staged.commit()

    async def _resolve(self, forwarded: ForwardedEvent, staged: StagedGraph) -> bool:
        """Resolve one event or command against the graph with what ``staged`` holds back.

        Returns:
            Whether its outputs must reach the broker before the graph remembers it: they
            carry merges or objections.
        """
        if forwarded.command == ERASE_LINKS:  # always a record of its own: nothing staged
            await self._erase_links(Erasure.from_json(forwarded.raw))
            return False
        if forwarded.topic == PRIVACY_REQUESTS:
            await self._route_privacy_request(forwarded, staged.view)
            return False
        sighting = Sighting.read(forwarded, self._codec)
        resolution = resolve(
            staged.view,
            sighting.identifiers,
            event_id=sighting.event_id,
            occurred_at=sighting.occurred_at,
        )
        customer_id = resolution.customer_id
        for merge in resolution.merges:
            command = {COMMAND_HEADER: MERGE, SURVIVOR_HEADER: merge.survivor}
            await self._to_profiles.add(forwarded.with_headers(command), merge.absorbed)
        objections = self._objections(resolution) if resolution.created else None
        await self._to_profiles.add(forwarded.with_headers(objections or {}), customer_id)
        if sighting.chip_id is not None:
            resolved = {CUSTOMER_HEADER: customer_id}
            await self._to_tracking.add(forwarded.with_headers(resolved), sighting.chip_id)
        staged.apply(resolution)
        self._count(resolution, sighting.event_id)
        return bool(resolution.merges or objections)

    def _objections(self, resolution: Resolution) -> dict[str, str] | None:
        """The objections a new person's identifiers carry from before an erasure, as a header."""
        found = {
            hashed: stored
            for key in resolution.assignments
            if (stored := self.objections.get(hashed := suppression_key(key))) is not None
        }
        return {OBJECTIONS_HEADER: json.dumps(found)} if found else None

    async def _route_privacy_request(self, forwarded: ForwardedEvent, graph: IdentityGraph) -> None:
        """Send a privacy request to the profile of each person it names; answer if nobody."""
        request = forwarded.decode(self._codec)
        found = owners(graph, identifiers_from(PRIVACY_REQUESTS, request))
        named = request.get("customer_id")
        if named and graph.first_seen(named) is not None:
            found.add(follow_alias(graph.aliases, named))
        for customer_id in sorted(found):
            await self._to_profiles.add(forwarded.with_headers({}), customer_id)
        if not found:
            response = {
                "request_id": request["request_id"],
                "customer_id": None,
                "type": request["type"],
                "status": "not_found",
                "data": None,
                "completed_at": datetime.now(UTC),
            }
            await self._responses.send(response)

    async def _erase_links(self, erasure: Erasure) -> None:
        """Remove an erased person's identifiers, aliases and birth; keep the objections.

        Only links that still lead to an erased id are removed: an identifier the person
        used again after the erasure was planned belongs to their fresh profile.
        """
        erased = set(erasure.customer_ids)
        keys: list[IdentityKey] = [
            key for key in erasure.identity_keys if self.graph.owner(key) in erased
        ]
        for key in keys:
            del self.graph.keys[key]
        aliases = self.graph.aliases
        absorbed = [alias for alias in list(aliases) if follow_alias(aliases, alias) in erased]
        for alias in absorbed:
            del aliases[alias]
        for customer_id in erased:
            self.graph.born.pop(customer_id, None)
        for hashed, objection in erasure.objections.items():
            self.objections[hashed] = objection.to_dict()
        await self._responses.send(erasure.response)

    def _count(self, resolution: Resolution, event_id: str) -> None:
        self._outcomes[resolution.outcome].inc()
        for merge in resolution.merges:
            log.debug(
                "customers_merged",
                survivor=merge.survivor,
                absorbed=merge.absorbed,
                event_id=event_id,
            )


def register(worker: WorkerContext) -> None:
    """Add the resolver to the worker and route every source topic of people to it."""
    resolver = IdentityResolver(worker)
    for topic in PEOPLE_TOPICS:
        worker.handlers[topic] = resolver.forward
    worker.handlers[PRIVACY_REQUESTS] = resolver.forward_privacy_request
