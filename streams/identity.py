"""The identity graph: which canonical customer id an event's identifiers belong to.

Shop, CMS, social listening, RFID readers and the consent banner each name a person
differently; resolving their identifiers (:mod:`streams.identifiers`) to one id, and merging
two ids that turn out to be one person, is what makes one profile per person.

State layout for the agent (all JSON-able, one changelogged table each):

- identity table, ``IdentityKey -> customer_id``: who owns each identifier;
- alias table, ``absorbed customer_id -> survivor customer_id``: ids merged away, read
  through :func:`follow_alias`, which shortens chains as it walks them;
- born table, ``customer_id -> first seen (epoch ms)``: decides which id survives a merge.

Resolution reads every identifier of an event, so these tables must be readable for any key
(global tables, or one resolver partition). Ids are derived from identifiers, so replaying
the same events yields the same ids.
"""

import hashlib
import sys
from collections import ChainMap
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from streams.identifiers import KINDS, IdentityError, IdentityKey, in_kind_order, is_strong, kind_of
from streams.normalize import to_epoch_ms

PROVISIONAL_PREFIX = "anon-"
CUSTOMER_PREFIX = "c-"


def is_provisional(customer_id: str) -> bool:
    """Whether the id belongs to an anonymous visitor known only by a session."""
    return customer_id.startswith(PROVISIONAL_PREFIX)


def derive_customer_id(key: IdentityKey) -> str:
    """Return the id of a new customer first known by ``key``; the same key, the same id.

    Args:
        key: A strong identifier, or a session for an anonymous visitor.

    Returns:
        ``c-`` (or ``anon-`` for a session) and the first 16 hex digits of the key's SHA-1.
    """
    prefix = CUSTOMER_PREFIX if is_strong(key) else PROVISIONAL_PREFIX
    digest = hashlib.sha1(key.encode("utf-8"), usedforsecurity=False).hexdigest()
    return prefix + digest[:16]


@dataclass(frozen=True)
class Merge:
    """Two customer ids found to be one person: ``absorbed`` now reads as ``survivor``."""

    survivor: str
    absorbed: str
    cause_event_id: str

    def to_dict(self) -> dict[str, str]:
        """Return the merge as a JSON-able dict."""
        return {
            "survivor": self.survivor,
            "absorbed": self.absorbed,
            "cause_event_id": self.cause_event_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> "Merge":
        """Rebuild a merge from :meth:`to_dict`."""
        return cls(data["survivor"], data["absorbed"], data["cause_event_id"])


class ResolutionOutcome(StrEnum):
    """What resolving an event did: counted by outcome in the worker's metrics."""

    NEW = "new"
    """The event is a new person's."""
    KNOWN = "known"
    """The event is a known person's."""
    MERGED = "merged"
    """The event proved two or more known people to be one."""


@dataclass(frozen=True)
class Resolution:
    """What one event means for the identity graph, and the writes that record it.

    Attributes:
        customer_id: The canonical id the event belongs to.
        assignments: Identity-table writes, ``IdentityKey -> customer_id``.
        merges: Ids absorbed into ``customer_id``; their profiles merge into its profile.
        born: Born-table writes, ``customer_id -> first seen (epoch ms)``: for a new id, a
            merge, or an event older than the customer's first-seen time.
        created: True when ``customer_id`` is new.
    """

    customer_id: str
    assignments: dict[IdentityKey, str] = field(default_factory=dict)
    merges: tuple[Merge, ...] = ()
    born: dict[str, int] = field(default_factory=dict)
    created: bool = False

    @property
    def outcome(self) -> ResolutionOutcome:
        """Merged, new or known, in that order: a merge may also create the survivor's id."""
        if self.merges:
            return ResolutionOutcome.MERGED
        return ResolutionOutcome.NEW if self.created else ResolutionOutcome.KNOWN


class GraphView(Protocol):
    """Read access to the identity graph that :func:`resolve` needs."""

    def owner(self, key: IdentityKey) -> str | None:
        """The canonical customer id owning ``key`` (aliases followed), or None."""

    def first_seen(self, customer_id: str) -> int | None:
        """When the customer was first seen (epoch ms), or None when unknown."""


def follow_alias(aliases: MutableMapping[str, str], customer_id: str) -> str:
    """Return the surviving id of ``customer_id``, pointing every id on the way straight at it.

    Args:
        aliases: The alias table ``absorbed -> survivor``; shortened in place.
        customer_id: Any customer id, merged away or not.

    Returns:
        The id that survived every merge ``customer_id`` took part in.

    Raises:
        IdentityError: The alias table contains a cycle.
    """
    path: list[str] = []
    current = customer_id
    while (survivor := aliases.get(current)) is not None:  # one lookup a step
        if current in path:
            msg = f"alias table has a cycle through {current}; repair the identity state"
            raise IdentityError(msg)
        path.append(current)
        current = survivor
    for absorbed in path[:-1]:
        aliases[absorbed] = current
    return current


@dataclass
class IdentityGraph:
    """The three identity tables; plain dicts in tests, Faust tables in the worker."""

    keys: MutableMapping[IdentityKey, str] = field(default_factory=dict)
    aliases: MutableMapping[str, str] = field(default_factory=dict)
    born: MutableMapping[str, int] = field(default_factory=dict)

    def owner(self, key: IdentityKey) -> str | None:
        """The canonical customer id owning ``key``, or None when nobody does."""
        customer_id = self.keys.get(key)
        return follow_alias(self.aliases, customer_id) if customer_id else None

    def first_seen(self, customer_id: str) -> int | None:
        """When the customer was first seen (epoch ms), or None."""
        return self.born.get(customer_id)

    def apply(self, resolution: Resolution) -> None:
        """Write what :func:`resolve` decided, key by key.

        One assignment per key, never ``update()``: a Faust table on RocksDB cannot
        ``update()`` (its store is not a dict).
        """
        for key, customer_id in resolution.assignments.items():
            self.keys[key] = customer_id
        for merge in resolution.merges:
            self.aliases[merge.absorbed] = merge.survivor
        for customer_id, first_seen in resolution.born.items():
            self.born[customer_id] = first_seen


class Overlay(ChainMap[str, Any]):
    """Writes held in front of a table: a ``ChainMap`` whose ``get`` reads each map once.

    ``ChainMap.get`` first asks every map whether it holds the key, then reads it from the
    first that does; a table kept in RocksDB answers each question by a lookup in its database.
    """

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` in the first map that holds it, else ``default``."""
        try:
            return self[key]
        except KeyError:
            return default


@dataclass
class StagedGraph:
    """Resolutions held back from an identity graph, and a view of the graph that shows them.

    The resolver sends what a bundle of events resolved to before it writes the graph, so that
    a crash in between replays the bundle instead of hiding its merges; the bundle's later
    events must still see the links its earlier events made.
    """

    graph: IdentityGraph
    view: IdentityGraph = field(init=False)
    """The graph as it will be after :meth:`commit`; what is written to it is held back."""
    resolutions: list[Resolution] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.view = IdentityGraph(
            keys=Overlay({}, self.graph.keys),
            aliases=Overlay({}, self.graph.aliases),
            born=Overlay({}, self.graph.born),
        )

    def apply(self, resolution: Resolution) -> None:
        """Show a resolution in the view now; write it to the graph at :meth:`commit`."""
        self.view.apply(resolution)
        self.resolutions.append(resolution)

    def commit(self) -> None:
        """Write the held-back resolutions to the graph, once, in the order they were made.

        Each is written as :meth:`IdentityGraph.apply` writes it, so a crash part-way leaves
        the graph's changelog as after a prefix of them, as writing one event at a time did:
        keys never lead to a customer whose birth or merge is missing for a later event.
        """
        for resolution in self.resolutions:
            self.graph.apply(resolution)
        self.resolutions.clear()


def owners(graph: GraphView, identifiers: Iterable[IdentityKey]) -> set[str]:
    """Return every canonical customer id that owns one of ``identifiers``, changing nothing.

    Args:
        graph: The identity graph.
        identifiers: Identity keys, e.g. of a privacy request.

    Returns:
        The owners; empty when no identifier is known.
    """
    return {owner for key in identifiers if (owner := graph.owner(key))}


def resolve(
    graph: GraphView, identifiers: Iterable[IdentityKey], *, event_id: str, occurred_at: datetime
) -> Resolution:
    """Decide which customer an event belongs to; merge customers it proves to be one.

    - No identifier known: a new id derived from the strongest identifier (a session alone
      gives a provisional ``anon-`` id).
    - Strong identifiers owned by several customers: they merge; the id first seen earliest
      survives (equal times: the smallest id), whichever order the events came in.
    - A session owned by an anonymous visitor joins the customer who logs in or checks out
      with it: the visitor's id is merged into the customer, so earlier events count.
    - A session owned by another known customer (a shared computer) is not a reason to
      merge: the session simply belongs to the customer seen with it last.

    Resolving the same identifiers again changes nothing.

    Args:
        graph: Read access to the identity tables.
        identifiers: The event's identity keys (see :func:`identifiers_from`).
        event_id: Id of the event, recorded as the cause of any merge.
        occurred_at: Event time, the first-seen time of a new customer.

    Returns:
        The canonical id and the table writes; apply them with :meth:`IdentityGraph.apply`.

    Raises:
        IdentityError: The event carries no identifier at all.
    """
    given = set(identifiers)
    unknown = sorted(key for key in given if kind_of(key) not in KINDS)
    if unknown:
        msg = f"event {event_id}: unknown identifier kind in {unknown}; expected one of {KINDS}"
        raise IdentityError(msg)
    keys = sorted(given, key=in_kind_order)
    if not keys:
        msg = f"event {event_id} carries no identifier of a person; it cannot be attributed"
        raise IdentityError(msg)
    owned = {key: graph.owner(key) for key in keys}
    strong = [key for key in keys if is_strong(key)]
    strong_owners = {owner for key in strong if (owner := owned[key])}
    session_owners = [owner for key in keys if not is_strong(key) and (owner := owned[key])]

    def age(customer_id: str) -> tuple[int, str]:
        first = graph.first_seen(customer_id)
        return (sys.maxsize if first is None else first, customer_id)

    created = False
    if strong_owners:
        survivor = min(strong_owners, key=age)
    elif strong:
        survivor, created = derive_customer_id(strong[0]), True
    elif session_owners:
        survivor = session_owners[0]
    else:
        survivor, created = derive_customer_id(keys[0]), True

    anonymous = {owner for owner in session_owners if is_provisional(owner)}
    absorbed = sorted((strong_owners | anonymous) - {survivor})
    merges = tuple(Merge(survivor, owner, event_id) for owner in absorbed)
    known = graph.first_seen(survivor)
    times = [known, to_epoch_ms(occurred_at), *(graph.first_seen(owner) for owner in absorbed)]
    earliest = min(time for time in times if time is not None)
    born = {survivor: earliest} if earliest != known else {}
    assignments = {key: survivor for key in keys if owned[key] != survivor}
    return Resolution(survivor, assignments, merges, born, created)
