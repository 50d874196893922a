"""Segment campaigns in the worker: every profile partition sends its part, one summary adds up.

A ``campaign.requests`` event is copied to every partition of the profile topic, so the
owner of each partition picks the matching people among its own profiles; each part's
summary goes to one table keyed by campaign id, where ``GET /campaigns/{id}`` adds them up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import faust
import structlog
from faust.types import TableT

from streams.campaigns import CampaignSummary, run_campaign
from streams.context import WorkerContext
from streams.forwarded import COMMAND_HEADER, ForwardedEvent, internal_topic, key_partition
from streams.in_order_producer import acknowledged
from streams.intake import SourceRecord
from streams.journey_agent import Journey
from streams.profile import Profile
from streams.table_walk import rows_in_slices

log = structlog.get_logger(__name__)

CAMPAIGN_REQUESTS = "campaign.requests"
CAMPAIGN = "campaign"
"""Command on the profile topic, one copy per partition: run the campaign on that partition."""
CAMPAIGN_PARTS = "journeyhub-campaign-parts"
"""Internal topic: one partition's campaign summary, keyed by campaign id."""
CAMPAIGN_RUNS_TABLE = "campaign-runs"
"""Table on the profile partitions: ``campaign_id:partition`` -> the part's summary."""
CAMPAIGNS_TABLE = "campaign-summaries"
"""Table: campaign id -> partition -> the part's summary (:meth:`CampaignSummary.to_record`)."""


def campaign_summary(parts: Mapping[str, Mapping[str, Any]], partitions: int) -> dict[str, Any]:
    """Return the summary of a campaign from the parts its profile partitions reported.

    Args:
        parts: Partition (as text) to that partition's summary record.
        partitions: How many profile partitions there are.

    Returns:
        The summed summary record, with ``partitions_reported`` and ``partitions`` so a
        reader sees whether every part has come in.
    """
    summaries = [CampaignSummary.from_record(part) for _, part in sorted(parts.items())]
    total = summaries[0]
    for summary in summaries[1:]:
        total = total.combine(summary)
    return {**total.to_record(), "partitions_reported": len(parts), "partitions": partitions}


class CampaignDesk:
    """Fans campaign requests out, runs them per partition, and keeps the summaries."""

    def __init__(
        self, worker: WorkerContext, journey: Journey, profiles: TableT, inbox: faust.TopicT
    ) -> None:
        """Declare the tables, topic and agent; use the profile agent's table and topic.

        Args:
            worker: The worker being built.
            journey: Publishes the jobs and counts suppressions.
            profiles: The profile table (customer id -> stored profile).
            inbox: The profile agent's topic, keyed by customer id.
        """
        app = self._app = worker.app
        self._codec = worker.codec
        self._metrics = worker.metrics
        self._journey = journey
        self._profiles = profiles
        self._inbox = inbox
        self.partitions: int = app.conf.topic_partitions
        self.runs = app.Table(CAMPAIGN_RUNS_TABLE, key_type=str)
        self.summaries = app.Table(CAMPAIGNS_TABLE, key_type=str)
        self._parts = internal_topic(app, CAMPAIGN_PARTS)

        @app.agent(self._parts, name="campaign-summaries")
        async def collect(stream: faust.StreamT[bytes]) -> None:
            async for event in stream.events():
                part = json.loads(event.value)
                campaign_id = str(event.key)
                parts = dict(self.summaries.get(campaign_id) or {})
                parts[str(part["partition"])] = part["summary"]
                self.summaries[campaign_id] = parts

    async def fan_out(self, record: SourceRecord) -> None:
        """Intake handler: copy a campaign request to every partition of the profile topic."""
        forwarded = ForwardedEvent.from_record(record)
        command = {COMMAND_HEADER: CAMPAIGN}
        for partition in range(self.partitions):
            await forwarded.send(self._inbox, record.key, headers=command, partition=partition)
        log.info("campaign_requested", campaign_id=record.value["campaign_id"])

    async def run(self, partition: int, forwarded: ForwardedEvent) -> None:
        """Run a campaign on the profiles of ``partition`` (the copy's), once per partition.

        A redelivered copy reports the part stored the first time instead of running again.
        """
        request = forwarded.decode(self._codec)
        campaign_id = request["campaign_id"]
        run_key = f"{campaign_id}:{partition}"
        summary = self.runs.get(run_key)
        if summary is None:
            summary = (await self._send_jobs(request, partition)).to_record()
            self.runs[run_key] = summary
        part = json.dumps({"partition": partition, "summary": summary}).encode("utf-8")
        await self._parts.send(key=campaign_id, value=part)

    async def _send_jobs(self, request: Mapping[str, Any], partition: int) -> CampaignSummary:
        now = datetime.now(UTC)
        local = [
            Profile.from_dict(stored)
            async for _, stored in rows_in_slices(
                self._profiles, lambda key: key_partition(key, self.partitions) == partition
            )
        ]
        jobs, summary = run_campaign(request, local, self._journey.rules, now)
        by_id = {profile.customer_id: profile for profile in local}
        deliveries = [await self._journey.publish(by_id[job.customer_id], job, now) for job in jobs]
        # One wait for the whole part: every job is with the broker before any profile that
        # remembers it is written.
        await acknowledged(self._app, deliveries)
        for job in jobs:
            profile = by_id[job.customer_id]
            self._profiles[profile.customer_id] = profile.to_dict()
        for reason, count in summary.suppressed.items():
            self._journey.suppressed(reason.value, count)
        self._metrics.campaign_matched.labels(campaign_id=summary.campaign_id).inc(summary.matched)
        log.info(
            "campaign_part_sent",
            campaign_id=summary.campaign_id,
            partition=partition,
            matched=summary.matched,
            sent=summary.sent,
        )
        return summary
