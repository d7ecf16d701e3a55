"""PostgreSQL under contention, through real HTTP to a settlement process: many settlements and reversals at
once for a few persons and institutions (each reversal sent twice at once), and a day close running in another
process in the middle of it. The books come out exact: the journal balances, each year and account holds
exactly what the standing settlements took, and every settlement and reversal is in exactly one statement.

Extends tests/settlement/test_concurrency.py (one person, in-process) and
tests/settlement/test_day_close.py::test_a_close_running_alongside_settlements_loses_and_double_counts_nothing
(30 claims, no reversals, in-process).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from common.clock import SHANGHAI, FrozenClock, business_date
from common.money import yuan_to_fen
from settlement.models import DailyStatement, DayClose, Settlement, SettlementReversal, YearAccumulator
from settlement.service.day_close import close_day
from settlement.uow import SettlementUnitOfWork
from tests.faults.platform import (
    ACCOUNT_FEN,
    PERSONS,
    Platform,
    assert_books_consistent,
    claim,
    seed_world,
    settle_reverse_and_close,
)

pytestmark = pytest.mark.faults

CLAIMS = 240
SETTLERS, REVERSERS = 6, 2
FEW = PERSONS[:3]


async def test_concurrent_settlements_reversals_and_a_day_close_keep_the_books_exact(
    platform: Platform,
) -> None:
    if platform.backend != "postgres":
        pytest.skip("row locks and concurrent writers are PostgreSQL's; SQLite serialises every writer")
    platform.add("settlement", review_enabled=False)
    await platform.start("settlement")
    await seed_world(platform, pricing=False)
    api = platform.client("settlement")
    db = platform.db("settlement")
    day = business_date(datetime.now(UTC))

    traffic = await settle_reverse_and_close(
        api,
        db,
        claims=CLAIMS,
        body_of=lambda n: claim(n, psn_no=FEW[(n // 3) % len(FEW)]),
        reversed_if=lambda n: n % 3 == 1,
        settlers=SETTLERS,
        reversers=REVERSERS,
        day=day,
        half_timeout_s=120,
    )
    answers, reversed_ids, reversal_pairs = traffic.answered, traffic.reversed_ids, traffic.reversal_pairs
    closed_first = traffic.closed_first
    assert 0 < closed_first < CLAIMS

    # Each reversal sent twice at once: one reverses, the other is told it already happened.
    assert set(reversal_pairs) == {((201, None), (409, "ALREADY_REVERSED"))}
    assert len(reversal_pairs) == len(reversed_ids)
    books = await assert_books_consistent(platform)
    assert books == {"settled": CLAIMS - len(reversed_ids), "reversed": len(reversed_ids)}
    await _assert_answers_match_the_books(platform, answers, reversed_ids)

    # The rest goes into the next day's close: every settlement and reversal in exactly one statement.
    later = FrozenClock(datetime.combine(day + timedelta(days=2), time(1), tzinfo=SHANGHAI))
    async with SettlementUnitOfWork(db) as uow:
        closed_next = (
            await close_day(uow=uow, day=day + timedelta(days=1), closed_by="faults", clock=later)
        ).day_close
    assert closed_first + closed_next.settlement_count == CLAIMS
    async with db.transaction(readonly=True) as session:
        closes = {
            c.business_date: (c.settlement_count, c.reversal_count)
            for c in (await session.scalars(sa.select(DayClose))).all()
        }
        statements = {
            (s.business_date, s.fixmedins_code): (s.setl_cnt, s.reversal_cnt)
            for s in (await session.scalars(sa.select(DailyStatement))).all()
        }
        settled_in = Counter(
            (await session.execute(sa.select(Settlement.day_close_date, Settlement.fixmedins_code))).all()
        )
        reversed_in = Counter(
            (
                await session.execute(
                    sa.select(SettlementReversal.day_close_date, SettlementReversal.fixmedins_code)
                )
            ).all()
        )
    assert set(closes) == {day, day + timedelta(days=1)}
    assert sum(n for n, _ in closes.values()) == CLAIMS
    assert sum(r for _, r in closes.values()) == len(reversed_ids)
    assert {key: n for key, (n, _) in statements.items() if n} == dict(settled_in)
    assert {key: r for key, (_, r) in statements.items() if r} == dict(reversed_in)
    print(
        f"\n[faults] postgres: {CLAIMS} settlements by {SETTLERS} clients for {len(FEW)} persons at 4 "
        f"institutions, {len(reversed_ids)} reversals each sent twice at once ({len(reversed_ids)} × 201 + "
        f"{len(reversed_ids)} × 409 ALREADY_REVERSED), a day close in another process midway: "
        f"{closed_first} settlements in the close of {day}, {closed_next.settlement_count} in the next day's, "
        f"{books['settled']} standing; ledger balanced, every year and account exact, "
        f"statements = settlements per institution and day"
    )


async def _assert_answers_match_the_books(
    platform: Platform, answers: dict[str, dict[str, Any]], reversed_ids: set[str]
) -> None:
    """What the callers were told adds up to what the books hold: each person's deductible used and account
    spent are the sums of the answers of their settlements still standing."""
    standing = [info for setl_id, info in answers.items() if setl_id not in reversed_ids]
    async with platform.db("settlement").transaction(readonly=True) as session:
        years = {
            row.psn_no: row.outpatient_dedc_fen
            for row in (await session.scalars(sa.select(YearAccumulator))).all()
        }
    client = platform.client("settlement")
    for psn_no in FEW:
        mine = [info for info in standing if info["psn_no"] == psn_no]
        assert years.get(psn_no, 0) == sum(yuan_to_fen(info["act_pay_dedc"]) for info in mine)
        balance = yuan_to_fen((await client.get(f"/accounts/{psn_no}")).json()["balc"])
        assert balance == ACCOUNT_FEN - sum(yuan_to_fen(info["acct_pay"]) for info in mine)
