"""What every domain of the worker shares: the Faust app, settings, codec, metrics, intake.

Domain modules receive this context to register their handlers, tables, agents and views,
so they never import the app factory and the factory can list them without a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import faust

from schemas.codec import Codec
from streams.intake import Handler, Intake
from streams.metrics import WorkerMetrics
from streams.settings import Settings


@dataclass
class WorkerContext:
    """The application being built and the shared parts its agents and views use."""

    app: faust.App
    settings: Settings
    codec: Codec
    metrics: WorkerMetrics
    intake: Intake
    handlers: dict[str, Handler] = field(default_factory=dict)
    ready: bool = False


Registrar = Callable[[WorkerContext], None]
"""Adds a domain's handlers, tables, agents and views to the worker."""
