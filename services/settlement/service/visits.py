"""The visit's life before settlement: registration, fee lines and their withdrawal, amendment, discharge,
cancellation, and the look-ups (就诊登记 2201/2401 … 出院撤销 2405, 5201)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date

from common.clock import Clock, business_date
from common.errors import Conflict, NotFound, Unprocessable
from common.principal import Principal, Role, ensure_scope
from settlement.domain.claims import (
    ACTIVE,
    CANCELLED,
    OPEN,
    WITHDRAWN,
    ClaimHeader,
    benefit_of,
    discharge_refusal,
    line_refusal,
    med_type_change_refusal,
    time_refusal,
    unknown_med_type,
)
from settlement.mappers import line_in, line_results, line_row, visit_out
from settlement.models import FeeDetail, Visit
from settlement.schemas.claims import (
    DischargeIn,
    FeeDetailsOut,
    FeeLineIn,
    FeeWithdrawalIn,
    FeeWithdrawalOut,
    VisitAmendmentIn,
    VisitIn,
    VisitOut,
    VisitPage,
)
from settlement.service.context import (
    accepted,
    covered_person,
    ensure_open,
    line_splits,
    load_context,
    new_id,
    ready_institution,
    request_hash,
    visit_header,
    visit_in_scope,
)
from settlement.service.reference import PolicyBook
from settlement.uow import SettlementUnitOfWork


async def register_visit(
    *, uow: SettlementUnitOfWork, data: VisitIn, principal: Principal, clock: Clock, policy_book: PolicyBook
) -> VisitOut:
    """就诊登记: the institution is active and may give this care; the person is covered (waiting is allowed)."""
    ensure_scope(principal, data.fixmedins_code)
    accepted(unknown_med_type(data.med_type))
    now = clock.now()
    accepted(time_refusal(begntime=data.begntime, endtime=None, now=now))
    header = ClaimHeader(
        data.fixmedins_code,
        data.psn_no,
        data.insutype.value,
        data.med_type,
        data.begntime,
        None,
        data.dise_codg,
    )
    benefit = accepted(benefit_of(await policy_book.in_force(uow.session, business_date(now)), data.med_type))
    await ready_institution(
        uow=uow, fixmedins_code=data.fixmedins_code, med_type=data.med_type, benefit=benefit
    )
    await covered_person(uow=uow, header=header)
    visit = Visit(
        mdtrt_id=new_id("M"),
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
    uow.visits.add(visit)
    await uow.flush()
    return visit_out(visit, [])


async def get_visit(*, uow: SettlementUnitOfWork, mdtrt_id: str, principal: Principal) -> VisitOut:
    """The visit as it stands with its standing lines."""
    visit = await visit_in_scope(uow=uow, mdtrt_id=mdtrt_id, principal=principal)
    return visit_out(visit, await uow.fee_lines.active(mdtrt_id))


def _same_line(row: FeeDetail, line: FeeLineIn) -> bool:
    """The same line sent again (times compared as instants, whatever offset they were written with)."""
    stored = line_in(row)
    return stored.fee_ocur_time == line.fee_ocur_time and stored.model_dump(
        exclude={"fee_ocur_time"}
    ) == line.model_dump(exclude={"fee_ocur_time"})


async def upload_fee_details(
    *,
    uow: SettlementUnitOfWork,
    mdtrt_id: str,
    lines: Sequence[FeeLineIn],
    principal: Principal,
    clock: Clock,
    policy_book: PolicyBook,
) -> FeeDetailsOut:
    """费用明细上传: new lines are stored; a line sent again unchanged is a retry; changed is a conflict."""
    visit = await visit_in_scope(uow=uow, mdtrt_id=mdtrt_id, principal=principal, lock=True)
    await ensure_open(uow=uow, visit=visit)
    now = clock.now()
    accepted(line_refusal(lines, begntime=visit.begntime, now=now))
    existing = await uow.fee_lines.by_sn(mdtrt_id)
    for line in lines:
        row = existing.get(line.feedetl_sn)
        if row is not None and row.status == ACTIVE and not _same_line(row, line):
            raise Conflict(
                f"Line {line.feedetl_sn} was already uploaded with other content; withdraw it first.",
                code="FEEDETL_SN_CONFLICT",
                feedetl_sn=line.feedetl_sn,
            )
    header = visit_header(visit)
    context = await load_context(
        uow=uow, header=header, fee_lines=[], policy_book=policy_book, on=business_date(now)
    )
    for line in lines:
        row = existing.get(line.feedetl_sn)
        if row is None:
            uow.fee_lines.add(FeeDetail(**line_row(mdtrt_id, line, now)))
        elif row.status == WITHDRAWN:
            for key, value in line_row(mdtrt_id, line, now).items():
                setattr(row, key, value)
    await uow.flush()
    all_lines = [line_in(row) for row in await uow.fee_lines.active(mdtrt_id)]
    catalog = await uow.catalogue.entries({line.med_list_codg for line in all_lines})
    splits = line_splits(all_lines, catalog, person=context.person, header=header, policy=context.policy)
    wanted = {line.feedetl_sn for line in lines}
    return FeeDetailsOut(
        mdtrt_id=mdtrt_id, result=line_results([s for s in splits if s.feedetl_sn in wanted])
    )


async def withdraw_fee_details(
    *, uow: SettlementUnitOfWork, mdtrt_id: str, data: FeeWithdrawalIn, principal: Principal
) -> FeeWithdrawalOut:
    """费用明细撤销 (2205) of every standing line of a charge batch, of the numbers given, or of the visit."""
    visit = await visit_in_scope(uow=uow, mdtrt_id=mdtrt_id, principal=principal, lock=True)
    await ensure_open(uow=uow, visit=visit)
    rows = await uow.fee_lines.matching(mdtrt_id, chrg_bchno=data.chrg_bchno, feedetl_sns=data.feedetl_sn)
    if not rows:
        asked = []
        if data.chrg_bchno is not None:
            asked.append(f"of charge batch {data.chrg_bchno}")
        if data.feedetl_sn is not None:
            asked.append(f"numbered {', '.join(data.feedetl_sn)}")
        raise NotFound(
            f"No standing line {' and '.join(asked) or 'at all'} on visit {mdtrt_id}.",
            code="FEE_DETAIL_NOT_FOUND",
        )
    for row in rows:
        row.status = WITHDRAWN
    await uow.flush()
    return FeeWithdrawalOut(mdtrt_id=mdtrt_id, withdrawn=[row.feedetl_sn for row in rows])


async def withdraw_fee_detail(
    *, uow: SettlementUnitOfWork, mdtrt_id: str, feedetl_sn: str, principal: Principal
) -> None:
    """费用明细撤销 (2205) of one line: only while the visit is open."""
    visit = await visit_in_scope(uow=uow, mdtrt_id=mdtrt_id, principal=principal, lock=True)
    await ensure_open(uow=uow, visit=visit)
    rows = await uow.fee_lines.matching(mdtrt_id, feedetl_sns=[feedetl_sn])
    if not rows:
        raise NotFound(f"No line {feedetl_sn} on visit {mdtrt_id}.", code="FEE_DETAIL_NOT_FOUND")
    rows[0].status = WITHDRAWN


async def cancel_visit(
    *, uow: SettlementUnitOfWork, mdtrt_id: str, reason: str, principal: Principal, clock: Clock
) -> VisitOut:
    """挂号撤销 / 入院撤销: an open visit is withdrawn with its lines; cancelling it again answers the same."""
    visit = await visit_in_scope(uow=uow, mdtrt_id=mdtrt_id, principal=principal, lock=True)
    if visit.status == CANCELLED:
        return visit_out(visit, [])
    await ensure_open(uow=uow, visit=visit)
    await uow.fee_lines.withdraw_all(mdtrt_id)
    visit.status = CANCELLED
    visit.cancel_reason = reason
    visit.cancelled_at = clock.now()
    await uow.flush()
    return visit_out(visit, [])


async def discharge_visit(
    *,
    uow: SettlementUnitOfWork,
    mdtrt_id: str,
    data: DischargeIn,
    principal: Principal,
    clock: Clock,
    policy_book: PolicyBook,
) -> VisitOut:
    """出院办理 (2402): the discharge time becomes the stay's endtime, a discharge diagnosis the visit's."""
    visit = await visit_in_scope(uow=uow, mdtrt_id=mdtrt_id, principal=principal, lock=True)
    await ensure_open(uow=uow, visit=visit)
    now = clock.now()
    benefit = accepted(
        benefit_of(await policy_book.in_force(uow.session, business_date(now)), visit.med_type)
    )
    accepted(
        discharge_refusal(
            mdtrt_id=mdtrt_id,
            med_type=visit.med_type,
            benefit=benefit,
            begntime=visit.begntime,
            endtime=data.endtime,
            now=now,
        )
    )
    # The time as an instant: the same discharge written with another offset is the same discharge.
    fingerprint = request_hash(data, endtime=data.endtime.astimezone(UTC).isoformat())
    if visit.discharged_at is not None:
        if visit.discharge_hash == fingerprint:
            return visit_out(visit, await uow.fee_lines.active(mdtrt_id))
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
    await uow.flush()
    return visit_out(visit, await uow.fee_lines.active(mdtrt_id))


async def undo_discharge(*, uow: SettlementUnitOfWork, mdtrt_id: str, principal: Principal) -> VisitOut:
    """出院撤销 (2405): the stay goes on; only while no settlement stands (reverse it first)."""
    visit = await visit_in_scope(uow=uow, mdtrt_id=mdtrt_id, principal=principal, lock=True)
    await ensure_open(uow=uow, visit=visit)
    if visit.discharged_at is None:
        raise Conflict(f"Visit {mdtrt_id} is not discharged.", code="VISIT_NOT_DISCHARGED")
    visit.endtime = None
    visit.discharged_at = None
    visit.dscg_way = None
    visit.discharge_hash = None
    await uow.flush()
    return visit_out(visit, await uow.fee_lines.active(mdtrt_id))


def _set_diagnosis(visit: Visit, dise_codg: str | None, dise_name: str | None) -> None:
    # A new code takes its own name (or none): the name of the code it replaces would describe another disease.
    if dise_codg is not None:
        visit.dise_codg, visit.dise_name = dise_codg, dise_name
    elif dise_name is not None:
        visit.dise_name = dise_name


async def amend_visit(
    *,
    uow: SettlementUnitOfWork,
    mdtrt_id: str,
    data: VisitAmendmentIn,
    principal: Principal,
    clock: Clock,
    policy_book: PolicyBook,
) -> VisitOut:
    """就诊信息上传 (2203): the diagnosis, or the med_type within the same kind of care, while the visit is open."""
    visit = await visit_in_scope(uow=uow, mdtrt_id=mdtrt_id, principal=principal, lock=True)
    await ensure_open(uow=uow, visit=visit)
    if data.med_type is not None and data.med_type != visit.med_type:
        policy = await policy_book.in_force(uow.session, business_date(clock.now()))
        benefit = accepted(benefit_of(policy, data.med_type))
        accepted(
            med_type_change_refusal(
                policy, mdtrt_id=mdtrt_id, current=visit.med_type, wanted=data.med_type, benefit=benefit
            )
        )
        await ready_institution(
            uow=uow, fixmedins_code=visit.fixmedins_code, med_type=data.med_type, benefit=benefit
        )
        visit.med_type = data.med_type
    _set_diagnosis(visit, data.dise_codg, data.dise_name)
    await uow.flush()
    return visit_out(visit, await uow.fee_lines.active(mdtrt_id))


async def list_visits(
    *,
    uow: SettlementUnitOfWork,
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
    page = await uow.visits.page_of_person(
        psn_no, fixmedins_code=fixmedins_code, begndate=begndate, enddate=enddate, limit=limit, cursor=cursor
    )
    lines = await uow.fee_lines.active_of([visit.mdtrt_id for visit in page.items])
    return VisitPage(
        items=[visit_out(visit, lines.get(visit.mdtrt_id, [])) for visit in page.items],
        next_cursor=page.next_cursor,
    )
