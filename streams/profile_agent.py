"""Customer-360 profiles in the worker: one table row per person, published when it changes.

Resolved events arrive keyed by the canonical customer id, so the partition that owns a person
owns their profile; the resolver sends them in bundles, each to its customer's partition
(:mod:`streams.bundles`). Bursts are coalesced: a batch is applied event by event, then each
profile it changed is written to the table and sent to ``customer360.profiles`` once
(:mod:`streams.burst_profiles`). The journey rules (scoring, triggers, campaigns, privacy
requests) run here too, as they read and change the profile.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import faust
import structlog

from streams.bundles import read_forwarded
from streams.burst_profiles import BurstProfiles
from streams.bursts import run_in_bursts
from streams.campaign_agent import CAMPAIGN, CAMPAIGN_REQUESTS, CampaignDesk
from streams.context import WorkerContext
from streams.forwarded import COMMAND_HEADER, ForwardedEvent, internal_topic
from streams.identity_agent import (
    MERGE,
    OBJECTIONS_HEADER,
    PRIVACY_REQUESTS,
    PROFILE_EVENTS,
    SURVIVOR_HEADER,
)
from streams.in_order_producer import delivered_in_order
from streams.interest_deadlines import InterestDeadlines
from streams.journey_agent import SWEEP, Journey, start_interest_sweep
from streams.privacy import Objection, honour_objections
from streams.privacy_agent import PrivacyDesk
from streams.profile import Profile
from streams.profile_events import apply_event, has_absorbed, merge_profiles
from streams.rules import Rules, load_rules

log = structlog.get_logger(__name__)

PROFILES_TOPIC = "customer360.profiles"
PROFILES_TABLE = "customer-profiles"
"""Table: customer id -> :meth:`Profile.to_dict`, for every person not merged away."""
MERGED_TABLE = "customer-merged"
"""Table: absorbed customer id -> the id it merged into (on the absorbed id's partition)."""
MERGE_IN = "merge-in"
"""Command keyed by the survivor; its value is the absorbed profile as JSON."""
BATCH_SIZE = 500
"""Most events applied before the profiles they changed are emitted."""
BATCH_SECONDS = 0.2
"""Longest wait of an event for the emission of its profile while events keep coming; a
burst that ends sooner is emitted at once (:mod:`streams.bursts`)."""
NOT_REPLAYABLE = frozenset({MERGE_IN, SWEEP})
"""Commands whose value is not a source event's bytes: a failure is counted, not dead-lettered."""


class ProfileAgent:
    """The profile tables, the agent that keeps them and the emission of changed profiles.

    Merging person B into A takes two steps, as B's and A's rows may live on two partitions:
    the ``merge`` command on B's partition moves B's profile into a ``merge-in`` command for
    A, sends a tombstone for B (so the CRM deletes B's contact) and remembers that B now
    reads as A; the ``merge-in`` on A's partition merges the two profiles once.
    """

    def __init__(self, worker: WorkerContext, rules: Rules) -> None:
        """Declare the topics, tables and agent on the worker's app."""
        app = self._app = worker.app
        self._codec = worker.codec
        self._metrics = worker.metrics
        self._processing = worker.metrics.processing_seconds.labels(agent="profiles")
        self._emitted = worker.metrics.events_out.labels(topic=PROFILES_TOPIC)
        self._rules = rules
        self._inbox = internal_topic(app, PROFILE_EVENTS)
        self._output = app.topic(PROFILES_TOPIC, key_serializer="raw", value_serializer="raw")
        # A burst's changed profiles are written at its end (BurstProfiles), while the stream's
        # current event may be another partition's: each row's changelog partition is chosen
        # from its key, which is the partition its events arrive on (streams.forwarded).
        self.profiles = app.Table(
            PROFILES_TABLE, key_type=str, on_recover=self._count_profiles, use_partitioner=True
        )
        self.merged = app.Table(MERGED_TABLE, key_type=str)
        self._deadlines = InterestDeadlines(rules.triggers.product_interest)
        self._held = BurstProfiles(self.profiles, written=self._deadlines.note)
        self.journey = Journey(worker, rules)
        self.campaigns = CampaignDesk(worker, self.journey, self.profiles, self._inbox)
        self._privacy = PrivacyDesk(worker, self.profiles, self._output)
        worker.handlers[CAMPAIGN_REQUESTS] = self.campaigns.fan_out
        start_interest_sweep(worker, rules, self._deadlines, self.profiles, self._inbox)

        @app.agent(self._inbox, name="profiles")
        async def profiles(stream: faust.StreamT[bytes]) -> None:
            await run_in_bursts(
                stream, self._apply, self._emit_changed, most=BATCH_SIZE, longest=BATCH_SECONDS
            )

    async def _apply(self, event: faust.EventT) -> None:
        """Apply the events and commands of a record (a bundle's or its one), in order."""
        partition = event.message.partition
        for customer_id, forwarded in read_forwarded(event):
            if customer_id is not None:
                await self._apply_one(customer_id, forwarded, partition)

    async def _apply_one(self, customer_id: str, forwarded: ForwardedEvent, partition: int) -> None:
        """Apply one event or command; dead-letter it when it fails."""
        with self._processing.time():
            try:
                if forwarded.command == MERGE:
                    await self._absorb(customer_id, forwarded)
                elif forwarded.command == MERGE_IN:
                    await self._merge_in(customer_id, forwarded)
                elif forwarded.command == CAMPAIGN:
                    await self._settle()
                    await self.campaigns.run(partition, forwarded)
                elif await self._follow_merge(customer_id, forwarded):
                    pass
                elif forwarded.command == SWEEP:
                    await self._sweep(customer_id)
                elif forwarded.topic == PRIVACY_REQUESTS:
                    await self._settle()
                    await self._privacy.handle(customer_id, forwarded)
                    self._held.forget_emission(customer_id)
                else:
                    await self._apply_event(customer_id, forwarded)
            except Exception as error:  # whatever fails one event dead-letters that event
                await self._failed(customer_id, forwarded, error)

    async def _apply_event(self, customer_id: str, forwarded: ForwardedEvent) -> None:
        record = forwarded.decode(self._codec)
        held = self._held.get(customer_id)
        profile = Profile(customer_id) if held is None else held
        now = datetime.now(UTC)
        with self._held.changing(customer_id):
            if not apply_event(profile, forwarded.topic, record, self._rules, now):
                self._metrics.duplicates.labels(topic=forwarded.topic).inc()
                # It may be the redelivery after a crash that came between writing the table
                # and emitting, and emitting a profile twice is harmless.
                self._held.emit_again(profile)
                return
            if held is None:
                _honour_objections(profile, forwarded)
            await self.journey.after_event(profile, forwarded.topic, record, now)
        if held is None:
            self._metrics.profiles.inc()
        self._held.changed(profile)

    async def _sweep(self, customer_id: str) -> None:
        """``sweep`` command: send the profile's product-interest mails whose window passed."""
        profile = self._held.get(customer_id)
        if profile is None:
            return
        try:
            with self._held.changing(customer_id):
                swept = await self.journey.sweep(profile, datetime.now(UTC))
        except Exception:
            # The window is still open: noted again, the next round of the sweep retries.
            unchanged = self._held.get(customer_id)
            if unchanged is not None:
                self._deadlines.note(unchanged)
            raise
        if swept:
            self._held.changed(profile)

    async def _absorb(self, absorbed_id: str, forwarded: ForwardedEvent) -> None:
        """``merge`` on the absorbed id's partition: hand its profile over to the survivor.

        The steps run in an order that a crash anywhere in between can replay: the
        ``merge-in`` goes out before the absorbed profile is removed, and the survivor
        merges an absorbed profile only once. Not yet with tables in RocksDB, which keep the
        merge on disk at once: a kill before the ``merge-in`` left the producer loses the
        hand-over (see Reliability in the README).
        """
        if self.merged.get(absorbed_id) is not None:
            self._metrics.duplicates.labels(topic=forwarded.topic).inc()
            return
        survivor_id = forwarded.headers[SURVIVOR_HEADER]
        absorbed = self._held.get(absorbed_id)
        if absorbed is not None:
            payload = json.dumps(absorbed.to_dict()).encode("utf-8")
            command = {COMMAND_HEADER: MERGE_IN}
            handover = await forwarded.send(
                self._inbox, survivor_id, value=payload, headers=command
            )
            deletion = await self._output.send(key=absorbed_id.encode("utf-8"), value=None)
            await delivered_in_order(self._app, [handover, deletion])
            self._emitted.inc()
            await self.journey.acknowledge_for(absorbed_id)  # it may remember unsent jobs
            self._held.remove(absorbed_id)
            self._metrics.profiles.dec()
        self.merged[absorbed_id] = survivor_id

    async def _merge_in(self, survivor_id: str, forwarded: ForwardedEvent) -> None:
        """``merge-in`` on the survivor's partition: merge the absorbed profile, once."""
        if await self._follow_merge(survivor_id, forwarded):
            return
        absorbed = Profile.from_dict(json.loads(forwarded.raw))
        held = self._held.get(survivor_id)
        survivor = Profile(survivor_id) if held is None else held
        if has_absorbed(survivor, absorbed.customer_id):
            self._metrics.duplicates.labels(topic=forwarded.topic).inc()
            self._held.emit_again(survivor)
            return
        if held is None:
            self._metrics.profiles.inc()
        survivor = merge_profiles(survivor, absorbed, self._rules)
        await self.journey.after_merge(survivor, datetime.now(UTC))
        self._held.changed(survivor)
        self._metrics.profile_merges.inc()
        log.debug("profiles_merged", survivor=survivor_id, absorbed=absorbed.customer_id)

    async def _follow_merge(self, customer_id: str, forwarded: ForwardedEvent) -> bool:
        """Send a message for a person merged away on to the survivor; True when it was."""
        survivor_id = self.merged.get(customer_id)
        if survivor_id is None:
            return False
        command = {COMMAND_HEADER: forwarded.command} if forwarded.command else {}
        await forwarded.send(self._inbox, survivor_id, headers=command)
        return True

    async def _failed(
        self, customer_id: str, forwarded: ForwardedEvent, error: BaseException
    ) -> None:
        if forwarded.command not in NOT_REPLAYABLE:
            await forwarded.dead_letter(self._app, self._metrics, error)
            return
        # A merge-in carries a profile, a sweep nothing: no source event's bytes to replay.
        reason = type(error).__name__
        self._metrics.dead_letters.labels(topic=PROFILE_EVENTS, reason=reason).inc()
        log.error(
            "profile_command_failed",
            customer_id=customer_id,
            command=forwarded.command,
            error_class=reason,
        )

    async def _emit_changed(self) -> None:
        """Write each profile the burst changed, then send it once to ``customer360.profiles``."""
        await self.journey.acknowledge()
        for profile in self._held.take_changed():
            customer_id = profile.customer_id
            try:
                value = self._codec.encode(PROFILES_TOPIC, profile.to_record())
            except Exception as error:  # one profile that cannot be published blocks no other
                reason = type(error).__name__
                self._metrics.dead_letters.labels(topic=PROFILES_TOPIC, reason=reason).inc()
                log.error("profile_not_emitted", customer_id=customer_id, error_class=reason)
                continue
            await self._output.send(key=customer_id.encode("utf-8"), value=value)
            self._emitted.inc()

    async def _settle(self) -> None:
        """Write every held profile, for code that works on the table itself.

        The profiles may remember leads and jobs of this burst: they are acknowledged first.
        """
        await self.journey.acknowledge()
        self._held.settle()

    async def _count_profiles(self) -> None:
        """After recovery: count the profiles this worker now holds."""
        self._metrics.profiles.set(len(self.profiles))


def _honour_objections(profile: Profile, forwarded: ForwardedEvent) -> None:
    """Give a new person's profile the marketing refusals of an erased one (streams.privacy)."""
    carried = forwarded.headers.get(OBJECTIONS_HEADER)
    if carried:
        objections = {key: Objection.from_dict(value) for key, value in json.loads(carried).items()}
        honour_objections(profile, objections)


def register(worker: WorkerContext) -> None:
    """Add the profile tables and agent, with the journey rules, campaigns and privacy desk.

    Fed by :mod:`streams.identity_agent`; takes ``campaign.requests`` from the intake.
    """
    ProfileAgent(worker, load_rules(worker.settings.rules_path))
