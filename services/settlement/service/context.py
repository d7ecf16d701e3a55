"""What the claim use cases share: refusals turned into answers, the visit in scope, the settle context.

The settle context is everything the split needs, loaded on a unit of work and checked: the policy in force
and how it pays the med_type, the institution, the person's coverage on the care's day, each line's split.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel

from common.clock import business_date
from common.errors import Conflict, Forbidden, NotFound, ProblemError, Unprocessable
from common.money import yuan_to_fen
from common.national import Benefit
from common.principal import Principal, ensure_scope
from settlement.domain import day_close
from settlement.domain.claims import (
    CANCELLED,
    OPEN,
    ClaimHeader,
    Covered,
    PersonFacts,
    Refusal,
    benefit_of,
    covered,
    institution_refusal,
    unknown_med_type,
)
from settlement.domain.coverage import CoverageFacts
from settlement.domain.policy import PolicyVersion
from settlement.domain.practitioners import (
    Suspension,
    fee_dates,
    practitioner_codes,
    suspended_line_refusal,
)
from settlement.domain.split import (
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
)
from settlement.domain.trace_codes import trace_code_refusal
from settlement.models import Institution, Visit
from settlement.schemas.claims import FeeLineIn, OneCallSettlementIn
from settlement.service.reference import PolicyBook
from settlement.uow import SettlementUnitOfWork

T = TypeVar("T")
_PROBLEMS: dict[str, type[ProblemError]] = {
    "not_found": NotFound,
    "forbidden": Forbidden,
    "conflict": Conflict,
    "unprocessable": Unprocessable,
}


def accepted(decision: T | Refusal) -> T:
    """The decision, or the refusal raised as the API's problem answer."""
    if isinstance(decision, Refusal):
        raise _PROBLEMS[decision.kind](decision.detail, code=decision.code, **decision.extra)
    return decision


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:19].upper()


# Fields added to request bodies after settlements were first stored: left out of the fingerprint while they
# hold their default, so that a retry of a request made before they existed is still the same request.
_LATER_DEFAULTS: dict[str, Any] = {
    "mid_setl_flag": 0,
    "chrg_bchno": None,
    "bilg_dr_codg": None,
    "phar_prac_codg": None,
}


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


# --- the visit -------------------------------------------------------------------------------------------


async def visit_in_scope(
    *, uow: SettlementUnitOfWork, mdtrt_id: str, principal: Principal, lock: bool = False
) -> Visit:
    """The visit (locked if asked), 404 VISIT_NOT_FOUND, or 403 when it is another institution's."""
    visit = await uow.visits.find(mdtrt_id, lock=lock)
    if visit is None:
        raise NotFound(f"No visit {mdtrt_id}.", code="VISIT_NOT_FOUND")
    ensure_scope(principal, visit.fixmedins_code)
    return visit


async def ensure_open(*, uow: SettlementUnitOfWork, visit: Visit) -> None:
    """409 VISIT_CANCELLED or VISIT_SETTLED (naming the settlement that stands) unless the visit is open."""
    if visit.status == CANCELLED:
        raise Conflict(
            f"Visit {visit.mdtrt_id} was cancelled ({visit.cancel_reason}); nothing more can be done on it.",
            code="VISIT_CANCELLED",
        )
    if visit.status != OPEN:
        setl_id = await uow.settlements.standing(visit.mdtrt_id)
        raise Conflict(
            f"Visit {visit.mdtrt_id} is already settled as setl_id {setl_id}.",
            code="VISIT_SETTLED",
            setl_id=setl_id,
        )


def one_call_header(data: OneCallSettlementIn) -> ClaimHeader:
    return ClaimHeader(
        fixmedins_code=data.fixmedins_code,
        psn_no=data.psn_no,
        insutype=data.insutype.value,
        med_type=data.med_type,
        begntime=data.begntime,
        endtime=data.endtime,
        dise_codg=data.dise_codg,
    )


def visit_header(visit: Visit) -> ClaimHeader:
    return ClaimHeader(
        fixmedins_code=visit.fixmedins_code,
        psn_no=visit.psn_no,
        insutype=visit.insutype,
        med_type=visit.med_type,
        begntime=visit.begntime,
        endtime=visit.endtime,
        dise_codg=visit.dise_codg,
    )


async def counting_day(*, uow: SettlementUnitOfWork, on: date) -> date:
    """The day close that will count a settlement or reversal of business date `on`.

    Takes the day close's shared lock first (a close in progress finishes before this reads), then reads the
    last closed day in a statement of its own, whose snapshot is taken after the lock is granted.
    """
    await uow.day_closes.lock_for_write()
    return day_close.counting_day(on, await uow.day_closes.last_closed())


# --- what the split needs ------------------------------------------------------------------------------


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


async def ready_institution(
    *, uow: SettlementUnitOfWork, fixmedins_code: str, med_type: str, benefit: Benefit
) -> Institution:
    """The institution, when it exists, is active and gives this kind of care (404/403/422 otherwise)."""
    institution = await uow.institutions.find(fixmedins_code)
    accepted(
        institution_refusal(institution, fixmedins_code=fixmedins_code, med_type=med_type, benefit=benefit)
    )
    assert institution is not None
    return institution


async def covered_person(*, uow: SettlementUnitOfWork, header: ClaimHeader) -> tuple[PersonFacts, Covered]:
    """The person and the coverage paying for the care (404 PERSON_NOT_FOUND, 422 when none pays)."""
    person = await uow.persons.facts(header.psn_no)
    if person is None:
        raise NotFound(f"No insured person {header.psn_no}.", code="PERSON_NOT_FOUND")
    return person, accepted(covered(person, insutype=header.insutype, begntime=header.begntime))


async def load_context(
    *,
    uow: SettlementUnitOfWork,
    header: ClaimHeader,
    fee_lines: Sequence[FeeLineIn],
    policy_book: PolicyBook,
    on: date,
) -> SettleContext:
    """Everything the split needs, or the refusal (404/403/422) of a claim that cannot be settled."""
    accepted(unknown_med_type(header.med_type))
    policy = await policy_book.in_force(uow.session, on)
    benefit = accepted(benefit_of(policy, header.med_type))
    institution = await ready_institution(
        uow=uow, fixmedins_code=header.fixmedins_code, med_type=header.med_type, benefit=benefit
    )
    person, paying = await covered_person(uow=uow, header=header)
    await refuse_suspended_practitioners(uow=uow, fee_lines=fee_lines)
    catalog = await uow.catalogue.entries({line.med_list_codg for line in fee_lines})
    if fee_lines:
        accepted(
            trace_code_refusal(
                fee_lines,
                catalog,
                fixmedins_type=institution.fixmedins_type,
                required_for=await policy_book.trace_codes_required(uow.session),
            )
        )
    return SettleContext(
        header=header,
        benefit=benefit,
        institution=institution,
        person=person,
        coverage=paying.coverage,
        in_waiting_period=paying.in_waiting_period,
        policy=policy,
        lines=tuple(line_splits(fee_lines, catalog, person=person, header=header, policy=policy)),
        fee_lines=tuple(fee_lines),
    )


async def refuse_suspended_practitioners(
    *, uow: SettlementUnitOfWork, fee_lines: Sequence[FeeLineIn]
) -> None:
    """422 PRACTITIONER_SUSPENDED naming the first line a suspended practitioner ordered or dispensed.

    Read from the projection of fraud's suspensions (never a call to fraud): one query, and only for claims
    whose lines carry practitioner codes.
    """
    codes = practitioner_codes(fee_lines)
    if not codes:
        return
    first, last = fee_dates(fee_lines)
    rows = await uow.suspensions.covering(codes, first=first, last=last)
    suspensions = [
        Suspension(row.prac_codg, row.level, row.suspended_from, row.suspended_until, row.lifted_on)
        for row in rows
    ]
    accepted(suspended_line_refusal(fee_lines, suspensions))


def line_splits(
    fee_lines: Sequence[FeeLineIn],
    catalog: dict[str, CatalogEntry],
    *,
    person: PersonFacts,
    header: ClaimHeader,
    policy: PolicyVersion,
) -> list[LineSplit]:
    """Steps 1–2 of the split: each line's self-pay parts under the catalogue."""
    return split_lines(
        [
            FeeLine(
                line.feedetl_sn,
                line.med_list_codg,
                line.cnt,
                line.pric,
                yuan_to_fen(line.det_item_fee_sumamt),
            )
            for line in fee_lines
        ],
        catalog,
        gend=person.gend,
        age=age_on(person.brdy, business_date(header.begntime)),
        class_b_selfpay_prop=policy.policy.class_b_selfpay_prop,
    )


def split_of(
    context: SettleContext, *, ytd: YearToDate, acct_used: bool, balances: dict[str, int]
) -> SettlementSplit:
    """The whole split (DESIGN §6.2) of the context, against the year so far and the accounts' balances."""
    coverage, holder = context.coverage, context.person.family_holder
    return split_settlement(
        context.lines,
        policy=context.policy.policy,
        claimant=Claimant(
            insutype=coverage.insutype,
            psn_type=coverage.psn_type,
            assistance=coverage.assistance,
            supplementary=SUPPLEMENTARY_INSUTYPE[coverage.insutype] in coverage.attached_insutypes,
            incentive_raise_fen=coverage.incentive_raise_fen,
        ),
        med_type=context.header.med_type,
        hosp_lv=context.institution.hosp_lv,
        ytd=ytd,
        in_waiting_period=context.in_waiting_period,
        acct_used=acct_used,
        wallets=Wallets(
            own_balc_fen=balances.get(context.person.psn_no, 0),
            family_holder=holder,
            family_balc_fen=balances.get(holder, 0) if holder else 0,
        ),
    )
