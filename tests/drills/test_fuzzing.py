"""Property-based fuzzing of everything that reads outside input: codec, JSON, mappers, rules.

Whatever arrives, these functions either do their job or raise the one error class their
package promises; any other exception would take the worker or the CLI down.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.catalog import CATALOG
from schemas.codec import SingleObjectCodec
from schemas.errors import DecodeError, JsonConversionError
from schemas.jsonconv import json_to_record
from streams import normalize, salutation
from streams.profile import Profile, ProfileError
from streams.profile_events import apply_event
from streams.rules import load_rules
from streams.scoring import score_event
from streams.triggers import due_interest_triggers, observe_event
from tests.schemas.strategies import records

pytestmark = pytest.mark.slow

TOPICS = sorted(CATALOG)
PERSON_TOPICS = ("shop.events", "cms.events", "social.posts", "consent.events", "rfid.production")
CODEC = SingleObjectCodec()
RULES = load_rules()
NOW = datetime(2026, 8, 20, tzinfo=UTC)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
TEXT = st.text(max_size=40) | st.none()


@FUZZ
@given(topic=st.sampled_from(TOPICS), data=st.binary(max_size=300))
def test_decoding_arbitrary_bytes_raises_only_decode_error(topic: str, data: bytes) -> None:
    try:
        CODEC.decode(topic, data)
    except DecodeError:
        pass


@FUZZ
@given(topic=st.sampled_from(TOPICS), data=st.data())
def test_a_damaged_valid_value_decodes_or_raises_decode_error(
    topic: str, data: st.DataObject
) -> None:
    encoded = bytearray(CODEC.encode(topic, data.draw(records(topic))))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(encoded) - 1))
        encoded[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(encoded)))
    try:
        CODEC.decode(topic, bytes(encoded[:cut]))
    except DecodeError:
        pass


@FUZZ
@given(topic=st.sampled_from(TOPICS), obj=st.dictionaries(st.text(max_size=12), JSON_VALUES))
def test_converting_arbitrary_json_raises_only_json_conversion_error(
    topic: str, obj: dict[str, Any]
) -> None:
    try:
        json_to_record(topic, obj)
    except JsonConversionError:
        pass


@FUZZ
@given(topic=st.sampled_from(TOPICS), data=st.data())
def test_a_valid_json_line_with_one_field_replaced_converts_or_is_refused(
    topic: str, data: st.DataObject
) -> None:
    record = data.draw(records(topic))
    obj = json.loads(json.dumps(record, default=str))
    name = data.draw(st.sampled_from(sorted(obj)))
    obj[name] = data.draw(JSON_VALUES)
    try:
        CODEC.encode(topic, json_to_record(topic, obj))
    except JsonConversionError:
        pass


@FUZZ
@given(raw=TEXT, region=st.sampled_from(["DE", "AT", "CH", "US", "XX"]))
def test_normalisers_return_a_value_or_none_for_any_text(raw: str | None, region: str) -> None:
    assert normalize.normalize_email(raw) is None or "@" in str(normalize.normalize_email(raw))
    phone = normalize.normalize_phone(raw, region)
    assert phone is None or phone.startswith("+")
    country = normalize.normalize_country(raw)
    assert country is None or len(country) == 2
    normalize.normalize_postal_code(raw, country)
    if raw is not None:
        assert isinstance(normalize.normalize_handle(raw), str)
        assert isinstance(normalize.normalize_name(raw), str)
        assert isinstance(normalize.normalize_keyword(raw), str)


@FUZZ
@given(gender=TEXT, title=TEXT, first=TEXT, last=TEXT)
def test_salutations_are_built_for_any_master_data(
    gender: str | None, title: str | None, first: str | None, last: str | None
) -> None:
    assert salutation.salutation(gender) in {"Frau", "Herr", ""}
    assert isinstance(salutation.normalize_title(title), str)
    line = salutation.letter_salutation(gender, title, first, last)
    assert line.startswith(("Sehr geehrte", "Guten Tag"))
    assert all(
        isinstance(part, str) for part in salutation.address_lines(gender, title, first, last)
    )


@FUZZ
@given(topic=st.sampled_from(PERSON_TOPICS), data=st.data())
def test_rules_evaluate_any_valid_event_sequence(topic: str, data: st.DataObject) -> None:
    profile = Profile("cust-fuzz")
    for record in data.draw(st.lists(records(topic), min_size=1, max_size=4)):
        if apply_event(profile, topic, record, RULES, NOW):
            change = score_event(profile, topic, record, RULES)
            assert change.points >= 0
            observe_event(profile, topic, record, RULES)
    due_interest_triggers(profile, NOW, RULES)
    assert profile.lead_score >= 0
    Profile.from_dict(json.loads(json.dumps(profile.to_dict())))


@FUZZ
@given(topic=st.sampled_from([t for t in TOPICS if t not in PERSON_TOPICS]), data=st.data())
def test_events_that_describe_no_person_are_refused_with_profile_error(
    topic: str, data: st.DataObject
) -> None:
    with pytest.raises(ProfileError):
        apply_event(Profile("cust-fuzz"), topic, data.draw(records(topic)), RULES, NOW)
