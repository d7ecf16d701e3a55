"""The claim the rules see and the history around it: exactly what the active rules' families need."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from common.clock import business_date
from common.events.review import ReviewClaim
from common.events.settlement import SettlementSettled
from common.money import yuan_to_fen
from fraud.domain.facts import (
    SETTLEMENT,
    Claim,
    CodeUse,
    History,
    ItemLimit,
    Line,
    PastClaim,
    PastLine,
    Peers,
)
from fraud.models import ClaimRecord
from fraud.service.rules import ActiveRule
from fraud.uow import FraudUnitOfWork


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


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """What the projection knows of a person, read once (all None when fraud never heard of them)."""

    gend: str | None
    brdy: date | None
    death_date: date | None


NO_PERSON = PersonFacts(None, None, None)


@dataclass(frozen=True, slots=True)
class SettledLines:
    """A settlement's lines as projected, worked out once: each code with the serial of the line it is kept on
    (a code twice in one settlement is one use, kept on its last line), and the lines in the event's order."""

    codes: dict[str, str]
    lines: tuple[Line, ...]


def settled_lines(data: SettlementSettled) -> SettledLines:
    codes = {code: line.feedetl_sn for line in data.feedetail for code in line.drug_trac_codg}
    by_line: dict[str, list[str]] = {}
    for code, sn in codes.items():
        by_line.setdefault(sn, []).append(code)
    return SettledLines(
        codes,
        tuple(
            Line(
                line.feedetl_sn,
                line.med_list_codg,
                Decimal(format(line.cnt, "f")),
                yuan_to_fen(line.det_item_fee_sumamt),
                business_date(line.fee_ocur_time),
                tuple(sorted(by_line.get(line.feedetl_sn, ()))),
            )
            for line in data.feedetail
        ),
    )


def claim_from_settled(
    data: SettlementSettled, *, gend: str | None, brdy: date | None, lines: SettledLines | None = None
) -> Claim:
    """A settlement just projected, as the rules see it: what claim_from_record would read back of it
    (lines by serial, a code used twice in the settlement kept on its last line, as the projection keeps it),
    without reading it back. `lines`: settled_lines(data), when worked out already."""
    projected = settled_lines(data) if lines is None else lines
    return Claim(
        setl_id=data.setl_id,
        psn_no=data.psn_no,
        med_type=data.med_type,
        fixmedins_code=data.fixmedins_code,
        hosp_lv=data.hosp_lv,
        dise_codg=data.dise_codg,
        begin_date=business_date(data.begntime),
        end_date=business_date(data.endtime) if data.endtime else None,
        setl_date=data.business_date,
        medfee_fen=yuan_to_fen(data.medfee_sumamt),
        fund_pay_fen=yuan_to_fen(data.fund_pay_sumamt),
        psn_part_fen=yuan_to_fen(data.psn_part_amt),
        gend=gend,
        brdy=brdy,
        assistance=data.assistance,
        lines=tuple(sorted(projected.lines, key=lambda line: line.feedetl_sn)),
    )


async def claim_from_record(*, uow: FraudUnitOfWork, record: ClaimRecord) -> Claim:
    """A projected settlement as the rules see it, with its lines, codes and the person's facts."""
    lines = await uow.claims.lines_of(record.setl_id)
    codes: dict[str, list[str]] = {}
    for code, sn in await uow.claims.trace_codes_of(record.setl_id):
        codes.setdefault(sn, []).append(code)
    person = await uow.persons.gender_and_birth(record.psn_no)
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
        assistance=record.assistance,
        lines=tuple(
            Line(sn, item, Decimal(cnt), amount, fee_date, tuple(sorted(codes.get(sn, ()))))
            for sn, item, cnt, amount, fee_date in lines
        ),
    )


async def load_history(
    *,
    uow: FraudUnitOfWork,
    claim: Claim,
    rules: Sequence[ActiveRule],
    settled_before: datetime | None = None,
    person: PersonFacts | None = None,
) -> History:
    """The projection around `claim` for the given rules (never the claim itself); `settled_before`: backtests;
    `person`: the person's facts when read already in this transaction."""
    needs = frozenset().union(*(rule.family.needs for rule in rules)) if rules else frozenset()
    claims: tuple[PastClaim, ...] = ()
    lines: tuple[PastLine, ...] = ()
    used: dict[str, CodeUse] = {}
    catalog: dict[str, ItemLimit] = {}
    peers = None
    death = None
    if "claims" in needs:
        days = max(rule.family.claim_lookback(rule.params) for rule in rules if "claims" in rule.family.needs)
        rows = await uow.claims.past_claims(
            claim.psn_no, since=claim.begin_date - timedelta(days=days + 1), settled_before=settled_before
        )
        claims = tuple(PastClaim(*row) for row in rows if row.setl_id != claim.setl_id)
    if "lines" in needs:
        days = max(rule.family.line_lookback(rule.params) for rule in rules if "lines" in rule.family.needs)
        rows = await uow.claims.past_lines(
            claim.psn_no, since=claim.begin_date - timedelta(days=days + 1), settled_before=settled_before
        )
        lines = tuple(
            PastLine(setl_id, sn, item, fee_date, Decimal(cnt))
            for setl_id, sn, item, fee_date, cnt in rows
            if setl_id != claim.setl_id
        )
    if "trace_codes" in needs:
        codes = sorted({code for line in claim.lines for code in line.trace_codes})
        if codes:
            rows = await uow.claims.code_uses(codes, settled_before=settled_before)
            for code, source, use_id, fixmedins_code, used_at in sorted(
                rows, key=lambda row: (row.used_at, row.source, row.use_id)
            ):
                if source == SETTLEMENT and use_id == claim.setl_id:
                    continue
                used.setdefault(code, CodeUse(source, use_id, fixmedins_code, used_at))  # the first use
    if "catalog" in needs:
        items = sorted({line.med_list_codg for line in claim.lines})
        if items:
            for row in await uow.catalog.limits_of(items):
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
        count, total = await uow.claims.peers(
            category=claim.dise_category,
            hosp_lv=claim.hosp_lv,
            setl_id=claim.setl_id or "",
            settled_before=settled_before,
        )
        peers = Peers(count, total)
    if "death" in needs:
        death = person.death_date if person is not None else await uow.persons.death_date(claim.psn_no)
    return History(
        claims=claims, lines=lines, used_trace_codes=used, catalog=catalog, peers=peers, death_date=death
    )
