import re

import pytest
from confluent_kafka import Producer

from tests.clitools import run_cli
from tests.workertools import http_get, running_worker, wait_for

pytestmark = pytest.mark.slow

TOKEN = "test-token-4711"


def dead_letter_count(metrics_text: str, topic: str) -> float:
    pattern = (
        rf'journeyhub_worker_dead_letters_total\{{[^}}]*topic="{re.escape(topic)}"[^}}]*\}} (\S+)'
    )
    return sum(float(v) for v in re.findall(pattern, metrics_text))


def test_worker_is_healthy_guards_its_api_and_dead_letters_garbage(
    test_env: dict[str, str],
) -> None:
    env = {**test_env, "JOURNEYHUB_API_TOKEN": TOKEN}
    with running_worker(env) as base:
        assert http_get(base + "/healthz") == (200, {"status": "ok"})

        status, metrics = http_get(base + "/metrics")
        assert status == 200
        assert "journeyhub_worker_up 1.0" in metrics

        assert http_get(base + "/customers/c-unknown")[0] == 401
        assert http_get(base + "/customers/c-unknown", token="wrong")[0] == 401
        assert http_get(base + "/customers/c-unknown", token=TOKEN)[0] == 404

        producer = Producer({"bootstrap.servers": env["KAFKA_BOOTSTRAP_SERVERS"]})
        garbage = b"\x00\xffnot avro at all"
        producer.produce("shop.events", key=b"sess-garbage", value=garbage)
        producer.flush(10)

        wait_for(
            lambda: dead_letter_count(http_get(base + "/metrics")[1], "shop.events") >= 1,
            60,
            lambda: "no dead letter counted for shop.events",
        )

    tailed = run_cli(env, "tail", "dlq.shop.events", "--from-beginning", "--json", "--timeout", "3")
    letters = [m for m in tailed.json_lines() if m["key"] == "sess-garbage"]
    assert letters, tailed.stdout
    headers = letters[0]["headers"]
    assert headers["origin.topic"] == "shop.events"
    assert headers["error.class"]
    assert headers["error.message"]
    assert {"origin.partition", "origin.offset"} <= set(headers)
    assert letters[0]["value"].startswith("base64:")
