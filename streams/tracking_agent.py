"""RFID production tracking in the worker: the history of each chip, for ``/tracking``.

Readings arrive keyed by chip id, with the customer the resolver found for them, so the
partition that owns a chip owns its history; late and repeated readings are sorted in there.
The resolver sends them in bundles, each to its chip's partition (:mod:`streams.bundles`).
"""

from __future__ import annotations

import faust
import structlog

from streams.bundles import read_forwarded
from streams.context import WorkerContext
from streams.forwarded import ForwardedEvent, internal_topic
from streams.identity_agent import CUSTOMER_HEADER, TRACKING_EVENTS
from streams.production import ChipTrack, apply_step

log = structlog.get_logger(__name__)

CHIPS_TABLE = "chip-tracks"
"""Table: chip id -> :meth:`ChipTrack.to_dict`."""


class TrackingAgent:
    """The chip table and the agent that records each reading in it."""

    def __init__(self, worker: WorkerContext) -> None:
        """Declare the table and agent on the worker's app."""
        app = self._app = worker.app
        self._codec = worker.codec
        self._metrics = worker.metrics
        self._processing = worker.metrics.processing_seconds.labels(agent="tracking")
        self.tracks = app.Table(CHIPS_TABLE, key_type=str)

        @app.agent(internal_topic(app, TRACKING_EVENTS), name="tracking")
        async def tracking(stream: faust.StreamT[bytes]) -> None:
            async for event in stream.events():
                for _, forwarded in read_forwarded(event):
                    with self._processing.time():
                        await self._process(forwarded)

    async def _process(self, forwarded: ForwardedEvent) -> None:
        try:
            self._record(forwarded)
        except Exception as error:  # whatever fails one reading dead-letters that reading
            await forwarded.dead_letter(self._app, self._metrics, error)

    def _record(self, forwarded: ForwardedEvent) -> None:
        reading = forwarded.decode(self._codec)
        chip_id = reading["chip_id"]
        stored = self.tracks.get(chip_id)
        track = ChipTrack(chip_id) if stored is None else ChipTrack.from_dict(stored)
        changed = apply_step(track, reading)
        # Resolutions only move forward (merges), so the latest reading names the person.
        customer_id = forwarded.headers.get(CUSTOMER_HEADER)
        if customer_id and customer_id != track.customer_id:
            track.customer_id = customer_id
            changed = True
        if changed:
            self.tracks[chip_id] = track.to_dict()


def register(worker: WorkerContext) -> None:
    """Add the chip table and agent to the worker (fed by :mod:`streams.identity_agent`)."""
    TrackingAgent(worker)
