"""Observations of prices: POS sales uploads and pharmacy settlements, each line with its light at once."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock, business_date
from common.events.settlement import SettlementReversed, SettlementSettled
from common.national import PHARMACY
from pricing.domain.light import Verdict, light_of
from pricing.domain.money import line_amount_fen, micro_to_price, price_to_micro
from pricing.models import Drug, Observation, Pharmacy, table_of
from pricing.service import settings as monitoring
from pricing.service.alerts import Sighting, raise_alerts
from pricing.service.reference import lock_groups, restore_latest, update_references

POS, SETTLEMENT = "pos", "settlement"
PHARMACY_MED_TYPE = PHARMACY  # 定点药店购药
# A POS clock a little ahead of ours is a clock, not a sale from the future.
FUTURE_TOLERANCE = timedelta(minutes=5)
_CHUNK = 900
_RACE_RETRIES = 3


@dataclass(frozen=True, slots=True)
class SaleLine:
    sale_id: str
    med_list_codg: str
    price: Decimal
    cnt: Decimal
    sel_time: datetime
    drug_trac_codg: Sequence[str] = ()

    def fingerprint(self) -> str:
        """What a retry must repeat exactly: the same sale_id with anything else different is a conflict."""
        canonical = json.dumps(
            [
                self.med_list_codg,
                price_to_micro(self.price),
                format(self.cnt.normalize(), "f"),
                self.sel_time.astimezone(UTC).isoformat(),
                list(self.drug_trac_codg),
            ],
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


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


def _rejected(sale_id: str, reason: str, message: str) -> LineOutcome:
    return LineOutcome(sale_id=sale_id, accepted=False, reason=reason, message=message)


def _outcome_of(row: Observation, *, replay: bool) -> LineOutcome:
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
    session: AsyncSession, fixmedins_code: str, lines: Sequence[SaleLine], *, clock: Clock
) -> Recorded:
    """Record a pharmacy's sale lines: each accepted with its light, or rejected with a reason."""
    pharmacy = await session.get(Pharmacy, fixmedins_code)
    if pharmacy is None:
        return Recorded(
            [
                _rejected(
                    line.sale_id,
                    "PHARMACY_NOT_FOUND",
                    f"{fixmedins_code} is not a designated pharmacy known to price monitoring.",
                )
                for line in lines
            ]
        )
    # Two requests carrying the same sale_id (a POS retrying before its first answer came) both find
    # nothing stored; the unique key stops the second. It then runs again in a fresh savepoint, finds the
    # first one's lines and answers them as a replay or a conflict, as if it had come after.
    for attempt in range(_RACE_RETRIES):
        try:
            async with session.begin_nested():
                return await _record(
                    session, pharmacy.fixmedins_code, pharmacy.admdvs, lines, source=POS, clock=clock
                )
        except IntegrityError:
            if attempt == _RACE_RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def record_settlement(session: AsyncSession, data: SettlementSettled, *, clock: Clock) -> Recorded:
    """A pharmacy settlement (med_type 41): each fee line of a drug we know is a price observation."""
    if data.med_type != PHARMACY_MED_TYPE:
        return Recorded()
    pharmacy = await session.get(Pharmacy, data.fixmedins_code)
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
    return await _record(session, data.fixmedins_code, admdvs, lines, source=SETTLEMENT, clock=clock)


async def _record(
    session: AsyncSession,
    fixmedins_code: str,
    admdvs: str,
    lines: Sequence[SaleLine],
    *,
    source: str,
    clock: Clock,
) -> Recorded:
    now = clock.now()
    settings = await monitoring.current(session)
    codes = sorted({line.med_list_codg for line in lines})
    drugs: dict[str, Drug] = {}
    for start in range(0, len(codes), _CHUNK):
        found = await session.scalars(
            sa.select(Drug).where(Drug.med_list_codg.in_(codes[start : start + _CHUNK]))
        )
        drugs.update({drug.med_list_codg: drug for drug in found})
    # Before reading what is recorded: a retry racing its original waits for it, then finds it.
    await lock_groups(session, admdvs, drugs)
    sale_ids = sorted({line.sale_id for line in lines})
    stored: dict[str, Observation] = {}
    for start in range(0, len(sale_ids), _CHUNK):
        found_rows = await session.scalars(
            sa.select(Observation).where(
                Observation.fixmedins_code == fixmedins_code,
                Observation.sale_id.in_(sale_ids[start : start + _CHUNK]),
            )
        )
        stored.update({row.sale_id: row for row in found_rows})

    outcomes: list[LineOutcome | None] = []
    fresh: list[tuple[int, SaleLine, str]] = []  # (position, line, fingerprint)
    seen_in_request: dict[str, tuple[str, int]] = {}
    for position, line in enumerate(lines):
        fingerprint = line.fingerprint()
        previous = stored.get(line.sale_id)
        if previous is not None:
            if previous.fingerprint == fingerprint:
                outcomes.append(_outcome_of(previous, replay=True))
            else:
                outcomes.append(
                    _rejected(
                        line.sale_id,
                        "SALE_ID_CONFLICT",
                        "This sale_id was recorded with different content; a new sale needs a new sale_id.",
                    )
                )
            continue
        if line.sale_id in seen_in_request:
            first_fingerprint, first_position = seen_in_request[line.sale_id]
            if first_fingerprint == fingerprint:
                outcomes.append(None)  # the same as the first: answered like it once that one is recorded
                fresh.append((position, line, "dup:" + str(first_position)))
            else:
                outcomes.append(
                    _rejected(
                        line.sale_id,
                        "SALE_ID_CONFLICT",
                        f"This sale_id is also on line {first_position + 1} with different content.",
                    )
                )
            continue
        if line.med_list_codg not in drugs:
            outcomes.append(
                _rejected(
                    line.sale_id, "DRUG_NOT_FOUND", f"No drug {line.med_list_codg} in the reference data."
                )
            )
            continue
        if line.sel_time > now + FUTURE_TOLERANCE:
            outcomes.append(_rejected(line.sale_id, "SEL_TIME_IN_FUTURE", "sel_time lies in the future."))
            continue
        seen_in_request[line.sale_id] = (fingerprint, position)
        outcomes.append(None)
        fresh.append((position, line, fingerprint))

    new_lines = [(position, line, fp) for position, line, fp in fresh if not fp.startswith("dup:")]
    latest: dict[str, tuple[int, datetime]] = {}
    for _, line, _ in sorted(new_lines, key=lambda item: item[1].sel_time):
        latest[line.med_list_codg] = (price_to_micro(line.price), line.sel_time)
    cutoff = now - timedelta(days=settings.window_days)
    references = await update_references(
        session, fixmedins_code=fixmedins_code, admdvs=admdvs, latest=latest, cutoff=cutoff, now=now
    )

    rows: list[dict[str, object]] = []
    sightings: list[Sighting] = []
    for position, line, fingerprint in new_lines:
        drug = drugs[line.med_list_codg]
        price = price_to_micro(line.price)
        reference = references.get(line.med_list_codg)
        # Only a sale older than the window can find no reference: it is measured against itself.
        reference_micro = reference.price_micro if reference is not None else price
        verdict: Verdict = light_of(price, reference_micro, drug.procurement_price_micro, settings.thresholds)
        rows.append(
            {
                "fixmedins_code": fixmedins_code,
                "sale_id": line.sale_id,
                "source": source,
                "fingerprint": fingerprint,
                "med_list_codg": line.med_list_codg,
                "admdvs": admdvs,
                "price_micro": price,
                "cnt": format(line.cnt.normalize(), "f"),
                "sel_time": line.sel_time,
                "month": business_date(line.sel_time).strftime("%Y-%m"),
                "amount_fen": line_amount_fen(price, line.cnt),
                "reference_micro": reference_micro,
                "reference_amount_fen": line_amount_fen(reference_micro, line.cnt),
                "diff_ratio": format(verdict.diff_ratio, "f"),
                "light": verdict.light.value,
                "over_procurement": verdict.over_procurement,
                "drug_trac_codg": list(line.drug_trac_codg),
                "recorded_at": now,
            }
        )
        outcomes[position] = LineOutcome(
            sale_id=line.sale_id,
            accepted=True,
            light=verdict.light.value,
            price=micro_to_price(price),
            reference=micro_to_price(reference_micro),
            diff_ratio=format(verdict.diff_ratio, "f"),
            over_procurement=verdict.over_procurement,
        )
        sightings.append(
            Sighting(
                fixmedins_code, line.med_list_codg, admdvs, line.sale_id, price, reference_micro, verdict
            )
        )
    for start in range(0, len(rows), 2000):
        await session.execute(sa.insert(table_of(Observation)), rows[start : start + 2000])
    for position, _line, marker in fresh:
        if marker.startswith("dup:"):
            first = outcomes[int(marker.removeprefix("dup:"))]
            assert first is not None
            outcomes[position] = dataclasses.replace(first, replay=True)
    raised = await raise_alerts(session, sightings, clock=clock)
    final = [outcome for outcome in outcomes if outcome is not None]
    assert len(final) == len(lines)
    return Recorded(final, raised)


async def withdraw_settlement(session: AsyncSession, data: SettlementReversed, *, clock: Clock) -> int:
    """A reversed pharmacy settlement was never a sale: its observations go, and each drug's latest price
    of that pharmacy (and so the region's reference) is what it was without them. Returns how many went.
    """
    if data.med_type != PHARMACY_MED_TYPE:
        return 0
    rows = list(
        (
            await session.scalars(
                sa.select(Observation).where(
                    Observation.fixmedins_code == data.fixmedins_code,
                    Observation.source == SETTLEMENT,
                    Observation.sale_id.like(f"{data.orig_setl_id}:%"),
                )
            )
        ).all()
    )
    if not rows:
        return 0
    now = clock.now()
    settings = await monitoring.current(session)
    cutoff = now - timedelta(days=settings.window_days)
    groups = sorted({(row.admdvs, row.med_list_codg) for row in rows})
    for admdvs in sorted({admdvs for admdvs, _ in groups}):
        await lock_groups(session, admdvs, [drug for region, drug in groups if region == admdvs])
    for row in rows:
        await session.delete(row)
    await session.flush()
    for admdvs, drug in groups:
        await restore_latest(
            session,
            fixmedins_code=data.fixmedins_code,
            admdvs=admdvs,
            med_list_codg=drug,
            cutoff=cutoff,
            now=now,
        )
    return len(rows)
