"""Visits, fee details, pre-settlement, settlement and reversal: the call every institution makes.

The settle path runs in two transactions around the real-time review: a read-only one that loads what the
split needs (institution, catalogue, coverage projection, policy) and refuses what cannot be settled, then —
after fraud has answered or the budget ran out — a write transaction that locks the person's year (row lock
on PostgreSQL; SQLite serialises every writer), splits with the totals as they now stand, and stores the
settlement, its journal and its event together. Nothing is held locked while waiting for fraud.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from prometheus_client import Counter
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import SHANGHAI, Clock, business_date
from common.db import Database
from common.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.outbox import add_event
from common.events.review import ReviewClaim, ReviewLine
from common.events.settlement import SettlementReversed, SettlementSettled
from common.money import fen_to_yuan, yuan_to_fen
from common.national import DEFAULT_BENEFIT, MED_TYPE, Benefit, described
from common.pagination import decode_cursor, encode_cursor
from common.principal import Principal, Role, ensure_scope
from settlement.domain.coverage import CoverageFacts, coverage_on
from settlement.domain.ledger import reversal_legs, settlement_legs
from settlement.domain.policy import MedTypeNotCovered, PolicyVersion
from settlement.domain.split import (
    FUND_NAMES,
    SUPPLEMENTARY_INSUTYPE,
    CatalogEntry,
    Claimant,
    FeeLine,
    LineSplit,
    SettlementSplit,
    Wallets,
    YearToDate,
    age_on,
    split_lines,
    split_settlement,
    yuan_times,
)
from settlement.models import (
    CoverageProjection,
    FamilyBinding,
    FeeDetail,
    Institution,
    InsuredPerson,
    PersonalAccount,
    Settlement,
    SettlementReversal,
    Visit,
    YearAccumulator,
    table_of,
)
from settlement.schemas.claims import (
    AccountOut,
    AccumulatorsOut,
    DischargeIn,
    FeeDetailsOut,
    FeeLineIn,
    FeeLineOut,
    FeeWithdrawalIn,
    FeeWithdrawalOut,
    LineResult,
    Notice,
    OneCallSettlementIn,
    PreSettlementOut,
    ReversalOut,
    ReviewOut,
    SetlDetail,
    SetlInfo,
    SettlementOut,
    SettlementPage,
    SettlementRecord,
    SettlementSummary,
    SettleVisitIn,
    VisitAmendmentIn,
    VisitIn,
    VisitOut,
    VisitPage,
    VisitStatus,
    YearTotals,
)
from settlement.service.day_close import counting_day
from settlement.service.ledger import journal_legs, post_journal
from settlement.service.reference import PolicyBook, catalog_entries, find_institution
from settlement.service.review import Reviewer, ReviewOutcome

log = logging.getLogger("settlement.claims")
SOURCE = "settlement"
SETTLEMENTS = Counter("settlements_total", "Settlements by med_type and outcome", ["med_type", "outcome"])
FUND_PAID = Counter("settlement_fund_pay_fen_total", "Fund pay of settlements, in fen", ["med_type"])
# A care time this far ahead of our clock is a typo or a wrong clock at the institution.
CLOCK_SKEW = timedelta(minutes=10)

OPEN, SETTLED, WITHDRAWN, ACTIVE, REVERSED = "open", "settled", "withdrawn", "active", "reversed"
CANCELLED = "cancelled"


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:19].upper()


# Fields added to request bodies after settlements were first stored: left out of the fingerprint while they
# hold their default, so that a retry of a request made before they existed is still the same request.
_LATER_DEFAULTS: dict[str, Any] = {"mid_setl_flag": 0, "chrg_bchno": None}


def _without_later_defaults(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _without_later_defaults(item)
            for key, item in value.items()
            if not (key in _LATER_DEFAULTS and item == _LATER_DEFAULTS[key])
        }
    if isinstance(value, list):
        return [_without_later_defaults(item) for item in value]
    return value


def request_hash(body: BaseModel, **extra: str) -> str:
    """A fingerprint of what the caller asked, to tell a retry (same) from a conflicting reuse (different)."""
    document = _without_later_defaults({**body.model_dump(mode="json"), **extra})
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# --- what the split needs, loaded read-only -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonFacts:
    psn_no: str
    gend: str
    brdy: date
    admdvs: str
    death_date: date | None
    coverages: tuple[CoverageFacts, ...]
    family_holder: str | None


def _coverage_facts(row: CoverageProjection) -> CoverageFacts:
    return CoverageFacts(
        coverage_id=row.coverage_id,
        insutype=row.insutype,
        attached_insutypes=tuple(row.attached_insutypes),
        status=row.status,
        begndate=row.begndate,
        enddate=row.enddate,
        psn_type=row.psn_type,
        assistance=row.assistance,
        benefit_start_date=row.benefit_start_date,
        incentive_raise_fen=row.incentive_raise_fen,
        suspensions=tuple(
            (date.fromisoformat(str(start)), date.fromisoformat(end) if end else None)
            for start, end in row.suspensions
        ),
    )


async def person_facts(session: AsyncSession, psn_no: str) -> PersonFacts | None:
    """The person, every coverage and the family holder, in one round trip (the settle path's budget)."""
    rows = (
        await session.execute(
            sa.select(InsuredPerson, CoverageProjection, FamilyBinding.holder_psn_no)
            .outerjoin(CoverageProjection, CoverageProjection.psn_no == InsuredPerson.psn_no)
            .outerjoin(FamilyBinding, FamilyBinding.member_psn_no == InsuredPerson.psn_no)
            .where(InsuredPerson.psn_no == psn_no)
        )
    ).all()
    if not rows:
        return None
    person, _, holder = rows[0]
    return PersonFacts(
        psn_no=person.psn_no,
        gend=person.gend,
        brdy=person.brdy,
        admdvs=person.admdvs,
        death_date=person.death_date,
        coverages=tuple(_coverage_facts(row[1]) for row in rows if row[1] is not None),
        family_holder=holder if holder != psn_no else None,
    )


@dataclass(frozen=True, slots=True)
class ClaimHeader:
    """What a settlement is about: who, where, which kind of care, when."""

    fixmedins_code: str
    psn_no: str
    insutype: str
    med_type: str
    begntime: datetime
    endtime: datetime | None
    dise_codg: str | None


@dataclass(frozen=True, slots=True)
class SettleContext:
    header: ClaimHeader
    benefit: Benefit  # how the policy in force pays the header's med_type
    institution: Institution
    person: PersonFacts
    coverage: CoverageFacts
    in_waiting_period: bool
    policy: PolicyVersion
    lines: tuple[LineSplit, ...]
    fee_lines: tuple[FeeLineIn, ...]


def check_med_type_known(med_type: str) -> None:
    """422 MED_TYPE_UNKNOWN for a code not in the national dictionary, naming the known ones."""
    if med_type not in MED_TYPE:
        raise Unprocessable(
            f"med_type {med_type} is not a national 医疗类别 code; known: {described(MED_TYPE)}.",
            code="MED_TYPE_UNKNOWN",
            field="med_type",
        )


def benefit_of(policy: PolicyVersion, med_type: str) -> Benefit:
    """How the policy pays a med_type: 422 MED_TYPE_UNKNOWN or MED_TYPE_NOT_COVERED when it cannot."""
    check_med_type_known(med_type)
    try:
        return policy.policy.benefit_of(med_type)
    except MedTypeNotCovered:
        raise Unprocessable(
            f"med_type {med_type} ({MED_TYPE[med_type]}) is not covered by the policy in force "
            f"(version {policy.version}).",
            code="MED_TYPE_NOT_COVERED",
            field="med_type",
        ) from None


def _institution_ready(
    institution: Institution | None, fixmedins_code: str, med_type: str, benefit: Benefit
) -> Institution:
    if institution is None:
        raise NotFound(f"No designated institution {fixmedins_code}.", code="INSTITUTION_NOT_FOUND")
    if institution.status != "active":
        raise Forbidden(
            f"Institution {fixmedins_code} is suspended and may not settle.", code="INSTITUTION_SUSPENDED"
        )
    is_pharmacy = institution.fixmedins_type == "pharmacy"
    if is_pharmacy != (benefit is Benefit.PHARMACY):
        allowed = "pharmacy purchases" if is_pharmacy else "outpatient and inpatient care"
        raise Unprocessable(
            f"A {institution.fixmedins_type} settles {allowed}, not med_type {med_type} "
            f"({MED_TYPE[med_type]}, paid as {benefit.value}).",
            code="MED_TYPE_NOT_ALLOWED",
        )
    return institution


def check_times(*, begntime: datetime, endtime: datetime | None, now: datetime) -> None:
    if begntime > now + CLOCK_SKEW:
        raise Unprocessable("begntime is in the future.", code="FUTURE_TIME", field="begntime")
    if endtime is not None and endtime < begntime:
        raise Unprocessable("endtime is before begntime.", code="DATES_OUT_OF_ORDER", field="endtime")


def check_lines(lines: Sequence[FeeLineIn], *, begntime: datetime, now: datetime) -> None:
    """Amounts that add up, line numbers unique, times within the visit; 422 naming the line otherwise."""
    seen: set[str] = set()
    first_day = begntime.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    for line in lines:
        if line.feedetl_sn in seen:
            raise Unprocessable(
                f"feedetl_sn {line.feedetl_sn} appears twice.",
                code="DUPLICATE_FEEDETL_SN",
                feedetl_sn=line.feedetl_sn,
            )
        seen.add(line.feedetl_sn)
        expected = yuan_times(line.cnt, line.pric)
        actual = yuan_to_fen(line.det_item_fee_sumamt)
        if abs(expected - actual) > 1:
            raise Unprocessable(
                f"Line {line.feedetl_sn}: det_item_fee_sumamt {line.det_item_fee_sumamt} is not cnt × pric "
                f"({fen_to_yuan(expected)}).",
                code="AMOUNT_MISMATCH",
                feedetl_sn=line.feedetl_sn,
            )
        if line.fee_ocur_time < first_day:
            raise Unprocessable(
                f"Line {line.feedetl_sn}: fee_ocur_time is before the visit began.",
                code="DATES_OUT_OF_ORDER",
                feedetl_sn=line.feedetl_sn,
            )
        if line.fee_ocur_time > now + CLOCK_SKEW:
            raise Unprocessable(
                f"Line {line.feedetl_sn}: fee_ocur_time is in the future.",
                code="FUTURE_TIME",
                feedetl_sn=line.feedetl_sn,
            )


def _fee_line(line: FeeLineIn) -> FeeLine:
    return FeeLine(
        line.feedetl_sn, line.med_list_codg, line.cnt, line.pric, yuan_to_fen(line.det_item_fee_sumamt)
    )


async def _coverage_for(
    session: AsyncSession, header: ClaimHeader
) -> tuple[PersonFacts, CoverageFacts, bool]:
    person = await person_facts(session, header.psn_no)
    if person is None:
        raise NotFound(f"No insured person {header.psn_no}.", code="PERSON_NOT_FOUND")
    decision = coverage_on(
        person.coverages,
        insutype=header.insutype,
        on=business_date(header.begntime),
        death_date=person.death_date,
    )
    if decision.refusal == "PERSON_DECEASED":
        raise Unprocessable(
            f"The person died on {person.death_date}; care begun after death is not settled.",
            code="PERSON_DECEASED",
        )
    if decision.refusal == "NO_COVERAGE" or decision.coverage is None:
        raise Unprocessable(
            f"The person has no {header.insutype} coverage in force on {business_date(header.begntime)}.",
            code="NO_COVERAGE",
        )
    if decision.refusal == "COVERAGE_SUSPENDED":
        raise Unprocessable(
            "The person's coverage is suspended (暂停) on that date.", code="COVERAGE_SUSPENDED"
        )
    return person, decision.coverage, decision.in_waiting_period


async def load_context(
    session: AsyncSession,
    header: ClaimHeader,
    fee_lines: Sequence[FeeLineIn],
    *,
    policy_book: PolicyBook,
    on: date,
) -> SettleContext:
    """Everything the split needs, or the refusal (404/403/422) of a claim that cannot be settled."""
    check_med_type_known(header.med_type)
    policy = await policy_book.in_force(session, on)
    benefit = benefit_of(policy, header.med_type)
    institution = _institution_ready(
        await find_institution(session, header.fixmedins_code),
        header.fixmedins_code,
        header.med_type,
        benefit,
    )
    person, coverage, waiting = await _coverage_for(session, header)
    catalog = await catalog_entries(session, {line.med_list_codg for line in fee_lines})
    return SettleContext(
        header=header,
        benefit=benefit,
        institution=institution,
        person=person,
        coverage=coverage,
        in_waiting_period=waiting,
        policy=policy,
        lines=tuple(_split_lines(fee_lines, catalog, person, header, policy)),
        fee_lines=tuple(fee_lines),
    )


def _split_lines(
    fee_lines: Sequence[FeeLineIn],
    catalog: dict[str, CatalogEntry],
    person: PersonFacts,
    header: ClaimHeader,
    policy: PolicyVersion,
) -> list[LineSplit]:
    return split_lines(
        [_fee_line(line) for line in fee_lines],
        catalog,
        gend=person.gend,
        age=age_on(person.brdy, business_date(header.begntime)),
        class_b_selfpay_prop=policy.policy.class_b_selfpay_prop,
    )


# --- the review claim ---------------------------------------------------------------------------------


def review_claim(context: SettleContext, mdtrt_id: str | None) -> ReviewClaim:
    header, institution = context.header, context.institution
    levels = {line.feedetl_sn: line.chrgitm_lv for line in context.lines}
    return ReviewClaim(
        psn_no=header.psn_no,
        gend=context.person.gend,
        brdy=context.person.brdy,
        insutype=header.insutype,
        med_type=header.med_type,
        fixmedins_code=header.fixmedins_code,
        fixmedins_type=institution.fixmedins_type,
        hosp_lv=institution.hosp_lv,
        admdvs=institution.admdvs,
        mdtrt_id=mdtrt_id,
        begntime=header.begntime,
        endtime=header.endtime,
        dise_codg=header.dise_codg,
        medfee_sumamt=fen_to_yuan(sum(line.amount_fen for line in context.lines)),
        lines=[
            ReviewLine(
                feedetl_sn=line.feedetl_sn,
                med_list_codg=line.med_list_codg,
                chrgitm_lv=levels.get(line.feedetl_sn),
                cnt=line.cnt,
                pric=line.pric,
                det_item_fee_sumamt=line.det_item_fee_sumamt,
                fee_ocur_time=line.fee_ocur_time,
                drug_trac_codg=list(line.drug_trac_codg),
            )
            for line in context.fee_lines
        ],
    )


def _refuse_blocked(outcome: ReviewOutcome) -> None:
    if outcome.blocking:
        hits = [hit.model_dump(mode="json") for hit in outcome.hits]
        names = ", ".join(sorted({hit.family for hit in outcome.blocking}))
        raise Unprocessable(
            f"The real-time review blocked this settlement ({names}).", code="REVIEW_BLOCKED", hits=hits
        )


# --- the person's year and accounts, locked ------------------------------------------------------------


def _lock_year_statement(dialect: str) -> Any:
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_YEAR_TABLE)
    # One statement: create the row if new, and lock it either way (ON CONFLICT DO UPDATE takes the row lock
    # on PostgreSQL and waits for a concurrent holder; the no-op update changes nothing).
    return insert.on_conflict_do_update(
        index_elements=[_YEAR_TABLE.c.psn_no, _YEAR_TABLE.c.insutype, _YEAR_TABLE.c.year],
        set_={"settlement_count": _YEAR_TABLE.c.settlement_count},
    ).returning(
        _YEAR_TABLE.c.outpatient_dedc_fen,
        _YEAR_TABLE.c.outpatient_pool_fen,
        _YEAR_TABLE.c.pool_fen,
        _YEAR_TABLE.c.pool_self_fen,
        _YEAR_TABLE.c.supp_fen,
        _YEAR_TABLE.c.maf_fen,
    )


_YEAR_TABLE = table_of(YearAccumulator)
_LOCK_YEAR = {dialect: _lock_year_statement(dialect) for dialect in ("postgresql", "sqlite")}
_NEW_YEAR = {
    "outpatient_dedc_fen": 0,
    "outpatient_pool_fen": 0,
    "pool_fen": 0,
    "pool_self_fen": 0,
    "supp_fen": 0,
    "maf_fen": 0,
    "settlement_count": 0,
}


async def lock_year(session: AsyncSession, *, psn_no: str, insutype: str, year: int) -> YearToDate:
    """The person's year under a scheme, locked until the transaction ends (created at zero if new)."""
    statement = _LOCK_YEAR[session.get_bind().dialect.name]
    row = (
        await session.execute(statement, {"psn_no": psn_no, "insutype": insutype, "year": year, **_NEW_YEAR})
    ).one()
    return YearToDate(*row)


async def read_year(session: AsyncSession, *, psn_no: str, insutype: str, year: int) -> YearToDate:
    row = await session.get(YearAccumulator, (psn_no, insutype, year))
    if row is None:
        return YearToDate()
    return YearToDate(
        row.outpatient_dedc_fen,
        row.outpatient_pool_fen,
        row.pool_fen,
        row.pool_self_fen,
        row.supp_fen,
        row.maf_fen,
    )


_YEAR = table_of(YearAccumulator)
_ADD_TO_YEAR = (
    sa.update(_YEAR)
    .where(
        _YEAR.c.psn_no == sa.bindparam("k_psn_no"),
        _YEAR.c.insutype == sa.bindparam("k_insutype"),
        _YEAR.c.year == sa.bindparam("k_year"),
    )
    .values(
        {
            name: _YEAR.c[name] + sa.bindparam(f"d_{name}", type_=sa.BigInteger())
            for name in (
                "outpatient_dedc_fen",
                "outpatient_pool_fen",
                "pool_fen",
                "pool_self_fen",
                "supp_fen",
                "maf_fen",
                "settlement_count",
            )
        }
    )
)


async def _add_to_year(
    session: AsyncSession, *, psn_no: str, insutype: str, year: int, delta: YearToDate, sign: int, count: int
) -> None:
    await session.execute(
        _ADD_TO_YEAR,
        {
            "k_psn_no": psn_no,
            "k_insutype": insutype,
            "k_year": year,
            "d_outpatient_dedc_fen": sign * delta.outpatient_dedc_fen,
            "d_outpatient_pool_fen": sign * delta.outpatient_pool_fen,
            "d_pool_fen": sign * delta.pool_fen,
            "d_pool_self_fen": sign * delta.pool_self_fen,
            "d_supp_fen": sign * delta.supp_fen,
            "d_maf_fen": sign * delta.maf_fen,
            "d_settlement_count": count,
        },
    )


async def _balances(session: AsyncSession, psn_nos: Sequence[str], *, lock: bool) -> dict[str, int]:
    """Account balances, locked in psn_no order (a fixed order, so two settlements never deadlock)."""
    wanted = sorted(set(psn_nos))
    if not wanted:
        return {}
    query = sa.select(PersonalAccount.psn_no, PersonalAccount.balc_fen).where(
        PersonalAccount.psn_no.in_(wanted)
    )
    if lock:
        query = query.order_by(PersonalAccount.psn_no).with_for_update()
    return {psn_no: balance for psn_no, balance in (await session.execute(query)).all()}


_ACCOUNT = table_of(PersonalAccount)
_MOVE_BALANCE = (
    sa.update(_ACCOUNT)
    .where(_ACCOUNT.c.psn_no == sa.bindparam("k_psn_no"))
    .values(
        balc_fen=_ACCOUNT.c.balc_fen + sa.bindparam("delta", type_=sa.BigInteger()),
        updated_at=sa.bindparam("now"),
    )
)


async def _move_balance(session: AsyncSession, psn_no: str, delta_fen: int, now: datetime) -> None:
    if delta_fen == 0:
        return
    await session.execute(_MOVE_BALANCE, {"k_psn_no": psn_no, "delta": delta_fen, "now": now})


def _claimant(context: SettleContext) -> Claimant:
    coverage = context.coverage
    return Claimant(
        insutype=coverage.insutype,
        psn_type=coverage.psn_type,
        assistance=coverage.assistance,
        supplementary=SUPPLEMENTARY_INSUTYPE[coverage.insutype] in coverage.attached_insutypes,
        incentive_raise_fen=coverage.incentive_raise_fen,
    )


def compute_split(
    context: SettleContext, *, ytd: YearToDate, acct_used: bool, balances: dict[str, int]
) -> SettlementSplit:
    holder = context.person.family_holder
    wallets = Wallets(
        own_balc_fen=balances.get(context.person.psn_no, 0),
        family_holder=holder,
        family_balc_fen=balances.get(holder, 0) if holder else 0,
    )
    return split_settlement(
        context.lines,
        policy=context.policy.policy,
        claimant=_claimant(context),
        med_type=context.header.med_type,
        hosp_lv=context.institution.hosp_lv,
        ytd=ytd,
        in_waiting_period=context.in_waiting_period,
        acct_used=acct_used,
        wallets=wallets,
    )


# --- answers -------------------------------------------------------------------------------------------


def line_results(lines: Sequence[LineSplit]) -> list[LineResult]:
    return [
        LineResult(
            feedetl_sn=line.feedetl_sn,
            med_list_codg=line.med_list_codg,
            det_item_fee_sumamt=fen_to_yuan(line.amount_fen),
            chrgitm_lv=line.chrgitm_lv,
            selfpay_prop=line.selfpay_prop,
            fulamt_ownpay_amt=fen_to_yuan(line.fulamt_ownpay_fen),
            overlmt_amt=fen_to_yuan(line.overlmt_fen),
            preselfpay_amt=fen_to_yuan(line.preselfpay_fen),
            inscp_scp_amt=fen_to_yuan(line.inscp_fen),
            notes=list(line.reasons),
        )
        for line in lines
    ]


_NOTICE_TEXT = {
    "WAITING_PERIOD": "The care began in the waiting period (待遇等待期): the fund pays nothing.",
    "PHARMACY_ACCOUNT_ONLY": (
        "Pharmacy purchases are paid by the person (personal account or cash); the fund pays nothing."
    ),
    "POOL_CEILING_REACHED": "The basic pool's yearly ceiling (最高支付限额) is reached.",
    "OUTPATIENT_CAP_REACHED": "The outpatient pool's yearly cap is reached.",
    "SUPPLEMENTARY_CAP_REACHED": "The supplementary (大病/大额) cap is reached.",
    "ASSISTANCE_CAP_REACHED": "The medical assistance (医疗救助) yearly cap is reached.",
}


def notices(context: SettleContext, split: SettlementSplit, outcome: ReviewOutcome | None) -> list[Notice]:
    found = []
    for reason in split.reasons:
        details: dict[str, Any] = {}
        if reason == "WAITING_PERIOD":
            details = {"benefit_start_date": context.coverage.benefit_start_date.isoformat()}
        found.append(Notice(code=reason, message=_NOTICE_TEXT.get(reason, reason), details=details))
    if outcome is not None:
        if outcome.status == "skipped":
            found.append(
                Notice(
                    code="REVIEW_SKIPPED",
                    message="The real-time review did not answer in time; settled unreviewed.",
                )
            )
        for hit in outcome.warnings:
            found.append(
                Notice(code="REVIEW_WARNING", message=hit.message, details=hit.model_dump(mode="json"))
            )
    return found


def setlinfo(
    context: SettleContext,
    split: SettlementSplit,
    *,
    setl_id: str | None,
    mdtrt_id: str,
    medins_setl_id: str | None,
    setl_time: datetime,
    balc_fen: int,
) -> SetlInfo:
    header = context.header
    return SetlInfo(
        setl_id=setl_id,
        mdtrt_id=mdtrt_id,
        psn_no=header.psn_no,
        insutype=header.insutype,
        med_type=header.med_type,
        fixmedins_code=header.fixmedins_code,
        medins_setl_id=medins_setl_id,
        setl_time=setl_time,
        policy_version=context.policy.version,
        medfee_sumamt=fen_to_yuan(split.medfee_fen),
        fulamt_ownpay_amt=fen_to_yuan(split.fulamt_ownpay_fen),
        overlmt_selfpay=fen_to_yuan(split.overlmt_selfpay_fen),
        preselfpay_amt=fen_to_yuan(split.preselfpay_fen),
        inscp_scp_amt=fen_to_yuan(split.inscp_scp_fen),
        act_pay_dedc=fen_to_yuan(split.act_pay_dedc_fen),
        hifp_pay=fen_to_yuan(split.hifp_pay_fen),
        hifmi_pay=fen_to_yuan(split.hifmi_pay_fen),
        hifob_pay=fen_to_yuan(split.hifob_pay_fen),
        maf_pay=fen_to_yuan(split.maf_pay_fen),
        fund_pay_sumamt=fen_to_yuan(split.fund_pay_fen),
        psn_part_amt=fen_to_yuan(split.psn_part_fen),
        acct_pay=fen_to_yuan(split.acct_pay_fen),
        acct_mulaid_pay=fen_to_yuan(split.acct_mulaid_pay_fen),
        psn_cash_pay=fen_to_yuan(split.psn_cash_pay_fen),
        balc=fen_to_yuan(balc_fen),
        mulaid_psn_no=context.person.family_holder if split.acct_mulaid_pay_fen else None,
    )


def setldetail(split: SettlementSplit) -> list[SetlDetail]:
    return [
        SetlDetail(
            fund_pay_type=f.fund_pay_type,
            fund_pay_type_name=FUND_NAMES[f.fund_pay_type],
            fund_payamt=fen_to_yuan(f.amount_fen),
        )
        for f in split.funds
    ]


# --- visits and fee details ----------------------------------------------------------------------------


def _visit_state(visit: Visit) -> tuple[object, ...]:
    """What a settlement of the visit depends on, besides its lines."""
    return (visit.med_type, visit.dise_codg, visit.endtime, visit.discharged_at)


def _visit_header(visit: Visit) -> ClaimHeader:
    return ClaimHeader(
        fixmedins_code=visit.fixmedins_code,
        psn_no=visit.psn_no,
        insutype=visit.insutype,
        med_type=visit.med_type,
        begntime=visit.begntime,
        endtime=visit.endtime,
        dise_codg=visit.dise_codg,
    )


async def register_visit(
    session: AsyncSession, data: VisitIn, *, principal: Principal, clock: Clock, policy_book: PolicyBook
) -> Visit:
    """就诊登记: the institution is active and may give this care; the person is covered (waiting is allowed)."""
    ensure_scope(principal, data.fixmedins_code)
    check_med_type_known(data.med_type)
    now = clock.now()
    check_times(begntime=data.begntime, endtime=None, now=now)
    header = ClaimHeader(
        data.fixmedins_code,
        data.psn_no,
        data.insutype.value,
        data.med_type,
        data.begntime,
        None,
        data.dise_codg,
    )
    benefit = benefit_of(await policy_book.in_force(session, business_date(now)), data.med_type)
    _institution_ready(
        await find_institution(session, data.fixmedins_code), data.fixmedins_code, data.med_type, benefit
    )
    await _coverage_for(session, header)
    visit = Visit(
        mdtrt_id=_new_id("M"),
        fixmedins_code=data.fixmedins_code,
        psn_no=data.psn_no,
        insutype=header.insutype,
        med_type=header.med_type,
        begntime=data.begntime,
        endtime=None,
        dise_codg=data.dise_codg,
        dise_name=data.dise_name,
        ipt_otp_no=data.ipt_otp_no,
        status=OPEN,
        created_at=now,
    )
    session.add(visit)
    await session.flush()
    return visit


async def get_visit(
    session: AsyncSession, mdtrt_id: str, *, principal: Principal, lock: bool = False
) -> Visit:
    query = sa.select(Visit).where(Visit.mdtrt_id == mdtrt_id)
    if lock:
        query = query.with_for_update()
    visit = await session.scalar(query)
    if visit is None:
        raise NotFound(f"No visit {mdtrt_id}.", code="VISIT_NOT_FOUND")
    ensure_scope(principal, visit.fixmedins_code)
    return visit


async def standing_settlement(session: AsyncSession, mdtrt_id: str) -> str | None:
    """The setl_id of the visit's settlement that stands (not reversed), if any."""
    return await session.scalar(
        sa.select(Settlement.setl_id).where(Settlement.mdtrt_id == mdtrt_id, Settlement.status == SETTLED)
    )


async def ensure_open(session: AsyncSession, visit: Visit) -> None:
    """409 VISIT_CANCELLED or VISIT_SETTLED (naming the settlement that stands) unless the visit is open."""
    if visit.status == CANCELLED:
        raise Conflict(
            f"Visit {visit.mdtrt_id} was cancelled ({visit.cancel_reason}); nothing more can be done on it.",
            code="VISIT_CANCELLED",
        )
    if visit.status != OPEN:
        setl_id = await standing_settlement(session, visit.mdtrt_id)
        raise Conflict(
            f"Visit {visit.mdtrt_id} is already settled as setl_id {setl_id}.",
            code="VISIT_SETTLED",
            setl_id=setl_id,
        )


async def active_lines(session: AsyncSession, mdtrt_id: str) -> list[FeeDetail]:
    query = (
        sa.select(FeeDetail)
        .where(FeeDetail.mdtrt_id == mdtrt_id, FeeDetail.status == ACTIVE)
        .order_by(FeeDetail.fee_detail_id)
    )
    return list((await session.scalars(query)).all())


def _line_in(row: FeeDetail) -> FeeLineIn:
    return FeeLineIn(
        feedetl_sn=row.feedetl_sn,
        med_list_codg=row.med_list_codg,
        medins_list_codg=row.medins_list_codg,
        cnt=Decimal(row.cnt),
        pric=Decimal(row.pric),
        det_item_fee_sumamt=fen_to_yuan(row.amount_fen),
        fee_ocur_time=row.fee_ocur_time,
        drug_trac_codg=list(row.drug_trac_codg),
        dise_codg=row.dise_codg,
        chrg_bchno=row.chrg_bchno,
    )


def line_out(row: FeeDetail) -> FeeLineOut:
    return FeeLineOut(
        feedetl_sn=row.feedetl_sn,
        med_list_codg=row.med_list_codg,
        medins_list_codg=row.medins_list_codg,
        cnt=Decimal(row.cnt),
        pric=Decimal(row.pric),
        det_item_fee_sumamt=fen_to_yuan(row.amount_fen),
        fee_ocur_time=row.fee_ocur_time,
        drug_trac_codg=list(row.drug_trac_codg),
        chrg_bchno=row.chrg_bchno,
    )


def visit_out(visit: Visit, lines: Sequence[FeeDetail]) -> VisitOut:
    return VisitOut(
        mdtrt_id=visit.mdtrt_id,
        fixmedins_code=visit.fixmedins_code,
        psn_no=visit.psn_no,
        insutype=visit.insutype,
        med_type=visit.med_type,
        begntime=visit.begntime,
        endtime=visit.endtime,
        dise_codg=visit.dise_codg,
        dise_name=visit.dise_name,
        ipt_otp_no=visit.ipt_otp_no,
        dscg_way=visit.dscg_way,
        cancel_reason=visit.cancel_reason,
        status=VisitStatus(visit.status),
        feedetail=[line_out(row) for row in lines],
    )


def _line_row(mdtrt_id: str, line: FeeLineIn, now: datetime) -> dict[str, Any]:
    return {
        "mdtrt_id": mdtrt_id,
        "feedetl_sn": line.feedetl_sn,
        "med_list_codg": line.med_list_codg,
        "medins_list_codg": line.medins_list_codg,
        "cnt": format(line.cnt, "f"),
        "pric": format(line.pric, "f"),
        "amount_fen": yuan_to_fen(line.det_item_fee_sumamt),
        "fee_ocur_time": line.fee_ocur_time,
        "drug_trac_codg": list(line.drug_trac_codg),
        "dise_codg": line.dise_codg,
        "chrg_bchno": line.chrg_bchno,
        "status": ACTIVE,
        "created_at": now,
    }


def _same_line(row: FeeDetail, line: FeeLineIn) -> bool:
    """The same line sent again (times compared as instants, whatever offset they were written with)."""
    stored = _line_in(row)
    return stored.fee_ocur_time == line.fee_ocur_time and stored.model_dump(
        exclude={"fee_ocur_time"}
    ) == line.model_dump(exclude={"fee_ocur_time"})


async def upload_fee_details(
    session: AsyncSession,
    mdtrt_id: str,
    lines: Sequence[FeeLineIn],
    *,
    principal: Principal,
    clock: Clock,
    policy_book: PolicyBook,
) -> FeeDetailsOut:
    """费用明细上传: new lines are stored; a line sent again unchanged is a retry; changed is a conflict."""
    visit = await get_visit(session, mdtrt_id, principal=principal, lock=True)
    await ensure_open(session, visit)
    now = clock.now()
    check_lines(lines, begntime=visit.begntime, now=now)
    existing = {
        row.feedetl_sn: row
        for row in (await session.scalars(sa.select(FeeDetail).where(FeeDetail.mdtrt_id == mdtrt_id))).all()
    }
    for line in lines:
        row = existing.get(line.feedetl_sn)
        if row is not None and row.status == ACTIVE and not _same_line(row, line):
            raise Conflict(
                f"Line {line.feedetl_sn} was already uploaded with other content; withdraw it first.",
                code="FEEDETL_SN_CONFLICT",
                feedetl_sn=line.feedetl_sn,
            )
    header = _visit_header(visit)
    context = await load_context(session, header, [], policy_book=policy_book, on=business_date(now))
    for line in lines:
        row = existing.get(line.feedetl_sn)
        if row is None:
            session.add(FeeDetail(**_line_row(mdtrt_id, line, now)))
        elif row.status == WITHDRAWN:
            for key, value in _line_row(mdtrt_id, line, now).items():
                setattr(row, key, value)
    await session.flush()
    all_lines = [_line_in(row) for row in await active_lines(session, mdtrt_id)]
    catalog = await catalog_entries(session, {line.med_list_codg for line in all_lines})
    splits = _split_lines(all_lines, catalog, context.person, header, context.policy)
    wanted = {line.feedetl_sn for line in lines}
    return FeeDetailsOut(
        mdtrt_id=mdtrt_id, result=line_results([s for s in splits if s.feedetl_sn in wanted])
    )


async def withdraw_fee_detail(
    session: AsyncSession, mdtrt_id: str, feedetl_sn: str, *, principal: Principal
) -> None:
    """费用明细撤销 (2205) of one line: only while the visit is open."""
    visit = await get_visit(session, mdtrt_id, principal=principal, lock=True)
    await ensure_open(session, visit)
    row = await session.scalar(
        sa.select(FeeDetail).where(
            FeeDetail.mdtrt_id == mdtrt_id, FeeDetail.feedetl_sn == feedetl_sn, FeeDetail.status == ACTIVE
        )
    )
    if row is None:
        raise NotFound(f"No line {feedetl_sn} on visit {mdtrt_id}.", code="FEE_DETAIL_NOT_FOUND")
    row.status = WITHDRAWN


async def withdraw_fee_details(
    session: AsyncSession, mdtrt_id: str, data: FeeWithdrawalIn, *, principal: Principal
) -> FeeWithdrawalOut:
    """费用明细撤销 (2205) of every standing line of a charge batch, of the numbers given, or of the visit."""
    visit = await get_visit(session, mdtrt_id, principal=principal, lock=True)
    await ensure_open(session, visit)
    query = sa.select(FeeDetail).where(FeeDetail.mdtrt_id == mdtrt_id, FeeDetail.status == ACTIVE)
    asked = []
    if data.chrg_bchno is not None:
        query = query.where(FeeDetail.chrg_bchno == data.chrg_bchno)
        asked.append(f"of charge batch {data.chrg_bchno}")
    if data.feedetl_sn is not None:
        query = query.where(FeeDetail.feedetl_sn.in_(sorted(set(data.feedetl_sn))))
        asked.append(f"numbered {', '.join(data.feedetl_sn)}")
    rows = list((await session.scalars(query.order_by(FeeDetail.fee_detail_id))).all())
    if not rows:
        raise NotFound(
            f"No standing line {' and '.join(asked) or 'at all'} on visit {mdtrt_id}.",
            code="FEE_DETAIL_NOT_FOUND",
        )
    for row in rows:
        row.status = WITHDRAWN
    await session.flush()
    return FeeWithdrawalOut(mdtrt_id=mdtrt_id, withdrawn=[row.feedetl_sn for row in rows])


# --- the visit's life: amendment, discharge, cancellation ------------------------------------------------


async def cancel_visit(
    session: AsyncSession, mdtrt_id: str, *, reason: str, principal: Principal, clock: Clock
) -> VisitOut:
    """挂号撤销 / 入院撤销: an open visit is withdrawn with its lines; cancelling it again answers the same."""
    visit = await get_visit(session, mdtrt_id, principal=principal, lock=True)
    if visit.status == CANCELLED:
        return visit_out(visit, [])
    await ensure_open(session, visit)
    await session.execute(
        sa.update(FeeDetail)
        .where(FeeDetail.mdtrt_id == mdtrt_id, FeeDetail.status == ACTIVE)
        .values(status=WITHDRAWN)
        .execution_options(synchronize_session=False)
    )
    visit.status = CANCELLED
    visit.cancel_reason = reason
    visit.cancelled_at = clock.now()
    await session.flush()
    return visit_out(visit, [])


def _discharge_hash(data: DischargeIn) -> str:
    # The time as an instant: the same discharge written with another offset is the same discharge.
    return request_hash(data, endtime=data.endtime.astimezone(UTC).isoformat())


async def discharge_visit(
    session: AsyncSession,
    mdtrt_id: str,
    data: DischargeIn,
    *,
    principal: Principal,
    clock: Clock,
    policy_book: PolicyBook,
) -> VisitOut:
    """出院办理 (2402): the discharge time becomes the stay's endtime; a discharge diagnosis replaces the one
    given at admission. The same discharge again is answered the same; another one needs the first undone."""
    visit = await get_visit(session, mdtrt_id, principal=principal, lock=True)
    await ensure_open(session, visit)
    now = clock.now()
    benefit = benefit_of(await policy_book.in_force(session, business_date(now)), visit.med_type)
    if benefit is not Benefit.INPATIENT:
        raise Unprocessable(
            f"Visit {mdtrt_id} is med_type {visit.med_type} ({MED_TYPE[visit.med_type]}), paid as "
            f"{benefit.value} care: only a stay is discharged.",
            code="VISIT_NOT_INPATIENT",
        )
    if data.endtime < visit.begntime:
        raise Unprocessable(
            f"endtime {data.endtime.isoformat()} is before the admission ({visit.begntime.isoformat()}).",
            code="ENDTIME_BEFORE_BEGNTIME",
            field="endtime",
        )
    if data.endtime > now + CLOCK_SKEW:
        raise Unprocessable("endtime is in the future.", code="FUTURE_TIME", field="endtime")
    fingerprint = _discharge_hash(data)
    if visit.discharged_at is not None:
        if visit.discharge_hash == fingerprint:
            return visit_out(visit, await active_lines(session, mdtrt_id))
        raise Conflict(
            f"Visit {mdtrt_id} was already discharged at {visit.endtime.isoformat() if visit.endtime else '?'} "
            "with other details; undo the discharge (2405) first.",
            code="VISIT_DISCHARGED",
        )
    # As it reads back from the database, so that the answer is the same now and on a retry.
    visit.endtime = data.endtime.astimezone(UTC)
    visit.discharged_at = now
    visit.dscg_way = data.dscg_way
    visit.discharge_hash = fingerprint
    _set_diagnosis(visit, data.dise_codg, data.dise_name)
    await session.flush()
    return visit_out(visit, await active_lines(session, mdtrt_id))


async def undo_discharge(session: AsyncSession, mdtrt_id: str, *, principal: Principal) -> VisitOut:
    """出院撤销 (2405): the stay goes on; only while no settlement stands (reverse it first)."""
    visit = await get_visit(session, mdtrt_id, principal=principal, lock=True)
    await ensure_open(session, visit)
    if visit.discharged_at is None:
        raise Conflict(f"Visit {mdtrt_id} is not discharged.", code="VISIT_NOT_DISCHARGED")
    visit.endtime = None
    visit.discharged_at = None
    visit.dscg_way = None
    visit.discharge_hash = None
    await session.flush()
    return visit_out(visit, await active_lines(session, mdtrt_id))


def _set_diagnosis(visit: Visit, dise_codg: str | None, dise_name: str | None) -> None:
    # A new code takes its own name (or none): the name of the code it replaces would describe another disease.
    if dise_codg is not None:
        visit.dise_codg, visit.dise_name = dise_codg, dise_name
    elif dise_name is not None:
        visit.dise_name = dise_name


async def amend_visit(
    session: AsyncSession,
    mdtrt_id: str,
    data: VisitAmendmentIn,
    *,
    principal: Principal,
    clock: Clock,
    policy_book: PolicyBook,
) -> VisitOut:
    """就诊信息上传 (2203): the diagnosis, or the med_type within the same kind of care, while the visit is open."""
    visit = await get_visit(session, mdtrt_id, principal=principal, lock=True)
    await ensure_open(session, visit)
    if data.med_type is not None and data.med_type != visit.med_type:
        policy = await policy_book.in_force(session, business_date(clock.now()))
        benefit = benefit_of(policy, data.med_type)
        current = policy.policy.benefits.get(visit.med_type) or DEFAULT_BENEFIT.get(visit.med_type)
        if (benefit is Benefit.INPATIENT) != (current is Benefit.INPATIENT):
            raise Unprocessable(
                f"med_type {data.med_type} ({MED_TYPE[data.med_type]}) is paid as {benefit.value} care and "
                f"visit {mdtrt_id} as {current.value if current else 'nothing'}: a visit never moves into or "
                "out of a stay; cancel it and register anew.",
                code="MED_TYPE_CHANGE_REFUSED",
                field="med_type",
            )
        _institution_ready(
            await find_institution(session, visit.fixmedins_code),
            visit.fixmedins_code,
            data.med_type,
            benefit,
        )
        visit.med_type = data.med_type
    _set_diagnosis(visit, data.dise_codg, data.dise_name)
    await session.flush()
    return visit_out(visit, await active_lines(session, mdtrt_id))


def _encode_visit_cursor(begntime: datetime, mdtrt_id: str) -> str:
    return encode_cursor(begntime.isoformat(), mdtrt_id)


async def list_visits(
    session: AsyncSession,
    *,
    principal: Principal,
    psn_no: str,
    fixmedins_code: str | None,
    begndate: date | None,
    enddate: date | None,
    limit: int,
    cursor: str | None,
) -> VisitPage:
    """就诊信息查询 (5201): a person's visits begun in the period, newest first; an institution sees its own."""
    if principal.role is not Role.OPS:
        fixmedins_code = fixmedins_code or principal.scope
    if fixmedins_code is not None:
        ensure_scope(principal, fixmedins_code)
    if begndate is not None and enddate is not None and enddate < begndate:
        raise Unprocessable(
            f"enddate {enddate} is before begndate {begndate}.", code="DATES_OUT_OF_ORDER", field="enddate"
        )
    query = sa.select(Visit).where(Visit.psn_no == psn_no)
    if fixmedins_code is not None:
        query = query.where(Visit.fixmedins_code == fixmedins_code)
    if begndate is not None:
        query = query.where(Visit.begntime >= datetime.combine(begndate, time(), SHANGHAI))
    if enddate is not None:
        query = query.where(Visit.begntime < datetime.combine(enddate + timedelta(days=1), time(), SHANGHAI))
    if cursor:
        moment, last_id = _decode_cursor(cursor)
        query = query.where(
            sa.or_(Visit.begntime < moment, sa.and_(Visit.begntime == moment, Visit.mdtrt_id < last_id))
        )
    visits = list(
        (
            await session.scalars(
                query.order_by(Visit.begntime.desc(), Visit.mdtrt_id.desc()).limit(limit + 1)
            )
        ).all()
    )
    more = len(visits) > limit
    visits = visits[:limit]
    lines: dict[str, list[FeeDetail]] = {visit.mdtrt_id: [] for visit in visits}
    if visits:
        rows = await session.scalars(
            sa.select(FeeDetail)
            .where(FeeDetail.mdtrt_id.in_(sorted(lines)), FeeDetail.status == ACTIVE)
            .order_by(FeeDetail.fee_detail_id)
        )
        for row in rows:
            lines[row.mdtrt_id].append(row)
    return VisitPage(
        items=[visit_out(visit, lines[visit.mdtrt_id]) for visit in visits],
        next_cursor=_encode_visit_cursor(visits[-1].begntime, visits[-1].mdtrt_id) if more else None,
    )


async def pre_settle(
    session: AsyncSession,
    mdtrt_id: str,
    *,
    acct_used: bool,
    principal: Principal,
    clock: Clock,
    policy_book: PolicyBook,
) -> PreSettlementOut:
    """预结算: the split as it would be now; nothing is stored or locked."""
    visit = await get_visit(session, mdtrt_id, principal=principal)
    await ensure_open(session, visit)
    lines = [_line_in(row) for row in await active_lines(session, mdtrt_id)]
    if not lines:
        raise Unprocessable("The visit has no fee details to settle.", code="NO_FEE_DETAILS")
    now = clock.now()
    on = business_date(now)
    context = await load_context(session, _visit_header(visit), lines, policy_book=policy_book, on=on)
    ytd = await read_year(session, psn_no=visit.psn_no, insutype=context.coverage.insutype, year=on.year)
    holder = context.person.family_holder
    balances = await _balances(session, [visit.psn_no, *([holder] if holder else [])], lock=False)
    split = compute_split(context, ytd=ytd, acct_used=acct_used, balances=balances)
    own_after = balances.get(visit.psn_no, 0) - split.acct_pay_fen
    return PreSettlementOut(
        setlinfo=setlinfo(
            context,
            split,
            setl_id=None,
            mdtrt_id=mdtrt_id,
            medins_setl_id=None,
            setl_time=now,
            balc_fen=own_after,
        ),
        setldetail=setldetail(split),
        result=line_results(split.lines),
        warnings=notices(context, split, None),
    )


# --- settlement ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SettleResult:
    body: dict[str, Any]
    created: bool  # False: a retry answered with the original result


async def _replay(
    session: AsyncSession, fixmedins_code: str, medins_setl_id: str, fingerprint: str
) -> SettleResult | None:
    row = (
        await session.execute(
            sa.select(Settlement.request_hash, Settlement.response).where(
                Settlement.fixmedins_code == fixmedins_code, Settlement.medins_setl_id == medins_setl_id
            )
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise Conflict(
            f"medins_setl_id {medins_setl_id} was already used for a different settlement.",
            code="SETTLEMENT_CONFLICT",
        )
    return SettleResult(dict(row.response), created=False)


@dataclass(frozen=True, slots=True)
class SettleDeps:
    db: Database
    clock: Clock
    policy_book: PolicyBook
    reviewer: Reviewer


_INSERT_VISIT = sa.insert(table_of(Visit))
_INSERT_LINE = sa.insert(table_of(FeeDetail))
_INSERT_SETTLEMENT = sa.insert(table_of(Settlement))


async def settle_one_call(
    data: OneCallSettlementIn, *, principal: Principal, deps: SettleDeps
) -> SettleResult:
    """一站式结算: the visit, its lines and the settlement in one transaction, keyed by medins_setl_id."""
    ensure_scope(principal, data.fixmedins_code)
    fingerprint = request_hash(data)
    header = ClaimHeader(
        data.fixmedins_code,
        data.psn_no,
        data.insutype.value,
        data.med_type,
        data.begntime,
        data.endtime,
        data.dise_codg,
    )
    now = deps.clock.now()
    async with deps.db.transaction(readonly=True) as session:
        replay = await _replay(session, data.fixmedins_code, data.medins_setl_id, fingerprint)
        if replay is not None:
            return replay
        check_med_type_known(data.med_type)
        check_times(begntime=data.begntime, endtime=data.endtime, now=now)
        check_lines(data.feedetail, begntime=data.begntime, now=now)
        context = await load_context(
            session, header, data.feedetail, policy_book=deps.policy_book, on=business_date(now)
        )
    outcome = await deps.reviewer.review(review_claim(context, None))
    _refuse_blocked(outcome)
    mdtrt_id = _new_id("M")

    async def create_visit(session: AsyncSession, at: datetime) -> None:
        await session.execute(
            _INSERT_VISIT,
            {
                "mdtrt_id": mdtrt_id,
                "fixmedins_code": data.fixmedins_code,
                "psn_no": data.psn_no,
                "insutype": header.insutype,
                "med_type": header.med_type,
                "begntime": data.begntime,
                "endtime": data.endtime,
                "dise_codg": data.dise_codg,
                "dise_name": data.dise_name,
                "ipt_otp_no": data.ipt_otp_no,
                "status": SETTLED,
                "created_at": at,
            },
        )
        await session.execute(_INSERT_LINE, [_line_row(mdtrt_id, line, at) for line in data.feedetail])

    return await _commit_settlement(
        deps,
        context,
        outcome,
        mdtrt_id=mdtrt_id,
        medins_setl_id=data.medins_setl_id,
        acct_used=data.acct_used_flag == 1,
        fingerprint=fingerprint,
        prepare=create_visit,
    )


async def settle_visit(
    mdtrt_id: str, data: SettleVisitIn, *, principal: Principal, deps: SettleDeps
) -> SettleResult:
    """结算 a registered visit with the lines uploaded so far.

    A stay ends at the endtime sent, else at its discharge (2402); with neither it settles only as a
    mid-stay settlement (中途结算, mid_setl_flag 1).
    """
    fingerprint = request_hash(data, mdtrt_id=mdtrt_id)
    now = deps.clock.now()
    async with deps.db.transaction(readonly=True) as session:
        visit = await get_visit(session, mdtrt_id, principal=principal)
        replay = await _replay(session, visit.fixmedins_code, data.medins_setl_id, fingerprint)
        if replay is not None:
            return replay
        await ensure_open(session, visit)
        check_times(begntime=visit.begntime, endtime=data.endtime, now=now)
        rows = await active_lines(session, mdtrt_id)
        if not rows:
            raise Unprocessable("The visit has no fee details to settle.", code="NO_FEE_DETAILS")
        seen_lines = [row.fee_detail_id for row in rows]
        seen_visit = _visit_state(visit)
        context = await load_context(
            session,
            replace(_visit_header(visit), endtime=data.endtime),
            [_line_in(row) for row in rows],
            policy_book=deps.policy_book,
            on=business_date(now),
        )
        if context.benefit is Benefit.INPATIENT and data.endtime is None:
            discharged = visit.endtime if visit.discharged_at is not None else None
            if discharged is None and data.mid_setl_flag == 0:
                raise Unprocessable(
                    f"Visit {mdtrt_id} is a stay with no end: discharge the patient (2402) or send endtime, "
                    "or mid_setl_flag 1.",
                    code="NOT_DISCHARGED",
                )
            context = replace(context, header=replace(context.header, endtime=discharged))
    endtime = context.header.endtime
    outcome = await deps.reviewer.review(review_claim(context, mdtrt_id))
    _refuse_blocked(outcome)

    async def close_visit(session: AsyncSession, at: datetime) -> None:
        locked = await get_visit(session, mdtrt_id, principal=principal, lock=True)
        await ensure_open(session, locked)
        if [row.fee_detail_id for row in await active_lines(session, mdtrt_id)] != seen_lines:
            raise Conflict(
                "The visit's fee details changed while settling; settle again.", code="VISIT_CHANGED"
            )
        if _visit_state(locked) != seen_visit:
            raise Conflict("The visit changed while settling; settle again.", code="VISIT_CHANGED")
        locked.status = SETTLED
        if endtime is not None:
            locked.endtime = endtime
        await session.flush()

    return await _commit_settlement(
        deps,
        context,
        outcome,
        mdtrt_id=mdtrt_id,
        medins_setl_id=data.medins_setl_id,
        acct_used=data.acct_used_flag == 1,
        fingerprint=fingerprint,
        prepare=close_visit,
    )


async def _commit_settlement(
    deps: SettleDeps,
    context: SettleContext,
    outcome: ReviewOutcome,
    *,
    mdtrt_id: str,
    medins_setl_id: str,
    acct_used: bool,
    fingerprint: str,
    prepare: Any,
) -> SettleResult:
    header = context.header
    try:
        async with deps.db.transaction() as session:
            now = deps.clock.now()
            on = business_date(now)
            insutype = context.coverage.insutype
            ytd = await lock_year(session, psn_no=header.psn_no, insutype=insutype, year=on.year)
            counted_on = await counting_day(session, on)
            holder = context.person.family_holder
            # One read either way: the accounts to draw on, locked, or just the balance the answer shows.
            wallets = [header.psn_no, *([holder] if holder and acct_used else [])]
            balances = await _balances(session, wallets, lock=acct_used)
            split = compute_split(context, ytd=ytd, acct_used=acct_used, balances=balances)
            await prepare(session, now)
            setl_id = _new_id("S")
            own_after = balances.get(header.psn_no, 0) - split.acct_pay_fen
            body = SettlementOut(
                setlinfo=setlinfo(
                    context,
                    split,
                    setl_id=setl_id,
                    mdtrt_id=mdtrt_id,
                    medins_setl_id=medins_setl_id,
                    setl_time=now,
                    balc_fen=own_after,
                ),
                setldetail=setldetail(split),
                result=line_results(split.lines),
                warnings=notices(context, split, outcome),
                review=ReviewOut(
                    status=outcome.status
                    if outcome.status != "blocked"
                    else "warned",  # blocked never gets here
                    hits=[hit.model_dump(mode="json") for hit in outcome.hits],
                ),
            ).model_dump(mode="json")
            await session.execute(
                _INSERT_SETTLEMENT,
                dict(
                    setl_id=setl_id,
                    medins_setl_id=medins_setl_id,
                    fixmedins_code=header.fixmedins_code,
                    mdtrt_id=mdtrt_id,
                    psn_no=header.psn_no,
                    insutype=header.insutype,
                    med_type=header.med_type,
                    setl_time=now,
                    business_date=on,
                    year=on.year,
                    policy_version=context.policy.version,
                    medfee_fen=split.medfee_fen,
                    fulamt_ownpay_fen=split.fulamt_ownpay_fen,
                    overlmt_selfpay_fen=split.overlmt_selfpay_fen,
                    preselfpay_fen=split.preselfpay_fen,
                    inscp_scp_fen=split.inscp_scp_fen,
                    act_pay_dedc_fen=split.act_pay_dedc_fen,
                    hifp_pay_fen=split.hifp_pay_fen,
                    hifmi_pay_fen=split.hifmi_pay_fen,
                    hifob_pay_fen=split.hifob_pay_fen,
                    maf_pay_fen=split.maf_pay_fen,
                    fund_pay_fen=split.fund_pay_fen,
                    psn_part_fen=split.psn_part_fen,
                    acct_pay_fen=split.acct_pay_fen,
                    acct_mulaid_pay_fen=split.acct_mulaid_pay_fen,
                    psn_cash_pay_fen=split.psn_cash_pay_fen,
                    mulaid_holder_psn_no=holder if split.acct_mulaid_pay_fen else None,
                    outpatient_dedc_fen=split.year_delta.outpatient_dedc_fen,
                    outpatient_pool_fen=split.year_delta.outpatient_pool_fen,
                    pool_self_fen=split.year_delta.pool_self_fen,
                    review=outcome.status,
                    request_hash=fingerprint,
                    response=body,
                    status=SETTLED,
                    created_at=now,
                    day_close_date=counted_on,
                ),
            )
            await post_journal(
                session,
                kind="settlement",
                ref=setl_id,
                business_date=on,
                legs=settlement_legs(
                    split,
                    psn_no=header.psn_no,
                    fixmedins_code=header.fixmedins_code,
                    family_holder=holder if split.acct_mulaid_pay_fen else None,
                ),
                now=now,
            )
            await _add_to_year(
                session,
                psn_no=header.psn_no,
                insutype=insutype,
                year=on.year,
                delta=split.year_delta,
                sign=1,
                count=1,
            )
            await _move_balance(session, header.psn_no, -split.acct_pay_fen, now)
            if holder and split.acct_mulaid_pay_fen:
                await _move_balance(session, holder, -split.acct_mulaid_pay_fen, now)
            await add_event(
                session,
                new_event(
                    type=Subject.SETTLED,
                    source=SOURCE,
                    subject=setl_id,
                    data=settled_event_data(context, split, body, on=on, outcome=outcome),
                    clock=deps.clock,
                ),
            )
    except IntegrityError:
        # Another request with the same medins_setl_id committed first: answer as a retry would be.
        async with deps.db.transaction(readonly=True) as session:
            replay = await _replay(session, header.fixmedins_code, medins_setl_id, fingerprint)
        if replay is None:
            raise
        return replay
    SETTLEMENTS.labels(header.med_type, "settled").inc()
    FUND_PAID.labels(header.med_type).inc(split.fund_pay_fen)
    return SettleResult(body, created=True)


async def _balance_of(session: AsyncSession, psn_no: str) -> int:
    balance = await session.scalar(
        sa.select(PersonalAccount.balc_fen).where(PersonalAccount.psn_no == psn_no)
    )
    return int(balance or 0)


def settled_event_data(
    context: SettleContext, split: SettlementSplit, body: dict[str, Any], *, on: date, outcome: ReviewOutcome
) -> dict[str, Any]:
    """settlement.settled: the whole setlinfo, the funds, and each line with its split and trace codes."""
    by_sn = {line.feedetl_sn: line for line in context.fee_lines}
    institution = context.institution
    feedetail = []
    for result in body["result"]:
        line = by_sn[result["feedetl_sn"]]
        feedetail.append(
            {
                **result,
                "medins_list_codg": line.medins_list_codg,
                "cnt": format(line.cnt, "f"),
                "pric": format(line.pric, "f"),
                "fee_ocur_time": line.fee_ocur_time.isoformat(),
                "drug_trac_codg": list(line.drug_trac_codg),
                "dise_codg": line.dise_codg,
            }
        )
    return SettlementSettled.model_validate(
        {
            **body["setlinfo"],
            "business_date": on,
            "fixmedins_type": institution.fixmedins_type,
            "hosp_lv": institution.hosp_lv,
            "admdvs": institution.admdvs,
            "begntime": context.header.begntime,
            "endtime": context.header.endtime,
            "dise_codg": context.header.dise_codg,
            "review": outcome.status,
            "incentive_raise_used": split.incentive_raise_used,
            "setldetail": body["setldetail"],
            "feedetail": feedetail,
        }
    ).model_dump(mode="json")


# --- reversal ------------------------------------------------------------------------------------------


async def reverse_settlement(
    setl_id: str, *, reason: str, principal: Principal, db: Database, clock: Clock
) -> ReversalOut:
    """冲正: take back what the settlement added to the year and drew from the accounts, with opposite legs."""
    async with db.transaction() as session:
        settlement = await session.scalar(
            sa.select(Settlement).where(Settlement.setl_id == setl_id).with_for_update()
        )
        if settlement is None:
            raise NotFound(f"No settlement {setl_id}.", code="SETTLEMENT_NOT_FOUND")
        ensure_scope(principal, settlement.fixmedins_code)
        if settlement.status == REVERSED:
            raise Conflict(f"Settlement {setl_id} is already reversed.", code="ALREADY_REVERSED")
        now = clock.now()
        on = business_date(now)
        coverage_insutype = settlement.insutype
        await lock_year(session, psn_no=settlement.psn_no, insutype=coverage_insutype, year=settlement.year)
        holder = settlement.mulaid_holder_psn_no
        balances = await _balances(session, [settlement.psn_no, *([holder] if holder else [])], lock=True)
        delta = YearToDate(
            outpatient_dedc_fen=settlement.outpatient_dedc_fen,
            outpatient_pool_fen=settlement.outpatient_pool_fen,
            pool_fen=settlement.hifp_pay_fen,
            pool_self_fen=settlement.pool_self_fen,
            supp_fen=settlement.hifmi_pay_fen + settlement.hifob_pay_fen,
            maf_fen=settlement.maf_pay_fen,
        )
        await _add_to_year(
            session,
            psn_no=settlement.psn_no,
            insutype=coverage_insutype,
            year=settlement.year,
            delta=delta,
            sign=-1,
            count=-1,
        )
        await _move_balance(session, settlement.psn_no, settlement.acct_pay_fen, now)
        if holder and settlement.acct_mulaid_pay_fen:
            await _move_balance(session, holder, settlement.acct_mulaid_pay_fen, now)
        reversal_id = _new_id("R")
        original = await journal_legs(session, kind="settlement", ref=setl_id)
        await post_journal(
            session, kind="reversal", ref=reversal_id, business_date=on, legs=reversal_legs(original), now=now
        )
        settlement.status = REVERSED
        visit = await session.get(Visit, settlement.mdtrt_id)
        if visit is not None:
            visit.status = OPEN
        balc = balances.get(settlement.psn_no, 0) + settlement.acct_pay_fen
        answer = ReversalOut(
            setl_id=reversal_id,
            orig_setl_id=setl_id,
            fixmedins_code=settlement.fixmedins_code,
            psn_no=settlement.psn_no,
            setl_time=now,
            reason=reason,
            medfee_sumamt=fen_to_yuan(settlement.medfee_fen),
            fund_pay_sumamt=fen_to_yuan(settlement.fund_pay_fen),
            acct_pay=fen_to_yuan(settlement.acct_pay_fen),
            acct_mulaid_pay=fen_to_yuan(settlement.acct_mulaid_pay_fen),
            psn_cash_pay=fen_to_yuan(settlement.psn_cash_pay_fen),
            balc=fen_to_yuan(balc),
        )
        session.add(
            SettlementReversal(
                setl_id=reversal_id,
                orig_setl_id=setl_id,
                fixmedins_code=settlement.fixmedins_code,
                psn_no=settlement.psn_no,
                reason=reason,
                setl_time=now,
                business_date=on,
                response=answer.model_dump(mode="json"),
                created_by=principal.client_id,
                day_close_date=await counting_day(session, on),
            )
        )
        await session.flush()
        await add_event(
            session,
            new_event(
                type=Subject.REVERSED,
                source=SOURCE,
                subject=reversal_id,
                data=SettlementReversed(
                    **answer.model_dump(),
                    medins_setl_id=settlement.medins_setl_id,
                    mdtrt_id=settlement.mdtrt_id,
                    insutype=settlement.insutype,
                    med_type=settlement.med_type,
                    business_date=on,
                    orig_setl_time=settlement.setl_time,
                    orig_business_date=settlement.business_date,
                    hifp_pay=fen_to_yuan(settlement.hifp_pay_fen),
                    hifmi_pay=fen_to_yuan(settlement.hifmi_pay_fen),
                    hifob_pay=fen_to_yuan(settlement.hifob_pay_fen),
                    maf_pay=fen_to_yuan(settlement.maf_pay_fen),
                ).model_dump(mode="json"),
                clock=clock,
            ),
        )
    SETTLEMENTS.labels(settlement.med_type, "reversed").inc()
    return answer


# --- reading -------------------------------------------------------------------------------------------


async def get_settlement(session: AsyncSession, setl_id: str, *, principal: Principal) -> SettlementRecord:
    settlement = await session.get(Settlement, setl_id)
    if settlement is None:
        raise NotFound(f"No settlement {setl_id}.", code="SETTLEMENT_NOT_FOUND")
    ensure_scope(principal, settlement.fixmedins_code)
    reversal = await session.scalar(
        sa.select(SettlementReversal.setl_id).where(SettlementReversal.orig_setl_id == setl_id)
    )
    return SettlementRecord.model_validate(
        {**settlement.response, "status": settlement.status, "reversal_setl_id": reversal}
    )


def _encode_cursor(setl_time: datetime, setl_id: str) -> str:
    return encode_cursor(setl_time.isoformat(), setl_id)


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    moment, setl_id = decode_cursor(cursor, parts=2)
    try:
        return datetime.fromisoformat(moment), setl_id
    except ValueError as exc:
        raise BadRequest("The cursor is not one this API gave out.", code="INVALID_CURSOR") from exc


async def list_settlements(
    session: AsyncSession,
    *,
    principal: Principal,
    fixmedins_code: str | None,
    on: date | None,
    psn_no: str | None,
    limit: int,
    cursor: str | None,
    mdtrt_id: str | None = None,
    medins_setl_id: str | None = None,
) -> SettlementPage:
    """Settlements newest first; an institution's client sees only its own."""
    if principal.role is not Role.OPS:
        fixmedins_code = fixmedins_code or principal.scope
    if fixmedins_code is not None:
        ensure_scope(principal, fixmedins_code)
    query = sa.select(Settlement)
    if fixmedins_code is not None:
        query = query.where(Settlement.fixmedins_code == fixmedins_code)
    if on is not None:
        query = query.where(Settlement.business_date == on)
    if psn_no is not None:
        query = query.where(Settlement.psn_no == psn_no)
    if mdtrt_id is not None:
        query = query.where(Settlement.mdtrt_id == mdtrt_id)
    if medins_setl_id is not None:
        query = query.where(Settlement.medins_setl_id == medins_setl_id)
    if cursor:
        moment, last_id = _decode_cursor(cursor)
        query = query.where(
            sa.or_(
                Settlement.setl_time < moment,
                sa.and_(Settlement.setl_time == moment, Settlement.setl_id < last_id),
            )
        )
    rows = list(
        (
            await session.scalars(
                query.order_by(Settlement.setl_time.desc(), Settlement.setl_id.desc()).limit(limit + 1)
            )
        ).all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        SettlementSummary(
            setl_id=row.setl_id,
            medins_setl_id=row.medins_setl_id,
            mdtrt_id=row.mdtrt_id,
            fixmedins_code=row.fixmedins_code,
            psn_no=row.psn_no,
            insutype=row.insutype,
            med_type=row.med_type,
            setl_time=row.setl_time,
            business_date=row.business_date,
            medfee_sumamt=fen_to_yuan(row.medfee_fen),
            fund_pay_sumamt=fen_to_yuan(row.fund_pay_fen),
            acct_pay=fen_to_yuan(row.acct_pay_fen),
            acct_mulaid_pay=fen_to_yuan(row.acct_mulaid_pay_fen),
            psn_cash_pay=fen_to_yuan(row.psn_cash_pay_fen),
            status=row.status,
        )
        for row in rows
    ]
    next_cursor = _encode_cursor(rows[-1].setl_time, rows[-1].setl_id) if more and rows else None
    return SettlementPage(items=items, next_cursor=next_cursor)


async def account_view(session: AsyncSession, psn_no: str) -> AccountOut:
    """个人账户: the balance (0 when nothing was ever credited) and the family holder, if bound."""
    person = await session.get(InsuredPerson, psn_no)
    if person is None:
        raise NotFound(f"No insured person {psn_no}.", code="PERSON_NOT_FOUND")
    holder = await session.scalar(
        sa.select(FamilyBinding.holder_psn_no).where(FamilyBinding.member_psn_no == psn_no)
    )
    return AccountOut(
        psn_no=psn_no, balc=fen_to_yuan(await _balance_of(session, psn_no)), family_holder_psn_no=holder
    )


async def year_totals(session: AsyncSession, psn_no: str, year: int) -> AccumulatorsOut:
    """累计信息 (like 5206): the person's running totals of a year, per basic insutype."""
    if await session.get(InsuredPerson, psn_no) is None:
        raise NotFound(f"No insured person {psn_no}.", code="PERSON_NOT_FOUND")
    rows = (
        await session.scalars(
            sa.select(YearAccumulator)
            .where(YearAccumulator.psn_no == psn_no, YearAccumulator.year == year)
            .order_by(YearAccumulator.insutype)
        )
    ).all()
    return AccumulatorsOut(
        psn_no=psn_no,
        year=year,
        totals=[
            YearTotals(
                insutype=row.insutype,
                year=row.year,
                outpatient_dedc=fen_to_yuan(row.outpatient_dedc_fen),
                outpatient_pool=fen_to_yuan(row.outpatient_pool_fen),
                hifp_pay=fen_to_yuan(row.pool_fen),
                pool_self=fen_to_yuan(row.pool_self_fen),
                supplementary_pay=fen_to_yuan(row.supp_fen),
                maf_pay=fen_to_yuan(row.maf_fen),
                settlement_count=row.settlement_count,
            )
            for row in rows
        ],
    )
