"""The topic catalog: every topic of the contract with its key, layout and schema file.

Producers, consumers, the CLI and the topic set-up all read topic facts from here instead
of repeating names and key rules.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from types import MappingProxyType
from typing import Any, Literal

from schemas.errors import EncodeError, UnknownTopicError

TopicKind = Literal["source", "derived", "feedback"]

DLQ_PREFIX = "dlq."
_PARTITIONS = 4


@dataclass(frozen=True)
class TopicSpec:
    """What the contract says about one topic.

    Attributes:
        name: Topic name, e.g. ``shop.events``.
        key_fields: Value fields the message key is taken from, in order of preference.
        partitions: Number of partitions to create the topic with.
        compacted: True for a compacted topic (``cleanup.policy=compact``).
        kind: ``source`` (written by outside systems), ``derived`` (written by the streams
            and connectors) or ``feedback`` (written by devices).
    """

    name: str
    key_fields: tuple[str, ...]
    kind: TopicKind
    compacted: bool = False
    partitions: int = _PARTITIONS

    @property
    def schema_path(self) -> Traversable:
        """The packaged ``<topic>.avsc`` file with the schema of the topic's values."""
        return resources.files("schemas").joinpath(f"{self.name}.avsc")

    @property
    def dlq(self) -> str:
        """The dead-letter topic of this topic, ``dlq.<topic>``."""
        return f"{DLQ_PREFIX}{self.name}"


_SPECS = (
    TopicSpec("shop.events", ("session_id",), "source"),
    TopicSpec("cms.events", ("session_id", "email"), "source"),
    TopicSpec("erp.invoices", ("document_id",), "source"),
    TopicSpec("marketing.budget.plans", ("campaign_id",), "source", compacted=True),
    TopicSpec("rfid.production", ("chip_id",), "source"),
    TopicSpec("social.posts", ("author_handle",), "source"),
    TopicSpec("consent.events", ("customer_id", "email", "session_id"), "source"),
    TopicSpec("privacy.requests", ("request_id",), "source"),
    TopicSpec("campaign.requests", ("campaign_id",), "source"),
    TopicSpec("customer360.profiles", ("customer_id",), "derived", compacted=True),
    TopicSpec("crm.leads", ("customer_id",), "derived"),
    TopicSpec("marketing.budget.actuals", ("campaign_id",), "derived", compacted=True),
    TopicSpec("outbound.mail", ("job_id",), "derived"),
    TopicSpec("outbound.print", ("job_id",), "derived"),
    TopicSpec("device.steps", ("job_id",), "feedback"),
    TopicSpec("alerts", ("alert_id",), "derived"),
    TopicSpec("privacy.responses", ("request_id",), "derived"),
)

CATALOG: Mapping[str, TopicSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})
"""Every topic of the contract by name (dead-letter topics excluded)."""


def get_topic(name: str) -> TopicSpec:
    """Return the spec of a topic.

    Args:
        name: Topic name, e.g. ``shop.events``.

    Returns:
        The topic's spec.

    Raises:
        UnknownTopicError: The name is not a topic of the contract.
    """
    try:
        return CATALOG[name]
    except KeyError:
        known = ", ".join(CATALOG)
        msg = f"unknown topic {name!r}; known topics: {known}"
        raise UnknownTopicError(msg) from None


def dlq_topic(name: str) -> str:
    """Return the dead-letter topic of a topic.

    Raises:
        UnknownTopicError: The name is not a topic of the contract.
    """
    return get_topic(name).dlq


def origin_of_dlq(dlq_name: str) -> str | None:
    """Return the topic a dead-letter topic belongs to, or None if it is not one.

    Example: ``origin_of_dlq("dlq.shop.events")`` is ``"shop.events"``.
    """
    if not dlq_name.startswith(DLQ_PREFIX):
        return None
    origin = dlq_name.removeprefix(DLQ_PREFIX)
    return origin if origin in CATALOG else None


def record_key(spec: TopicSpec, record: Mapping[str, Any]) -> str:
    """Return the message key of a record: its first non-empty key field.

    Args:
        spec: The topic the record is written to.
        record: The record (a value of the topic's schema).

    Returns:
        The key as a string.

    Raises:
        EncodeError: None of the key fields holds a value.
    """
    for field in spec.key_fields:
        value = record.get(field)
        if value is not None and value != "":
            return str(value)
    fields = ", ".join(spec.key_fields)
    msg = f"{spec.name} record has no key: none of the fields {fields} is set"
    raise EncodeError(msg)
