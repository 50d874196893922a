"""The Faust app of the tests' small workers: on the lean consume path, as the worker sets it up.

``path`` names the consume path: ``embedded`` for the embedded broker's transport (short
fetches, true ends, in-order producer) under the lean consumer, ``kafka`` for Kafka's.
"""

from __future__ import annotations

from typing import Any

import faust

from streams.embedded_transport import use_embedded_transport
from streams.lean_consumer import use_lean_consume_path
from streams.settings import EMBEDDED_SESSION_TIMEOUT, Settings


def lean_app(group: str, bootstrap: str, path: str, **options: Any) -> faust.App:
    """A Faust app of consumer group ``group`` without a web server; ``options`` go to Faust."""
    app = faust.App(
        group,
        broker=f"kafka://{bootstrap}",
        broker_session_timeout=EMBEDDED_SESSION_TIMEOUT,
        broker_heartbeat_interval=EMBEDDED_SESSION_TIMEOUT / 3,
        web_enabled=False,
        datadir=str(Settings.from_env().data_dir / group),  # not the working directory
        **options,
    )
    if path == "embedded":  # as the worker does
        use_embedded_transport(app)
    use_lean_consume_path(app, embedded_broker=path == "embedded")
    return app
