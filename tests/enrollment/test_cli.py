"""The initial load from CSV: batches through the bulk registration, bad lines reported, a progress bar."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from common.clock import FrozenClock
from common.db import Database
from common.events.tables import outbox_event
from common.progress import ProgressBar
from common.testing.databases import Databases
from enrollment.cli import load_persons
from enrollment.models import Person
from tests.enrollment.conftest import certno


async def test_a_csv_is_loaded_in_batches_and_bad_lines_are_skipped(
    databases: Databases, clock: FrozenClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [certno(date(1970 + i, 5, 1), seq=300 + i) for i in range(7)]
    lines = ["certno,psn_name,admdvs,tel"]
    lines += [f"{c},居民{i},420100," for i, c in enumerate(good)]
    lines.append(f"{good[0]},重复,420100,")  # registered in an earlier batch
    lines.append("420102199003071230,坏号,420100,")  # bad checksum
    lines.append(f"{certno(date(1999, 1, 1), seq=9)},,420100,")  # no name
    path = tmp_path / "persons.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    db = Database.from_url(databases.url("enrollment"))
    try:
        report = await load_persons(db, path, clock=clock, batch_size=3)
        async with db.transaction(readonly=True) as session:
            stored = set((await session.scalars(sa.select(Person.certno))).all())
            events = await session.scalar(sa.select(sa.func.count()).select_from(outbox_event))
    finally:
        await db.dispose()
    assert (report.created, report.existing, report.rejected) == (7, 1, 2)
    assert stored == set(good)
    assert events == 7
    err = capsys.readouterr().err
    assert "line 11: psn_name" in err
    assert "persons [##############################] 10/10 100%" in err


def test_the_progress_bar_prints_a_line_a_tenth_when_not_on_a_terminal() -> None:
    stream = io.StringIO()
    bar = ProgressBar(100, label="load", stream=stream, width=10)
    for _ in range(100):
        bar.advance()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 12  # the start, 10 %, 20 %, ... 100 %, and the final line with the time taken
    assert lines[0].startswith("load [..........] 1/100   1%")
    assert lines[1].startswith("load [#.........] 10/100  10%")
    assert lines[-1].startswith("load [##########] 100/100 100%")
