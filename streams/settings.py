"""The one typed settings object of journeyhub, read from the environment once.

Each field maps to one environment variable of the contract; its description is the
expected form a user sees when the variable holds something else.
"""

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args
from urllib.parse import urlsplit

import phonenumbers
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    FilePath,
    NonNegativeInt,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from streams.errors import SettingsError

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["json", "console"]
StateStore = Literal["memory", "rocksdb"]
DeviceStep = Literal["render", "print", "frank", "dispatch"]

DEVICE_STEPS: tuple[str, ...] = get_args(DeviceStep)
STATE_STORES: tuple[str, ...] = get_args(StateStore)
EMBEDDED_SESSION_TIMEOUT = 6.0
KAFKA_SESSION_TIMEOUT = 45.0
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_URL_CREDENTIALS = re.compile(r"//[^/@\s]*@")
_MISSING_CREDENTIALS = "missing_credentials"


def _choices(choices: Any) -> str:
    return "one of " + ", ".join(get_args(choices))


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _url_with_scheme(*schemes: str) -> AfterValidator:
    """A validator accepting only absolute URLs with a host and one of ``schemes``."""

    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme.lower() not in schemes or not parts.hostname:
            msg = f"not a {' or '.join(schemes)} URL"
            raise ValueError(msg)
        return value

    return AfterValidator(check)


def _check_bootstrap_servers(value: str) -> str:
    servers = [server.strip() for server in value.split(",")]
    for server in servers:
        host, _, port = server.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            msg = f"{server!r} is not host:port"
            raise ValueError(msg)
    return ",".join(servers)


def _check_email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        msg = "not an e-mail address"
        raise ValueError(msg)
    return value


def _check_region(value: str) -> str:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        msg = "not a phone region"
        raise ValueError(msg)
    return value


def _split_fault_spec(value: object) -> object:
    """Turn ``frank:2,print:1`` into ``{"frank": "2", "print": "1"}``; pass other values on."""
    if not isinstance(value, str):
        return value
    pairs: dict[str, str] = {}
    for item in value.split(","):
        step, colon, count = item.partition(":")
        if not colon:
            msg = f"{item!r} is not step:count"
            raise ValueError(msg)
        pairs[step.strip().lower()] = count.strip()
    return pairs


def _check_fault_steps(faults: dict[str, int]) -> dict[str, int]:
    unknown = sorted(set(faults) - set(DEVICE_STEPS))
    if unknown:
        msg = f"unknown device steps {unknown}"
        raise ValueError(msg)
    return faults


Port = Annotated[int, Field(ge=1, le=65535)]
SessionTimeoutMs = Annotated[int, Field(ge=1000, le=3_600_000)]
StandbyReplicas = Annotated[int, Field(ge=0, le=3)]
BootstrapServers = Annotated[str, AfterValidator(_check_bootstrap_servers)]
PhoneRegion = Annotated[str, BeforeValidator(_upper), AfterValidator(_check_region)]
WebUrl = Annotated[str, _url_with_scheme("http", "https")]
SmtpUrl = Annotated[str, _url_with_scheme("smtp", "smtps")]
IppUri = Annotated[str, _url_with_scheme("ipp", "ipps")]
Email = Annotated[str, AfterValidator(_check_email)]
DeviceFaults = Annotated[
    dict[str, NonNegativeInt],
    BeforeValidator(_split_fault_spec),
    AfterValidator(_check_fault_steps),
]
_PORT = "a TCP port 1-65535"
_WEB_URL = "an http:// or https:// URL"


def _env(variable: str, description: str, default: Any = None) -> Any:
    """Declare a field read from ``variable``; ``description`` is the expected form."""
    return Field(default, validation_alias=variable, description=description)


class Settings(BaseSettings):
    """Everything journeyhub reads from its environment, validated and immutable.

    Build it with :meth:`from_env` once at start-up and pass it down; nothing else reads
    ``os.environ``. Empty variables count as unset.
    """

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    kafka_bootstrap_servers: BootstrapServers | None = _env(
        "KAFKA_BOOTSTRAP_SERVERS",
        "comma-separated host:port pairs such as 'kafka-1:9092,kafka-2:9092'",
    )
    broker_port: Port = _env("JOURNEYHUB_BROKER_PORT", _PORT, 19092)
    kafka_session_timeout_ms: SessionTimeoutMs | None = _env(
        "KAFKA_SESSION_TIMEOUT_MS", "milliseconds between 1000 and 3600000"
    )
    kafka_security_protocol: Annotated[SecurityProtocol, BeforeValidator(_upper)] = _env(
        "KAFKA_SECURITY_PROTOCOL", _choices(SecurityProtocol), "PLAINTEXT"
    )
    kafka_sasl_mechanism: Annotated[SaslMechanism, BeforeValidator(_upper)] = _env(
        "KAFKA_SASL_MECHANISM", _choices(SaslMechanism), "PLAIN"
    )
    kafka_sasl_username: str | None = _env("KAFKA_SASL_USERNAME", "a user name")
    kafka_sasl_password: SecretStr | None = _env("KAFKA_SASL_PASSWORD", "a password")
    kafka_ssl_cafile: FilePath | None = _env(
        "KAFKA_SSL_CAFILE", "the path of an existing CA certificate file (PEM)"
    )
    schema_registry_url: WebUrl | None = _env("SCHEMA_REGISTRY_URL", _WEB_URL)
    data_dir: Path = _env("JOURNEYHUB_DATA_DIR", "a directory path", Path(".journeyhub"))
    web_host: str = _env("JOURNEYHUB_WEB_HOST", "a host name or IP address", "127.0.0.1")
    web_port: Port = _env("JOURNEYHUB_WEB_PORT", _PORT, 6066)
    metrics_port: Port | None = _env("JOURNEYHUB_METRICS_PORT", _PORT)
    api_token: SecretStr | None = _env("JOURNEYHUB_API_TOKEN", "a bearer token")
    crm_url: WebUrl | None = _env("CRM_URL", _WEB_URL)
    crm_token: SecretStr | None = _env("CRM_TOKEN", "a bearer token")
    smtp_url: SmtpUrl | None = _env("SMTP_URL", "an smtp:// or smtps:// URL")
    printer_uri: IppUri | None = _env("PRINTER_URI", "an ipp:// or ipps:// URI")
    franking_url: WebUrl | None = _env("FRANKING_URL", _WEB_URL)
    dispatch_url: WebUrl | None = _env("DISPATCH_URL", _WEB_URL)
    alert_webhook_url: WebUrl | None = _env("JOURNEYHUB_ALERT_WEBHOOK_URL", _WEB_URL)
    alert_webhook_token: SecretStr | None = _env("JOURNEYHUB_ALERT_WEBHOOK_TOKEN", "a bearer token")
    device_faults: DeviceFaults = _env(
        "JOURNEYHUB_DEVICE_FAULTS",
        "step:count pairs such as 'frank:2,print:1' with steps "
        f"{', '.join(DEVICE_STEPS)} and counts >= 0",
        {},
    )
    log_level: Annotated[LogLevel, BeforeValidator(_upper)] = _env(
        "LOG_LEVEL", _choices(LogLevel), "INFO"
    )
    log_format: Annotated[LogFormat, BeforeValidator(_lower)] = _env(
        "LOG_FORMAT", _choices(LogFormat), "json"
    )
    rules_path: FilePath | None = _env(
        "JOURNEYHUB_RULES", "the path of an existing YAML rules file"
    )
    default_region: PhoneRegion = _env(
        "JOURNEYHUB_DEFAULT_REGION", "a two-letter phone region such as 'DE'", "DE"
    )
    state_store: Annotated[StateStore, BeforeValidator(_lower)] = _env(
        "JOURNEYHUB_STATE", _choices(StateStore), "rocksdb"
    )
    standby_replicas: StandbyReplicas | None = _env(
        "JOURNEYHUB_STANDBY_REPLICAS", "a number of standby copies from 0 to 3"
    )
    default_responsible: Email | None = _env(
        "JOURNEYHUB_RESPONSIBLE", "an e-mail address such as 'ops@example.com'"
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Read and validate the settings from ``environ`` (default: ``os.environ``).

        Args:
            environ: The variables to read; variables journeyhub does not know are ignored.

        Returns:
            The validated settings.

        Raises:
            SettingsError: One line per malformed variable, naming it and the expected form.
        """
        source = os.environ if environ is None else environ
        given = {name: value for name, value in source.items() if name in _FIELDS and value}
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            raise SettingsError(_explain(exc, given)) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read nothing implicitly: the environment is read by :meth:`from_env` only."""
        return (init_settings,)

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Self:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            msg = (
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD: both required when "
                f"KAFKA_SECURITY_PROTOCOL is {self.kafka_security_protocol}"
            )
            raise PydanticCustomError(_MISSING_CREDENTIALS, msg)
        return self

    @property
    def bootstrap_servers(self) -> str:
        """Where Kafka answers: ``KAFKA_BOOTSTRAP_SERVERS`` or the embedded broker."""
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.broker_port}"

    @property
    def worker_state_dir(self) -> Path:
        """Where the worker keeps its tables (RocksDB) and Faust its offsets between runs."""
        return self.data_dir / "worker"

    @property
    def uses_embedded_broker(self) -> bool:
        """True when no external Kafka is configured and the embedded broker is used."""
        return self.kafka_bootstrap_servers is None

    @property
    def table_standby_replicas(self) -> int:
        """Standby copies of each table partition on other workers.

        ``JOURNEYHUB_STANDBY_REPLICAS`` when set; else one with RocksDB, whose copy lets a
        successor resume from what it holds, and none with memory tables, where a copy only
        costs: Faust's memory store keeps no offset of what it holds, so a successor replays
        the changelog from its start all the same, and it drops the copy's keys whenever a
        recovery completes.
        """
        if self.standby_replicas is not None:
            return self.standby_replicas
        return 1 if self.state_store == "rocksdb" else 0

    @property
    def session_timeout(self) -> float:
        """Seconds before Kafka drops a silent consumer-group member.

        ``KAFKA_SESSION_TIMEOUT_MS`` when set; else 6 s on the embedded broker, which lets
        a consumer join a group only after about half the session timeout, and the usual
        45 s elsewhere.
        """
        if self.kafka_session_timeout_ms is not None:
            return self.kafka_session_timeout_ms / 1000
        if self.uses_embedded_broker:
            return EMBEDDED_SESSION_TIMEOUT
        return KAFKA_SESSION_TIMEOUT


_FIELDS = {str(field.validation_alias): field for field in Settings.model_fields.values()}


def revealed(secret: SecretStr | None) -> str | None:
    """The plain text of an optional secret setting, for the one call that sends it."""
    return secret.get_secret_value() if secret is not None else None


def _explain(error: ValidationError, given: Mapping[str, str]) -> str:
    """One line per malformed variable: its name, the expected form and what it got."""
    lines: dict[str, str] = {}
    for problem in error.errors():
        variable = str(problem["loc"][0]) if problem["loc"] else ""
        field = _FIELDS.get(variable)
        if field is None:
            lines.setdefault(problem["msg"], problem["msg"])
            continue
        got = _URL_CREDENTIALS.sub("//***@", given.get(variable, str(problem["input"])))
        lines.setdefault(variable, f"{variable}: expected {field.description}, got {got!r}")
    return "\n".join(lines.values())
