"""Fraud's projection of claim history: settlements, reversals, persons, catalogue limits, from events.

Each apply is idempotent by natural key as well as by the consumer's inbox: a settlement already
projected, a reversal already marked, a death already known change nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import business_date
from common.events.enrollment import PersonDeceased, PersonRegistered
from common.events.settlement import CatalogChanged, SettlementReversed, SettlementSettled
from common.money import yuan_to_fen
from fraud.domain.facts import dise_category
from fraud.models import CatalogLimit, ClaimLine, ClaimRecord, PersonFact, TraceCodeUse, table_of

_CLAIMS, _LINES, _CODES = table_of(ClaimRecord), table_of(ClaimLine), table_of(TraceCodeUse)


def _insert(session: AsyncSession, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def apply_settled(session: AsyncSession, data: SettlementSettled) -> bool:
    """Project a settlement with its lines and traceability codes; False if it was already there."""
    inserted = await session.execute(
        _insert(session, _CLAIMS)
        .values(
            setl_id=data.setl_id,
            psn_no=data.psn_no,
            mdtrt_id=data.mdtrt_id,
            medins_setl_id=data.medins_setl_id,
            fixmedins_code=data.fixmedins_code,
            hosp_lv=data.hosp_lv,
            insutype=data.insutype,
            med_type=data.med_type,
            dise_codg=data.dise_codg,
            dise_category=dise_category(data.dise_codg),
            begin_date=business_date(data.begntime),
            end_date=business_date(data.endtime) if data.endtime else None,
            setl_date=data.business_date,
            setl_time=data.setl_time,
            medfee_fen=yuan_to_fen(data.medfee_sumamt),
            fund_pay_fen=yuan_to_fen(data.fund_pay_sumamt),
            psn_part_fen=yuan_to_fen(data.psn_part_amt),
            reversed=False,
            reversed_at=None,
        )
        .on_conflict_do_nothing(index_elements=[_CLAIMS.c.setl_id])
    )
    if inserted.rowcount == 0:  # type: ignore[attr-defined]
        return False
    lines = [
        {
            "setl_id": data.setl_id,
            "feedetl_sn": line.feedetl_sn,
            "psn_no": data.psn_no,
            "med_list_codg": line.med_list_codg,
            "cnt": format(line.cnt, "f"),
            "amount_fen": yuan_to_fen(line.det_item_fee_sumamt),
            "fee_date": business_date(line.fee_ocur_time),
            "reversed": False,
        }
        for line in data.feedetail
    ]
    if lines:
        await session.execute(sa.insert(_LINES), lines)
    codes = {
        code: line.feedetl_sn for line in data.feedetail for code in line.drug_trac_codg
    }  # a code twice in one settlement is one use (the review flagged it)
    if codes:
        await session.execute(
            sa.insert(_CODES),
            [
                {"trac_codg": code, "setl_id": data.setl_id, "feedetl_sn": sn, "reversed": False}
                for code, sn in codes.items()
            ],
        )
    return True


async def apply_reversed(session: AsyncSession, data: SettlementReversed, *, now: datetime) -> bool:
    """Mark the original settlement, its lines and codes reversed; False if unknown or already marked."""
    changed = await session.execute(
        sa.update(_CLAIMS)
        .where(_CLAIMS.c.setl_id == data.orig_setl_id, _CLAIMS.c.reversed.is_(False))
        .values(reversed=True, reversed_at=data.setl_time)
    )
    if changed.rowcount == 0:  # type: ignore[attr-defined]
        return False
    await session.execute(
        sa.update(_LINES).where(_LINES.c.setl_id == data.orig_setl_id).values(reversed=True)
    )
    await session.execute(
        sa.update(_CODES).where(_CODES.c.setl_id == data.orig_setl_id).values(reversed=True)
    )
    return True


async def apply_person_registered(session: AsyncSession, data: PersonRegistered, *, now: datetime) -> None:
    """Keep the person's gender and birth date (a recorded death is never touched)."""
    await session.execute(
        _insert(session, PersonFact)
        .values(psn_no=data.psn_no, gend=data.gend, brdy=data.brdy, death_date=None, updated_at=now)
        .on_conflict_do_update(
            index_elements=[PersonFact.psn_no], set_={"gend": data.gend, "brdy": data.brdy, "updated_at": now}
        )
    )


async def apply_person_deceased(session: AsyncSession, data: PersonDeceased, *, now: datetime) -> bool:
    """Record the date of death; False if it was already known with that date."""
    row = await session.get(PersonFact, data.psn_no, with_for_update=True)
    if row is None:
        session.add(
            PersonFact(psn_no=data.psn_no, gend=None, brdy=None, death_date=data.death_date, updated_at=now)
        )
        await session.flush()
        return True
    if row.death_date == data.death_date:
        return False
    row.death_date, row.updated_at = data.death_date, now
    await session.flush()
    return True


async def apply_catalog_changed(session: AsyncSession, data: CatalogChanged, *, now: datetime) -> None:
    """Keep the item's gender, age and quantity limits as the catalogue now states them."""
    state = {
        "gend_lmt": data.gend_lmt or None,
        "age_min": data.age_min,
        "age_max": data.age_max,
        "max_cnt_per_visit": format(Decimal(data.max_cnt_per_visit), "f") if data.max_cnt_per_visit else None,
        "updated_at": now,
    }
    await session.execute(
        _insert(session, CatalogLimit)
        .values(med_list_codg=data.med_list_codg, **state)
        .on_conflict_do_update(index_elements=[CatalogLimit.med_list_codg], set_=state)
    )
