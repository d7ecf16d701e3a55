"""The pytest plugin of the platform: NATS from the wheel, per-service databases, a frozen clock, and a
guard that fails the run if any log line carries a certno, a name or a phone number.

Databases run on SQLite always and on PostgreSQL too when TEST_POSTGRES_URL is set; tests that take
the `databases` fixture run once per backend.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest

from common.clock import FrozenClock
from common.embedded_nats import EmbeddedNats, free_port
from common.testing.databases import Databases, DatabaseSet, backends, empty_database
from common.testing.leaks import PersonalDataGuard

_GUARD = PersonalDataGuard()


class _WorkerGuards:
    """Under pytest-xdist: each worker scans its own log lines; the controller adds up what they found."""

    def __init__(self) -> None:
        self.lines = 0
        self.leaks: list[str] = []

    @pytest.hookimpl
    def pytest_testnodedown(self, node: object, error: object) -> None:
        found = getattr(node, "workeroutput", {}).get("personal_data_guard", {})
        self.lines += int(found.get("lines", 0))
        self.leaks.extend(found.get("leaks", []))


def _guards(config: pytest.Config) -> tuple[int, list[str]]:
    """Log lines scanned and leaks found in this process and, under xdist, in every worker."""
    workers: _WorkerGuards | None = getattr(config, "_personal_data_workers", None)
    if workers is None:
        return _GUARD.lines, _GUARD.leaks
    return _GUARD.lines + workers.lines, _GUARD.leaks + workers.leaks


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_GUARD)
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        workers = _WorkerGuards()
        config._personal_data_workers = workers  # type: ignore[attr-defined]
        config.pluginmanager.register(workers, "personal-data-workers")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines, leaks = _guards(terminalreporter.config)
    if not leaks:
        terminalreporter.write_line(
            f"personal-data guard: {lines} log lines scanned, no certno, name or phone in any"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    logging.getLogger().removeHandler(_GUARD)
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller reports and fails the run
        workeroutput["personal_data_guard"] = {"lines": _GUARD.lines, "leaks": _GUARD.leaks[:20]}
        return
    lines, leaks = _guards(session.config)
    if leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(
                f"PERSONAL DATA IN LOGS: {len(leaks)} of {lines} log lines carry a certno, "
                "a name or a phone number:",
                red=True,
            )
            for line in leaks[:20]:
                reporter.write_line(f"  {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """One nats-server (JetStream) from the wheel on a free port for the whole run; never the system's."""
    root = tmp_path_factory.mktemp("nats")
    server = EmbeddedNats(port=free_port(), store_dir=root / "store", log_file=root / "nats.log")
    server.start()
    yield server
    server.stop()


async def fresh_streams(url: str) -> None:
    """Delete every stream of the server, so what starts next sees no event of what ran before."""
    client = await nats.connect(url)
    try:
        js = client.jetstream()
        for info in await js.streams_info():
            if info.config.name:
                await js.delete_stream(info.config.name)
    finally:
        await client.close()


@pytest.fixture
async def nats_url(nats_server: EmbeddedNats) -> AsyncIterator[str]:
    """The shared server's URL, with every stream deleted first so no test sees another's events."""
    await fresh_streams(nats_server.url)
    yield nats_server.url


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A nats-server of the test's own, to stop and restart at will."""
    server = EmbeddedNats(port=free_port(), store_dir=tmp_path / "nats-store", log_file=tmp_path / "nats.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session", params=backends())
def database_set(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseSet]:
    backend: str = request.param
    database_set = DatabaseSet(backend, tmp_path_factory.mktemp(f"db-{backend}"))
    database_set.create()
    yield database_set
    database_set.drop()


@pytest.fixture
async def databases(database_set: DatabaseSet) -> AsyncIterator[Databases]:
    """Each service's migrated database on the current backend (sqlite, postgres); emptied after the test."""
    handle = Databases(database_set)
    yield handle
    await asyncio.gather(*(empty_database(database_set.urls[name]) for name in handle.used))


@pytest.fixture
def clock() -> FrozenClock:
    """A clock frozen at 2026-03-02 10:00 Asia/Shanghai (02:00 UTC), moved by the test."""
    return FrozenClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
