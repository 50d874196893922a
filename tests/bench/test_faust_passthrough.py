"""The Faust passthroughs run without building debug messages nobody writes."""

import logging
from collections.abc import Iterator

import pytest

from tests.bench.faust_passthrough import passthrough_app, passthrough_worker


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, restored after the test: a worker's logging setup replaces it."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_passthrough_worker_builds_no_debug_messages(root_logger: logging.Logger) -> None:
    app = passthrough_app("127.0.0.1:1", "bench.in", "bench.out", lean=False)

    passthrough_worker(app)._setup_logging()

    assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("faust.topics").isEnabledFor(logging.DEBUG)
