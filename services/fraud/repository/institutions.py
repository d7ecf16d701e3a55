"""An institution's month in the projection: its admissions and figures, its cases' groups, its open findings,
and the monthly warnings published to it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from common.db import table_of
from common.repository import Page, RepositoryBase
from fraud.domain.facts import INPATIENT
from fraud.models import CaseGrouping, ClaimLine, ClaimRecord, Finding, InstitutionWarning
from fraud.repository import insert_into

_CLAIMS, _LINES = table_of(ClaimRecord), table_of(ClaimLine)
_GROUPS, _FINDINGS = table_of(CaseGrouping), table_of(Finding)
_INPATIENT = sorted(INPATIENT)
# pg_advisory_xact_lock key: "每月推送预警" for every replica of the service.
WARNINGS_LOCK = 0x5E771E_3A4E01


def _in_month(first: date, last: date) -> list[sa.ColumnElement[bool]]:
    return [_CLAIMS.c.setl_date >= first, _CLAIMS.c.setl_date <= last, _CLAIMS.c.reversed.is_(False)]


def _starts_with_any(column: Any, prefixes: Sequence[str]) -> sa.ColumnElement[bool]:
    if not prefixes:
        return sa.false()
    return sa.or_(*(sa.func.upper(column).startswith(prefix, autoescape=True) for prefix in prefixes))


class InstitutionMonthRepository(RepositoryBase[ClaimRecord]):
    model = ClaimRecord

    # --- the month's facts ------------------------------------------------------------------------------

    async def admissions(self, first: date, last: date) -> Sequence[Any]:
        """(fixmedins_code, setl_id, psn_no, dise_codg, begin_date, end_date, setl_date, medfee_fen,
        fund_pay_fen) of the standing inpatient settlements of settlement dates [first, last]."""
        rows = await self.session.execute(
            sa.select(
                _CLAIMS.c.fixmedins_code,
                _CLAIMS.c.setl_id,
                _CLAIMS.c.psn_no,
                _CLAIMS.c.dise_codg,
                _CLAIMS.c.begin_date,
                _CLAIMS.c.end_date,
                _CLAIMS.c.setl_date,
                _CLAIMS.c.medfee_fen,
                _CLAIMS.c.fund_pay_fen,
            )
            .where(*_in_month(first, last), _CLAIMS.c.med_type.in_(_INPATIENT))
            .order_by(_CLAIMS.c.fixmedins_code, _CLAIMS.c.setl_date, _CLAIMS.c.setl_id)
        )
        return rows.all()

    async def figures(self, first: date, last: date) -> Sequence[Any]:
        """Per institution: (fixmedins_code, hosp_lv, settlements, medfee_fen, fund_pay_fen, admissions,
        inpatient_medfee_fen, inpatients) of its standing settlements of settlement dates [first, last]."""
        inpatient = _CLAIMS.c.med_type.in_(_INPATIENT)
        rows = await self.session.execute(
            sa.select(
                _CLAIMS.c.fixmedins_code,
                sa.func.max(_CLAIMS.c.hosp_lv),
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(_CLAIMS.c.medfee_fen), 0),
                sa.func.coalesce(sa.func.sum(_CLAIMS.c.fund_pay_fen), 0),
                sa.func.coalesce(sa.func.sum(sa.case((inpatient, 1), else_=0)), 0),
                sa.func.coalesce(sa.func.sum(sa.case((inpatient, _CLAIMS.c.medfee_fen), else_=0)), 0),
                sa.func.count(sa.distinct(sa.case((inpatient, _CLAIMS.c.psn_no), else_=None))),
            )
            .where(*_in_month(first, last))
            .group_by(_CLAIMS.c.fixmedins_code)
            .order_by(_CLAIMS.c.fixmedins_code)
        )
        return rows.all()

    async def drug_amounts(self, first: date, last: date, prefixes: Sequence[str]) -> dict[str, int]:
        """Per institution, the amount (fen) of its month's lines whose code starts with one of `prefixes`."""
        if not prefixes:
            return {}
        rows = await self.session.execute(
            sa.select(_CLAIMS.c.fixmedins_code, sa.func.sum(_LINES.c.amount_fen))
            .join(_CLAIMS, _CLAIMS.c.setl_id == _LINES.c.setl_id)
            .where(*_in_month(first, last), _starts_with_any(_LINES.c.med_list_codg, prefixes))
            .group_by(_CLAIMS.c.fixmedins_code)
        )
        return {code: int(amount or 0) for code, amount in rows.all()}

    async def grouped_cases(
        self, first: date, last: date, severities: Sequence[str]
    ) -> dict[str, tuple[int, int]]:
        """Per institution, (grouped cases, those of one of `severities`) among its month's standing settlements."""
        high = sa.func.upper(sa.func.coalesce(_GROUPS.c.severity, "")).in_([s.upper() for s in severities])
        rows = await self.session.execute(
            sa.select(
                _CLAIMS.c.fixmedins_code,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(sa.case((high, 1), else_=0)), 0),
            )
            .join(_CLAIMS, _CLAIMS.c.setl_id == _GROUPS.c.setl_id)
            .where(*_in_month(first, last))
            .group_by(_CLAIMS.c.fixmedins_code)
        )
        return {code: (int(cases), int(high_cases)) for code, cases, high_cases in rows.all()}

    async def settled_count(self, first: date, last: date) -> int:
        """Standing settlements of settlement dates [first, last]."""
        return int(await self.session.scalar(sa.select(sa.func.count()).where(*_in_month(first, last))) or 0)

    # --- case groups (settlement.case.grouped) -----------------------------------------------------------

    async def keep_grouping(self, values: dict[str, Any]) -> bool:
        """Keep a case's grouping unless this revision or a later one is kept already; True when it was kept."""
        inserted = await self.session.execute(
            insert_into(self.session, _GROUPS)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[_GROUPS.c.setl_id])
        )
        if inserted.rowcount:  # type: ignore[attr-defined]
            return True
        changed = await self.session.execute(
            sa.update(_GROUPS)
            .where(_GROUPS.c.setl_id == values["setl_id"], _GROUPS.c.revision < values["revision"])
            .values(**{k: v for k, v in values.items() if k != "setl_id"})
        )
        return bool(changed.rowcount)  # type: ignore[attr-defined]

    # --- open findings, for the warnings -----------------------------------------------------------------

    async def open_findings(self, *, category: str) -> Sequence[Any]:
        """(fixmedins_code, family, count, vola_fen) of the open findings of `category`, by institution and family."""
        rows = await self.session.execute(
            sa.select(
                _FINDINGS.c.fixmedins_code,
                _FINDINGS.c.family,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(_FINDINGS.c.vola_fen), 0),
            )
            .where(
                _FINDINGS.c.status == "open",
                _FINDINGS.c.category == category,
            )
            .group_by(_FINDINGS.c.fixmedins_code, _FINDINGS.c.family)
            .order_by(_FINDINGS.c.fixmedins_code, _FINDINGS.c.family)
        )
        return rows.all()


class WarningRepository(RepositoryBase[InstitutionWarning]):
    model = InstitutionWarning

    async def lock_publishing(self) -> None:
        """Publications one at a time (a transaction-scoped advisory lock on PostgreSQL; SQLite serialises
        writers already): two at once would both make the same next version."""
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(sa.select(sa.func.pg_advisory_xact_lock(WARNINGS_LOCK)))

    async def latest(self, fixmedins_code: str, month: str) -> InstitutionWarning | None:
        """The institution's latest warning of the month, locked until the transaction ends."""
        return await self.session.scalar(
            sa.select(InstitutionWarning)
            .where(
                InstitutionWarning.fixmedins_code == fixmedins_code,
                InstitutionWarning.month == month,
                InstitutionWarning.latest.is_(True),
            )
            .with_for_update()
        )

    async def page(
        self, *, month: str | None, fixmedins_code: str | None, limit: int, cursor: str | None
    ) -> Page[InstitutionWarning]:
        """The latest warning of each institution and month, newest first (by id), of the filters given."""
        query = sa.select(InstitutionWarning).where(InstitutionWarning.latest.is_(True))
        if month is not None:
            query = query.where(InstitutionWarning.month == month)
        if fixmedins_code is not None:
            query = query.where(InstitutionWarning.fixmedins_code == fixmedins_code)
        return await self.paginate(
            query, order_by=[InstitutionWarning.warning_id], limit=limit, cursor=cursor or None
        )
