"""Fraud's projection of claim history: settlements, reversals, persons, catalogue limits, from events.

Each apply is idempotent by natural key as well as by the consumer's inbox: a settlement already
projected, a reversal already marked, a death already known change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from common.clock import business_date
from common.events.enrollment import PersonDeceased, PersonRegistered
from common.events.settlement import CatalogChanged, SettlementReversed, SettlementSettled
from common.money import yuan_to_fen
from fraud.domain.facts import dise_category
from fraud.models import PersonFact
from fraud.repository.claims import SETTLEMENT_USE
from fraud.service import tracecodes
from fraud.service.history import PersonFacts, SettledLines, settled_lines
from fraud.service.tracecodes import month_of
from fraud.uow import FraudUnitOfWork


@dataclass(frozen=True, slots=True)
class Projected:
    """A settlement projected just now: its lines as worked out, and the person's facts when the projection
    read them already (PostgreSQL, in the same statement)."""

    lines: SettledLines
    person: PersonFacts | None


async def apply_settled(*, uow: FraudUnitOfWork, data: SettlementSettled) -> Projected | None:
    """Project a settlement with its lines and traceability codes; None if it was already there."""
    await uow.persons.lock(data.psn_no, shared=True)
    projected = settled_lines(data)
    values = {
        "setl_id": data.setl_id,
        "psn_no": data.psn_no,
        "mdtrt_id": data.mdtrt_id,
        "medins_setl_id": data.medins_setl_id,
        "fixmedins_code": data.fixmedins_code,
        "hosp_lv": data.hosp_lv,
        "insutype": data.insutype,
        "med_type": data.med_type,
        "dise_codg": data.dise_codg,
        "dise_category": dise_category(data.dise_codg),
        "begin_date": business_date(data.begntime),
        "end_date": business_date(data.endtime) if data.endtime else None,
        "setl_date": data.business_date,
        "setl_time": data.setl_time,
        "medfee_fen": yuan_to_fen(data.medfee_sumamt),
        "fund_pay_fen": yuan_to_fen(data.fund_pay_sumamt),
        "psn_part_fen": yuan_to_fen(data.psn_part_amt),
        "reversed": False,
        "reversed_at": None,
        "assistance": data.assistance,
    }
    lines = [
        (line.feedetl_sn, line.med_list_codg, format(line.cnt, "f"), line.amount_fen, line.fee_date, scanned)
        for line, scanned in zip(
            projected.lines, (bool(line.drug_trac_codg) for line in data.feedetail), strict=True
        )
    ]
    if uow.claims.combines_projection:
        # One round trip: the claim, its lines, codes and scan rate, and the person's facts (see there).
        row = await uow.claims.project(
            values, lines=lines, codes=list(projected.codes.items()), month=month_of(data.setl_time)
        )
        if not row.inserted:
            return None
        return Projected(projected, PersonFacts(row.gend, row.brdy, row.death_date))
    if not await uow.claims.insert_new(values):
        return None
    if lines:
        await uow.claims.add_lines(
            [
                {
                    "setl_id": data.setl_id,
                    "feedetl_sn": sn,
                    "psn_no": data.psn_no,
                    "med_list_codg": item,
                    "cnt": cnt,
                    "amount_fen": amount_fen,
                    "fee_date": fee_date,
                    "reversed": False,
                }
                for sn, item, cnt, amount_fen, fee_date, _ in lines
            ]
        )
    if projected.codes:
        await uow.claims.add_trace_codes(
            [
                {
                    "trac_codg": code,
                    "source": SETTLEMENT_USE,
                    "fixmedins_code": data.fixmedins_code,
                    "use_id": data.setl_id,
                    "feedetl_sn": sn,
                    "used_at": data.setl_time,
                    "reversed": False,
                }
                for code, sn in projected.codes.items()
            ]
        )
    await tracecodes.count_settled(uow=uow, data=data)
    return Projected(projected, None)


class SettlementNotYetProjected(Exception):
    """A reversal arrived before its settlement: with several consumer processes (replicas) sharing one
    durable consumer, or two relays publishing side by side, the stream's order is not the order applied.
    Raised, the event is redelivered after the consumer's backoff, by when the settlement is projected;
    one that never comes is dead-lettered after the consumer's last delivery, for ops to look at."""


async def apply_reversed(*, uow: FraudUnitOfWork, data: SettlementReversed) -> bool:
    """Mark the original settlement, its lines and codes reversed; False if already marked.

    Raises SettlementNotYetProjected when the original is not projected yet (see there).
    """
    marked = await uow.claims.mark_reversed(data.orig_setl_id, at=data.setl_time)
    if marked is None:
        raise SettlementNotYetProjected(
            f"settlement {data.orig_setl_id} is reversed by {data.setl_id} but not projected yet"
        )
    if marked:
        await tracecodes.uncount_settlement(uow=uow, setl_id=data.orig_setl_id, now=data.setl_time)
    return marked


async def apply_person_registered(*, uow: FraudUnitOfWork, data: PersonRegistered, now: datetime) -> None:
    """Keep the person's gender and birth date (a recorded death is never touched)."""
    await uow.persons.keep_registered(data.psn_no, gend=data.gend, brdy=data.brdy, now=now)


async def apply_person_deceased(*, uow: FraudUnitOfWork, data: PersonDeceased, now: datetime) -> bool:
    """Record the date of death; False if it was already known with that date."""
    await uow.persons.lock(data.psn_no, shared=False)
    row = await uow.persons.get(data.psn_no, for_update=True)
    if row is None:
        uow.persons.add(
            PersonFact(psn_no=data.psn_no, gend=None, brdy=None, death_date=data.death_date, updated_at=now)
        )
        await uow.persons.flush()
        return True
    if row.death_date == data.death_date:
        return False
    row.death_date, row.updated_at = data.death_date, now
    await uow.persons.flush()
    return True


async def apply_catalog_changed(*, uow: FraudUnitOfWork, data: CatalogChanged, now: datetime) -> None:
    """Keep the item's gender, age and quantity limits, and whether it needs a traceability code, as the
    catalogue now states them."""
    state = {
        "gend_lmt": data.gend_lmt or None,
        "age_min": data.age_min,
        "age_max": data.age_max,
        "max_cnt_per_visit": format(Decimal(data.max_cnt_per_visit), "f") if data.max_cnt_per_visit else None,
        "trac_codg_required": data.trac_codg_required,
        "updated_at": now,
    }
    await uow.catalog.keep(data.med_list_codg, state)
