"""Errors of the schemas package.

Every failure to find a topic, encode, decode or convert a value is a `SchemaError`, so
callers can dead-letter or report them without knowing the codec behind them.
"""


class SchemaError(Exception):
    """Base of every error raised by the schemas package."""


class UnknownTopicError(SchemaError):
    """The topic is not one of the topics of the contract."""


class EncodeError(SchemaError):
    """A value does not fit its topic's schema.

    Attributes:
        path: The field path of the offending value, e.g. ``order.items[0].unit_price``;
            empty when the record as a whole is at fault.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class DecodeError(SchemaError):
    """Bytes cannot be decoded: bad magic byte, unknown schema, truncated or corrupt body."""


class JsonConversionError(SchemaError):
    """A JSON document does not fit a topic's schema.

    Attributes:
        path: The field path of the offending value; empty for the document as a whole.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class RegistryError(SchemaError):
    """The schema registry refused or failed a request."""
