"""The domain code alone: what one worker could reach if Kafka and Faust cost nothing.

Every event of a person goes through the same pure functions the agents call (decode and
check, resolve, apply, score, triggers, contact rules, encode what is sent), with plain
dicts for tables and no broker. The rate is the ceiling of the pipeline per worker: a
pipeline faster than this needs faster domain code, not a faster consume path.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from schemas.codec import Codec
from schemas.errors import SchemaError
from streams.contact import decide, outbound_record, record_contact
from streams.errors import InvalidRecordError
from streams.identity import IdentityGraph, resolve
from streams.identity_agent import PEOPLE_TOPICS, Sighting
from streams.journey_agent import LEADS_TOPIC
from streams.plausibility import check_record
from streams.profile import Profile
from streams.profile_agent import BATCH_SIZE, PROFILES_TOPIC
from streams.profile_events import apply_event, merge_profiles
from streams.rules import Rules
from streams.scoring import lead_record, score_event
from streams.triggers import observe_event
from tests.bench.measure import Throughput
from tests.bench.preload import EncodedEvent


class DomainRun:
    """The worker's state for one run: the identity graph and the stored profiles."""

    def __init__(self, codec: Codec, rules: Rules) -> None:
        self.codec = codec
        self.rules = rules
        self.graph = IdentityGraph()
        self.profiles: dict[str, dict[str, Any]] = {}
        self.changed: dict[str, Profile] = {}

    def handle(self, event: EncodedEvent) -> bool:
        """Take a source event as intake, resolver and profile agent do; False if no person's."""
        if event.topic not in PEOPLE_TOPICS:
            return False
        now = datetime.now(UTC)
        record = self.codec.decode(event.topic, event.value)
        check_record(event.topic, record, now)
        sighting = Sighting.of(event.topic, record)
        resolution = resolve(
            self.graph,
            sighting.identifiers,
            event_id=sighting.event_id,
            occurred_at=sighting.occurred_at,
        )
        self.graph.apply(resolution)
        for merge in resolution.merges:
            self._merge(merge.survivor, merge.absorbed)
        self._apply(resolution.customer_id, event.topic, record, now)
        return True

    def emit(self) -> None:
        """Encode each profile changed since the last batch once, as the emission does."""
        for _customer_id, profile in sorted(self.changed.items()):
            self.codec.encode(PROFILES_TOPIC, profile.to_record())
        self.changed.clear()

    def _merge(self, survivor_id: str, absorbed_id: str) -> None:
        absorbed = self.profiles.pop(absorbed_id, None)
        self.changed.pop(absorbed_id, None)
        if absorbed is None:
            return
        stored = self.profiles.get(survivor_id)
        survivor = Profile(survivor_id) if stored is None else Profile.from_dict(stored)
        merged = merge_profiles(survivor, Profile.from_dict(absorbed), self.rules)
        self.profiles[survivor_id] = merged.to_dict()
        self.changed[survivor_id] = merged

    def _apply(self, customer_id: str, topic: str, record: dict[str, Any], now: datetime) -> None:
        stored = self.profiles.get(customer_id)
        profile = Profile(customer_id) if stored is None else Profile.from_dict(stored)
        if apply_event(profile, topic, record, self.rules, now):
            change = score_event(profile, topic, record, self.rules)
            if change.crossed_sales_lead:
                self.codec.encode(LEADS_TOPIC, lead_record(profile))
            for job in observe_event(profile, topic, record, self.rules):
                if decide(profile, job, self.rules, now).send:
                    record_contact(profile, job, self.rules, now)
                    self.codec.encode(job.channel.topic, outbound_record(profile, job, now))
            self.profiles[customer_id] = profile.to_dict()
        self.changed[customer_id] = profile


def run_domain_ceiling(mix: list[EncodedEvent], codec: Codec, rules: Rules) -> Throughput:
    """Run the events of people of ``mix`` through the domain code and time it.

    Profiles are emitted once per :data:`BATCH_SIZE` events, the most the profile agent
    coalesces; events the intake would dead-letter are skipped and not counted.
    """
    run = DomainRun(codec, rules)
    handled = 0
    started = time.perf_counter()
    for index, event in enumerate(mix, start=1):
        try:
            handled += run.handle(event)
        except (SchemaError, InvalidRecordError):  # the intake dead-letters these
            continue
        if index % BATCH_SIZE == 0:
            run.emit()
    run.emit()
    return Throughput(handled, time.perf_counter() - started)
