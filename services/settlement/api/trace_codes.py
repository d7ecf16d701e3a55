"""Routes of the 依码结算 policy: whether an institution type's drug lines must carry traceability codes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from common.deps import PROBLEMS, ClockDep, DatabaseDep
from common.principal import OpsPrincipal
from settlement.api.deps import InstitutionPrincipal
from settlement.schemas.reference import FixmedinsType
from settlement.schemas.trace_codes import TraceCodePolicyOut, TraceCodeSwitchIn, TraceCodeSwitchOut
from settlement.service import trace_codes as service
from settlement.service.reference import PolicyBook
from settlement.uow import SettlementUnitOfWork, Uow

router = APIRouter()
POLICY = "policy 政策"


async def _policy_book(request: Request) -> PolicyBook:
    book: PolicyBook = request.app.state.policy_book
    return book


PolicyBookDep = Annotated[PolicyBook, Depends(_policy_book)]


def _out(switch: service.TraceCodeSwitch) -> TraceCodeSwitchOut:
    return TraceCodeSwitchOut(
        fixmedins_type=FixmedinsType(switch.fixmedins_type),
        required=switch.required,
        version=switch.version,
        note=switch.note,
        created_by=switch.created_by,
        created_at=switch.created_at,
    )


@router.get(
    "/policies/trace-codes",
    response_model=TraceCodePolicyOut,
    responses=PROBLEMS,
    tags=[POLICY],
    summary="依码结算: whether each institution type's drug lines must carry traceability codes",
    description="Per institution type (hospital, pharmacy): whether 依码结算 is on, since which change, by whom "
    "and why; and every change. Off by default. When on, pre-settlement and settlement refuse a drug line whose "
    "catalogue item needs a traceability code (`trac_codg_required`) and carries none: 422 "
    "TRACE_CODE_REQUIRED naming the line (feedetl_sn, med_list_codg).",
)
async def get_trace_code_policy(uow: Uow, _who: InstitutionPrincipal) -> TraceCodePolicyOut:
    types, history = await service.trace_code_switches(uow=uow)
    return TraceCodePolicyOut(types=[_out(s) for s in types], history=[_out(s) for s in history])


@router.put(
    "/policies/trace-codes/{fixmedins_type}",
    response_model=TraceCodeSwitchOut,
    responses=PROBLEMS,
    tags=[POLICY],
    summary="Turn 依码结算 on or off for an institution type (ops)",
    description="A change is a new version, kept with who made it, when and why; it applies to every "
    "settlement from then on (on each replica within the policy cache's seconds, at once on this one). The "
    "same state again changes nothing (200, the switch as it stands). Staff only.",
)
async def put_trace_code_policy(
    fixmedins_type: Annotated[FixmedinsType, Path(description="机构类型 hospital | pharmacy")],
    body: TraceCodeSwitchIn,
    db: DatabaseDep,
    ops: OpsPrincipal,
    clock: ClockDep,
    book: PolicyBookDep,
) -> TraceCodeSwitchOut:
    # Its own transaction, so the cache is dropped only once the change is committed.
    async with SettlementUnitOfWork(db) as uow:
        switch, changed = await service.set_trace_code_switch(
            uow=uow,
            fixmedins_type=fixmedins_type.value,
            required=body.required,
            note=body.note,
            by=ops.client_id,
            clock=clock,
        )
    if changed:
        book.invalidate()
    return _out(switch)
