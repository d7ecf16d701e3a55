"""Route of POS sales uploads (like 3505): each line recorded or rejected, with its light at once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal

from fastapi import APIRouter, Response

from common.deps import PROBLEMS, ClockDep
from pricing.api.deps import PharmacyPrincipal, ensure_scope
from pricing.domain.observations import SaleLine
from pricing.schemas.monitoring import SalesIn, SalesOut
from pricing.schemas.refunds import RefundResult, RefundsIn, RefundsOut
from pricing.service.observations import LineOutcome, record_sales
from pricing.service.refunds import Refund, refund_sales
from pricing.uow import Uow

router = APIRouter()


@router.post(
    "/sales",
    response_model=SalesOut,
    responses=PROBLEMS,
    tags=["sales 销售价格采集"],
    summary="Upload sales with their final prices; each line's light at once 药品销售上传",
    description="Idempotent per line on (fixmedins_code, sale_id): the same line again gets its original "
    "answer (`replay: true`); the same sale_id with other content is rejected with SALE_ID_CONFLICT. "
    "An unknown drug or pharmacy rejects that line with its reason; the other lines are recorded. The lines "
    "recorded for the first time go to fraud as one `pricing.sale.recorded` (with their traceability codes); "
    "a replay sends nothing.",
)
async def upload_sales(body: SalesIn, uow: Uow, who: PharmacyPrincipal, clock: ClockDep) -> Response:
    ensure_scope(who, body.fixmedins_code)
    recorded = await record_sales(
        uow=uow, fixmedins_code=body.fixmedins_code, lines=sale_lines(body), clock=clock
    )
    return Response(
        content=sales_answer(body.fixmedins_code, recorded.outcomes), media_type="application/json"
    )


@router.post(
    "/sales/refunds",
    response_model=RefundsOut,
    responses=PROBLEMS,
    tags=["sales 销售价格采集"],
    summary="Refund sale lines uploaded before 药品退货",
    description="Each refund names a sale_id the pharmacy uploaded through POST /sales. A refunded sale counts "
    "no more: it leaves the price index and is no longer the pharmacy's latest price (the region's reference "
    "is recounted without it); its light stays in the history and an alert it raised stays open for ops. "
    "Its traceability codes are freed (`pricing.sale.refunded` to fraud). Idempotent per sale_id: the same "
    "refund again is answered as it was (`replay: true`); another refund_time is REFUND_CONFLICT. An unknown "
    "sale is rejected with SALE_NOT_FOUND, a pharmacy settlement's line with SALE_NOT_REFUNDABLE; the other "
    "refunds are recorded. A pharmacy's POS key refunds only its own sales.",
)
async def refund_sale_lines(body: RefundsIn, uow: Uow, who: PharmacyPrincipal, clock: ClockDep) -> RefundsOut:
    ensure_scope(who, body.fixmedins_code)
    outcomes = await refund_sales(
        uow=uow,
        fixmedins_code=body.fixmedins_code,
        refunds=[Refund(line.sale_id, line.refund_time, line.note) for line in body.refunds],
        clock=clock,
    )
    refunded = sum(1 for outcome in outcomes if outcome.refunded)
    return RefundsOut(
        fixmedins_code=body.fixmedins_code,
        refunded=refunded,
        rejected=len(outcomes) - refunded,
        results=[
            RefundResult(
                sale_id=outcome.sale_id,
                status="refunded" if outcome.refunded else "rejected",
                refund_time=outcome.refund_time,
                replay=outcome.replay,
                reason=outcome.reason,
                message=outcome.message,
            )
            for outcome in outcomes
        ],
    )


def sale_lines(body: SalesIn) -> list[SaleLine]:
    """The upload's lines as the service records them."""
    return [
        SaleLine(
            sale_id=line.sale_id,
            med_list_codg=line.med_list_codg,
            price=line.finl_trns_pric,
            cnt=line.cnt,
            sel_time=line.sel_time,
            drug_trac_codg=tuple(line.drug_trac_codg),
        )
        for line in body.sales
    ]


def sales_answer(fixmedins_code: str, outcomes: Sequence[LineOutcome]) -> bytes:
    """The answer as JSON, serialised once, straight from the values the service computed and typed: what
    `response_model=SalesOut` would send (prices as exact decimal strings, as `Price` serialises them),
    without building and validating a model per line and then serialising them again."""
    results = [
        {
            "sale_id": outcome.sale_id,
            "status": "accepted" if outcome.accepted else "rejected",
            "light": outcome.light,
            "pric": _price(outcome.price),
            "reference_pric": _price(outcome.reference),
            "diff_ratio": outcome.diff_ratio,
            "over_procurement": outcome.over_procurement,
            "replay": outcome.replay,
            "reason": outcome.reason,
            "message": outcome.message,
        }
        for outcome in outcomes
    ]
    accepted = sum(1 for outcome in outcomes if outcome.accepted)
    answer = {
        "fixmedins_code": fixmedins_code,
        "accepted": accepted,
        "rejected": len(results) - accepted,
        "results": results,
    }
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()


def _price(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")
