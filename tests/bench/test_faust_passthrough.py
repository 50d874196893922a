"""The Faust passthroughs run without building debug messages nobody writes."""

import logging
import sys
from collections.abc import Iterator

import pytest

from tests.bench.faust_passthrough import passthrough_app, passthrough_worker


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Restores the root logger and standard streams after a worker's logging setup."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    streams = sys.stdout, sys.stderr
    yield
    sys.stdout, sys.stderr = streams
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restored_logging")
def test_the_passthrough_worker_builds_no_debug_messages() -> None:
    worker = passthrough_worker(passthrough_app("127.0.0.1:1", "bench.in", "out", lean=False))

    with worker.exit_stack:  # the worker's setup redirects stdout and stderr until it stops
        worker._setup_logging()
        producer_debug = logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
        topics_debug = logging.getLogger("faust.topics").isEnabledFor(logging.DEBUG)

    assert not producer_debug
    assert not topics_debug
