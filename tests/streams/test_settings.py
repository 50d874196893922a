from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.app import create_worker
from streams.errors import SettingsError
from streams.settings import Settings


def settings_error(**environ: str) -> str:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(environ)
    return str(raised.value)


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    settings = Settings.from_env({})

    assert settings.bootstrap_servers == "127.0.0.1:19092"
    assert settings.uses_embedded_broker
    assert settings.kafka_security_protocol == "PLAINTEXT"
    assert settings.data_dir == Path(".journeyhub")
    assert settings.web_port == 6066
    assert settings.web_host == "127.0.0.1"
    assert settings.api_token is None
    assert settings.device_faults == {}
    assert settings.log_level == "INFO"
    assert settings.log_format == "json"
    assert settings.default_region == "DE"
    assert settings.state_store == "rocksdb"
    assert settings.table_standby_replicas == 1
    assert settings.rules_path is None
    assert settings.session_timeout == 6.0


def test_a_configured_kafka_replaces_the_embedded_broker() -> None:
    settings = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092, kafka-2:9092"})

    assert settings.bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert not settings.uses_embedded_broker
    assert settings.session_timeout == 45.0


def test_the_embedded_broker_port_moves_the_bootstrap_address() -> None:
    settings = Settings.from_env({"JOURNEYHUB_BROKER_PORT": "29092"})

    assert settings.bootstrap_servers == "127.0.0.1:29092"


def test_an_explicit_session_timeout_wins() -> None:
    settings = Settings.from_env(
        {"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "KAFKA_SESSION_TIMEOUT_MS": "10000"}
    )

    assert settings.session_timeout == 10.0


def test_a_bad_port_names_the_variable_and_the_expected_form() -> None:
    assert settings_error(JOURNEYHUB_WEB_PORT="abc") == (
        "JOURNEYHUB_WEB_PORT: expected a TCP port 1-65535, got 'abc'"
    )


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_ports_outside_the_tcp_range_are_refused(port: str) -> None:
    assert settings_error(JOURNEYHUB_BROKER_PORT=port).startswith(
        "JOURNEYHUB_BROKER_PORT: expected a TCP port 1-65535"
    )


def test_the_metrics_port_is_unset_by_default_and_checked_like_any_port() -> None:
    assert Settings.from_env({}).metrics_port is None
    assert Settings.from_env({"JOURNEYHUB_METRICS_PORT": "9102"}).metrics_port == 9102
    assert settings_error(JOURNEYHUB_METRICS_PORT="70000") == (
        "JOURNEYHUB_METRICS_PORT: expected a TCP port 1-65535, got '70000'"
    )


def test_an_unknown_security_protocol_lists_the_choices() -> None:
    assert settings_error(KAFKA_SECURITY_PROTOCOL="tls") == (
        "KAFKA_SECURITY_PROTOCOL: expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, "
        "got 'tls'"
    )


def test_choices_are_read_in_any_case() -> None:
    settings = Settings.from_env(
        {"KAFKA_SECURITY_PROTOCOL": "ssl", "LOG_LEVEL": "debug", "LOG_FORMAT": "Console"}
    )

    assert settings.kafka_security_protocol == "SSL"
    assert settings.log_level == "DEBUG"
    assert settings.log_format == "console"


def test_sasl_without_credentials_names_both_variables() -> None:
    assert settings_error(KAFKA_SECURITY_PROTOCOL="SASL_SSL") == (
        "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD: both required when "
        "KAFKA_SECURITY_PROTOCOL is SASL_SSL"
    )


def test_secrets_are_hidden_in_the_settings_repr() -> None:
    settings = Settings.from_env(
        {
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_USERNAME": "svc-journeyhub",
            "KAFKA_SASL_PASSWORD": "kafka-pass-123",
            "CRM_TOKEN": "crm-token-456",
        }
    )

    assert "kafka-pass-123" not in repr(settings)
    assert "crm-token-456" not in repr(settings)
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == "kafka-pass-123"


def test_device_faults_are_read_as_step_counts() -> None:
    settings = Settings.from_env({"JOURNEYHUB_DEVICE_FAULTS": "frank:2, Print:1"})

    assert settings.device_faults == {"frank": 2, "print": 1}


@pytest.mark.parametrize("spec", ["scan:1", "frank:-1", "frank", "frank:two", "frank:2,"])
def test_a_bad_device_fault_spec_shows_the_expected_form(spec: str) -> None:
    assert settings_error(JOURNEYHUB_DEVICE_FAULTS=spec) == (
        "JOURNEYHUB_DEVICE_FAULTS: expected step:count pairs such as 'frank:2,print:1' with "
        f"steps render, print, frank, dispatch and counts >= 0, got {spec!r}"
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("CRM_URL", "crm.local:8099", "an http:// or https:// URL"),
        ("SCHEMA_REGISTRY_URL", "ftp://registry", "an http:// or https:// URL"),
        ("SMTP_URL", "http://mail.local", "an smtp:// or smtps:// URL"),
        ("PRINTER_URI", "http://printer.local/ipp", "an ipp:// or ipps:// URI"),
        ("FRANKING_URL", "https://", "an http:// or https:// URL"),
        ("JOURNEYHUB_ALERT_WEBHOOK_URL", "hooks.local/alerts", "an http:// or https:// URL"),
    ],
)
def test_a_bad_url_names_the_variable_and_the_schemes(
    variable: str, value: str, expected: str
) -> None:
    assert settings_error(**{variable: value}) == f"{variable}: expected {expected}, got {value!r}"


def test_good_urls_are_kept_as_given() -> None:
    settings = Settings.from_env(
        {
            "CRM_URL": "https://crm.example.com/api",
            "SMTP_URL": "smtps://mail.example.com:465",
            "PRINTER_URI": "ipp://printer.local/ipp/print",
        }
    )

    assert settings.crm_url == "https://crm.example.com/api"
    assert settings.smtp_url == "smtps://mail.example.com:465"
    assert settings.printer_uri == "ipp://printer.local/ipp/print"


def test_the_alert_webhook_is_optional_and_kept_as_given() -> None:
    assert Settings.from_env({}).alert_webhook_url is None
    settings = Settings.from_env(
        {"JOURNEYHUB_ALERT_WEBHOOK_URL": "https://hooks.example.com/a?x=1"}
    )

    assert settings.alert_webhook_url == "https://hooks.example.com/a?x=1"


def test_a_password_in_a_rejected_url_is_not_repeated() -> None:
    message = settings_error(SMTP_URL="http://mailer:mail-pass-789@mail.local")

    assert "mail-pass-789" not in message
    assert message.startswith("SMTP_URL: expected an smtp:// or smtps:// URL")


def test_every_problem_gets_its_own_line() -> None:
    lines = settings_error(
        JOURNEYHUB_WEB_PORT="abc", LOG_LEVEL="loud", JOURNEYHUB_STATE="disk"
    ).splitlines()

    assert [line.split(":")[0] for line in lines] == [
        "JOURNEYHUB_WEB_PORT",
        "LOG_LEVEL",
        "JOURNEYHUB_STATE",
    ]


def test_a_missing_rules_file_is_refused(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    message = settings_error(JOURNEYHUB_RULES=str(rules))
    rules.write_text("scoring: {}\n")

    assert message.startswith("JOURNEYHUB_RULES: expected the path of an existing YAML")
    assert Settings.from_env({"JOURNEYHUB_RULES": str(rules)}).rules_path == rules


def test_region_and_responsible_are_validated() -> None:
    assert settings_error(JOURNEYHUB_DEFAULT_REGION="XX").startswith(
        "JOURNEYHUB_DEFAULT_REGION: expected a two-letter phone region"
    )
    assert settings_error(JOURNEYHUB_RESPONSIBLE="ops").startswith(
        "JOURNEYHUB_RESPONSIBLE: expected an e-mail address"
    )
    settings = Settings.from_env(
        {"JOURNEYHUB_DEFAULT_REGION": "at", "JOURNEYHUB_RESPONSIBLE": "ops@example.com"}
    )
    assert settings.default_region == "AT"
    assert settings.default_responsible == "ops@example.com"


def test_standby_copies_reach_the_worker_and_are_bounded() -> None:
    settings = Settings.from_env({"JOURNEYHUB_STANDBY_REPLICAS": "0"})  # RocksDB's default is 1

    assert create_worker(settings).app.conf.table_standby_replicas == 0
    assert settings_error(JOURNEYHUB_STANDBY_REPLICAS="4").startswith(
        "JOURNEYHUB_STANDBY_REPLICAS: expected a number of standby copies from 0 to 3, got '4'"
    )


def test_memory_tables_have_no_standby_copies_unless_asked_for() -> None:
    memory = {"JOURNEYHUB_STATE": "memory"}

    assert Settings.from_env(memory).table_standby_replicas == 0
    assert create_worker(Settings.from_env(memory)).app.conf.table_standby_replicas == 0
    asked = Settings.from_env({**memory, "JOURNEYHUB_STANDBY_REPLICAS": "1"})
    assert asked.table_standby_replicas == 1


def test_unknown_and_empty_variables_are_ignored() -> None:
    settings = Settings.from_env({"JOURNEYHUB_TYPO": "1", "PATH": "/bin", "CRM_URL": ""})

    assert settings.crm_url is None


def test_the_process_environment_is_read_when_no_mapping_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOURNEYHUB_WEB_PORT", "7070")

    assert Settings.from_env().web_port == 7070
    assert Settings().web_port == 6066


def test_settings_cannot_be_changed_after_reading() -> None:
    settings = Settings.from_env({})

    with pytest.raises(ValidationError):
        settings.web_port = 1
