"""Reading the projection around a claim: exactly what the active rules' families need, by index."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import business_date
from common.events.review import ReviewClaim
from common.money import yuan_to_fen
from fraud.domain.facts import INPATIENT, Claim, History, ItemLimit, Line, PastClaim, PastLine, Peers
from fraud.models import CatalogLimit, ClaimLine, ClaimRecord, PersonFact, TraceCodeUse, table_of
from fraud.service.rules import ActiveRule

_CLAIMS, _LINES, _CODES = table_of(ClaimRecord), table_of(ClaimLine), table_of(TraceCodeUse)
_LIMITS, _PERSONS = table_of(CatalogLimit), table_of(PersonFact)

_PAST_CLAIMS = sa.select(
    _CLAIMS.c.setl_id,
    _CLAIMS.c.med_type,
    _CLAIMS.c.fixmedins_code,
    _CLAIMS.c.dise_codg,
    _CLAIMS.c.begin_date,
    _CLAIMS.c.end_date,
    _CLAIMS.c.setl_date,
    _CLAIMS.c.psn_part_fen,
).where(
    _CLAIMS.c.psn_no == sa.bindparam("psn_no"),
    _CLAIMS.c.begin_date >= sa.bindparam("since"),
    _CLAIMS.c.reversed.is_(False),
)
_PAST_LINES = sa.select(
    _LINES.c.setl_id, _LINES.c.feedetl_sn, _LINES.c.med_list_codg, _LINES.c.fee_date, _LINES.c.cnt
).where(
    _LINES.c.psn_no == sa.bindparam("psn_no"),
    _LINES.c.fee_date >= sa.bindparam("since"),
    _LINES.c.reversed.is_(False),
)
_USED_CODES = sa.select(_CODES.c.trac_codg, _CODES.c.setl_id).where(
    _CODES.c.trac_codg.in_(sa.bindparam("codes", expanding=True)), _CODES.c.reversed.is_(False)
)
_ITEM_LIMITS = sa.select(_LIMITS).where(_LIMITS.c.med_list_codg.in_(sa.bindparam("items", expanding=True)))
_PEERS = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(_CLAIMS.c.medfee_fen), 0)).where(
    _CLAIMS.c.dise_category == sa.bindparam("category"),
    _CLAIMS.c.hosp_lv == sa.bindparam("hosp_lv"),
    _CLAIMS.c.med_type.in_(sorted(INPATIENT)),
    _CLAIMS.c.reversed.is_(False),
    _CLAIMS.c.setl_id != sa.bindparam("setl_id"),
)
_DEATH = sa.select(_PERSONS.c.death_date).where(_PERSONS.c.psn_no == sa.bindparam("psn_no"))


def claim_from_review(claim: ReviewClaim) -> Claim:
    """The claim settlement is about to settle, as the rules see it (no settlement id or split yet)."""
    return Claim(
        setl_id=None,
        psn_no=claim.psn_no,
        med_type=claim.med_type,
        fixmedins_code=claim.fixmedins_code,
        hosp_lv=claim.hosp_lv,
        dise_codg=claim.dise_codg,
        begin_date=business_date(claim.begntime),
        end_date=business_date(claim.endtime) if claim.endtime else None,
        setl_date=business_date(claim.begntime),
        medfee_fen=yuan_to_fen(claim.medfee_sumamt),
        fund_pay_fen=0,
        psn_part_fen=0,
        gend=claim.gend,
        brdy=claim.brdy,
        lines=tuple(
            Line(
                feedetl_sn=line.feedetl_sn,
                med_list_codg=line.med_list_codg,
                cnt=line.cnt,
                amount_fen=yuan_to_fen(line.det_item_fee_sumamt),
                fee_date=business_date(line.fee_ocur_time),
                trace_codes=tuple(line.drug_trac_codg),
            )
            for line in claim.lines
        ),
    )


async def claim_from_record(session: AsyncSession, record: ClaimRecord) -> Claim:
    """A projected settlement as the rules see it, with its lines, codes and the person's facts."""
    lines = (
        await session.execute(
            sa.select(
                _LINES.c.feedetl_sn,
                _LINES.c.med_list_codg,
                _LINES.c.cnt,
                _LINES.c.amount_fen,
                _LINES.c.fee_date,
            )
            .where(_LINES.c.setl_id == record.setl_id)
            .order_by(_LINES.c.feedetl_sn)
        )
    ).all()
    codes: dict[str, list[str]] = {}
    for code, sn in (
        await session.execute(
            sa.select(_CODES.c.trac_codg, _CODES.c.feedetl_sn).where(_CODES.c.setl_id == record.setl_id)
        )
    ).all():
        codes.setdefault(sn, []).append(code)
    person = (
        await session.execute(
            sa.select(_PERSONS.c.gend, _PERSONS.c.brdy).where(_PERSONS.c.psn_no == record.psn_no)
        )
    ).first()
    return Claim(
        setl_id=record.setl_id,
        psn_no=record.psn_no,
        med_type=record.med_type,
        fixmedins_code=record.fixmedins_code,
        hosp_lv=record.hosp_lv,
        dise_codg=record.dise_codg,
        begin_date=record.begin_date,
        end_date=record.end_date,
        setl_date=record.setl_date,
        medfee_fen=record.medfee_fen,
        fund_pay_fen=record.fund_pay_fen,
        psn_part_fen=record.psn_part_fen,
        gend=person.gend if person else None,
        brdy=person.brdy if person else None,
        lines=tuple(
            Line(sn, item, Decimal(cnt), amount, fee_date, tuple(sorted(codes.get(sn, ()))))
            for sn, item, cnt, amount, fee_date in lines
        ),
    )


async def load_history(
    session: AsyncSession,
    claim: Claim,
    rules: Sequence[ActiveRule],
    *,
    settled_before: datetime | None = None,
) -> History:
    """The projection around `claim` for the given rules (the claim itself never counts as its own history).

    `settled_before` (backtests): only what had been settled before that moment.
    """
    needs = frozenset().union(*(rule.family.needs for rule in rules)) if rules else frozenset()
    claims: tuple[PastClaim, ...] = ()
    lines: tuple[PastLine, ...] = ()
    used: dict[str, str] = {}
    catalog: dict[str, ItemLimit] = {}
    peers = None
    death = None
    if "claims" in needs:
        days = max(rule.family.claim_lookback(rule.params) for rule in rules if "claims" in rule.family.needs)
        query: Any = _PAST_CLAIMS
        if settled_before is not None:
            query = query.where(_CLAIMS.c.setl_time < settled_before)
        rows = await session.execute(
            query, {"psn_no": claim.psn_no, "since": claim.begin_date - timedelta(days=days + 1)}
        )
        claims = tuple(PastClaim(*row) for row in rows.all() if row.setl_id != claim.setl_id)
    if "lines" in needs:
        days = max(rule.family.line_lookback(rule.params) for rule in rules if "lines" in rule.family.needs)
        query = _PAST_LINES
        if settled_before is not None:
            query = query.join(_CLAIMS, _CLAIMS.c.setl_id == _LINES.c.setl_id).where(
                _CLAIMS.c.setl_time < settled_before
            )
        rows = await session.execute(
            query, {"psn_no": claim.psn_no, "since": claim.begin_date - timedelta(days=days + 1)}
        )
        lines = tuple(
            PastLine(setl_id, sn, item, fee_date, Decimal(cnt))
            for setl_id, sn, item, fee_date, cnt in rows.all()
            if setl_id != claim.setl_id
        )
    if "trace_codes" in needs:
        codes = sorted({code for line in claim.lines for code in line.trace_codes})
        if codes:
            query = _USED_CODES
            if settled_before is not None:
                query = query.join(_CLAIMS, _CLAIMS.c.setl_id == _CODES.c.setl_id).where(
                    _CLAIMS.c.setl_time < settled_before
                )
            for code, setl_id in (await session.execute(query, {"codes": codes})).all():
                if setl_id != claim.setl_id:
                    used.setdefault(code, setl_id)
    if "catalog" in needs:
        items = sorted({line.med_list_codg for line in claim.lines})
        if items:
            for row in (await session.execute(_ITEM_LIMITS, {"items": items})).all():
                catalog[row.med_list_codg] = ItemLimit(
                    gend_lmt=row.gend_lmt,
                    age_min=row.age_min,
                    age_max=row.age_max,
                    max_cnt_per_visit=Decimal(row.max_cnt_per_visit) if row.max_cnt_per_visit else None,
                )
    if (
        "peers" in needs
        and claim.is_inpatient
        and claim.dise_category is not None
        and claim.hosp_lv is not None
    ):
        query = _PEERS
        if settled_before is not None:
            query = query.where(_CLAIMS.c.setl_time < settled_before)
        count, total = (
            await session.execute(
                query,
                {"category": claim.dise_category, "hosp_lv": claim.hosp_lv, "setl_id": claim.setl_id or ""},
            )
        ).one()
        peers = Peers(int(count), int(total))
    if "death" in needs:
        death = await session.scalar(_DEATH, {"psn_no": claim.psn_no})
    return History(
        claims=claims, lines=lines, used_trace_codes=used, catalog=catalog, peers=peers, death_date=death
    )
