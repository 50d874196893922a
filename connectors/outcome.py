"""What became of the records of one delivery: delivered, to retry, or to dead-letter.

Pure bookkeeping over the error a sink raised, kept apart from the runtime so the rules are
easy to read and test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from connectors.errors import DeliveryError, PartialDeliveryError, RetriableDeliveryError
from connectors.sink import SinkRecord


@dataclass
class DeliveryOutcome:
    """What became of the records of one `deliver()` call.

    Attributes:
        delivered: How many records the target confirmed.
        retry: Records to deliver again, in offset order.
        retry_error: The last retriable error, when there is something to retry.
        retry_after: The longest `Retry-After` among the retriable errors, if any.
        dead: Records to dead-letter, each with its error.
    """

    delivered: int = 0
    retry: list[SinkRecord] = field(default_factory=list)
    retry_error: RetriableDeliveryError | None = None
    retry_after: float | None = None
    dead: list[tuple[SinkRecord, DeliveryError]] = field(default_factory=list)


def sort_out(pending: Sequence[SinkRecord], error: DeliveryError | None) -> DeliveryOutcome:
    """Sort the records of a delivery by the error the sink raised (None: all delivered).

    An error without records is about every pending record; a `PartialDeliveryError` is
    taken apart into its failures; records no error names were delivered.
    """
    outcome = DeliveryOutcome()
    parts: Sequence[DeliveryError] = ()
    if isinstance(error, PartialDeliveryError):
        parts = error.failures
    elif error is not None:
        parts = (error,)
    failed: dict[int, DeliveryError] = {}
    for part in parts:
        for record in part.records or pending:
            failed[record.offset] = part
    for record in pending:
        cause = failed.get(record.offset)
        if cause is None:
            outcome.delivered += 1
        elif isinstance(cause, RetriableDeliveryError):
            outcome.retry.append(record)
            outcome.retry_error = cause
            if cause.retry_after is not None:
                outcome.retry_after = max(outcome.retry_after or 0.0, cause.retry_after)
        else:
            outcome.dead.append((record, cause))
    return outcome
