"""Payment by points: the year's reference tables, settlement lists, 特例单议, quality scores, the cases of a
pool and year, and the year clearings with their lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from common.bulk import Key, Row, Upserted, upsert
from common.db import table_of
from common.repository import Page, RepositoryBase
from settlement.domain.claims import REVERSED, SETTLED
from settlement.domain.points import INPATIENT_MED_TYPE, CaseCoding
from settlement.models import (
    AnnualClearing,
    AnnualClearingLine,
    DipRow,
    DrgAdrg,
    DrgComplication,
    Institution,
    MonthlyReconciliation,
    MonthlyStatement,
    PaymentYear,
    PointsGroup,
    QualityScore,
    Settlement,
    SettlementList,
    SettlementReversal,
    SpecialCase,
    Visit,
)
from settlement.repository.day_closes import as_date

# The year tables, each with the columns that identify one of its rows.
KEY_COLUMNS: dict[type[Any], tuple[str, ...]] = {
    PaymentYear: ("year", "insutype"),
    PointsGroup: ("year", "group_code"),
    DipRow: ("year", "dise_prefix", "oprn_code"),
    DrgAdrg: ("year", "adrg"),
    DrgComplication: ("year", "dise_prefix"),
    QualityScore: ("year", "insutype", "fixmedins_code"),
}


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One points case as read for grouping: amounts, the visit's diagnosis, its list, any 特例单议 points."""

    setl_id: str
    mdtrt_id: str
    fixmedins_code: str
    insutype: str
    business_date: date
    medfee_fen: int
    hifp_fen: int
    dise_codg: str | None
    diagnoses: list[dict[str, Any]] | None
    procedures: list[dict[str, Any]] | None
    special_points: str | None
    coding: CaseCoding | None = None
    # The settlement list as stored compact (main diagnosis; the others and the procedures `|`-joined, the main
    # procedure first); main None: no list.
    list_main: str | None = None
    list_secondary: str = ""
    list_procedures: str = ""


@dataclass(frozen=True, slots=True)
class PointsInstitution:
    fixmedins_code: str
    hosp_lv: int | None
    points_coefficient: str | None


class PointsRepository(RepositoryBase[PaymentYear]):
    model = PaymentYear

    # --- the year tables -----------------------------------------------------------------------------------

    async def upsert(self, model: type[Any], rows: Sequence[Row], *, now: datetime) -> Upserted:
        key: Key = KEY_COLUMNS[model]
        return await upsert(self.session, table_of(model), rows, key=key, now=now)

    async def find(self, model: type[Any], *key: Any) -> Any:
        names = KEY_COLUMNS[model]
        table = table_of(model)
        query = sa.select(model).where(
            *(table.c[name] == value for name, value in zip(names, key, strict=True))
        )
        return (await self.session.scalars(query)).one_or_none()

    async def delete(self, model: type[Any], *key: Any) -> bool:
        names = KEY_COLUMNS[model]
        table = table_of(model)
        result = await self.session.execute(
            sa.delete(table).where(*(table.c[name] == value for name, value in zip(names, key, strict=True)))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def page(
        self, model: type[Any], *, year: int, limit: int, cursor: str | None, **filters: Any
    ) -> Page[Any]:
        table = table_of(model)
        query = sa.select(model).where(table.c.year == year)
        for name, value in filters.items():
            if value is not None:
                query = query.where(table.c[name] == value)
        order = [getattr(model, name) for name in KEY_COLUMNS[model][1:]]
        return await self.paginate(query, order_by=order, limit=limit, cursor=cursor, descending=False)

    async def all_of_year(self, model: type[Any], year: int, **filters: Any) -> list[Any]:
        table = table_of(model)
        query = sa.select(model).where(table.c.year == year)
        for name, value in filters.items():
            if value is not None:
                query = query.where(table.c[name] == value)
        return list((await self.session.scalars(query)).all())

    async def payment_years(self, year: int | None) -> list[PaymentYear]:
        query = sa.select(PaymentYear).order_by(PaymentYear.year, PaymentYear.insutype)
        if year is not None:
            query = query.where(PaymentYear.year == year)
        return list((await self.session.scalars(query)).all())

    # --- clearings -----------------------------------------------------------------------------------------

    async def clearing(self, year: int, insutype: str, *, for_update: bool = False) -> AnnualClearing | None:
        found: AnnualClearing | None = await self.session.get(
            AnnualClearing, (year, insutype), with_for_update=for_update or None
        )
        return found

    async def clearing_statuses(self, year: int) -> dict[str, str]:
        """The clearings of a year by insutype, with their status."""
        rows = await self.session.execute(
            sa.select(AnnualClearing.insutype, AnnualClearing.status).where(AnnualClearing.year == year)
        )
        return {row.insutype: row.status for row in rows}

    async def clearing_lines(
        self, year: int, insutype: str, *, fixmedins_code: str | None = None
    ) -> list[AnnualClearingLine]:
        query = sa.select(AnnualClearingLine).where(
            AnnualClearingLine.year == year, AnnualClearingLine.insutype == insutype
        )
        if fixmedins_code is not None:
            query = query.where(AnnualClearingLine.fixmedins_code == fixmedins_code)
        return list((await self.session.scalars(query.order_by(AnnualClearingLine.fixmedins_code))).all())

    async def replace_lines(self, year: int, insutype: str, rows: Sequence[dict[str, Any]]) -> None:
        await self.session.execute(
            sa.delete(AnnualClearingLine).where(
                AnnualClearingLine.year == year, AnnualClearingLine.insutype == insutype
            )
        )
        if rows:
            await self.session.execute(sa.insert(table_of(AnnualClearingLine)), list(rows))

    # --- institutions paid by points ----------------------------------------------------------------------

    async def points_institutions(self, codes: Sequence[str] | None = None) -> dict[str, PointsInstitution]:
        query = sa.select(
            Institution.fixmedins_code, Institution.hosp_lv, Institution.points_coefficient
        ).where(Institution.points_payment.is_(True))
        if codes is not None:
            query = query.where(Institution.fixmedins_code.in_(list(codes)))
        return {
            row.fixmedins_code: PointsInstitution(row.fixmedins_code, row.hosp_lv, row.points_coefficient)
            for row in await self.session.execute(query)
        }

    # --- cases ---------------------------------------------------------------------------------------------

    async def cases(
        self,
        *,
        insutype: str,
        first: date,
        last: date,
        fixmedins_code: str | None = None,
        setl_id: str | None = None,
    ) -> list[CaseRow]:
        """The standing inpatient settlements of a pool and period at points-paid institutions."""
        settlement, visit, institution = table_of(Settlement), table_of(Visit), table_of(Institution)
        listed, special = table_of(SettlementList), table_of(SpecialCase)
        query = (
            sa.select(
                settlement.c.setl_id,
                settlement.c.mdtrt_id,
                settlement.c.fixmedins_code,
                settlement.c.insutype,
                settlement.c.business_date,
                settlement.c.medfee_fen,
                settlement.c.hifp_pay_fen,
                visit.c.dise_codg,
                listed.c.main_dise_codg,
                listed.c.secondary_codes,
                listed.c.procedure_codes,
                special.c.points,
            )
            .select_from(
                settlement.join(visit, visit.c.mdtrt_id == settlement.c.mdtrt_id)
                .join(institution, institution.c.fixmedins_code == settlement.c.fixmedins_code)
                .outerjoin(listed, listed.c.setl_id == settlement.c.setl_id)
                .outerjoin(special, special.c.setl_id == settlement.c.setl_id)
            )
            .where(
                settlement.c.insutype == insutype,
                settlement.c.med_type == INPATIENT_MED_TYPE,
                settlement.c.status == SETTLED,
                settlement.c.business_date.between(first, last),
                institution.c.points_payment.is_(True),
            )
        )
        if fixmedins_code is not None:
            query = query.where(settlement.c.fixmedins_code == fixmedins_code)
        if setl_id is not None:
            query = query.where(settlement.c.setl_id == setl_id)
        rows = (await self.session.execute(query)).all()
        return [
            CaseRow(
                setl_id,
                mdtrt_id,
                code,
                insutype_,
                day if isinstance(day, date) else as_date(day),
                medfee,
                hifp,
                dise,
                None,
                None,
                points,
                None,
                main,
                secondary or "",
                done or "",
            )
            for setl_id, mdtrt_id, code, insutype_, day, medfee, hifp, dise, main, secondary, done, points in rows
        ]

    async def month_hifp(self, first: date, last: date) -> dict[tuple[str, str, int], int]:
        """Inpatient hifp_pay the month's closes claimed at points-paid institutions, by (code, insutype, year):
        settlements claimed in the month, less the reversals claimed in it."""
        settlement, reversal, institution = (
            table_of(Settlement),
            table_of(SettlementReversal),
            table_of(Institution),
        )
        points = institution.c.points_payment.is_(True)
        inpatient = settlement.c.med_type == INPATIENT_MED_TYPE
        totals: dict[tuple[str, str, int], int] = {}
        claimed = await self.session.execute(
            sa.select(
                settlement.c.fixmedins_code,
                settlement.c.insutype,
                settlement.c.year,
                sa.func.coalesce(sa.func.sum(settlement.c.hifp_pay_fen), 0).label("hifp"),
            )
            .select_from(
                settlement.join(institution, institution.c.fixmedins_code == settlement.c.fixmedins_code)
            )
            .where(settlement.c.day_close_date.between(first, last), inpatient, points)
            .group_by(settlement.c.fixmedins_code, settlement.c.insutype, settlement.c.year)
        )
        for row in claimed:
            key = (row.fixmedins_code, row.insutype, int(row.year))
            totals[key] = totals.get(key, 0) + int(row.hifp)
        undone = await self.session.execute(
            sa.select(
                settlement.c.fixmedins_code,
                settlement.c.insutype,
                settlement.c.year,
                sa.func.coalesce(sa.func.sum(settlement.c.hifp_pay_fen), 0).label("hifp"),
            )
            .select_from(
                reversal.join(settlement, settlement.c.setl_id == reversal.c.orig_setl_id).join(
                    institution, institution.c.fixmedins_code == settlement.c.fixmedins_code
                )
            )
            .where(reversal.c.day_close_date.between(first, last), inpatient, points)
            .group_by(settlement.c.fixmedins_code, settlement.c.insutype, settlement.c.year)
        )
        for row in undone:
            key = (row.fixmedins_code, row.insutype, int(row.year))
            totals[key] = totals.get(key, 0) - int(row.hifp)
        return totals

    # --- settlement lists and 特例单议 ---------------------------------------------------------------------

    async def settlement_list(self, setl_id: str, *, for_update: bool = False) -> SettlementList | None:
        found: SettlementList | None = await self.session.get(
            SettlementList, setl_id, with_for_update=for_update or None
        )
        return found

    def add_clearing(self, row: AnnualClearing) -> None:
        self.session.add(row)

    def _confirmed_statements(self, *columns: Any) -> sa.Select[Any]:
        return (
            sa.select(*columns)
            .join(MonthlyReconciliation, MonthlyReconciliation.month == MonthlyStatement.month)
            .where(MonthlyReconciliation.status.in_(("confirmed", "locked")))
        )

    async def reserve_entries(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """(institution, points entries) of every confirmed month's statement that has them."""
        rows = await self.session.execute(
            self._confirmed_statements(MonthlyStatement.fixmedins_code, MonthlyStatement.points).where(
                MonthlyStatement.quality_reserve_fen != 0
            )
        )
        return [(code, entries) for code, entries in rows if entries]

    async def reserves_kept(self) -> dict[str, int]:
        """Per institution: the reserves confirmed months withheld, less what confirmed clearings released."""
        kept: dict[str, int] = {}
        withheld = await self.session.execute(
            self._confirmed_statements(
                MonthlyStatement.fixmedins_code,
                sa.func.sum(MonthlyStatement.quality_reserve_fen).label("fen"),
            ).group_by(MonthlyStatement.fixmedins_code)
        )
        for row in withheld:
            kept[row.fixmedins_code] = int(row.fen or 0)
        released = await self.session.execute(
            sa.select(
                AnnualClearingLine.fixmedins_code, sa.func.sum(AnnualClearingLine.withheld_fen).label("fen")
            )
            .join(
                AnnualClearing,
                sa.and_(
                    AnnualClearing.year == AnnualClearingLine.year,
                    AnnualClearing.insutype == AnnualClearingLine.insutype,
                ),
            )
            .where(AnnualClearing.status.in_(("confirmed", "locked")))
            .group_by(AnnualClearingLine.fixmedins_code)
        )
        for row in released:
            kept[row.fixmedins_code] = kept.get(row.fixmedins_code, 0) - int(row.fen or 0)
        return {code: fen for code, fen in kept.items() if fen}

    def add_list(self, row: SettlementList) -> None:
        self.session.add(row)

    def add_special(self, row: SpecialCase) -> None:
        self.session.add(row)

    async def special_case(self, setl_id: str) -> SpecialCase | None:
        found: SpecialCase | None = await self.session.get(SpecialCase, setl_id)
        return found

    async def special_cases(self, setl_ids: Sequence[str]) -> dict[str, SpecialCase]:
        found: dict[str, SpecialCase] = {}
        for start in range(0, len(setl_ids), 900):
            query = sa.select(SpecialCase).where(SpecialCase.setl_id.in_(list(setl_ids[start : start + 900])))
            found.update({row.setl_id: row for row in (await self.session.scalars(query)).all()})
        return found

    async def delete_special_case(self, setl_id: str) -> bool:
        result = await self.session.execute(sa.delete(SpecialCase).where(SpecialCase.setl_id == setl_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def is_reversed(self, setl_id: str) -> bool:
        status = await self.session.scalar(sa.select(Settlement.status).where(Settlement.setl_id == setl_id))
        return status == REVERSED
