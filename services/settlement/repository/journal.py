"""The fund ledger's journal: posting balanced legs, reading a journal back, and the sums the check compares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from common.db import DeferredWrites, table_of
from common.repository import RepositoryBase
from settlement.domain.ledger import Leg, balanced
from settlement.models import (
    Journal,
    JournalLeg,
    PersonalAccount,
    Settlement,
    SettlementReversal,
    YearAccumulator,
)

# Built once with bound parameters: compiled once, then only executed (the settle path posts one per call).
_JOURNAL, _LEG = table_of(Journal), table_of(JournalLeg)
_INSERT_JOURNAL = sa.insert(_JOURNAL).returning(_JOURNAL.c.journal_id)
_INSERT_LEG = sa.insert(_LEG)


def _journal_returning(prefix: str, _: list[Any]) -> sa.Insert:
    return (
        sa.insert(_JOURNAL)
        .values({name: sa.bindparam(prefix + name, type_=_JOURNAL.c[name].type) for name in _JOURNAL_VALUES})
        .returning(_JOURNAL.c.journal_id)
    )


_JOURNAL_VALUES = ("kind", "ref", "business_date", "created_at")

YEAR_FIELDS = (
    "outpatient_dedc_fen",
    "outpatient_pool_fen",
    "pool_fen",
    "pool_self_fen",
    "supp_fen",
    "maf_fen",
    "settlement_count",
)
YearKey = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class PostedAmounts:
    """A settlement's (or reversal's) amounts as stored — fund, accounts, cash — and as its journal posted them."""

    kind: str  # settlement | reversal
    setl_id: str
    expected_fen: tuple[int, int, int]
    journal_fen: tuple[int, int, int]


class JournalRepository(RepositoryBase[Journal]):
    model = Journal

    async def post_deferred(
        self, *, kind: str, ref: str, business_date: date, legs: Sequence[Leg], now: datetime
    ) -> None:
        """`post`, with the transaction's other deferred writes (common.db.DeferredWrites): on PostgreSQL the
        journal and its legs are two CTEs of the one statement, the legs taking the journal's id from its
        RETURNING; on SQLite `post` runs now."""
        writes = DeferredWrites.of(self.session)
        if not writes.combined:
            await self.post(kind=kind, ref=ref, business_date=business_date, legs=legs, now=now)
            return
        kept = balanced(legs)
        position = await writes.add(
            "journal",
            _journal_returning,
            {"kind": kind, "ref": ref, "business_date": business_date, "created_at": now},
        )
        if kept:

            def legs_of_journal(prefix: str, previous: list[Any]) -> sa.Insert:
                # The legs as two arrays unnested side by side, the id from the journal's RETURNING.
                accounts = sa.bindparam(f"{prefix}accounts", type_=postgresql.ARRAY(sa.String()))
                amounts = sa.bindparam(f"{prefix}amounts", type_=postgresql.ARRAY(sa.BigInteger()))
                return sa.insert(_LEG).from_select(
                    ["journal_id", "account", "amount_fen"],
                    sa.select(
                        previous[position].c.journal_id, sa.func.unnest(accounts), sa.func.unnest(amounts)
                    ),
                )

            await writes.add(
                ("journal_legs", position),
                legs_of_journal,
                {"accounts": [leg.account for leg in kept], "amounts": [leg.amount_fen for leg in kept]},
            )

    async def post(
        self, *, kind: str, ref: str, business_date: date, legs: Sequence[Leg], now: datetime
    ) -> int:
        """Append one balanced journal (kind: settlement | reversal | contribution | ...); returns its id."""
        kept = balanced(legs)
        journal_id = (
            await self.session.execute(
                _INSERT_JOURNAL, {"kind": kind, "ref": ref, "business_date": business_date, "created_at": now}
            )
        ).scalar_one()
        if kept:
            await self.session.execute(
                _INSERT_LEG,
                [
                    {"journal_id": journal_id, "account": leg.account, "amount_fen": leg.amount_fen}
                    for leg in kept
                ],
            )
        return int(journal_id)

    async def legs(self, *, kind: str, ref: str) -> list[Leg]:
        """The legs of the journal of a kind for a reference (e.g. the settlement journal of a setl_id)."""
        query = (
            sa.select(JournalLeg.account, JournalLeg.amount_fen)
            .join(Journal, Journal.journal_id == JournalLeg.journal_id)
            .where(Journal.kind == kind, Journal.ref == ref)
            .order_by(JournalLeg.leg_id)
        )
        return [Leg(account, amount) for account, amount in (await self.session.execute(query)).all()]

    # --- what the ledger check compares ------------------------------------------------------------------

    async def counts(self) -> tuple[int, int]:
        """How many journals and legs there are."""
        journals = await self.session.scalar(sa.select(sa.func.count()).select_from(Journal))
        legs = await self.session.scalar(sa.select(sa.func.count()).select_from(JournalLeg))
        return int(journals or 0), int(legs or 0)

    async def unbalanced(self, *, limit: int) -> dict[int, int]:
        """Journals whose legs do not sum to zero, with the sum (a bug if any)."""
        rows = await self.session.execute(
            sa.select(JournalLeg.journal_id, sa.func.sum(JournalLeg.amount_fen))
            .group_by(JournalLeg.journal_id)
            .having(sa.func.sum(JournalLeg.amount_fen) != 0)
            .limit(limit)
        )
        return {journal_id: int(total) for journal_id, total in rows.all()}

    async def by_account(self) -> dict[str, int]:
        """Each ledger account's balance (the sum of its legs)."""
        rows = await self.session.execute(
            sa.select(JournalLeg.account, sa.func.sum(JournalLeg.amount_fen)).group_by(JournalLeg.account)
        )
        return {account: int(total) for account, total in rows.all()}

    async def stored_balances(self) -> dict[str, int]:
        """Every personal account's stored balance."""
        rows = await self.session.execute(sa.select(PersonalAccount.psn_no, PersonalAccount.balc_fen))
        return {psn_no: balance for psn_no, balance in rows.all()}

    async def year_totals_from_settlements(self) -> dict[YearKey, tuple[int, ...]]:
        """Each person's yearly totals as the settlements that stand (not reversed) add up, in YEAR_FIELDS order."""
        s = Settlement
        rows = await self.session.execute(
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
        return {(row[0], row[1], row[2]): tuple(int(v or 0) for v in row[3:]) for row in rows.all()}

    async def stored_year_totals(self) -> dict[YearKey, tuple[int, ...]]:
        """Each person's yearly totals as stored, in YEAR_FIELDS order."""
        y = YearAccumulator
        rows = await self.session.execute(
            sa.select(y.psn_no, y.insutype, y.year, *(getattr(y, name) for name in YEAR_FIELDS))
        )
        return {(row[0], row[1], row[2]): tuple(int(v) for v in row[3:]) for row in rows.all()}

    async def posted_amounts(self) -> list[PostedAmounts]:
        """Each settlement's and reversal's stored amounts (a reversal's opposite) beside its journal's."""
        fund = sa.func.sum(sa.case((JournalLeg.account.like("fund:%"), JournalLeg.amount_fen), else_=0))
        accounts = sa.func.sum(
            sa.case((JournalLeg.account.like("psn_acct:%"), JournalLeg.amount_fen), else_=0)
        )
        cash = sa.func.sum(
            sa.case((JournalLeg.account.like("patient_cash:%"), JournalLeg.amount_fen), else_=0)
        )
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
        found = []
        for kind, key, join in (
            ("settlement", s.setl_id, sa.and_(posted.c.kind == "settlement", posted.c.ref == s.setl_id)),
            ("reversal", r.setl_id, sa.and_(posted.c.kind == "reversal", posted.c.ref == r.setl_id)),
        ):
            sign = 1 if kind == "settlement" else -1
            query = sa.select(key, *expected, posted.c.fund, posted.c.accounts, posted.c.cash)
            if kind == "settlement":
                query = query.select_from(s).join(posted, join, isouter=True)
            else:
                query = (
                    query.select_from(r).join(s, s.setl_id == r.orig_setl_id).join(posted, join, isouter=True)
                )
            for row in (await self.session.execute(query)).all():
                want = (sign * int(row[1]), sign * int(row[2]), sign * int(row[3]))
                got = (int(row[4] or 0), int(row[5] or 0), int(row[6] or 0))
                found.append(PostedAmounts(kind, row[0], want, got))
        return found
