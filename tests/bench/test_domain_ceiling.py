"""The domain-only scenario does the pipeline's work: its profiles match the workload's truth."""

from schemas.codec import make_codec
from streams.identity_agent import PEOPLE_TOPICS
from streams.profile import Profile
from streams.rules import load_rules
from streams.workload import build_workload
from tests.bench.domain_ceiling import DomainRun, run_domain_ceiling
from tests.bench.preload import EncodedEvent, build_mix

MALFORMED = b"\xc3\x01not-a-fingerprint"
"""The bytes the workload sends as a malformed record (streams.workload)."""


def test_profiles_orders_and_leads_match_the_ground_truth() -> None:
    codec = make_codec(None)
    generated, truth = build_workload(80, seed=11)
    run = DomainRun(codec, load_rules())
    for event in generated:
        if event.value is not None:
            value = codec.encode(event.topic, event.value)
            run.handle(EncodedEvent(event.topic, event.key.encode(), value))

    people = truth.customer_emails | truth.prospect_emails
    profiles = {}
    for email in people:
        owner = run.graph.owner(f"email:{email}")
        assert owner is not None, email
        profiles[email] = Profile.from_dict(run.profiles[owner])
    assert {email: len(profile.orders) for email, profile in profiles.items()} == {
        email: truth.orders_by_email[email] for email in people
    }
    leads = {email for email, profile in profiles.items() if profile.lead_at is not None}
    assert leads == truth.sales_leads()
    assert truth.sales_leads()


def test_only_valid_events_of_people_are_counted() -> None:
    codec = make_codec(None)
    mix = build_mix(400, seed=3, codec=codec)
    valid_people = [
        event
        for event in mix
        if event.topic in PEOPLE_TOPICS and not event.value.startswith(MALFORMED)
    ]

    rate = run_domain_ceiling(mix, codec, load_rules())

    assert len(valid_people) < len(mix)
    assert rate.events == len(valid_people)
    assert rate.seconds > 0
