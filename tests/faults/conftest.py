"""The platform as real processes for the fault tests: a nats-server that can be killed -9 and restarted on
its port and store, and services started as production starts them, on the run's test databases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from common.embedded_nats import EmbeddedNats, free_port
from common.testing.databases import Databases
from tests.faults.platform import Platform


@pytest.fixture
def killable_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A nats-server of the test's own (JetStream on disk), to kill -9 and start again on the same port."""
    server = EmbeddedNats(port=free_port(), store_dir=tmp_path / "nats-store", log_file=tmp_path / "nats.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def platform(
    databases: Databases, killable_nats: EmbeddedNats, tmp_path: Path
) -> AsyncIterator[Platform]:
    """Services as processes on this backend's test databases; every process is stopped before the
    databases are emptied."""
    stack = Platform(databases, killable_nats, tmp_path)
    try:
        yield stack
    finally:
        await stack.close()
