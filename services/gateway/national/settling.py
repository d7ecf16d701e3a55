"""National transactions that settle and undo: 2206/2207/2208, 2303/2304/2305, 2601 冲正, 5203 结算信息查询.

A HIS that lost an answer recovers through these: 2207 sent again under a new msgid is refused VISIT_SETTLED
naming the setl_id; 5203 by mdtrt_id answers the settlement as it was given; 2601 undoes a message by its msgid.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from decimal import Decimal
from typing import Any

from common.clock import business_date
from common.national import PHARMACY
from gateway.models import NationalMessage
from gateway.national import nodes
from gateway.national.calls import Context
from gateway.national.envelope import NationalError, to_iso, to_national
from gateway.national.persons import person_fields
from gateway.national.visits import (
    cancel_visit,
    practitioner_code,
    same_person,
    trace_codes,
    visit_of,
    withdraw_lines,
)
from gateway.service import national
from gateway.uow import GatewayUnitOfWork

Output = dict[str, Any]
REVERSED_AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay")
SETTLING = frozenset({"2207", "2304", "2102"})
UPLOADING = frozenset({"2204", "2301"})
REGISTERING = frozenset({"2201", "2401"})
DISCHARGING = frozenset({"2402"})


def _settlement_output(body: dict[str, Any], person: dict[str, Any]) -> Output:
    """setlinfo with what the receipt prints of the person (name, certificate, gender, age that day)."""
    setl_time = body["setlinfo"]["setl_time"]
    on = business_date(datetime.fromisoformat(setl_time))
    return {
        "setlinfo": {**body["setlinfo"], **person_fields(person, on=on), "setl_time": to_national(setl_time)},
        "setldetail": body["setldetail"],
        "warnings": body.get("warnings", []),
    }


def _check_total(given: Decimal | None, ours: Decimal) -> None:
    # The institution states its total; a mismatch means the two sides disagree on the lines: settle nothing.
    if given is not None and given != ours:
        raise NationalError(
            "MEDFEE_MISMATCH",
            f"input.data.medfee_sumamt {given} differs from the uploaded lines' total {ours}.",
        )


async def _visit_and_person(ctx: Context, given: nodes.Settling) -> tuple[dict[str, Any], dict[str, Any]]:
    visit, person = await asyncio.gather(
        visit_of(ctx, given.mdtrt_id, given.psn_no),
        ctx.call("enrollment", "GET", f"/persons/{given.psn_no}"),
    )
    return visit, person


# --- 2206 / 2303 预结算, 2207 / 2304 结算 ----------------------------------------------------------------


async def pre_settlement(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.Settling, data.get("data"), "input.data")
    _, person = await _visit_and_person(ctx, given)
    body = await ctx.call(
        "settlement",
        "POST",
        f"/visits/{given.mdtrt_id}/pre-settlement",
        json={"acct_used_flag": int(given.acct_used_flag)},
    )
    _check_total(given.medfee_sumamt, Decimal(body["setlinfo"]["medfee_sumamt"]))
    return _settlement_output(body, person)


async def settlement(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.Settling, data.get("data"), "input.data")
    visit, person = await _visit_and_person(ctx, given)
    _check_total(
        given.medfee_sumamt,
        sum((Decimal(line["det_item_fee_sumamt"]) for line in visit["feedetail"]), Decimal(0)),
    )
    body = await ctx.call(
        "settlement",
        "POST",
        f"/visits/{given.mdtrt_id}/settlement",
        json={
            "medins_setl_id": given.medins_setl_id or ctx.envelope.msgid,
            "acct_used_flag": int(given.acct_used_flag),
            "endtime": to_iso(given.endtime, field="input.data.endtime") if given.endtime else None,
            "mid_setl_flag": int(given.mid_setl_flag),
        },
    )
    return _settlement_output(body, person)


# --- 2208 / 2305 结算撤销 --------------------------------------------------------------------------------


def _reversal_output(body: dict[str, Any], mdtrt_id: str) -> Output:
    # National reversal records carry the original amounts negated (退费为负).
    negated = {key: str(-Decimal(body[key])) for key in REVERSED_AMOUNTS}
    return {
        "setlinfo": {
            "setl_id": body["setl_id"],
            "init_setl_id": body["orig_setl_id"],
            "mdtrt_id": mdtrt_id,
            "psn_no": body["psn_no"],
            "setl_time": to_national(body["setl_time"]),
            **negated,
            "balc": body["balc"],
        }
    }


async def _reverse(ctx: Context, setl_id: str, why: str) -> dict[str, Any]:
    body: dict[str, Any] = await ctx.call(
        "settlement",
        "POST",
        f"/settlements/{setl_id}/reversal",
        json={"reason": f"{why} msgid {ctx.envelope.msgid}"},
    )
    return body


async def reversal(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.Reversal, data.get("data"), "input.data")
    record = await ctx.call("settlement", "GET", f"/settlements/{given.setl_id}")
    if record["setlinfo"]["mdtrt_id"] != given.mdtrt_id:
        raise NationalError(
            "MDTRT_ID_MISMATCH", f"Settlement {given.setl_id} is not of visit {given.mdtrt_id}."
        )
    same_person(given.psn_no, record["setlinfo"]["psn_no"], f"settlement {given.setl_id}")
    body = await _reverse(ctx, given.setl_id, f"{ctx.envelope.infno} 结算撤销")
    return _reversal_output(body, given.mdtrt_id)


# --- 2102 药店结算, 2103 药店结算撤销 ------------------------------------------------------------------


async def pharmacy_settlement(ctx: Context, data: dict[str, Any]) -> Output:
    """2102: a purchase at the pharmacy, visit and lines and settlement at once (one-call settlement,
    med_type 41), keyed by medins_setl_id or else the msgid, so a copy of the message settles once."""
    given = nodes.node(nodes.PharmacySettling, data.get("data"), "input.data")
    drugs = nodes.node_list(nodes.DrugLine, data.get("drugdetail"), "input.drugdetail", max_items=1000)
    _check_total(given.medfee_sumamt, sum((drug.det_item_fee_sumamt for drug in drugs), Decimal(0)))
    body, person = await asyncio.gather(
        ctx.call(
            "settlement",
            "POST",
            "/settlements",
            json={
                "fixmedins_code": ctx.fixmedins_code,
                "medins_setl_id": given.medins_setl_id or ctx.envelope.msgid,
                "psn_no": given.psn_no,
                "insutype": given.insutype,
                "med_type": PHARMACY,
                "begntime": to_iso(given.begntime, field="input.data.begntime"),
                "acct_used_flag": int(given.acct_used_flag),
                "feedetail": [
                    {
                        "feedetl_sn": drug.feedetl_sn,
                        "med_list_codg": drug.med_list_codg,
                        "medins_list_codg": drug.medins_list_codg,
                        "cnt": str(drug.cnt),
                        "pric": str(drug.pric),
                        "det_item_fee_sumamt": str(drug.det_item_fee_sumamt),
                        "fee_ocur_time": to_iso(
                            drug.fee_ocur_time, field=f"input.drugdetail.{index}.fee_ocur_time"
                        ),
                        "drug_trac_codg": trace_codes(drug.drug_trac_codg),
                        "bilg_dr_codg": practitioner_code(drug.bilg_dr_codg),
                        "phar_prac_codg": practitioner_code(drug.phar_code),
                    }
                    for index, drug in enumerate(drugs)
                ],
            },
            fields={"feedetail": "input.drugdetail"},
        ),
        ctx.call("enrollment", "GET", f"/persons/{given.psn_no}"),
    )
    return _settlement_output(body, person)


async def pharmacy_reversal(ctx: Context, data: dict[str, Any]) -> Output:
    """2103: the pharmacy settlement reversed (退药/退费), its amounts negated."""
    given = nodes.node(nodes.PharmacyReversal, data.get("data"), "input.data")
    record = await ctx.call("settlement", "GET", f"/settlements/{given.setl_id}")
    same_person(given.psn_no, record["setlinfo"]["psn_no"], f"settlement {given.setl_id}")
    body = await _reverse(ctx, given.setl_id, "2103 药店结算撤销")
    return _reversal_output(body, str(record["setlinfo"]["mdtrt_id"]))


# --- 5203 结算信息查询 -----------------------------------------------------------------------------------


async def _standing_settlement_of(ctx: Context, **key: str) -> dict[str, Any] | None:
    """The newest settlement of a visit (or with a medins_setl_id) at this institution, as it was answered."""
    page = await ctx.call(
        "settlement", "GET", "/settlements", params={**key, "fixmedins_code": ctx.fixmedins_code, "limit": 1}
    )
    if not page["items"]:
        return None
    record: dict[str, Any] = await ctx.call(
        "settlement", "GET", f"/settlements/{page['items'][0]['setl_id']}"
    )
    return record


async def settlement_query(ctx: Context, data: dict[str, Any]) -> Output:
    """5203: a settlement by setl_id, or the visit's newest one by mdtrt_id (what a HIS that lost the answer
    asks), with its status: a reversed settlement says so and names its reversal."""
    given = nodes.node(nodes.SettlementQuery, data.get("data"), "input.data")
    if given.setl_id is not None:
        record = await ctx.call("settlement", "GET", f"/settlements/{given.setl_id}")
        if given.mdtrt_id is not None and record["setlinfo"]["mdtrt_id"] != given.mdtrt_id:
            raise NationalError(
                "MDTRT_ID_MISMATCH", f"Settlement {given.setl_id} is not of visit {given.mdtrt_id}."
            )
    elif given.mdtrt_id is not None:
        await visit_of(ctx, given.mdtrt_id, given.psn_no)  # another institution's visit is refused as such
        found = await _standing_settlement_of(ctx, mdtrt_id=given.mdtrt_id)
        if found is None:
            raise NationalError("SETTLEMENT_NOT_FOUND", f"Visit {given.mdtrt_id} has no settlement.")
        record = found
    else:
        raise NationalError("INVALID_INPUT", "input.data.setl_id: give setl_id or mdtrt_id")
    same_person(given.psn_no, record["setlinfo"]["psn_no"], f"settlement {record['setlinfo']['setl_id']}")
    person = await ctx.call("enrollment", "GET", f"/persons/{given.psn_no}")
    output = _settlement_output(record, person)
    output["setlinfo"]["setl_stas"] = record["status"]
    output["setlinfo"]["reversal_setl_id"] = record["reversal_setl_id"]
    return output


# --- 2601 冲正交易 ---------------------------------------------------------------------------------------


async def _original(ctx: Context, omsgid: str) -> NationalMessage | None:
    async with GatewayUnitOfWork(ctx.db, readonly=True) as uow:
        return await national.stored_message(uow=uow, client_id=ctx.principal.client_id, msgid=omsgid)


def _undone(given: nodes.Correction, undone: bool, what: str, **more: Any) -> Output:
    return {
        "data": {"omsgid": given.omsgid, "oinfno": given.oinfno, "undone": undone, "result": what, **more}
    }


async def _undo_settlement(ctx: Context, given: nodes.Correction, setl_id: str) -> Output:
    record = await ctx.call("settlement", "GET", f"/settlements/{setl_id}")
    same_person(given.psn_no, record["setlinfo"]["psn_no"], f"settlement {setl_id}")
    if record["status"] == "reversed":
        return _undone(
            given, True, "already reversed", setl_id=setl_id, reversal_setl_id=record["reversal_setl_id"]
        )
    body = await _reverse(ctx, setl_id, f"2601 冲正 of {given.oinfno} {given.omsgid}")
    return _undone(given, True, "reversed", setl_id=setl_id, reversal_setl_id=body["setl_id"])


async def correction(ctx: Context, data: dict[str, Any]) -> Output:
    """2601: undo what message `omsgid` of this API key did, idempotently; or say there is nothing to undo.

    The message's stored answer says what it did. A settlement whose answer the gateway never stored (it
    failed on the way back) is still found when the HIS let the msgid stand as medins_setl_id (the default).
    """
    given = nodes.node(nodes.Correction, data.get("data"), "input.data")
    original = await _original(ctx, given.omsgid)
    if original is not None and original.infno != given.oinfno:
        raise NationalError(
            "OINFNO_MISMATCH", f"Message {given.omsgid} was transaction {original.infno}, not {given.oinfno}."
        )
    # Only answered messages are stored (api._remember), so a stored one did what its output says.
    stored: dict[str, Any] = original.answer if original is not None else {}
    output: dict[str, Any] = dict(stored.get("output") or {})
    if given.oinfno in SETTLING:
        if output:
            return await _undo_settlement(ctx, given, str(output["setlinfo"]["setl_id"]))
        found = await _standing_settlement_of(ctx, medins_setl_id=given.omsgid)
        if found is None:
            return _undone(given, False, "no settlement was made by this message: nothing to undo")
        return await _undo_settlement(ctx, given, str(found["setlinfo"]["setl_id"]))
    if original is None:
        return _undone(given, False, "no answer was given to this message: nothing to undo")
    if given.oinfno in UPLOADING:
        rows = output.get("result") or []
        serials = [str(row["feedetl_sn"]) for row in rows]
        mdtrt_id = str(rows[0]["mdtrt_id"])
        visit = await visit_of(ctx, mdtrt_id, given.psn_no)
        standing = [line["feedetl_sn"] for line in visit["feedetail"] if line["feedetl_sn"] in serials]
        if not standing:
            return _undone(given, True, "already withdrawn", mdtrt_id=mdtrt_id, withdrawn=[])
        withdrawn = await withdraw_lines(ctx, mdtrt_id, {"feedetl_sn": standing})
        return _undone(given, True, "lines withdrawn", mdtrt_id=mdtrt_id, withdrawn=withdrawn)
    if given.oinfno in REGISTERING:
        mdtrt_id = str(output["data"]["mdtrt_id"])
        visit = await cancel_visit(ctx, mdtrt_id, given.psn_no, f"2601 冲正 of {given.oinfno} {given.omsgid}")
        return _undone(given, True, "visit cancelled", mdtrt_id=mdtrt_id, status=visit["status"])
    if given.oinfno in DISCHARGING:
        mdtrt_id = str(output["dscginfo"]["mdtrt_id"])
        visit = await visit_of(ctx, mdtrt_id, given.psn_no)
        if visit["endtime"] is None:
            return _undone(given, True, "already undone", mdtrt_id=mdtrt_id)
        await ctx.call("settlement", "DELETE", f"/visits/{mdtrt_id}/discharge")
        return _undone(given, True, "discharge undone", mdtrt_id=mdtrt_id)
    raise NationalError(
        "NOT_REVERSIBLE",
        f"Transaction {given.oinfno} is not undone by 2601: reverse a settlement (2207/2304), an upload "
        "(2204/2301), a registration (2201/2401) or a discharge (2402).",
    )
