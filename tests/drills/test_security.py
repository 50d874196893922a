"""Security drill: who gets in, what reaches the broker securely, and what the logs never show.

The API and the sandbox CRM let no one in without their exact token; TLS and SASL settings
reach every Kafka client (Faust and confluent-kafka); and a whole run at DEBUG level writes
no name, e-mail, phone or street of the people it processed into any log line.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import certifi
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from faust.auth import SASLCredentials, SSLCredentials
from pydantic import SecretStr

from schemas.codec import make_codec
from streams import web as worker_web
from streams.app import create_worker
from streams.broker import free_port
from streams.kafka import client_config, consumer_config, faust_broker_options, producer_config
from streams.logs import mask_personal_text
from streams.normalize import normalize_phone
from streams.settings import Settings
from streams.workload import build_workload
from tests.drills.drilltools import Component, produce_raw, produce_workload, worker, worker_url
from tests.workertools import http_get, wait_for

pytestmark = pytest.mark.slow

TOKEN = "drill-token-7f3a9c"
SECURE = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9093",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
    "KAFKA_SASL_USERNAME": "svc-drill",
    "KAFKA_SASL_PASSWORD": "drill-pass-42",
    "KAFKA_SSL_CAFILE": certifi.where(),
}
PEOPLE = 40
SETTLE = 120.0


@pytest.fixture
async def guarded_api() -> AsyncIterator[TestClient]:
    """An HTTP app behind the worker's token guard, with an open and a guarded path."""

    async def ok(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(middlewares=[worker_web.token_middleware(SecretStr(TOKEN))])
    for path in ("/healthz", "/metrics", "/customers/c-1", "/budgets/b-1"):
        app.router.add_get(path, ok)
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client
    await client.close()


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong-token",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN[:1]}",
        f"Bearer {TOKEN}x",
        f"bearer {TOKEN}",
        f"Basic {TOKEN}",
        TOKEN,
    ],
)
@pytest.mark.parametrize("path", ["/customers/c-1", "/budgets/b-1"])
async def test_the_api_answers_401_to_anything_but_the_exact_token(
    guarded_api: TestClient, authorization: str | None, path: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await guarded_api.get(path, headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_the_exact_token_opens_the_api_and_health_and_metrics_need_none(
    guarded_api: TestClient,
) -> None:
    authorized = await guarded_api.get(
        "/customers/c-1", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert authorized.status == 200
    assert (await guarded_api.get("/healthz")).status == 200
    assert (await guarded_api.get("/metrics")).status == 200


async def test_the_token_is_compared_in_constant_time(
    guarded_api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    constant_time = hmac.compare_digest

    def spy(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return constant_time(given, expected)

    monkeypatch.setattr(worker_web.hmac, "compare_digest", spy)
    await guarded_api.get("/budgets/b-1", headers={"Authorization": "Bearer guess"})
    assert compared == [(b"Bearer guess", f"Bearer {TOKEN}".encode())]


@pytest.mark.parametrize("protocol", ["SASL_SSL", "SASL_PLAINTEXT", "SSL"])
def test_security_settings_reach_every_confluent_kafka_client(protocol: str) -> None:
    settings = Settings.from_env({**SECURE, "KAFKA_SECURITY_PROTOCOL": protocol})
    configs = {
        "client": client_config(settings),
        "consumer": consumer_config(settings, "journeyhub-crm"),
        "producer": producer_config(settings),
    }
    for name, config in configs.items():
        assert config["security.protocol"] == protocol, name
        if protocol.startswith("SASL_"):
            assert config["sasl.mechanism"] == "SCRAM-SHA-256", name
            assert (config["sasl.username"], config["sasl.password"]) == (
                "svc-drill",
                "drill-pass-42",
            ), name
        else:
            assert "sasl.password" not in config, name
        if protocol.endswith("SSL"):
            assert config["ssl.ca.location"] == certifi.where(), name
        else:
            assert "ssl.ca.location" not in config, name


@pytest.mark.parametrize("protocol", ["SASL_SSL", "SASL_PLAINTEXT", "SSL"])
def test_security_settings_reach_the_faust_worker(protocol: str) -> None:
    settings = Settings.from_env({**SECURE, "KAFKA_SECURITY_PROTOCOL": protocol})

    options = faust_broker_options(settings)
    app_credentials = create_worker(settings).app.conf.broker_credentials

    for credentials in (options["broker_credentials"], app_credentials):
        assert credentials is not None
        assert credentials.protocol.value == protocol
        if protocol.startswith("SASL_"):
            assert isinstance(credentials, SASLCredentials)
            assert (credentials.username, credentials.password) == ("svc-drill", "drill-pass-42")
            assert credentials.mechanism.value == "SCRAM-SHA-256"
            context = credentials.ssl_context
        else:
            assert isinstance(credentials, SSLCredentials)
            context = credentials.context
        assert (context is not None) == protocol.endswith("SSL")
        if context is not None:
            assert context.cert_store_stats()["x509_ca"] > 0, "the CA file was not loaded"


def test_secrets_do_not_show_in_the_settings_repr() -> None:
    settings = Settings.from_env(
        {**SECURE, "KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "JOURNEYHUB_API_TOKEN": TOKEN}
    )
    shown = repr(settings) + str(settings)
    assert "drill-pass-42" not in shown
    assert TOKEN not in shown


def test_kafka_keys_and_values_that_clients_log_as_bytes_are_masked() -> None:
    line = "Sending (key=b'person7@example.org' value=b'\\x02\\x08Paul\\x0eM\\xc3\\xbcller') to tp"
    assert mask_personal_text(line) == "Sending (key=b'[redacted]' value=b'[redacted]') to tp"


def personal_data(customers: int, seed: int) -> set[str]:
    """Every name, e-mail, phone (as given and as E.164) and street of the workload's people."""
    values: set[str] = set()
    events, _ = build_workload(customers, seed)
    for event in events:
        person = (event.value or {}).get("customer")
        if not person:
            continue
        values |= {
            f"{person['first_name']} {person['last_name']}",
            person["email"],
            person["phone"],
            person["phone"].replace(" ", ""),
            str(normalize_phone(person["phone"])),
            person["street"],
        }
    values |= {f"person{index}@example.org" for index in range(customers)}
    return values


def direct_mails(customers: int) -> list[tuple[bytes, bytes]]:
    """``outbound.mail`` jobs to workload people, so the mail connector surely handles some."""
    codec = make_codec(None)
    now = datetime.now(UTC)
    jobs = []
    for index in range(0, customers, 8):
        job_id = f"job-drill-pii-{index}"
        record: dict[str, Any] = {
            "job_id": job_id,
            "customer_id": f"cust-drill-{index}",
            "template": "product_interest",
            "to": f"person{index}@example.org",
            "subject": "Ihre neuen Laufschuhe",
            "salutation": "Sehr geehrte Frau Dr. Musterfrau",
            "variables": {"category": "running_shoes", "first_name": "Erika"},
            "trigger_event_id": None,
            "created_at": now,
        }
        jobs.append((job_id.encode(), codec.encode("outbound.mail", record)))
    return jobs


def leaks(text: str, secrets: set[str]) -> list[str]:
    """Lines of ``text`` that contain one of ``secrets`` (case-insensitive), first 20."""
    lowered = [(line, line.lower()) for line in text.splitlines()]
    found = [line for line, low in lowered if any(s.lower() in low for s in secrets)]
    return found[:20]


def test_no_personal_data_in_any_log_line_of_an_end_to_end_run_at_debug_level(
    drill_env: dict[str, str], drill_settings: Settings, tmp_path: Path
) -> None:
    crm_port, smtp_port = free_port(), free_port()
    env = {
        **drill_env,
        "LOG_LEVEL": "DEBUG",
        "JOURNEYHUB_API_TOKEN": TOKEN,
        "CRM_URL": f"http://127.0.0.1:{crm_port}",
        "CRM_TOKEN": "crm-drill-token",
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
    }
    crm = Component.cli(env, "sandbox-crm", "sandbox-crm", "--port", str(crm_port)).start()
    smtp = Component.module(env, "smtp-server", "connectors.smtp_server", "--port", str(smtp_port))
    smtp.start()
    parts = [crm, smtp]
    try:
        parts.append(worker(env))
        parts += [
            Component.cli(env, "connect-crm", "connect", "crm").start(),
            Component.cli(env, "connect-mail", "connect", "mail").start(),
        ]
        events, truth = build_workload(PEOPLE, seed=23)
        produce_workload(drill_settings, make_codec(None), events)
        mails = direct_mails(PEOPLE)
        produce_raw(drill_settings, "outbound.mail", mails)
        crm_url = env["CRM_URL"]
        crm_token = env["CRM_TOKEN"]

        def stats() -> dict[str, Any]:
            status, body = http_get(f"{crm_url}/stats", crm_token)
            return body if status == 200 else {}

        mail_dir = tmp_path / "mail"
        wait_for(
            lambda: (
                stats().get("contacts", 0) >= len(truth.customer_emails)
                and len(list(mail_dir.glob("*.eml"))) >= len(mails)
            ),
            SETTLE,
            lambda: (
                f"stack did not deliver: CRM {stats()}, mails {len(list(mail_dir.glob('*.eml')))}"
            ),
        )
        anonymous_crm, _ = http_get(f"{crm_url}/contacts")
        anonymous_api, _ = http_get(f"{worker_url(env)}/budgets/cmp-sea-q3")
        token_api, _ = http_get(f"{worker_url(env)}/budgets/cmp-sea-q3", TOKEN)
        assert (anonymous_crm, anonymous_api, token_api) == (401, 401, 200)
        assert stats()["rejected_requests"] == 1, "the CRM connector did not send CRM_TOKEN"
        assert all(part.running for part in parts), [
            p.log_path.name for p in parts if not p.running
        ]
    finally:
        for part in reversed(parts):
            part.stop()

    secrets = personal_data(PEOPLE, seed=23)
    logs = {part.log_path.name: part.log_path.read_text(errors="replace") for part in parts}
    lines = sum(len(text.splitlines()) for text in logs.values())
    print(f"\nPII scan: {len(secrets)} personal values, {lines} log lines of {sorted(logs)}")
    assert lines > 100, "the run logged too little to prove anything"
    for name, text in logs.items():
        assert not leaks(text, secrets), f"{name} shows personal data:\n" + "\n".join(
            leaks(text, secrets)
        )
