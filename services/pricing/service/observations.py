"""Observations of prices: POS sales uploads and pharmacy settlements, each line with its light at once."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.exc import IntegrityError

from common.clock import Clock, business_date
from common.events.contracts import Subject
from common.events.envelope import EventEnvelope, new_event
from common.events.settlement import SettlementReversed, SettlementSettled
from common.national import PHARMACY
from pricing.domain.light import Light, Verdict, light_of
from pricing.domain.money import line_amount_fen, micro_to_price, price_to_micro
from pricing.domain.observations import FreshLine, Kind, SaleLine, classify, fingerprint_of
from pricing.repository.observations import StoredSale
from pricing.service import settings as monitoring
from pricing.service.alerts import SOURCE, Sighting, raise_alerts
from pricing.uow import PricingUnitOfWork

POS, SETTLEMENT = "pos", "settlement"
PHARMACY_MED_TYPE = PHARMACY  # 定点药店购药
_RACE_RETRIES = 3


@dataclass(frozen=True, slots=True)
class LineOutcome:
    sale_id: str
    accepted: bool
    light: str | None = None
    price: Decimal | None = None
    reference: Decimal | None = None
    diff_ratio: str | None = None
    over_procurement: bool | None = None
    replay: bool = False
    reason: str | None = None
    message: str | None = None


@dataclass
class Recorded:
    outcomes: list[LineOutcome] = field(default_factory=list)
    alerts_raised: int = 0
    # A pharmacy settlement whose reversal was applied first: nothing of it is observed.
    reversed_before: bool = False


def _outcome_of(row: StoredSale, *, replay: bool) -> LineOutcome:
    return LineOutcome(
        sale_id=row.sale_id,
        accepted=True,
        light=row.light,
        price=micro_to_price(row.price_micro),
        reference=micro_to_price(row.reference_micro),
        diff_ratio=row.diff_ratio,
        over_procurement=row.over_procurement,
        replay=replay,
    )


async def record_sales(
    *, uow: PricingUnitOfWork, fixmedins_code: str, lines: Sequence[SaleLine], clock: Clock
) -> Recorded:
    """Record a pharmacy's sale lines: each accepted with its light, or rejected with a reason."""
    pharmacy = await uow.pharmacies.get(fixmedins_code)
    if pharmacy is None:
        return Recorded(
            [
                LineOutcome(
                    sale_id=line.sale_id,
                    accepted=False,
                    reason="PHARMACY_NOT_FOUND",
                    message=f"{fixmedins_code} is not a designated pharmacy known to price monitoring.",
                )
                for line in lines
            ]
        )
    # Two requests carrying the same sale_id (a POS retrying before its first answer came) both find
    # nothing stored; the unique key stops the second. It then runs again in a fresh savepoint, finds the
    # first one's lines and answers them as a replay or a conflict, as if it had come after.
    for attempt in range(_RACE_RETRIES):
        try:
            async with uow.savepoint():
                return await _record(
                    uow, pharmacy.fixmedins_code, pharmacy.admdvs, lines, source=POS, clock=clock
                )
        except IntegrityError:
            if attempt == _RACE_RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def record_settlement(*, uow: PricingUnitOfWork, data: SettlementSettled, clock: Clock) -> Recorded:
    """A pharmacy settlement (med_type 41): each fee line of a drug we know is a price observation.

    One already reversed (its reversal applied first, see `withdraw_settlement`) was never a sale: nothing
    of it is recorded.
    """
    if data.med_type != PHARMACY_MED_TYPE:
        return Recorded()
    await uow.reversals.lock(data.setl_id)
    if await uow.reversals.includes(data.setl_id):
        return Recorded(reversed_before=True)
    pharmacy = await uow.pharmacies.get(data.fixmedins_code)
    admdvs = pharmacy.admdvs if pharmacy is not None else data.admdvs
    lines = [
        SaleLine(
            sale_id=f"{data.setl_id}:{line.feedetl_sn}",
            med_list_codg=line.med_list_codg,
            price=line.pric,
            cnt=line.cnt,
            sel_time=line.fee_ocur_time,
            drug_trac_codg=tuple(line.drug_trac_codg),
        )
        for line in data.feedetail
        if line.pric > 0 and line.cnt > 0
    ]
    return await _record(uow, data.fixmedins_code, admdvs, lines, source=SETTLEMENT, clock=clock)


async def _record(
    uow: PricingUnitOfWork,
    fixmedins_code: str,
    admdvs: str,
    lines: Sequence[SaleLine],
    *,
    source: str,
    clock: Clock,
) -> Recorded:
    """Classify the lines (domain), move the references, write the fresh ones, raise their alerts.

    Set-based from end to end: the drugs, the stored lines, the latest prices and the references of the
    whole upload are each read in one query, and each table written in one statement. What a line is worth
    is computed once per distinct value (an upload repeats its prices, quantities and sale times), never once
    per use, and nothing per line goes through the ORM.
    """
    now = clock.now()
    settings = await monitoring.current(uow=uow)
    # The catalogue facts of every drug of the upload, in one query.
    drugs = await uow.drugs.procurement_prices(sorted({line.med_list_codg for line in lines}))
    # What needs no lock is done before taking them: uploads sharing drugs of a region wait for each other.
    prices, fingerprints = _priced(lines)
    # Before reading what is recorded: a retry racing its original waits for it, then finds it.
    await uow.references.lock_groups(admdvs, drugs)
    stored = await uow.observations.answers_of(fixmedins_code, sorted({line.sale_id for line in lines}))
    classified = classify(
        lines,
        stored={sale_id: row.fingerprint for sale_id, row in stored.items()},
        known_drugs=drugs.keys(),
        now=now,
        fingerprints=fingerprints,
    )
    # Each drug's newest fresh sale (the last of equal times): what `newest_prices` gives, in one pass.
    latest: dict[str, tuple[int, datetime]] = {}
    for fresh in classified.fresh:
        line = fresh.line
        held = latest.get(line.med_list_codg)
        if held is None or line.sel_time >= held[1]:
            latest[line.med_list_codg] = (prices[fresh.position], line.sel_time)
    references = await uow.references.update_references(
        fixmedins_code=fixmedins_code,
        admdvs=admdvs,
        latest=latest,
        cutoff=now - timedelta(days=settings.window_days),
        now=now,
    )

    outcomes: list[LineOutcome | None] = []
    for line, kind in zip(lines, classified.kinds, strict=True):
        if kind.kind is Kind.REPLAY:
            outcomes.append(_outcome_of(stored[line.sale_id], replay=True))
        elif kind.kind is Kind.REJECTED:
            outcomes.append(
                LineOutcome(sale_id=line.sale_id, accepted=False, reason=kind.reason, message=kind.message)
            )
        else:
            outcomes.append(None)  # fresh, or a repeat answered like its first once that one is recorded
    thresholds = settings.thresholds
    verdicts: dict[tuple[int, int, int | None], tuple[Verdict, str]] = {}
    amounts: dict[tuple[int, Decimal], int] = {}
    months: dict[datetime, str] = {}
    yuan: dict[int, Decimal] = {}
    quantities: dict[Decimal, str] = {}
    rows: list[dict[str, object]] = []
    sightings: list[Sighting] = []
    for fresh in classified.fresh:
        line = fresh.line
        drug, cnt, sel_time = line.med_list_codg, line.cnt, line.sel_time
        price = prices[fresh.position]
        reference = references.get(drug)
        # Only a sale older than the window finds no reference: it is measured against itself (`observe`).
        reference_micro = reference.price_micro if reference is not None else price
        procurement = drugs[drug]
        judged = verdicts.get((price, reference_micro, procurement))
        if judged is None:
            verdict = light_of(price, reference_micro, procurement, thresholds)
            judged = verdicts[(price, reference_micro, procurement)] = (
                verdict,
                format(verdict.diff_ratio, "f"),
            )
        verdict, diff_ratio = judged
        light = verdict.light.value
        amount = amounts.get((price, cnt))
        if amount is None:
            amount = amounts[(price, cnt)] = line_amount_fen(price, cnt)
        reference_amount = amounts.get((reference_micro, cnt))
        if reference_amount is None:
            reference_amount = amounts[(reference_micro, cnt)] = line_amount_fen(reference_micro, cnt)
        month = months.get(sel_time)
        if month is None:
            month = months[sel_time] = business_date(sel_time).strftime("%Y-%m")
        quantity = quantities.get(cnt)
        if quantity is None:
            quantity = quantities[cnt] = format(cnt.normalize(), "f")
        price_yuan = yuan.get(price)
        if price_yuan is None:
            price_yuan = yuan[price] = micro_to_price(price)
        reference_yuan = yuan.get(reference_micro)
        if reference_yuan is None:
            reference_yuan = yuan[reference_micro] = micro_to_price(reference_micro)
        rows.append(
            {
                "fixmedins_code": fixmedins_code,
                "sale_id": line.sale_id,
                "source": source,
                "fingerprint": fresh.fingerprint,
                "med_list_codg": drug,
                "admdvs": admdvs,
                "price_micro": price,
                "cnt": quantity,
                "sel_time": sel_time,
                "month": month,
                "amount_fen": amount,
                "reference_micro": reference_micro,
                "reference_amount_fen": reference_amount,
                "diff_ratio": diff_ratio,
                "light": light,
                "over_procurement": verdict.over_procurement,
                "drug_trac_codg": list(line.drug_trac_codg),
                "recorded_at": now,
            }
        )
        outcomes[fresh.position] = LineOutcome(
            line.sale_id, True, light, price_yuan, reference_yuan, diff_ratio, verdict.over_procurement
        )
        if verdict.light is not Light.GREEN:  # only yellow and red raise or count alerts
            sightings.append(
                Sighting(fixmedins_code, drug, admdvs, line.sale_id, price, reference_micro, verdict)
            )
    await uow.observations.insert_many(rows)
    if source == POS and classified.fresh:
        await uow.publish(_sale_recorded(fixmedins_code, classified.fresh, clock=clock))
    for position, kind in enumerate(classified.kinds):
        if kind.kind is Kind.REPEAT:
            assert kind.first is not None
            first = outcomes[kind.first]
            assert first is not None
            outcomes[position] = dataclasses.replace(first, replay=True)
    raised = await raise_alerts(uow=uow, sightings=sightings, clock=clock)
    final = [outcome for outcome in outcomes if outcome is not None]
    assert len(final) == len(lines)
    return Recorded(final, raised)


def _priced(lines: Sequence[SaleLine]) -> tuple[list[int], list[str]]:
    """Each line's price in millionths and its fingerprint (`SaleLine.fingerprint`), each distinct price,
    quantity and sale time converted once."""
    micro: dict[Decimal, int] = {}
    quantities: dict[Decimal, str] = {}
    moments: dict[datetime, str] = {}
    prices: list[int] = []
    fingerprints: list[str] = []
    for line in lines:
        price = micro.get(line.price)
        if price is None:
            price = micro[line.price] = price_to_micro(line.price)
        quantity = quantities.get(line.cnt)
        if quantity is None:
            quantity = quantities[line.cnt] = format(line.cnt.normalize(), "f")
        moment = moments.get(line.sel_time)
        if moment is None:
            moment = moments[line.sel_time] = line.sel_time.astimezone(UTC).isoformat()
        prices.append(price)
        fingerprints.append(fingerprint_of(line.med_list_codg, price, quantity, moment, line.drug_trac_codg))
    return prices, fingerprints


def _sale_recorded(fixmedins_code: str, fresh: Sequence[FreshLine], *, clock: Clock) -> EventEnvelope:
    """pricing.sale.recorded of an upload's fresh lines (a replay or repeat is never in it): one event for
    the upload, its data written as the SaleRecorded contract serialises, without a model per line."""
    lines = [
        {
            "sale_id": item.line.sale_id,
            "med_list_codg": item.line.med_list_codg,
            "cnt": format(item.line.cnt, "f"),
            "pric": format(item.line.price, "f"),
            "sel_time": item.line.sel_time.isoformat(),
            "drug_trac_codg": list(item.line.drug_trac_codg),
        }
        for item in fresh
    ]
    return new_event(
        type=Subject.SALE_RECORDED,
        source=SOURCE,
        subject=fixmedins_code,
        data={"fixmedins_code": fixmedins_code, "lines": lines},
        clock=clock,
    )


async def withdraw_settlement(*, uow: PricingUnitOfWork, data: SettlementReversed, clock: Clock) -> int:
    """A reversed pharmacy settlement was never a sale: its observations go, and each drug's latest price
    of that pharmacy (and so the region's reference) is what it was without them. Returns how many went.

    With several consumer processes (replicas), or two relays publishing side by side, the reversal can be
    applied before its settlement, and no observation found cannot be told from a settlement with nothing
    to observe: so the reversal is kept as a tombstone, and `record_settlement` records nothing of a
    settlement it names. The two take turns on the settlement's lock, so neither misses the other.
    """
    if data.med_type != PHARMACY_MED_TYPE:
        return 0
    await uow.reversals.lock(data.orig_setl_id)
    await uow.reversals.record(data.orig_setl_id, at=data.setl_time)
    rows = await uow.observations.of_settlement(
        data.fixmedins_code, source=SETTLEMENT, setl_id=data.orig_setl_id
    )
    if not rows:
        return 0
    now = clock.now()
    settings = await monitoring.current(uow=uow)
    cutoff = now - timedelta(days=settings.window_days)
    groups = sorted({(row.admdvs, row.med_list_codg) for row in rows})
    for admdvs in sorted({admdvs for admdvs, _ in groups}):
        await uow.references.lock_groups(admdvs, [drug for region, drug in groups if region == admdvs])
    await uow.observations.remove(rows)
    for admdvs, drug in groups:
        await uow.references.restore_latest(
            fixmedins_code=data.fixmedins_code, admdvs=admdvs, med_list_codg=drug, cutoff=cutoff, now=now
        )
    return len(rows)
