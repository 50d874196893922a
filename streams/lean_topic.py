"""Topics that hand a record to the running producer without three turns of the event loop.

Before every record it publishes, Faust's ``Topic`` asks ``App.maybe_start_producer`` for the
producer. That method is guarded against concurrent starts by mode's ``stampede``, which awaits
``asyncio.sleep(0)`` three times per call, started or not. Every output and every changelog
entry then cost three passes of the event loop (each a poll of the sockets and a turn of every
ready task), and the table writes of a burst, which Faust sends one after another from a
queue, held the streams back while that queue drained (Faust's "producer buffer full").
Once the producer runs, this topic takes it at once.
"""

from __future__ import annotations

import faust
from faust.types import ProducerT


class LeanTopic(faust.Topic):
    """Faust's topic, taking the app's producer directly once it has started.

    Give it to the app as its topic class (``faust.App(..., Topic=LeanTopic)``): tables
    declare their changelog topics through the app, so those are lean as well.
    """

    async def _get_producer(self) -> ProducerT:
        producer = self.app.producer
        if producer.started and not self.app.in_transaction:
            return producer
        return await super()._get_producer()
