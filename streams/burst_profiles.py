"""The profile table as the profile agent uses it within a burst: profiles kept as objects.

A person's events tend to come close together (a session's clicks, a checkout), so a burst
often changes one profile several times. Reading it back from the table for each event would
rebuild it from its stored form, and writing it each time would send a changelog record per
event. Here a changed profile stays an object until the burst ends and is then written once,
just before it is emitted; the burst's events are acknowledged only after both
(:mod:`streams.bursts`), so a crash in between replays them as before.

Code that works on the table itself (campaigns, privacy requests) gets it settled first: every
held profile written, and read back from the table for the emission, as that code may change it.
An event whose handling fails is dead-lettered and leaves no trace in a held profile
(:meth:`BurstProfiles.changing`), as it left none in the table when each event read its own copy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from faust.types import TableT

from streams.profile import Profile


class BurstProfiles:
    """Profiles changed in the current burst, in front of the profile table."""

    def __init__(self, table: TableT, written: Callable[[Profile], None]) -> None:
        """Wrap the profile table (customer id -> :meth:`Profile.to_dict`).

        Args:
            table: The profile table.
            written: Called with each profile this writes, once it is in the table.
        """
        self._table = table
        self._written = written
        self._unwritten: dict[str, Profile] = {}
        """Profiles changed since they were last written to the table."""
        self._to_emit: dict[str, Profile | None] = {}
        """Profiles to emit at the burst's end; None: read it from the table then."""

    def get(self, customer_id: str) -> Profile | None:
        """The person's current profile, or None if the table holds none."""
        profile = self._unwritten.get(customer_id)
        if profile is not None:
            return profile
        stored = self._table.get(customer_id)
        return None if stored is None else Profile.from_dict(stored)

    def changed(self, profile: Profile) -> None:
        """Hold a changed profile; it is written and emitted when the burst ends."""
        self._unwritten[profile.customer_id] = profile
        self._to_emit[profile.customer_id] = profile

    @contextlib.contextmanager
    def changing(self, customer_id: str) -> Iterator[None]:
        """Around code that changes the person's profile in place: undone if the code fails.

        The event whose handling failed is dead-lettered and must leave no trace, while what
        the burst's earlier events changed stays. A profile read from the table needs nothing
        undone: it is a copy, held only once :meth:`changed` is called.
        """
        held = self._unwritten.get(customer_id)
        before = None if held is None else held.to_dict()
        try:
            yield
        except BaseException:
            if before is not None:
                restored = self._unwritten[customer_id] = Profile.from_dict(before)
                if self._to_emit.get(customer_id) is not None:
                    self._to_emit[customer_id] = restored
            raise

    def emit_again(self, profile: Profile) -> None:
        """Emit an unchanged profile at the burst's end (after a redelivered event)."""
        self._to_emit[profile.customer_id] = profile

    def remove(self, customer_id: str) -> None:
        """Delete the person's profile from the table and from what the burst holds."""
        self._unwritten.pop(customer_id, None)
        self._to_emit.pop(customer_id, None)
        if self._table.get(customer_id) is not None:
            del self._table[customer_id]

    def forget_emission(self, customer_id: str) -> None:
        """Do not emit the person's profile at the burst's end."""
        self._to_emit.pop(customer_id, None)

    def settle(self) -> None:
        """Write every held profile, for code that reads and changes the table itself."""
        self._write()
        for customer_id in self._to_emit:
            self._to_emit[customer_id] = None

    def take_changed(self) -> list[Profile]:
        """Write the burst's changes and return the profiles to emit, by customer id."""
        self._write()
        to_emit, self._to_emit = self._to_emit, {}
        profiles = []
        for customer_id, held in sorted(to_emit.items()):
            profile = held if held is not None else self.get(customer_id)
            if profile is not None:
                profiles.append(profile)
        return profiles

    def _write(self) -> None:
        for customer_id, profile in self._unwritten.items():
            self._table[customer_id] = profile.to_dict()
            self._written(profile)
        self._unwritten.clear()
