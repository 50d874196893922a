"""Errors of the connectors package.

A sink raises a `DeliveryError` to tell the runner what to do with records the target did not
accept: try again later (`RetriableDeliveryError`) or dead-letter them (`PermanentDeliveryError`).
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.sink import SinkRecord
from streams.errors import JourneyhubError


class ConnectorError(JourneyhubError):
    """Base class of every error raised by the connectors package.

    A `JourneyhubError`, so the command line shows it as one line without a traceback.
    """


class ConnectorConfigError(ConnectorError):
    """A connector or the sandbox CRM was configured with a value it cannot use."""


class MappingError(ConnectorConfigError):
    """A field mapping spec is malformed or cannot be applied to a record."""


class DeliveryError(ConnectorError):
    """The target did not accept some records.

    Attributes:
        records: The records this error is about; empty means every record of the batch.
        status: The HTTP status the target answered, when there was an answer.
    """

    def __init__(
        self,
        message: str,
        *,
        records: Sequence[SinkRecord] = (),
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.records: tuple[SinkRecord, ...] = tuple(records)
        self.status = status


class RetriableDeliveryError(DeliveryError):
    """A transient failure (timeout, 5xx, 429): the same request may succeed later.

    Attributes:
        retry_after: Seconds the target asked us to wait (`Retry-After`), if it said so.
    """

    def __init__(
        self,
        message: str,
        *,
        records: Sequence[SinkRecord] = (),
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, records=records, status=status)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """The target refused the records (e.g. HTTP 400); retrying would not help."""


class PartialDeliveryError(DeliveryError):
    """Some records of a batch failed; every record not named by `failures` was delivered.

    Attributes:
        failures: One error per failed group of records, each naming its records.
    """

    def __init__(self, failures: Sequence[DeliveryError]) -> None:
        failed = [record for failure in failures for record in failure.records]
        super().__init__(f"{len(failed)} record(s) of the batch were not delivered", records=failed)
        self.failures: tuple[DeliveryError, ...] = tuple(failures)
