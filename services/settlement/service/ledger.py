"""Posting journals to the fund ledger, and the check that balances are derivable from it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from common.money import fen_to_str, fen_to_yuan
from settlement.domain.ledger import Leg, balanced
from settlement.models import (
    Journal,
    JournalLeg,
    PersonalAccount,
    Settlement,
    SettlementReversal,
    YearAccumulator,
    table_of,
)

# Built once with bound parameters: compiled once, then only executed (the settle path posts one per call).
_INSERT_JOURNAL = sa.insert(table_of(Journal)).returning(table_of(Journal).c.journal_id)
_INSERT_LEG = sa.insert(table_of(JournalLeg))


async def post_journal(
    session: AsyncSession,
    *,
    kind: str,
    ref: str,
    business_date: date,
    legs: Sequence[Leg],
    now: datetime,
) -> int:
    """Append one balanced journal (kind: settlement | reversal | contribution | ...); returns its id."""
    kept = balanced(legs)
    journal_id = (
        await session.execute(
            _INSERT_JOURNAL, {"kind": kind, "ref": ref, "business_date": business_date, "created_at": now}
        )
    ).scalar_one()
    if kept:
        await session.execute(
            _INSERT_LEG,
            [
                {"journal_id": journal_id, "account": leg.account, "amount_fen": leg.amount_fen}
                for leg in kept
            ],
        )
    return int(journal_id)


async def journal_legs(session: AsyncSession, *, kind: str, ref: str) -> list[Leg]:
    """The legs of the journal of a kind for a reference (e.g. the settlement journal of a setl_id)."""
    query = (
        sa.select(JournalLeg.account, JournalLeg.amount_fen)
        .join(Journal, Journal.journal_id == JournalLeg.journal_id)
        .where(Journal.kind == kind, Journal.ref == ref)
        .order_by(JournalLeg.leg_id)
    )
    return [Leg(account, amount) for account, amount in (await session.execute(query)).all()]


def _totals_key(account: str) -> str:
    """Funds and the bank are reported each; per-person and per-institution accounts by kind."""
    kind = account.split(":", 1)[0]
    return account if kind in ("fund", "bank") else kind


async def check_ledger(session: AsyncSession, *, limit: int = 100) -> dict[str, Any]:
    """Recompute from the journal and compare with every balance and total kept elsewhere."""
    journals = int(await session.scalar(sa.select(sa.func.count()).select_from(Journal)) or 0)
    legs = int(await session.scalar(sa.select(sa.func.count()).select_from(JournalLeg)) or 0)
    unbalanced = [
        {"journal_id": journal_id, "sum_fen": int(total)}
        for journal_id, total in (
            await session.execute(
                sa.select(JournalLeg.journal_id, sa.func.sum(JournalLeg.amount_fen))
                .group_by(JournalLeg.journal_id)
                .having(sa.func.sum(JournalLeg.amount_fen) != 0)
                .limit(limit)
            )
        ).all()
    ]
    by_account = {
        account: int(total)
        for account, total in (
            await session.execute(
                sa.select(JournalLeg.account, sa.func.sum(JournalLeg.amount_fen)).group_by(JournalLeg.account)
            )
        ).all()
    }
    # Personal accounts: the stored balance is minus the ledger balance (a liability to the person).
    stored = {
        psn_no: balance
        for psn_no, balance in (
            await session.execute(sa.select(PersonalAccount.psn_no, PersonalAccount.balc_fen))
        ).all()
    }
    from_journal = {
        account.removeprefix("psn_acct:"): -total
        for account, total in by_account.items()
        if account.startswith("psn_acct:")
    }
    account_differences = [
        {
            "psn_no": psn_no,
            "stored": fen_to_str(stored.get(psn_no, 0)),
            "journal": fen_to_str(from_journal.get(psn_no, 0)),
        }
        for psn_no in sorted(set(stored) | set(from_journal))
        if stored.get(psn_no, 0) != from_journal.get(psn_no, 0)
    ][:limit]
    accumulator_differences = await _accumulator_differences(session, limit=limit)
    settlement_differences = await _settlement_differences(session, limit=limit)
    totals: dict[str, int] = {}
    for account, total in by_account.items():
        key = _totals_key(account)
        totals[key] = totals.get(key, 0) + total
    return {
        "balanced": not (
            unbalanced or account_differences or accumulator_differences or settlement_differences
        ),
        "journals": journals,
        "legs": legs,
        "unbalanced_journals": unbalanced,
        "account_differences": account_differences,
        "accumulator_differences": accumulator_differences,
        "settlement_differences": settlement_differences,
        "totals": {key: fen_to_yuan(value) for key, value in sorted(totals.items())},
    }


_YEAR_FIELDS = (
    "outpatient_dedc_fen",
    "outpatient_pool_fen",
    "pool_fen",
    "pool_self_fen",
    "supp_fen",
    "maf_fen",
    "settlement_count",
)


async def _accumulator_differences(session: AsyncSession, *, limit: int) -> list[dict[str, Any]]:
    """Each person's yearly totals against the sum of their settlements that stand (not reversed)."""
    s = Settlement
    recomputed = {
        (row[0], row[1], row[2]): tuple(int(v or 0) for v in row[3:])
        for row in (
            await session.execute(
                sa.select(
                    s.psn_no,
                    s.insutype,
                    s.year,
                    sa.func.sum(s.outpatient_dedc_fen),
                    sa.func.sum(s.outpatient_pool_fen),
                    sa.func.sum(s.hifp_pay_fen),
                    sa.func.sum(s.pool_self_fen),
                    sa.func.sum(s.hifmi_pay_fen + s.hifob_pay_fen),
                    sa.func.sum(s.maf_pay_fen),
                    sa.func.count(),
                )
                .where(s.status == "settled")
                .group_by(s.psn_no, s.insutype, s.year)
            )
        ).all()
    }
    y = YearAccumulator
    kept = {
        (row[0], row[1], row[2]): tuple(int(v) for v in row[3:])
        for row in (
            await session.execute(
                sa.select(y.psn_no, y.insutype, y.year, *(getattr(y, name) for name in _YEAR_FIELDS))
            )
        ).all()
    }
    zero = (0,) * len(_YEAR_FIELDS)
    differences = []
    for key in sorted(set(recomputed) | set(kept)):
        if recomputed.get(key, zero) != kept.get(key, zero):
            differences.append(
                {
                    "psn_no": key[0],
                    "insutype": key[1],
                    "year": key[2],
                    "stored": dict(zip(_YEAR_FIELDS, kept.get(key, zero), strict=True)),
                    "from_settlements": dict(zip(_YEAR_FIELDS, recomputed.get(key, zero), strict=True)),
                }
            )
            if len(differences) >= limit:
                break
    return differences


async def _settlement_differences(session: AsyncSession, *, limit: int) -> list[dict[str, Any]]:
    """Each settlement's journal against its amounts: funds, accounts, cash (and its reversal, opposite)."""
    fund = sa.func.sum(sa.case((JournalLeg.account.like("fund:%"), JournalLeg.amount_fen), else_=0))
    accounts = sa.func.sum(sa.case((JournalLeg.account.like("psn_acct:%"), JournalLeg.amount_fen), else_=0))
    cash = sa.func.sum(sa.case((JournalLeg.account.like("patient_cash:%"), JournalLeg.amount_fen), else_=0))
    posted = (
        sa.select(
            Journal.kind, Journal.ref, fund.label("fund"), accounts.label("accounts"), cash.label("cash")
        )
        .join(JournalLeg, JournalLeg.journal_id == Journal.journal_id, isouter=True)
        .where(Journal.kind.in_(("settlement", "reversal")))
        .group_by(Journal.kind, Journal.ref)
        .subquery()
    )
    s, r = Settlement, SettlementReversal
    expected = (s.fund_pay_fen, s.acct_pay_fen + s.acct_mulaid_pay_fen, s.psn_cash_pay_fen)
    differences = []
    for kind, key, join in (
        ("settlement", s.setl_id, sa.and_(posted.c.kind == "settlement", posted.c.ref == s.setl_id)),
        ("reversal", r.setl_id, sa.and_(posted.c.kind == "reversal", posted.c.ref == r.setl_id)),
    ):
        sign = 1 if kind == "settlement" else -1
        query = sa.select(key, *expected, posted.c.fund, posted.c.accounts, posted.c.cash)
        if kind == "settlement":
            query = query.select_from(s).join(posted, join, isouter=True)
        else:
            query = query.select_from(r).join(s, s.setl_id == r.orig_setl_id).join(posted, join, isouter=True)
        for row in (await session.execute(query)).all():
            want = tuple(sign * int(v) for v in row[1:4])
            got = tuple(int(v or 0) for v in row[4:7])
            if want != got:
                differences.append(
                    {"kind": kind, "setl_id": row[0], "expected_fen": want, "journal_fen": got}
                )
                if len(differences) >= limit:
                    return differences
    return differences
