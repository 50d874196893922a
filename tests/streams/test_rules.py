import copy
import re
from collections.abc import Callable
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.rules import Rules, RulesError, load_rules

Data = dict[str, Any]


@pytest.fixture
def packaged() -> Data:
    text = resources.files("streams").joinpath("rules.yaml").read_text(encoding="utf-8")
    data: Data = yaml.safe_load(text)
    return data


def _load(tmp_path: Path, data: Data) -> Rules:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_rules(path)


def test_packaged_rules_are_the_contract_defaults() -> None:
    rules = load_rules(None)
    scoring = rules.lead_scoring
    assert scoring.points == {
        "download": 10,
        "survey_answered": 20,
        "email_opened": 10,
        "webinar_clicked": 30,
    }
    assert (scoring.thresholds.marketing_lead, scoring.thresholds.sales_lead) == (20, 50)
    assert rules.source_priority == ["shop.events", "cms.events", "social.posts"]
    interest = rules.triggers.product_interest
    assert (interest.min_product_views, interest.min_downloads) == (2, 1)
    assert interest.window == timedelta(hours=24)
    assert rules.triggers.cross_sell.companions["road_bike"].template == "cross_sell"
    assert rules.triggers.survey_invitation.sample_pct == 10
    cap = rules.contact.marketing_mail_cap
    assert (cap.max, cap.window) == (1, timedelta(hours=24))


def test_absent_consent_is_granted_for_customers_and_refused_for_prospects() -> None:
    defaults = load_rules(None).contact.consent_defaults
    for purpose in ("marketing_email", "marketing_print"):
        assert defaults.assumed(purpose, is_customer=True) is True
        assert defaults.assumed(purpose, is_customer=False) is False
    assert defaults.assumed("telepathy", is_customer=True) is False


def test_a_copy_of_the_packaged_file_loads_the_same_rules(tmp_path: Path, packaged: Data) -> None:
    assert _load(tmp_path, packaged) == load_rules(None)


def test_window_may_be_given_in_seconds_for_tests(tmp_path: Path, packaged: Data) -> None:
    interest = packaged["triggers"]["product_interest"]
    del interest["window_hours"]
    interest["window_seconds"] = 1.5
    assert _load(tmp_path, packaged).triggers.product_interest.window == timedelta(seconds=1.5)


def test_keyword_points_match_normalised_keywords(tmp_path: Path, packaged: Data) -> None:
    packaged["lead_scoring"]["keyword_points"] = {"#Road Bike": 5}
    assert _load(tmp_path, packaged).lead_scoring.keyword_points == {"road_bike": 5}


def test_watched_categories_match_normalised_categories(tmp_path: Path, packaged: Data) -> None:
    packaged["triggers"]["product_interest"]["categories"] = ["Road Bike", "running_shoes"]
    watched = _load(tmp_path, packaged).triggers.product_interest.categories
    assert watched == ["road_bike", "running_shoes"]
    assert load_rules(None).triggers.product_interest.categories == []


_DROP = object()


def _set(path: str, value: Any) -> Callable[[Data], None]:
    """A change of the rules data: set the dotted ``path`` to ``value``, or drop it."""

    def change(data: Data) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[part]
        if value is _DROP:
            del node[last]
        else:
            node[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _set("lead_scoring.points.download", "ten"),
            "lead_scoring.points.download: expected an integer ≥ 0, got 'ten'",
        ),
        (
            _set("lead_scoring.points.download", -5),
            "lead_scoring.points.download: expected an integer ≥ 0, got -5",
        ),
        (
            _set("lead_scoring.points.download", True),
            "lead_scoring.points.download: expected an integer ≥ 0, got True",
        ),
        (_set("lead_scoring.points.donwload", 10), "lead_scoring.points.donwload: unknown name"),
        (
            _set("lead_scoring.pionts", {}),
            "lead_scoring.pionts: unknown rule; expected one of points, keyword_points",
        ),
        (
            _set("lead_scoring.thresholds.sales_lead", 10),
            "lead_scoring.thresholds: sales_lead (10) must not be below marketing_lead (20)",
        ),
        (_set("source_priority", ["shop.events", "cms.event"]), "source_priority[1]: unknown name"),
        (
            _set("source_priority", ["shop.events", "shop.events"]),
            "source_priority: a source is listed twice",
        ),
        (
            _set("triggers.product_interest.window_seconds", 60),
            "triggers.product_interest: set exactly one of window_hours or window_seconds",
        ),
        (
            _set("triggers.survey_invitation.sample_pct", 150),
            "triggers.survey_invitation.sample_pct: expected a percentage from 0 to 100",
        ),
        (
            _set("triggers.cross_sell.companions.road_bike.skuu", "X"),
            "triggers.cross_sell.companions.road_bike.skuu: unknown rule; expected one of sku",
        ),
        (
            _set("contact.consent_defaults.customer.analytics", "yes"),
            "contact.consent_defaults.customer.analytics: expected true or false, got 'yes'",
        ),
        (
            _set("triggers.survey_invitation.subject", _DROP),
            "triggers.survey_invitation.subject: required rule is missing",
        ),
        (
            _set("triggers.cross_sell.companions.road_bike.subject", ""),
            "triggers.cross_sell.companions.road_bike.subject: expected a non-empty name",
        ),
        (
            _set("contact.marketing_mail_cap", _DROP),
            "contact.marketing_mail_cap: required rule is missing",
        ),
        (_set("interests", 5), "interests: expected a mapping of rules, got 5"),
        (_set("contact.transactional_templates", [" x"]), "contact.transactional_templates[0]"),
    ],
)
def test_a_wrong_rule_stops_with_a_message_naming_it(
    tmp_path: Path, packaged: Data, change: Callable[[Data], None], message: str
) -> None:
    data = copy.deepcopy(packaged)
    change(data)
    with pytest.raises(RulesError, match="^" + re.escape(message)):
        _load(tmp_path, data)


def test_every_wrong_rule_is_named_at_once(tmp_path: Path, packaged: Data) -> None:
    packaged["lead_scoring"]["points"]["download"] = "ten"
    packaged["interests"]["social_hashtag"] = -1
    with pytest.raises(RulesError) as raised:
        _load(tmp_path, packaged)
    assert "lead_scoring.points.download" in str(raised.value)
    assert "interests.social_hashtag" in str(raised.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(RulesError, match=f"{missing}: cannot read the rules file"):
        load_rules(missing)


def test_file_that_is_not_yaml_says_where(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("lead_scoring: [1\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"not valid YAML \(.* at line 2\)"):
        load_rules(path)


def test_file_that_is_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(RulesError, match="expected a mapping of rule sections, got list"):
        load_rules(path)
