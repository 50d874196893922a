"""GDPR requests on the partition that owns the person: hand out or erase their profile.

The resolver routes each ``privacy.requests`` event to the profile of every person it names.
Access answers from the profile; erasure deletes it, sends the tombstone that makes the CRM
connector delete the contact, and hands the identity links back to the resolver to remove.
"""

from __future__ import annotations

from datetime import UTC, datetime

import faust
import structlog
from faust.types import TableT

from streams.context import WorkerContext
from streams.forwarded import COMMAND_HEADER, ForwardedEvent, internal_topic
from streams.identity_agent import ERASE_LINKS, IDENTITY_EVENTS, PrivacyResponses
from streams.privacy import access_response, erase
from streams.profile import Profile

log = structlog.get_logger(__name__)


class PrivacyDesk:
    """Answers access and erasure requests for the profiles of this worker's partitions."""

    def __init__(self, worker: WorkerContext, profiles: TableT, output: faust.TopicT) -> None:
        """Use the profile table and its output topic, owned by the profile agent.

        Args:
            worker: The worker being built.
            profiles: The profile table (customer id -> stored profile).
            output: ``customer360.profiles``, where an erased profile's tombstone goes.
        """
        self._codec = worker.codec
        self._metrics = worker.metrics
        self._profiles = profiles
        self._output = output
        self._resolver = internal_topic(worker.app, IDENTITY_EVENTS, partitions=1)
        self._responses = PrivacyResponses(worker)

    async def handle(self, customer_id: str, forwarded: ForwardedEvent) -> None:
        """Answer a privacy request for ``customer_id`` (its profile lives on this partition)."""
        request = forwarded.decode(self._codec)
        stored = self._profiles.get(customer_id)
        profiles = [] if stored is None else [Profile.from_dict(stored)]
        now = datetime.now(UTC)
        if request["type"] == "access":
            await self._responses.send(access_response(profiles, request, now))
            return
        erasure = erase(profiles, request, now)
        # The resolver removes the links, then confirms. Both outputs go before the profile is
        # deleted: a crash in between replays the request with the profile still there.
        command = {COMMAND_HEADER: ERASE_LINKS}
        await forwarded.send(self._resolver, customer_id, value=erasure.to_json(), headers=command)
        if stored is not None:
            await self._output.send(key=customer_id.encode("utf-8"), value=None)
            self._metrics.events_out.labels(topic=self._output.get_topic_name()).inc()
            del self._profiles[customer_id]
            self._metrics.profiles.dec()
            log.info("profile_erased", customer_id=customer_id, request_id=request["request_id"])
