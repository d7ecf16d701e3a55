"""Reconciliation with an institution (对总账/对明细, like national 3201/3202): its books against our settlements.

Read-only. "Ours" are the institution's settlements whose business date lies in the period and that stand
(status settled). A reversal (冲正) cancels its settlement whatever the dates: a settlement of the period that
was reversed later — even after the period, even in a closed day — is not counted, and the reversal itself
counts nowhere. So an institution that deducts the reversed settlement from its own books, by the original's
date, reconciles; and the same question asked again after a reversal gets the answer as it now stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from common.errors import Unprocessable
from common.money import fen_to_yuan, yuan_to_fen
from common.national import CLR_TYPE, clr_type_med_types, described
from settlement.models import Settlement
from settlement.schemas.reports import (
    MAX_DETAIL_ITEMS,
    MAX_RANGE_DAYS,
    DetailItemIn,
    DetailItemOut,
    DetailsReconciliationIn,
    DetailsReconciliationOut,
    DifferingSettlement,
    OurSettlement,
    OurTotals,
    TotalsDifferences,
    TotalsFigures,
    TotalsReconciliationIn,
    TotalsReconciliationOut,
)
from settlement.service.claims import SETTLED
from settlement.service.reference import get_institution

COMPARED_AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")


def check_period(begndate: date, enddate: date) -> None:
    """422 unless begndate ≤ enddate and the period spans at most 366 days (both ends included)."""
    if enddate < begndate:
        raise Unprocessable(
            f"enddate {enddate} is before begndate {begndate}.", code="DATES_OUT_OF_ORDER", field="enddate"
        )
    days = (enddate - begndate).days + 1
    if days > MAX_RANGE_DAYS:
        raise Unprocessable(
            f"The period spans {days} days; reconcile at most {MAX_RANGE_DAYS} days at a time.",
            code="RANGE_TOO_LONG",
            field="enddate",
        )


def _standing(fixmedins_code: str, begndate: date, enddate: date) -> list[sa.ColumnElement[bool]]:
    s = Settlement
    return [
        s.fixmedins_code == fixmedins_code,
        s.business_date >= begndate,
        s.business_date <= enddate,
        s.status == SETTLED,
    ]


# --- 对总账 -----------------------------------------------------------------------------------------------


async def reconcile_totals(session: AsyncSession, data: TotalsReconciliationIn) -> TotalsReconciliationOut:
    """对总账: our totals of the period (optionally of one insutype, one clearing class) against theirs."""
    check_period(data.begndate, data.enddate)
    if data.clr_type is not None and data.clr_type not in CLR_TYPE:
        raise Unprocessable(
            f"clr_type {data.clr_type} is not a national 清算类别 code; known: {described(CLR_TYPE)}.",
            code="CLR_TYPE_UNKNOWN",
            field="clr_type",
        )
    await get_institution(session, data.fixmedins_code)
    s = Settlement
    query = sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(s.medfee_fen), 0),
        sa.func.coalesce(sa.func.sum(s.fund_pay_fen), 0),
        sa.func.coalesce(sa.func.sum(s.acct_pay_fen), 0),
        sa.func.coalesce(sa.func.sum(s.acct_mulaid_pay_fen), 0),
    ).where(*_standing(data.fixmedins_code, data.begndate, data.enddate))
    if data.insutype is not None:
        query = query.where(s.insutype == data.insutype.value)
    if data.clr_type is not None:
        query = query.where(s.med_type.in_(sorted(clr_type_med_types(data.clr_type))))
    count, medfee, fund, acct, mulaid = (int(value) for value in (await session.execute(query)).one())
    ours_fen = {"medfee_sumamt": medfee, "fund_pay_sumamt": fund, "acct_pay": acct}
    differences = TotalsDifferences(
        **{
            name: fen_to_yuan(ours_fen[name] - yuan_to_fen(getattr(data, name)))
            for name in COMPARED_AMOUNTS
            if ours_fen[name] != yuan_to_fen(getattr(data, name))
        },
        fixmedins_setl_cnt=count - data.fixmedins_setl_cnt if count != data.fixmedins_setl_cnt else None,
    )
    balanced = not differences.model_dump(exclude_none=True)
    return TotalsReconciliationOut(
        fixmedins_code=data.fixmedins_code,
        insutype=data.insutype.value if data.insutype is not None else None,
        clr_type=data.clr_type,
        begndate=data.begndate,
        enddate=data.enddate,
        stmt_rslt="balanced" if balanced else "unbalanced",
        ours=OurTotals(
            medfee_sumamt=fen_to_yuan(medfee),
            fund_pay_sumamt=fen_to_yuan(fund),
            acct_pay=fen_to_yuan(acct),
            fixmedins_setl_cnt=count,
            acct_mulaid_pay=fen_to_yuan(mulaid),
        ),
        theirs=TotalsFigures(
            medfee_sumamt=data.medfee_sumamt,
            fund_pay_sumamt=data.fund_pay_sumamt,
            acct_pay=data.acct_pay,
            fixmedins_setl_cnt=data.fixmedins_setl_cnt,
        ),
        differences=differences,
    )


# --- 对明细 -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ours:
    setl_id: str
    medins_setl_id: str
    business_date: date
    medfee_fen: int
    fund_pay_fen: int
    acct_pay_fen: int

    def amounts_fen(self) -> dict[str, int]:
        return {
            "medfee_sumamt": self.medfee_fen,
            "fund_pay_sumamt": self.fund_pay_fen,
            "acct_pay": self.acct_pay_fen,
        }

    def out(self) -> OurSettlement:
        return OurSettlement(
            setl_id=self.setl_id,
            medins_setl_id=self.medins_setl_id,
            business_date=self.business_date,
            medfee_sumamt=fen_to_yuan(self.medfee_fen),
            fund_pay_sumamt=fen_to_yuan(self.fund_pay_fen),
            acct_pay=fen_to_yuan(self.acct_pay_fen),
        )


def check_items(items: Sequence[DetailItemIn]) -> None:
    """422 for an item named by neither id, or an id sent twice (naming the items, counted from 0)."""
    first_by_id: dict[tuple[str, str], int] = {}
    for index, item in enumerate(items):
        if item.setl_id is None and item.medins_setl_id is None:
            raise Unprocessable(
                f"items[{index}] names no settlement: give setl_id or medins_setl_id.",
                code="ITEM_ID_REQUIRED",
                items=[index],
            )
        for kind, value in (("setl_id", item.setl_id), ("medins_setl_id", item.medins_setl_id)):
            if value is None:
                continue
            earlier = first_by_id.setdefault((kind, value), index)
            if earlier != index:
                raise Unprocessable(
                    f"items[{earlier}] and items[{index}] both name {kind} {value}.",
                    code="DUPLICATE_ITEM",
                    items=[earlier, index],
                )


async def _our_settlements(session: AsyncSession, data: DetailsReconciliationIn) -> list[_Ours]:
    """The period's standing settlements, in one query; 422 when there are more than one request compares."""
    s = Settlement
    rows = (
        await session.execute(
            sa.select(
                s.setl_id, s.medins_setl_id, s.business_date, s.medfee_fen, s.fund_pay_fen, s.acct_pay_fen
            )
            .where(*_standing(data.fixmedins_code, data.begndate, data.enddate))
            .order_by(s.setl_time, s.setl_id)
            .limit(MAX_DETAIL_ITEMS + 1)
        )
    ).all()
    if len(rows) > MAX_DETAIL_ITEMS:
        raise Unprocessable(
            f"More than {MAX_DETAIL_ITEMS} settlements stand in this period: reconcile a shorter one.",
            code="TOO_MANY_SETTLEMENTS",
            limit=MAX_DETAIL_ITEMS,
        )
    return [_Ours(*row) for row in rows]


def _item_out(item: DetailItemIn) -> DetailItemOut:
    return DetailItemOut(
        setl_id=item.setl_id,
        medins_setl_id=item.medins_setl_id,
        medfee_sumamt=item.medfee_sumamt,
        fund_pay_sumamt=item.fund_pay_sumamt,
        acct_pay=item.acct_pay,
    )


def _differing_fields(ours: _Ours, item: DetailItemIn) -> list[str]:
    amounts = ours.amounts_fen()
    fields = [name for name in COMPARED_AMOUNTS if amounts[name] != yuan_to_fen(getattr(item, name))]
    if item.setl_id is not None and item.setl_id != ours.setl_id:
        fields.append("setl_id")
    if item.medins_setl_id is not None and item.medins_setl_id != ours.medins_setl_id:
        fields.append("medins_setl_id")
    return fields


def compare_details(
    ours: Sequence[_Ours], items: Sequence[DetailItemIn]
) -> tuple[int, list[DifferingSettlement], list[OurSettlement], list[DetailItemOut]]:
    """Pair each item with our settlement by setl_id, else by medins_setl_id; then sort out what is left.

    An item whose two ids name different settlements of ours pairs by setl_id and reports the other id as
    differing. Two items that pair with the same settlement are a 422 (DUPLICATE_ITEM).
    """
    by_setl_id = {row.setl_id: row for row in ours}
    by_medins = {row.medins_setl_id: row for row in ours}
    paired: dict[str, int] = {}
    matched = 0
    differing: list[DifferingSettlement] = []
    only_theirs: list[DetailItemOut] = []
    for index, item in enumerate(items):
        row = (by_setl_id.get(item.setl_id) if item.setl_id else None) or (
            by_medins.get(item.medins_setl_id) if item.medins_setl_id else None
        )
        if row is None:
            only_theirs.append(_item_out(item))
            continue
        earlier = paired.setdefault(row.setl_id, index)
        if earlier != index:
            raise Unprocessable(
                f"items[{earlier}] and items[{index}] both name settlement {row.setl_id}.",
                code="DUPLICATE_ITEM",
                items=[earlier, index],
            )
        fields = _differing_fields(row, item)
        if fields:
            differing.append(
                DifferingSettlement(
                    setl_id=row.setl_id,
                    medins_setl_id=row.medins_setl_id,
                    fields=fields,
                    ours=row.out(),
                    theirs=_item_out(item),
                )
            )
        else:
            matched += 1
    only_ours = [row.out() for row in ours if row.setl_id not in paired]
    return matched, differing, only_ours, only_theirs


async def reconcile_details(session: AsyncSession, data: DetailsReconciliationIn) -> DetailsReconciliationOut:
    """对明细: each of their settlements against ours — matched, differing, only ours, only theirs."""
    check_period(data.begndate, data.enddate)
    check_items(data.items)
    await get_institution(session, data.fixmedins_code)
    matched, differing, only_ours, only_theirs = compare_details(
        await _our_settlements(session, data), data.items
    )
    balanced = not (differing or only_ours or only_theirs)
    return DetailsReconciliationOut(
        fixmedins_code=data.fixmedins_code,
        begndate=data.begndate,
        enddate=data.enddate,
        stmt_rslt="balanced" if balanced else "unbalanced",
        matched=matched,
        differing=differing,
        only_ours=only_ours,
        only_theirs=only_theirs,
    )
