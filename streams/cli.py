"""The `journeyhub` command line: one entry point for operators, scripts and deployments.

Errors reach the user as one readable line on stderr with a non-zero exit code; `--debug`
shows the traceback. Components that live in `connectors` are started by name, so this
module never imports them and the package direction schemas ← streams ← connectors holds.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click
from rich.console import Console
from rich.table import Table

from schemas.catalog import get_topic
from schemas.codec import make_codec
from schemas.errors import SchemaError
from streams.errors import JourneyhubError
from streams.kafka import ensure_topics
from streams.settings import Settings, revealed
from streams.topic_io import InputLineError, encode_lines, read_lines, send_records, tail

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

CONNECTOR_ENTRY_POINTS = {
    "crm": "connectors.crm:run_crm_connector",
    "mail": "connectors.mail:run_mail_connector",
    "print": "connectors.printing:run_print_connector",
    "alerts": "connectors.alerting:run_alerts_connector",
}
SANDBOX_CRM_ENTRY_POINT = "connectors.sandbox_crm:run_sandbox_crm"


class NotYetAvailableError(JourneyhubError):
    """A command whose component is not part of this release yet."""


def load_entry_point(spec: str) -> Callable[..., Any]:
    """Import ``module:function`` lazily; a missing component is a clear error."""
    module_name, _, function_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        msg = f"{module_name} is not available in this installation"
        raise NotYetAvailableError(msg) from error
    function: Callable[..., Any] = getattr(module, function_name)
    return function


def settings_from_env() -> Settings:
    """Read the settings once, for the command being run."""
    return Settings.from_env()


def emit_table(columns: list[str], rows: list[list[Any]], title: str) -> None:
    """Print rows as a table for people; a value too wide for its column wraps, never cut off.

    Group and topic names share long prefixes (`journeyhub-connect-…`): cut to the width of
    a terminal, they could no longer be told apart.
    """
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    Console().print(table)


def emit_json(items: list[Any]) -> None:
    """Print dataclasses or dicts as one JSON array for scripts."""
    plain = [
        dataclasses.asdict(i) if dataclasses.is_dataclass(i) and not isinstance(i, type) else i
        for i in items
    ]
    click.echo(json.dumps(plain, ensure_ascii=False, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def cli(debug: bool) -> None:
    """Journeyhub: shop, CMS, ERP, RFID and social events joined into customer-360 profiles."""


@cli.command()
def up() -> None:
    """Run everything locally in the foreground until Ctrl-C."""
    from streams.stack import run_stack

    run_stack(settings_from_env(), say=click.echo)


@cli.command()
@click.option("--customers", default=200, show_default=True, help="Customers to generate.")
@click.option("--seed", default=7, show_default=True, help="Random seed; same seed, same run.")
@click.option(
    "--summary-json",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the summary as JSON to this file.",
)
@click.option(
    "--keep-running",
    is_flag=True,
    help="After the summary, keep the stack running until Ctrl-C, to explore it.",
)
def demo(customers: int, seed: int, summary_json: Path | None, keep_running: bool) -> None:
    """Run the whole stack on a generated workload, print a summary, exit."""
    from streams.demo import run_demo

    run_demo(
        settings_from_env(),
        customers=customers,
        seed=seed,
        say=click.echo,
        summary_path=summary_json,
        keep_running=keep_running,
    )


@cli.command()
@click.argument("topic")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
def produce(topic: str, source: TextIO) -> None:
    """Send JSON lines from SOURCE (a file or - for stdin) to TOPIC as Avro.

    Every line is checked first; if one does not fit the schema, nothing is sent (exit 2).
    """
    settings = settings_from_env()
    records = encode_lines(topic, read_lines(source), make_codec(settings.schema_registry_url))
    ensure_topics(settings, [get_topic(topic)])
    send_records(settings, topic, records)
    click.echo(f"produced {len(records)} records to {topic}", err=True)


@cli.command(name="tail")
@click.argument("topic")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest message.")
@click.option("--max", "max_messages", type=click.IntRange(min=1), help="Stop after N messages.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    help="Stop after SECONDS without a new message (default: follow forever).",
)
@click.option("--key", "keys", multiple=True, help="Only messages with this key (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def tail_command(
    topic: str,
    from_beginning: bool,
    max_messages: int | None,
    timeout: float | None,
    keys: tuple[str, ...],
    as_json: bool,
) -> None:
    """Print the decoded messages of TOPIC; without --timeout, follow it until Ctrl-C."""
    settings = settings_from_env()
    codec = make_codec(settings.schema_registry_url)
    messages = tail(
        settings,
        topic,
        codec,
        from_beginning=from_beginning,
        max_messages=max_messages,
        idle_timeout=timeout,
        keys=frozenset(keys),
    )
    for message in messages:
        if as_json:
            click.echo(message.to_json())
        else:
            value = json.dumps(message.value, ensure_ascii=False)
            click.echo(f"{message.partition}:{message.offset} {message.key} {value}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def topics(as_json: bool) -> None:
    """List topics with partitions, message counts and compaction."""
    from streams.inspect import Inspector

    inspector = Inspector(settings_from_env())
    try:
        infos = inspector.topics()
    finally:
        inspector.close()
    if as_json:
        emit_json(infos)
        return
    rows = [[i.name, i.partitions, i.messages, "yes" if i.compacted else ""] for i in infos]
    emit_table(["topic", "partitions", "messages", "compacted"], rows, "topics")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def lag(as_json: bool) -> None:
    """Show consumer lag per group and partition."""
    from streams.inspect import Inspector

    inspector = Inspector(settings_from_env())
    try:
        rows = inspector.lag()
    finally:
        inspector.close()
    if as_json:
        emit_json([{**dataclasses.asdict(r), "lag": r.lag} for r in rows])
        return
    table_rows = [[r.group, r.topic, r.partition, r.committed, r.end, r.lag] for r in rows]
    emit_table(["group", "topic", "partition", "committed", "end", "lag"], table_rows, "lag")


@cli.group()
def dlq() -> None:
    """Inspect and replay dead letters."""


@dlq.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def dlq_list(as_json: bool) -> None:
    """Count dead letters per topic with their latest reasons."""
    from streams.inspect import Inspector

    inspector = Inspector(settings_from_env())
    try:
        summaries = inspector.dead_letters()
    finally:
        inspector.close()
    if as_json:
        emit_json(summaries)
        return
    rows = [
        [s.topic, s.count, ", ".join(f"{k}: {v}" for k, v in s.reasons.items()), s.latest_message]
        for s in summaries
    ]
    emit_table(["topic", "count", "reasons", "latest"], rows, "dead letters")


@dlq.command(name="replay")
@click.argument("topic")
@click.option("--dry-run", is_flag=True, help="Only count what would be replayed.")
def dlq_replay(topic: str, dry_run: bool) -> None:
    """Re-publish the dead letters of TOPIC to TOPIC (each dead letter once)."""
    from streams.inspect import replay_dead_letters

    count = replay_dead_letters(settings_from_env(), topic, dry_run=dry_run)
    verb = "would replay" if dry_run else "replayed"
    click.echo(f"{verb} {count} dead letters of {topic}")


@cli.command()
def worker() -> None:
    """Run the stream worker alone (for deployments)."""
    from streams.worker import run_worker

    run_worker(settings_from_env())


@cli.command()
@click.argument("connector", type=click.Choice(sorted(CONNECTOR_ENTRY_POINTS)))
def connect(connector: str) -> None:
    """Run one sink connector alone (for deployments)."""
    load_entry_point(CONNECTOR_ENTRY_POINTS[connector])(settings_from_env())


@cli.command(name="sandbox-crm")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8099, show_default=True, type=click.IntRange(1, 65535))
@click.option("--fail-rate", default=0.0, type=click.FloatRange(0, 1), help="Share answered 503.")
@click.option("--latency-ms", default=0, type=click.IntRange(min=0), help="Delay per request.")
@click.option("--rate-limit", type=click.IntRange(min=1), help="Requests per second before 429.")
def sandbox_crm(
    host: str, port: int, fail_rate: float, latency_ms: int, rate_limit: int | None
) -> None:
    """Run the sandbox CRM: the reference implementation of the generic CRM API."""
    settings = settings_from_env()
    load_entry_point(SANDBOX_CRM_ENTRY_POINT)(
        host=host,
        port=port,
        data_dir=settings.data_dir,
        fail_rate=fail_rate,
        latency_ms=latency_ms,
        rate_limit=rate_limit,
        token=revealed(settings.crm_token),
    )


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and turn errors into one line on stderr and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="journeyhub", standalone_mode=False)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        sys.exit(EXIT_FAILURE)
    except (InputLineError, SchemaError) as error:
        _fail(error, debug, EXIT_BAD_INPUT)
    except (JourneyhubError, OSError) as error:
        _fail(error, debug, EXIT_FAILURE)
    except KeyboardInterrupt:
        sys.exit(130)


def _fail(error: BaseException, debug: bool, code: int) -> None:
    if debug:
        traceback.print_exception(error)
    click.echo(f"journeyhub: error: {error}", err=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
