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

from common.errors import Unprocessable
from common.money import fen_to_yuan, yuan_to_fen
from common.national import CLR_TYPE, clr_type_med_types, described
from settlement.repository.reports import StandingSettlement
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
from settlement.uow import SettlementUnitOfWork

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


# --- 对总账 -----------------------------------------------------------------------------------------------


async def reconcile_totals(
    *, uow: SettlementUnitOfWork, data: TotalsReconciliationIn
) -> TotalsReconciliationOut:
    """对总账: our totals of the period (optionally of one insutype, one clearing class) against theirs."""
    check_period(data.begndate, data.enddate)
    if data.clr_type is not None and data.clr_type not in CLR_TYPE:
        raise Unprocessable(
            f"clr_type {data.clr_type} is not a national 清算类别 code; known: {described(CLR_TYPE)}.",
            code="CLR_TYPE_UNKNOWN",
            field="clr_type",
        )
    await get_institution(uow=uow, fixmedins_code=data.fixmedins_code)
    totals = await uow.reports.standing_totals(
        fixmedins_code=data.fixmedins_code,
        begndate=data.begndate,
        enddate=data.enddate,
        status=SETTLED,
        insutype=data.insutype.value if data.insutype is not None else None,
        med_types=clr_type_med_types(data.clr_type) if data.clr_type is not None else None,
    )
    count, medfee, fund, acct = totals.count, totals.medfee_fen, totals.fund_pay_fen, totals.acct_pay_fen
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
            acct_mulaid_pay=fen_to_yuan(totals.acct_mulaid_pay_fen),
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


def _amounts_fen(ours: StandingSettlement) -> dict[str, int]:
    return {
        "medfee_sumamt": ours.medfee_fen,
        "fund_pay_sumamt": ours.fund_pay_fen,
        "acct_pay": ours.acct_pay_fen,
    }


def _our_out(ours: StandingSettlement) -> OurSettlement:
    return OurSettlement(
        setl_id=ours.setl_id,
        medins_setl_id=ours.medins_setl_id,
        business_date=ours.business_date,
        medfee_sumamt=fen_to_yuan(ours.medfee_fen),
        fund_pay_sumamt=fen_to_yuan(ours.fund_pay_fen),
        acct_pay=fen_to_yuan(ours.acct_pay_fen),
    )


@dataclass(frozen=True, slots=True)
class Compared:
    """Their settlements against ours: how many matched, and those that differ, only ours, only theirs."""

    matched: int
    differing: list[DifferingSettlement]
    only_ours: list[OurSettlement]
    only_theirs: list[DetailItemOut]


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


async def _our_settlements(
    uow: SettlementUnitOfWork, data: DetailsReconciliationIn
) -> list[StandingSettlement]:
    """The period's standing settlements, in one query; 422 when there are more than one request compares."""
    rows = await uow.reports.standing_settlements(
        fixmedins_code=data.fixmedins_code,
        begndate=data.begndate,
        enddate=data.enddate,
        status=SETTLED,
        limit=MAX_DETAIL_ITEMS + 1,
    )
    if len(rows) > MAX_DETAIL_ITEMS:
        raise Unprocessable(
            f"More than {MAX_DETAIL_ITEMS} settlements stand in this period: reconcile a shorter one.",
            code="TOO_MANY_SETTLEMENTS",
            limit=MAX_DETAIL_ITEMS,
        )
    return rows


def _item_out(item: DetailItemIn) -> DetailItemOut:
    return DetailItemOut(
        setl_id=item.setl_id,
        medins_setl_id=item.medins_setl_id,
        medfee_sumamt=item.medfee_sumamt,
        fund_pay_sumamt=item.fund_pay_sumamt,
        acct_pay=item.acct_pay,
    )


def _differing_fields(ours: StandingSettlement, item: DetailItemIn) -> list[str]:
    amounts = _amounts_fen(ours)
    fields = [name for name in COMPARED_AMOUNTS if amounts[name] != yuan_to_fen(getattr(item, name))]
    if item.setl_id is not None and item.setl_id != ours.setl_id:
        fields.append("setl_id")
    if item.medins_setl_id is not None and item.medins_setl_id != ours.medins_setl_id:
        fields.append("medins_setl_id")
    return fields


def compare_details(ours: Sequence[StandingSettlement], items: Sequence[DetailItemIn]) -> Compared:
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
                    ours=_our_out(row),
                    theirs=_item_out(item),
                )
            )
        else:
            matched += 1
    only_ours = [_our_out(row) for row in ours if row.setl_id not in paired]
    return Compared(matched, differing, only_ours, only_theirs)


async def reconcile_details(
    *, uow: SettlementUnitOfWork, data: DetailsReconciliationIn
) -> DetailsReconciliationOut:
    """对明细: each of their settlements against ours — matched, differing, only ours, only theirs."""
    check_period(data.begndate, data.enddate)
    check_items(data.items)
    await get_institution(uow=uow, fixmedins_code=data.fixmedins_code)
    compared = compare_details(await _our_settlements(uow, data), data.items)
    balanced = not (compared.differing or compared.only_ours or compared.only_theirs)
    return DetailsReconciliationOut(
        fixmedins_code=data.fixmedins_code,
        begndate=data.begndate,
        enddate=data.enddate,
        stmt_rslt="balanced" if balanced else "unbalanced",
        matched=compared.matched,
        differing=compared.differing,
        only_ours=compared.only_ours,
        only_theirs=compared.only_theirs,
    )
