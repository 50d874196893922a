"""Journey rules in the worker: lead hand-over, trigger mails and the periodic interest sweep.

The profile agent calls :class:`Journey` for every event it accepted, on the partition that
owns the person, so scoring, contact history and jobs change the profile in one place. Jobs
pass the contact rules here; what is sent goes to ``outbound.*``, what is not is counted.

A profile that remembers a lead or a job may be written only once the broker has it. The
profile agent writes at the end of a burst (:mod:`streams.burst_profiles`), so the leads and
jobs of a whole burst are waited for together (:meth:`Journey.acknowledge`), not each alone.
A profile handed over to another partition mid-burst (a merge) waits only if it remembers one
of them itself (:meth:`Journey.acknowledge_for`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import faust
import structlog
from faust.types import RecordMetadata, TableT

from streams.contact import Channel, Job, decide, outbound_record, record_contact
from streams.context import WorkerContext
from streams.forwarded import COMMAND_HEADER, ForwardedEvent
from streams.identity_agent import PROFILE_EVENTS
from streams.in_order_producer import acknowledged
from streams.interest_deadlines import InterestDeadlines
from streams.profile import Profile
from streams.rules import Rules
from streams.scoring import hand_over_if_due, lead_record, score_event
from streams.triggers import due_interest_triggers, observe_event

log = structlog.get_logger(__name__)

Acknowledgement = Awaitable[RecordMetadata]
"""Resolves once the broker has a sent record."""

LEADS_TOPIC = "crm.leads"
SWEEP = "sweep"
"""Command keyed by a customer id: plan the product-interest mails whose window passed."""
SWEEP_FRACTION = 10
"""The sweep runs this many times per product-interest window ..."""
SWEEP_SECONDS = (1.0, 300.0)
"""... but not more often than every second nor less often than every five minutes."""


def sweep_interval(rules: Rules) -> float:
    """Return how often the interest sweep runs, in seconds, for the rules' window.

    Args:
        rules: The product-interest rule with its window.

    Returns:
        A tenth of the window, at least 1 s and at most 5 minutes.
    """
    shortest, longest = SWEEP_SECONDS
    seconds = rules.triggers.product_interest.window.total_seconds() / SWEEP_FRACTION
    return min(max(seconds, shortest), longest)


class Journey:
    """Publishes leads and jobs for profiles the profile agent holds, and counts suppressions."""

    def __init__(self, worker: WorkerContext, rules: Rules) -> None:
        """Declare the output topics on the worker's app."""
        app = self._app = worker.app
        self._codec = worker.codec
        self._metrics = worker.metrics
        self.rules = rules
        self._leads = app.topic(LEADS_TOPIC, key_serializer="raw", value_serializer="raw")
        self._outbound = {
            channel: app.topic(channel.topic, key_serializer="raw", value_serializer="raw")
            for channel in Channel
        }
        self._unacknowledged: list[Acknowledgement] = []
        """Leads and jobs sent since the last :meth:`acknowledge`."""
        self._remembering: set[str] = set()
        """Customers whose profiles remember one of them."""

    async def acknowledge(self) -> None:
        """Wait until the broker has every lead and job sent so far.

        Call it before writing a profile (or any state) that remembers them: were the write to
        reach the broker first, a crash in between would lose the lead or job for good, as the
        replayed event finds it done and sends nothing.
        """
        if self._unacknowledged:
            pending, self._unacknowledged = self._unacknowledged, []
            self._remembering.clear()
            await acknowledged(self._app, pending)

    async def acknowledge_for(self, customer_id: str) -> None:
        """Wait as :meth:`acknowledge` does, if the person's profile remembers a lead or job.

        A profile remembers only the leads and jobs sent for its own person: one it absorbed
        came with its own acknowledged before it was handed over.
        """
        if customer_id in self._remembering:
            await self.acknowledge()

    async def after_event(
        self, profile: Profile, topic: str, record: Mapping[str, Any], now: datetime
    ) -> None:
        """Score an accepted event, hand a new sales lead over, and send the jobs it causes.

        Args:
            profile: The person's profile right after ``apply_event`` accepted the event;
                changed in place (score, status, interest watch, contact history).
            topic: The event's source topic.
            record: The decoded event.
            now: Processing time: when jobs are decided and created.
        """
        change = score_event(profile, topic, record, self.rules)
        jobs = observe_event(profile, topic, record, self.rules)
        if change.crossed_sales_lead:
            await self._hand_over(profile)
        await self.deliver(profile, jobs, now)

    async def after_merge(self, profile: Profile, now: datetime) -> None:
        """Hand a merged person over to sales when the added-up score reaches the threshold."""
        if hand_over_if_due(profile, self.rules, now):
            await self._hand_over(profile)

    async def _hand_over(self, profile: Profile) -> None:
        lead = lead_record(profile)
        self._remember(
            profile, await self._send(self._leads, LEADS_TOPIC, profile.customer_id, lead)
        )
        self._metrics.journey_leads.inc()
        log.debug("lead_handed_over", customer_id=profile.customer_id, score=profile.lead_score)

    async def sweep(self, profile: Profile, now: datetime) -> bool:
        """Send the product-interest mails whose window passed; True when the profile changed."""
        jobs = due_interest_triggers(profile, now, self.rules)
        await self.deliver(profile, jobs, now)
        return bool(jobs)

    async def deliver(self, profile: Profile, jobs: Iterable[Job], now: datetime) -> None:
        """Decide each job by the contact rules; publish and remember it, or count why not.

        The profile remembers a sent job at once; it may be written after :meth:`acknowledge`.
        """
        for job in jobs:
            decision = decide(profile, job, self.rules, now)
            if decision.send:
                record_contact(profile, job, self.rules, now)
                self._remember(profile, await self.publish(profile, job, now))
            elif decision.reason is not None:
                self.suppressed(decision.reason.value)

    async def publish(self, profile: Profile, job: Job, now: datetime) -> Acknowledgement:
        """Publish a job the contact rules let through, already in the contact history.

        Returns:
            The broker's acknowledgement, to wait for before the profile is written.
        """
        record = outbound_record(profile, job, now)
        topic = job.channel.topic
        delivery = await self._send(self._outbound[job.channel], topic, job.job_id, record)
        self._metrics.journey_jobs.labels(template=job.template, channel=job.channel.value).inc()
        log.debug("job_published", job_id=job.job_id, customer_id=job.customer_id, topic=topic)
        return delivery

    def _remember(self, profile: Profile, delivery: Acknowledgement) -> None:
        """Note a lead or job the profile now remembers, until it is acknowledged."""
        self._unacknowledged.append(delivery)
        self._remembering.add(profile.customer_id)

    def suppressed(self, reason: str, count: int = 1) -> None:
        """Count jobs the contact rules did not send, by reason."""
        if count:
            self._metrics.journey_suppressed.labels(reason=reason).inc(count)

    async def _send(
        self, topic: faust.TopicT, name: str, key: str, record: Mapping[str, Any]
    ) -> Acknowledgement:
        """Send a lead or job; return the broker's acknowledgement (see :meth:`acknowledge`)."""
        value = self._codec.encode(name, dict(record))
        delivery: Acknowledgement = await topic.send(key=key.encode("utf-8"), value=value)
        self._metrics.events_out.labels(topic=name).inc()
        return delivery


def start_interest_sweep(
    worker: WorkerContext,
    rules: Rules,
    deadlines: InterestDeadlines,
    profiles: TableT,
    inbox: faust.TopicT,
) -> None:
    """Run the interest sweep periodically over the profiles this worker holds.

    A timer cannot write tables, so for every local profile whose window ended it sends a
    :data:`SWEEP` command to the profile's partition, where the profile agent plans and
    sends the mails (:meth:`Journey.sweep`). A command for a profile swept meanwhile finds
    nothing due and changes nothing. Which profiles are due, :class:`InterestDeadlines`
    knows; after a rebalance or a recovery it reads the table again before a round.

    Args:
        worker: The worker being built.
        rules: The journey rules; the product-interest window sets how often the sweep runs.
        deadlines: The window ends of the profiles held here.
        profiles: The profile table (customer id -> stored profile).
        inbox: The profile agent's topic, keyed by customer id.
    """
    app = worker.app
    origin = ForwardedEvent(PROFILE_EVENTS, -1, -1, None, b"", {})

    async def notes_are_stale(*_: Any, **__: Any) -> None:
        deadlines.stale = True

    app.on_rebalance_complete.connect(notes_are_stale)
    profiles.on_recover(notes_are_stale)

    @app.timer(sweep_interval(rules), name="interest-sweep")
    async def interest_sweep() -> None:
        if not worker.ready or app.rebalancing or app.in_recovery:
            return
        if deadlines.stale:
            await deadlines.rebuild(profiles)
        for customer_id in deadlines.take_due(datetime.now(UTC)):
            await origin.send(inbox, customer_id, headers={COMMAND_HEADER: SWEEP})
