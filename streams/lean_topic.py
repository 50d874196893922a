"""Topics that hand a record to the running producer without Faust's layers around it.

Before every record it publishes, Faust's ``Topic`` asks ``App.maybe_start_producer`` for the
producer. That method is guarded against concurrent starts by mode's ``stampede``, which awaits
``asyncio.sleep(0)`` three times per call, started or not. Every output and every changelog
entry then cost three passes of the event loop (each a poll of the sockets and a turn of every
ready task), and the table writes of a burst, which Faust sends one after another from a
queue, held the streams back while that queue drained (Faust's "producer buffer full").
Once the producer runs, this topic takes it at once.

And a record sent with ``send`` goes to the producer as soon as its key and value are encoded,
as Faust encodes them: Faust first wraps it in a pending message and a future message, tells
its sensors before and after and chains a callback to the delivery that fulfils the future
message nobody else holds. Only a send with a callback of its own, or with Faust's
attachments (``stream_publish_on_commit``) or transactions, goes Faust's way.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import faust
from faust.types import CodecArg, HeadersArg, ProducerT, RecordMetadata, SchemaT
from faust.types.tuples import MessageSentCallback

from streams.draining_producer import DrainingProducer


class LeanTopic(faust.Topic):
    """Faust's topic, taking the app's producer directly once it has started.

    Give it to the app as its topic class (``faust.App(..., Topic=LeanTopic)``): tables
    declare their changelog topics through the app, so those are lean as well.
    """

    async def send(
        self,
        *,
        key: Any = None,
        value: Any = None,
        partition: int | None = None,
        timestamp: float | None = None,
        headers: HeadersArg | None = None,
        schema: SchemaT | None = None,
        key_serializer: CodecArg | None = None,
        value_serializer: CodecArg | None = None,
        callback: MessageSentCallback | None = None,
        force: bool = False,
    ) -> Awaitable[RecordMetadata]:
        """Publish a record (see Faust's ``Topic.send``); return its delivery to await."""
        app = self.app
        producer = app.producer
        lean = isinstance(producer, DrainingProducer) and producer.started
        if callback or app.conf.stream_publish_on_commit or app.in_transaction or not lean:
            return await super().send(
                key=key,
                value=value,
                partition=partition,
                timestamp=timestamp,
                headers=headers,
                schema=schema,
                key_serializer=key_serializer,
                value_serializer=value_serializer,
                callback=callback,
                force=force,
            )
        open_headers = self.prepare_headers(headers)
        key_bytes, open_headers = self.prepare_key(key, key_serializer, schema, open_headers)
        value_bytes, open_headers = self.prepare_value(
            value, value_serializer, schema, open_headers
        )
        topic = self.get_topic_name()
        return await producer.send(
            topic, key_bytes, value_bytes, partition, timestamp, open_headers
        )

    async def _get_producer(self) -> ProducerT:
        producer = self.app.producer
        if producer.started and not self.app.in_transaction:
            return producer
        return await super()._get_producer()
