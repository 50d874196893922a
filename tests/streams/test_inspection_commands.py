import json
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from schemas.catalog import CATALOG
from schemas.deadletter import dead_letter_headers
from streams.kafka import ensure_topics
from streams.settings import Settings
from tests.clitools import run_cli

ORIGIN = "campaign.requests"


def test_dead_letters_are_listed_by_reason_and_replayed_once(
    test_env: dict[str, str], settings: Settings
) -> None:
    ensure_topics(settings, CATALOG.values())
    before = json.loads(run_cli(test_env, "dlq", "list", "--json").stdout or "[]")
    already = next((s["count"] for s in before if s["origin"] == ORIGIN), 0)
    marker = uuid.uuid4().hex[:8]
    producer = Producer({"bootstrap.servers": test_env["KAFKA_BOOTSTRAP_SERVERS"]})
    for number in range(3):
        error = ValueError(f"campaign {marker} broken {number}")
        producer.produce(
            f"dlq.{ORIGIN}",
            key=f"{marker}-{number}",
            value=b"\x00broken",
            headers=dead_letter_headers(error, ORIGIN, 0, number),
        )
    producer.flush(10)

    listed = run_cli(test_env, "dlq", "list", "--json")
    assert listed.code == 0, listed.stderr
    summary = next(s for s in json.loads(listed.stdout) if s["origin"] == ORIGIN)
    assert summary["count"] == already + 3
    assert summary["reasons"]["ValueError"] >= 3
    assert marker in summary["latest_message"]

    dry = run_cli(test_env, "dlq", "replay", ORIGIN, "--dry-run")
    assert dry.code == 0, dry.stderr
    assert "would replay" in dry.stdout

    replayed = run_cli(test_env, "dlq", "replay", ORIGIN)
    assert replayed.code == 0, replayed.stderr
    assert "replayed" in replayed.stdout
    tailed = run_cli(test_env, "tail", ORIGIN, "--from-beginning", "--json", "--timeout", "3")
    mine = [m for m in tailed.json_lines() if m["key"].startswith(marker)]
    assert len(mine) == 3
    assert all(m["headers"]["replayed.from"].startswith(f"dlq.{ORIGIN}:") for m in mine)

    again = run_cli(test_env, "dlq", "replay", ORIGIN)
    assert again.stdout.strip() == f"replayed 0 dead letters of {ORIGIN}"


def test_lag_shows_what_a_group_has_not_committed(
    test_env: dict[str, str], settings: Settings
) -> None:
    ensure_topics(settings, [CATALOG["privacy.requests"]])
    topic = "privacy.requests"
    producer = Producer({"bootstrap.servers": test_env["KAFKA_BOOTSTRAP_SERVERS"]})
    for _ in range(5):
        producer.produce(topic, key=b"k", value=b"v", partition=0)
        producer.flush(10)
    group = f"lag-test-{uuid.uuid4().hex[:6]}"
    consumer = Consumer(
        {
            "bootstrap.servers": test_env["KAFKA_BOOTSTRAP_SERVERS"],
            "group.id": group,
            "enable.auto.commit": False,
        }
    )
    consumer.commit(offsets=[TopicPartition(topic, 0, 2)], asynchronous=False)
    consumer.close()

    result = run_cli(test_env, "lag", "--json")
    assert result.code == 0, result.stderr
    rows = [r for r in json.loads(result.stdout) if r["group"] == group]
    assert len(rows) == 1
    assert rows[0]["committed"] == 2
    assert rows[0]["end"] >= 5
    assert rows[0]["lag"] == rows[0]["end"] - 2


def test_the_lag_table_cuts_no_group_name_short(
    test_env: dict[str, str], settings: Settings
) -> None:
    ensure_topics(settings, [CATALOG["privacy.requests"]])
    token = uuid.uuid4().hex[:6]
    group = f"journeyhub-connect-table-test-{token}"
    consumer = Consumer(
        {"bootstrap.servers": test_env["KAFKA_BOOTSTRAP_SERVERS"], "group.id": group}
    )
    consumer.commit(offsets=[TopicPartition("privacy.requests", 0, 0)], asynchronous=False)
    consumer.close()

    result = run_cli(test_env, "lag")
    assert result.code == 0, result.stderr
    assert "…" not in result.stdout
    # A name wider than its column goes on in the next line of the same cell.
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert group in "".join(row.split("│")[1].strip() for row in rows)


def test_topic_message_counts_are_exact_after_batched_produce(test_env: dict[str, str]) -> None:
    lines = "".join(
        json.dumps(
            {
                "request_id": f"req-{uuid.uuid4().hex[:8]}",
                "customer_id": None,
                "email": "someone@example.org",
                "type": "access",
                "requested_at": "2026-11-23T10:00:00Z",
            }
        )
        + "\n"
        for _ in range(10)
    )
    before = {
        t["name"]: t["messages"] for t in json.loads(run_cli(test_env, "topics", "--json").stdout)
    }
    assert run_cli(test_env, "produce", "privacy.requests", stdin=lines).code == 0
    after = {
        t["name"]: t["messages"] for t in json.loads(run_cli(test_env, "topics", "--json").stdout)
    }
    assert after["privacy.requests"] == before.get("privacy.requests", 0) + 10
