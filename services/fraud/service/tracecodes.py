"""Trace codes end to end: POS sales and refunds projected as code uses, the findings on reused codes sold,
and the scan rate (扫码率) per institution and month.

The scan rate counts the lines whose catalogue item needs a traceability code (CatalogLimit.
trac_codg_required, as settlement.catalog.changed said when the line was projected) and, of those, the lines
that carried at least one: settled fee lines (settlement.settled) and POS sale lines (pricing.sale.recorded),
in the Asia/Shanghai month of the settlement's or the sale's time. A reversal or a refund takes its lines back
out of the month they were counted in. The rate is scanned ÷ needing, 4 places half-up; none when no line
needed a code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from common.clock import Clock, business_date
from common.events.pricing import SaleRecorded, SaleRefunded
from common.events.settlement import SettlementSettled
from fraud.domain.facts import SALE, CodeUse
from fraud.service.findings import raise_finding
from fraud.service.rules import ActiveRule, load_active_rules
from fraud.uow import FraudUnitOfWork

TRACE_CODE_REUSE = "trace_code_reuse"
_RATE_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class ScanRate:
    """An institution's month: lines that needed a code, lines that carried one, and the rate."""

    lines_needing: int
    lines_scanned: int
    rate: Decimal | None  # 4 places, half-up; None when no line needed a code


def rate_of(lines_needing: int, lines_scanned: int) -> ScanRate:
    rate = None
    if lines_needing > 0:
        rate = (Decimal(lines_scanned) / Decimal(lines_needing)).quantize(_RATE_PLACES, ROUND_HALF_UP)
    return ScanRate(lines_needing, lines_scanned, rate)


def _amount_fen(pric: Decimal, cnt: Decimal) -> int:
    """price × quantity in fen, rounded half-up."""
    return int((pric * cnt * 100).quantize(Decimal(1), ROUND_HALF_UP))


def month_of(moment: datetime) -> str:
    """YYYY-MM of the Asia/Shanghai date of a moment."""
    return business_date(moment).strftime("%Y-%m")


# --- reading ---------------------------------------------------------------------------------------------


async def scan_rate(*, uow: FraudUnitOfWork, fixmedins_code: str, month: str) -> ScanRate:
    """An institution's scan rate of a month (YYYY-MM); nothing counted: 0 of 0, rate None."""
    rows = await uow.tracecodes.counts_of_month(month, fixmedins_code=fixmedins_code)
    if not rows:
        return rate_of(0, 0)
    _, needing, scanned = rows[0]
    return rate_of(int(needing), int(scanned))


async def scan_rates(
    *, uow: FraudUnitOfWork, month: str, fixmedins_code: str | None
) -> list[tuple[str, ScanRate]]:
    """Every institution's scan rate of a month with lines counted (or the one asked), by code."""
    rows = await uow.tracecodes.counts_of_month(month, fixmedins_code=fixmedins_code)
    found = [(code, rate_of(int(needing), int(scanned))) for code, needing, scanned in rows]
    if fixmedins_code is not None and not found:
        found = [(fixmedins_code, rate_of(0, 0))]
    return found


# --- settlements (from the projection of settlement.settled / reversed) ---------------------------------


async def count_settled(*, uow: FraudUnitOfWork, data: SettlementSettled) -> None:
    """A settlement just projected: its lines that needed a code, and those that carried one, counted."""
    required = await uow.tracecodes.requiring_codes(sorted({line.med_list_codg for line in data.feedetail}))
    needing = [line for line in data.feedetail if line.med_list_codg in required]
    if not needing:
        return
    scanned = sum(1 for line in needing if line.drug_trac_codg)
    month = month_of(data.setl_time)
    await uow.tracecodes.keep_settlement_scan(
        {
            "setl_id": data.setl_id,
            "fixmedins_code": data.fixmedins_code,
            "month": month,
            "lines_needing": len(needing),
            "lines_scanned": scanned,
        }
    )
    await uow.tracecodes.count(
        data.fixmedins_code, month, needing=len(needing), scanned=scanned, now=data.setl_time
    )


async def uncount_settlement(*, uow: FraudUnitOfWork, setl_id: str, now: datetime) -> None:
    """A reversed settlement's lines leave the scan rate of the month they were counted in."""
    row = await uow.tracecodes.pop_settlement_scan(setl_id)
    if row is not None:
        fixmedins_code, month, needing, scanned = row
        await uow.tracecodes.count(fixmedins_code, month, needing=-needing, scanned=-scanned, now=now)


# --- POS sales (pricing.sale.recorded / refunded) --------------------------------------------------------


class SaleNotYetProjected(Exception):
    """A refund arrived before its sale (replicas, or two relays side by side): raised, the event is
    redelivered after the consumer's backoff, by when the sale is projected; one that never comes is
    dead-lettered for ops to look at."""


async def _reuse_rules(uow: FraudUnitOfWork) -> list[ActiveRule]:
    """The enabled trace_code_reuse instances, whatever their scope: a POS sale has no real-time review, so
    what they would have blocked or warned of at the counter is a finding on the sale."""
    rules = await load_active_rules(uow=uow, scopes=("pre", "in", "post"))
    return [rule for rule in rules if rule.family.name == TRACE_CODE_REUSE]


async def apply_sale_recorded(*, uow: FraudUnitOfWork, data: SaleRecorded, clock: Clock) -> list[int]:
    """Project a POS upload's lines: their codes' uses, their place in the scan rate, and a finding for each
    line whose code was already settled or sold (naming the first use). A line projected before (the event
    delivered again) changes nothing. Returns the new finding ids."""
    code = data.fixmedins_code
    required = await uow.tracecodes.requiring_codes(sorted({line.med_list_codg for line in data.lines}))
    new = await uow.tracecodes.insert_new_sales(
        [
            {
                "fixmedins_code": code,
                "sale_id": line.sale_id,
                "med_list_codg": line.med_list_codg,
                "sel_time": line.sel_time,
                "month": month_of(line.sel_time),
                "needs_code": line.med_list_codg in required,
                "scanned": line.med_list_codg in required and bool(line.drug_trac_codg),
                "refunded": False,
                "refunded_at": None,
            }
            for line in data.lines
        ]
    )
    fresh = [line for line in data.lines if line.sale_id in new]
    if not fresh:
        return []
    now = clock.now()
    months: dict[str, tuple[int, int]] = {}
    for line in fresh:
        if line.med_list_codg in required:
            needing, scanned = months.get(month_of(line.sel_time), (0, 0))
            months[month_of(line.sel_time)] = (needing + 1, scanned + (1 if line.drug_trac_codg else 0))
    for month, (needing, scanned) in sorted(months.items()):
        await uow.tracecodes.count(code, month, needing=needing, scanned=scanned, now=now)

    codes = sorted({trac for line in fresh for trac in line.drug_trac_codg})
    if not codes:
        return []
    first: dict[str, CodeUse] = {}
    for trac, source, use_id, institution, used_at in sorted(
        await uow.claims.code_uses(codes, settled_before=None),
        key=lambda row: (row.used_at, row.source, row.use_id),
    ):
        first.setdefault(trac, CodeUse(source, use_id, institution, used_at))
    uses: list[dict[str, object]] = []
    reused: list[tuple[str, str, int]] = []  # (sale_id, message, amount in fen) of each line flagged
    for line in fresh:
        hit: tuple[str, CodeUse] | None = None
        for trac in dict.fromkeys(line.drug_trac_codg):  # a code twice on a line is one use
            earlier = first.get(trac)
            if earlier is not None and hit is None:
                hit = (trac, earlier)
            first.setdefault(trac, CodeUse(SALE, line.sale_id, code, line.sel_time))
            uses.append(
                {
                    "trac_codg": trac,
                    "source": SALE,
                    "fixmedins_code": code,
                    "use_id": line.sale_id,
                    "feedetl_sn": None,
                    "used_at": line.sel_time,
                    "reversed": False,
                }
            )
        if hit is not None:
            trac, earlier = hit
            message = (
                f"traceability code {trac} sold at {code} in sale {line.sale_id} on "
                f"{business_date(line.sel_time)} already {earlier.describe()}"
            )
            reused.append((line.sale_id, message, _amount_fen(line.pric, line.cnt)))
    await uow.claims.add_trace_codes(uses)
    if not reused:
        return []
    raised: list[int] = []
    for rule in await _reuse_rules(uow):
        for sale_id, message, amount_fen in reused:
            finding_id = await raise_finding(
                uow=uow,
                rule=rule,
                key=f"sale:{code}:{sale_id}",
                message=message,
                setl_id=None,
                psn_no=None,
                fixmedins_code=code,
                feedetl_sn=None,
                vola_fen=amount_fen,
                fund_pay_fen=0,
                clock=clock,
            )
            if finding_id is not None:
                raised.append(finding_id)
    return raised


async def apply_sale_refunded(*, uow: FraudUnitOfWork, data: SaleRefunded) -> int:
    """Refunded sales: their codes are free again and their lines leave the scan rate; a refund seen before
    changes nothing. Returns how many sales were refunded now. Raises SaleNotYetProjected (see there)."""
    code = data.fixmedins_code
    ids = sorted({refund.sale_id for refund in data.refunds})
    sales = await uow.tracecodes.standing_sales(code, ids)
    missing = [sale_id for sale_id in ids if sale_id not in sales]
    if missing:
        raise SaleNotYetProjected(f"sales {missing[:5]} of {code} are refunded but not projected yet")
    when = {refund.sale_id: refund.refund_time for refund in data.refunds}
    now = max(when.values())
    refunded = [sales[sale_id] for sale_id in ids if not sales[sale_id].refunded]
    if not refunded:
        return 0
    months: dict[str, tuple[int, int]] = {}
    for sale in refunded:
        sale.refunded, sale.refunded_at = True, when[sale.sale_id]
        if sale.needs_code:
            needing, scanned = months.get(sale.month, (0, 0))
            months[sale.month] = (needing + 1, scanned + (1 if sale.scanned else 0))
    await uow.tracecodes.flush()
    await uow.tracecodes.free_sale_codes(code, [sale.sale_id for sale in refunded])
    for month, (needing, scanned) in sorted(months.items()):
        await uow.tracecodes.count(code, month, needing=-needing, scanned=-scanned, now=now)
    return len(refunded)
