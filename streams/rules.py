"""The business rules of journeyhub, read from one YAML file and checked once at start.

Lead scoring, master-data source priority, triggers, contact rules and interest weights are
what marketing changes without a release; a typo or a wrong value must stop the worker with
a message naming the rule instead of silently scoring with a default.
"""

import math
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from streams.errors import JourneyhubError
from streams.normalize import normalize_keyword

CmsEventType = Literal[
    "content_view",
    "download",
    "form_submit",
    "survey_answered",
    "webinar_registered",
    "webinar_clicked",
    "email_opened",
    "email_clicked",
]
ShopEventType = Literal[
    "page_view", "product_view", "add_to_cart", "checkout", "order_placed", "return_requested"
]
MasterDataTopic = Literal["shop.events", "cms.events", "social.posts"]


class RulesError(JourneyhubError):
    """The rules file is missing, is not YAML, or a rule in it has a wrong value."""


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"expected an integer ≥ 0, got {value!r}"
        raise ValueError(msg)
    return value


def _number(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        msg = f"expected a number ≥ 0, got {value!r}"
        raise ValueError(msg)
    return float(value)


def _positive_number(value: object) -> float:
    number = _number(value)
    if number == 0:
        msg = f"expected a number > 0, got {value!r}"
        raise ValueError(msg)
    return number


def _percent(value: object) -> float:
    number = _number(value)
    if number > 100:
        msg = f"expected a percentage from 0 to 100, got {value!r}"
        raise ValueError(msg)
    return number


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        msg = f"expected true or false, got {value!r}"
        raise ValueError(msg)
    return value


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        msg = f"expected a non-empty name without surrounding spaces, got {value!r}"
        raise ValueError(msg)
    return value


Points = Annotated[int, PlainValidator(_integer)]
Weight = Annotated[float, PlainValidator(_number)]
PositiveNumber = Annotated[float, PlainValidator(_positive_number)]
Percent = Annotated[float, PlainValidator(_percent)]
Flag = Annotated[bool, PlainValidator(_flag)]
Name = Annotated[str, PlainValidator(_name)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Windowed(_Section):
    """A section with a time window, given in hours or (handy in tests) in seconds."""

    window_hours: PositiveNumber | None = None
    window_seconds: PositiveNumber | None = None

    @model_validator(mode="after")
    def _exactly_one_window(self) -> Self:
        if (self.window_hours is None) == (self.window_seconds is None):
            msg = "set exactly one of window_hours or window_seconds"
            raise ValueError(msg)
        return self

    @property
    def window(self) -> timedelta:
        """The window as a duration."""
        if self.window_seconds is not None:
            return timedelta(seconds=self.window_seconds)
        return timedelta(hours=self.window_hours or 0)


class Thresholds(_Section):
    """Scores at which a person becomes a marketing lead and a sales lead."""

    marketing_lead: Points
    sales_lead: Points

    @model_validator(mode="after")
    def _sales_after_marketing(self) -> Self:
        if self.sales_lead < self.marketing_lead:
            msg = (
                f"sales_lead ({self.sales_lead}) must not be below "
                f"marketing_lead ({self.marketing_lead})"
            )
            raise ValueError(msg)
        return self


class LeadScoring(_Section):
    """Points per CMS event type, keyword and content, and the lead thresholds."""

    points: dict[CmsEventType, Points]
    keyword_points: dict[str, Points] = {}
    content_points: dict[str, Points] = {}
    thresholds: Thresholds

    @field_validator("keyword_points", mode="after")
    @classmethod
    def _normalise_keywords(cls, value: dict[str, int]) -> dict[str, int]:
        return {normalize_keyword(keyword): points for keyword, points in value.items()}


class ProductInterestTrigger(_Windowed):
    """Interest in a category without an order within the window: one mail."""

    min_product_views: Points
    min_downloads: Points
    categories: list[Name] = []
    template: Name
    subject: Name

    @field_validator("categories", mode="after")
    @classmethod
    def _normalise_categories(cls, value: list[str]) -> list[str]:
        return [normalize_keyword(category) for category in value]


class Companion(_Section):
    """The product offered after an order of its partner."""

    sku: Name
    name: Name
    template: Name
    subject: Name


class CrossSellTrigger(_Section):
    """Companions by product category or SKU of the ordered item."""

    companions: dict[str, Companion]


class SurveyInvitationTrigger(_Section):
    """The share of orders that gets a survey invitation."""

    sample_pct: Percent
    template: Name
    subject: Name


class Triggers(_Section):
    """The automatic mails."""

    product_interest: ProductInterestTrigger
    cross_sell: CrossSellTrigger
    survey_invitation: SurveyInvitationTrigger


class ConsentDefault(_Section):
    """Consent assumed per purpose when a person never stated it."""

    personalization: Flag
    marketing_email: Flag
    marketing_print: Flag
    analytics: Flag


class ConsentDefaults(_Section):
    """Assumed consent for existing customers and for prospects."""

    customer: ConsentDefault
    prospect: ConsentDefault

    def assumed(self, purpose: str, *, is_customer: bool) -> bool:
        """Whether consent to ``purpose`` is assumed for a person who never stated it.

        Args:
            purpose: A consent purpose such as ``marketing_email``.
            is_customer: True for an existing customer, False for a prospect.

        Returns:
            The configured default; False for a purpose the rules do not know.
        """
        defaults = self.customer if is_customer else self.prospect
        return bool(getattr(defaults, purpose, False))


class MailCap(_Windowed):
    """At most ``max`` marketing mails per person within the window."""

    max: Points


class ContactRules(_Section):
    """Consent defaults, the marketing frequency cap and the uncapped templates."""

    consent_defaults: ConsentDefaults
    marketing_mail_cap: MailCap
    transactional_templates: list[Name]


class InterestRules(_Section):
    """Weights that each signal adds to an interest keyword."""

    shop: dict[ShopEventType, Weight]
    cms: dict[CmsEventType, Weight]
    social_hashtag: Weight
    max_keywords: Points


class Rules(_Section):
    """Every rule of the packaged ``rules.yaml`` or the file ``JOURNEYHUB_RULES`` names."""

    lead_scoring: LeadScoring
    source_priority: list[MasterDataTopic]
    triggers: Triggers
    contact: ContactRules
    interests: InterestRules

    @model_validator(mode="after")
    def _distinct_sources(self) -> Self:
        if not self.source_priority:
            msg = "source_priority: list at least one source"
            raise ValueError(msg)
        if len(set(self.source_priority)) != len(self.source_priority):
            msg = f"source_priority: a source is listed twice in {self.source_priority}"
            raise ValueError(msg)
        return self


def load_rules(path: Path | None = None) -> Rules:
    """Read and check the rules.

    Args:
        path: A YAML rules file; None reads the packaged default (CONTRACT section 7).

    Returns:
        The checked rules.

    Raises:
        RulesError: The file is missing or not YAML, or a rule is unknown or has a wrong
            value; the message names every such rule, e.g.
            ``lead_scoring.points.download: expected an integer ≥ 0, got 'ten'``.
    """
    if path is None:
        text = resources.files("streams").joinpath("rules.yaml").read_text(encoding="utf-8")
        origin = "packaged rules.yaml"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            msg = f"{path}: cannot read the rules file ({error.strerror})"
            raise RulesError(msg) from error
        origin = str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        msg = f"{origin}: not valid YAML ({_yaml_problem(error)})"
        raise RulesError(msg) from error
    if not isinstance(data, dict):
        msg = f"{origin}: expected a mapping of rule sections, got {type(data).__name__}"
        raise RulesError(msg)
    try:
        return Rules.model_validate(data)
    except ValidationError as error:
        raise RulesError("; ".join(_describe(detail) for detail in error.errors())) from None


_EXPECTED = {
    "model_type": "a mapping of rules",
    "model_attributes_type": "a mapping of rules",
    "dict_type": "a mapping",
    "list_type": "a list",
}


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or "syntax error"
    return f"{problem} at line {mark.line + 1}" if mark is not None else str(problem)


def _describe(detail: ErrorDetails) -> str:
    """One line per problem: the dotted rule path, then what is wrong."""
    location = [str(part) for part in detail["loc"] if part != "[key]"]
    where = _dotted(location)
    kind = detail["type"]
    if kind == "missing":
        what = "required rule is missing"
    elif kind == "extra_forbidden":
        allowed = _allowed_keys(location[:-1])
        what = f"unknown rule; expected one of {', '.join(allowed)}"
    elif kind == "literal_error":
        what = f"unknown name {detail['input']!r}; expected {detail['msg'].split(' be ', 1)[-1]}"
    elif kind == "value_error":
        what = str(detail.get("ctx", {}).get("error", detail["msg"]))
    elif kind in _EXPECTED:
        what = f"expected {_EXPECTED[kind]}, got {detail['input']!r}"
    else:
        what = f"{detail['msg']}, got {detail['input']!r}"
    return f"{where}: {what}" if where else what


def _dotted(location: list[str]) -> str:
    parts: list[str] = []
    for part in location:
        if part.isdigit() and parts:
            parts[-1] += f"[{part}]"
        else:
            parts.append(part)
    return ".".join(parts)


def _allowed_keys(location: list[str]) -> list[str]:
    """The rule names of the section at ``location``, for an unknown-rule message."""
    annotation: Any = Rules
    for part in location:
        if get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
            continue
        if not _is_section(annotation) or part not in annotation.model_fields:
            return []
        annotation = annotation.model_fields[part].annotation
    return list(annotation.model_fields) if _is_section(annotation) else []


def _is_section(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
