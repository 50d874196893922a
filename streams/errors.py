"""Errors the streams package raises on purpose.

Every message is meant for the person running journeyhub: it says what is wrong and what
to change. The command line prints these as one line without a traceback.
"""


class JourneyhubError(Exception):
    """Base class of every deliberate error in the streams package."""


class SettingsError(JourneyhubError):
    """An environment variable is missing, unknown or malformed (one line per problem)."""


class BrokerError(JourneyhubError):
    """Kafka cannot be started, reached or administered."""


class DeliveryLostError(BrokerError):
    """Kafka did not take a record the worker queued; offsets must not be committed past it."""


class InvalidRecordError(JourneyhubError):
    """A source record decoded fine but breaks a rule its schema cannot express."""


class OversizedValueError(JourneyhubError):
    """A source value is too large to be an event; it is dead-lettered undecoded."""
