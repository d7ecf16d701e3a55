"""Read-only figures over settlements and the ledger: reconciliation with an institution, activity, fund KPIs."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from common.repository import RepositoryBase
from settlement.models import Journal, JournalLeg, Settlement, SettlementReversal


@dataclass(frozen=True, slots=True)
class StandingTotals:
    """The count and sums (fen) of an institution's standing settlements of a period."""

    count: int
    medfee_fen: int
    fund_pay_fen: int
    acct_pay_fen: int
    acct_mulaid_pay_fen: int


@dataclass(frozen=True, slots=True)
class StandingSettlement:
    """One standing settlement as a reconciliation of details compares it."""

    setl_id: str
    medins_setl_id: str
    business_date: date
    medfee_fen: int
    fund_pay_fen: int
    acct_pay_fen: int


@dataclass(frozen=True, slots=True)
class DaySums:
    """Settlements (or reversals) of a business date: how many, and their sums in fen."""

    count: int
    medfee_fen: int
    fund_pay_fen: int
    acct_pay_fen: int  # the personal account's part, family mutual aid (共济) included
    psn_cash_pay_fen: int


@dataclass(frozen=True, slots=True)
class InpatientSums:
    inscp_fen: int
    fund_pay_fen: int


def _standing(
    fixmedins_code: str, begndate: date, enddate: date, status: str
) -> list[sa.ColumnElement[bool]]:
    s = Settlement
    return [
        s.fixmedins_code == fixmedins_code,
        s.business_date >= begndate,
        s.business_date <= enddate,
        s.status == status,
    ]


def _day_sums() -> list[Any]:
    s = Settlement
    return [
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(s.medfee_fen), 0),
        sa.func.coalesce(sa.func.sum(s.fund_pay_fen), 0),
        sa.func.coalesce(sa.func.sum(s.acct_pay_fen + s.acct_mulaid_pay_fen), 0),
        sa.func.coalesce(sa.func.sum(s.psn_cash_pay_fen), 0),
    ]


class ReportRepository(RepositoryBase[Settlement]):
    model = Settlement

    # --- reconciliation with an institution (对总账/对明细) ---

    async def standing_totals(
        self,
        *,
        fixmedins_code: str,
        begndate: date,
        enddate: date,
        status: str,
        insutype: str | None,
        med_types: Collection[str] | None,
    ) -> StandingTotals:
        """The totals of the period's settlements in `status`, optionally of one insutype and some med_types."""
        s = Settlement
        query = sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(s.medfee_fen), 0),
            sa.func.coalesce(sa.func.sum(s.fund_pay_fen), 0),
            sa.func.coalesce(sa.func.sum(s.acct_pay_fen), 0),
            sa.func.coalesce(sa.func.sum(s.acct_mulaid_pay_fen), 0),
        ).where(*_standing(fixmedins_code, begndate, enddate, status))
        if insutype is not None:
            query = query.where(s.insutype == insutype)
        if med_types is not None:
            query = query.where(s.med_type.in_(sorted(med_types)))
        return StandingTotals(*(int(value) for value in (await self.session.execute(query)).one()))

    async def standing_settlements(
        self, *, fixmedins_code: str, begndate: date, enddate: date, status: str, limit: int
    ) -> list[StandingSettlement]:
        """The period's settlements in `status` in the order they were made, at most `limit`."""
        s = Settlement
        rows = await self.session.execute(
            sa.select(
                s.setl_id, s.medins_setl_id, s.business_date, s.medfee_fen, s.fund_pay_fen, s.acct_pay_fen
            )
            .where(*_standing(fixmedins_code, begndate, enddate, status))
            .order_by(s.setl_time, s.setl_id)
            .limit(limit)
        )
        return [StandingSettlement(*row) for row in rows.all()]

    # --- an institution's day ---

    async def made_on(self, fixmedins_code: str, on: date) -> DaySums:
        """Settlements made on a business date, whatever happened to them since."""
        s = Settlement
        query = sa.select(*_day_sums()).where(s.fixmedins_code == fixmedins_code, s.business_date == on)
        return DaySums(*(int(value) for value in (await self.session.execute(query)).one()))

    async def reversed_on(self, fixmedins_code: str, on: date) -> DaySums:
        """Reversals made on a business date, with their settlements' amounts."""
        s, r = Settlement, SettlementReversal
        query = (
            sa.select(*_day_sums())
            .select_from(r)
            .join(s, s.setl_id == r.orig_setl_id)
            .where(r.fixmedins_code == fixmedins_code, r.business_date == on)
        )
        return DaySums(*(int(value) for value in (await self.session.execute(query)).one()))

    # --- fund KPIs (基金运行) ---

    async def leg_sums(self, account: str, first: date, last: date) -> list[tuple[date, str, int]]:
        """The sum of an account's legs per journal business date and kind, in a period."""
        leg, journal = JournalLeg, Journal
        rows = await self.session.execute(
            sa.select(journal.business_date, journal.kind, sa.func.sum(leg.amount_fen))
            .join(journal, journal.journal_id == leg.journal_id)
            .where(leg.account == account, journal.business_date >= first, journal.business_date <= last)
            .group_by(journal.business_date, journal.kind)
        )
        return [(day, kind, int(total)) for day, kind, total in rows.all()]

    async def journal_days(self, first: date, last: date) -> list[date]:
        """The business dates of a period on which the ledger has any journal."""
        journal = Journal
        days = await self.session.scalars(
            sa.select(journal.business_date)
            .where(journal.business_date >= first, journal.business_date <= last)
            .group_by(journal.business_date)
        )
        return list(days.all())

    async def account_sum(self, account: str, last: date) -> int:
        """The sum of every leg on an account through a day."""
        leg, journal = JournalLeg, Journal
        total = await self.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(leg.amount_fen), 0))
            .join(journal, journal.journal_id == leg.journal_id)
            .where(leg.account == account, journal.business_date <= last)
        )
        return int(total or 0)

    async def settlement_count(self, insutype: str, first: date, last: date) -> int:
        s = Settlement
        count = await self.session.scalar(
            sa.select(sa.func.count())
            .select_from(s)
            .where(s.insutype == insutype, s.business_date.between(first, last))
        )
        return int(count or 0)

    async def reversal_count(self, insutype: str, first: date, last: date) -> int:
        s, r = Settlement, SettlementReversal
        count = await self.session.scalar(
            sa.select(sa.func.count())
            .select_from(r)
            .join(s, s.setl_id == r.orig_setl_id)
            .where(s.insutype == insutype, r.business_date.between(first, last))
        )
        return int(count or 0)

    async def inpatient_sums(
        self,
        *,
        insutype: str,
        fund_pay_column: str,
        med_types: Collection[str],
        status: str,
        first: date,
        last: date,
    ) -> InpatientSums:
        """The in-scope amount and one fund's pay (a settlement column) of the inpatient settlements in `status`."""
        s = Settlement
        row = (
            await self.session.execute(
                sa.select(
                    sa.func.coalesce(sa.func.sum(s.inscp_scp_fen), 0),
                    sa.func.coalesce(sa.func.sum(getattr(s, fund_pay_column)), 0),
                ).where(
                    s.insutype == insutype,
                    s.med_type.in_(sorted(med_types)),
                    s.status == status,
                    s.business_date.between(first, last),
                )
            )
        ).one()
        return InpatientSums(int(row[0]), int(row[1]))
