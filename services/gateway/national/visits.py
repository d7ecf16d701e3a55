"""National transactions of a visit before it settles: registration, admission, fee lines, discharge, look-ups.

2201/2202 挂号 and 撤销, 2203 就诊信息上传, 2204/2205 and 2301/2302 费用明细 and 撤销, 2401/2404 入院 and 撤销,
2402/2405 出院 and 撤销, 5201 就诊信息查询, 5204 费用明细查询.
"""

from __future__ import annotations

import re
from typing import Any

from common.national import PRAC_CODE_PATTERN
from gateway.national import nodes
from gateway.national.calls import Context
from gateway.national.envelope import NationalError, to_date, to_iso, to_national

Output = dict[str, Any]
# "0000" in 2205's chrg_bchno and 2302's feedetl_sn: every line of the visit (全部撤销).
ALL_LINES = "0000"


def same_person(given: str, ours: str, what: str) -> None:
    if given != ours:
        raise NationalError("PSN_NO_MISMATCH", f"The {what} is not of person {given}.")


async def visit_of(ctx: Context, mdtrt_id: str, psn_no: str) -> dict[str, Any]:
    """The visit as settlement has it, refused when it is not the named person's."""
    visit: dict[str, Any] = await ctx.call("settlement", "GET", f"/visits/{mdtrt_id}")
    same_person(psn_no, visit["psn_no"], f"visit {mdtrt_id}")
    return visit


def mdtrtinfo(visit: dict[str, Any]) -> Output:
    """A visit in national terms (5201 mdtrtinfo, 2203's answer)."""
    return {
        "mdtrt_id": visit["mdtrt_id"],
        "psn_no": visit["psn_no"],
        "fixmedins_code": visit["fixmedins_code"],
        "insutype": visit["insutype"],
        "med_type": visit["med_type"],
        "begntime": to_national(visit["begntime"]),
        "endtime": to_national(visit["endtime"]),
        "dise_codg": visit["dise_codg"],
        "dise_name": visit["dise_name"],
        "ipt_otp_no": visit["ipt_otp_no"],
        "dscg_way": visit.get("dscg_way"),
        "status": visit["status"],
    }


def _main_diagnosis(rows: list[nodes.Diagnosis]) -> nodes.Diagnosis | None:
    """The main diagnosis of a diseinfo list: the row flagged 主诊断, else the first by diag_srt_no."""
    flagged = [row for row in rows if row.maindiag_flag == "1"]
    if flagged:
        return flagged[0]
    ranked = sorted(rows, key=lambda row: (not (row.diag_srt_no or "").isdigit(), int(row.diag_srt_no or 0)))
    return ranked[0] if ranked else None


# --- 2201 / 2401 挂号 / 入院办理, 2202 / 2404 撤销 -------------------------------------------------------


async def _register(ctx: Context, given: nodes.Registration, *, med_type: str, where: str) -> dict[str, Any]:
    visit: dict[str, Any] = await ctx.call(
        "settlement",
        "POST",
        "/visits",
        json={
            "fixmedins_code": ctx.fixmedins_code,
            "psn_no": given.psn_no,
            "insutype": given.insutype,
            "med_type": given.med_type or med_type,
            "begntime": to_iso(given.begntime, field=f"{where}.begntime"),
            "dise_codg": given.dise_codg,
            "dise_name": given.dise_name,
            "ipt_otp_no": given.ipt_otp_no or given.ipt_no,
        },
        node=where,
        fields={"ipt_otp_no": f"{where}.ipt_otp_no"},
    )
    return visit


async def outpatient_registration(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.Registration, data.get("data"), "input.data")
    visit = await _register(ctx, given, med_type="11", where="input.data")
    return {
        "data": {"mdtrt_id": visit["mdtrt_id"], "psn_no": visit["psn_no"], "ipt_otp_no": visit["ipt_otp_no"]}
    }


async def admission(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.Registration, data.get("mdtrtinfo"), "input.mdtrtinfo")
    visit = await _register(ctx, given, med_type="21", where="input.mdtrtinfo")
    return {"data": {"mdtrt_id": visit["mdtrt_id"], "psn_no": visit["psn_no"], "ipt_no": visit["ipt_otp_no"]}}


async def cancel_visit(ctx: Context, mdtrt_id: str, psn_no: str, what: str) -> dict[str, Any]:
    await visit_of(ctx, mdtrt_id, psn_no)
    visit: dict[str, Any] = await ctx.call(
        "settlement",
        "POST",
        f"/visits/{mdtrt_id}/cancellation",
        json={"reason": f"{what} msgid {ctx.envelope.msgid}"},
    )
    return visit


async def registration_cancellation(ctx: Context, data: dict[str, Any]) -> Output:
    """2202 挂号撤销 / 2404 入院撤销: the visit and every line uploaded to it are withdrawn."""
    given = nodes.node(nodes.VisitKey, data.get("data"), "input.data")
    visit = await cancel_visit(ctx, given.mdtrt_id, given.psn_no, f"{ctx.envelope.infno} 撤销")
    return {"data": {"mdtrt_id": visit["mdtrt_id"], "psn_no": visit["psn_no"], "status": visit["status"]}}


# --- 2203 就诊信息上传 -----------------------------------------------------------------------------------


async def visit_info(ctx: Context, data: dict[str, Any]) -> Output:
    """2203: confirms the visit, amending its diagnosis (and med_type) where the message changes them."""
    given = nodes.node(nodes.VisitInfo, data.get("mdtrtinfo"), "input.mdtrtinfo")
    diagnoses = nodes.node_list(nodes.Diagnosis, data.get("diseinfo", []), "input.diseinfo", max_items=100)
    visit = await visit_of(ctx, given.mdtrt_id, given.psn_no)
    main = _main_diagnosis(diagnoses)
    dise_codg = given.dise_codg or (main.diag_code if main else None)
    dise_name = given.dise_name or (main.diag_name if main else None)
    changes = {
        key: value
        for key, value in (("dise_codg", dise_codg), ("dise_name", dise_name), ("med_type", given.med_type))
        if value is not None and value != visit[key]
    }
    if changes:
        visit = await ctx.call(
            "settlement", "PATCH", f"/visits/{given.mdtrt_id}", json=changes, node="input.mdtrtinfo"
        )
    return {"mdtrtinfo": mdtrtinfo(visit)}


# --- 2403 入院信息变更 ---------------------------------------------------------------------------------


async def admission_change(ctx: Context, data: dict[str, Any]) -> Output:
    """2403: the stay's diagnosis or med_type changed while it is open (as 2203 does for an outpatient visit)."""
    given = nodes.node(nodes.AdmissionChange, data.get("adminfo"), "input.adminfo")
    diagnoses = nodes.node_list(nodes.Diagnosis, data.get("diseinfo", []), "input.diseinfo", max_items=100)
    visit = await visit_of(ctx, given.mdtrt_id, given.psn_no)
    main = _main_diagnosis(diagnoses)
    wanted = {
        "dise_codg": given.dise_codg or (main.diag_code if main else None),
        "dise_name": given.dise_name or (main.diag_name if main else None),
        "med_type": given.med_type,
    }
    changes = {key: value for key, value in wanted.items() if value is not None and value != visit[key]}
    if not changes:
        raise NationalError("NOTHING_TO_CHANGE", f"The message changes nothing of visit {given.mdtrt_id}.")
    visit = await ctx.call(
        "settlement", "PATCH", f"/visits/{given.mdtrt_id}", json=changes, node="input.adminfo"
    )
    return {"adminfo": mdtrtinfo(visit)}


# --- 2402 出院办理, 2405 出院撤销 ------------------------------------------------------------------------


async def discharge(ctx: Context, data: dict[str, Any]) -> Output:
    """2402: the discharge time and diagnosis; an inpatient stay settles (2304) only after it."""
    given = nodes.node(nodes.Discharge, data.get("dscginfo"), "input.dscginfo")
    diagnoses = nodes.node_list(nodes.Diagnosis, data.get("diseinfo", []), "input.diseinfo", max_items=100)
    await visit_of(ctx, given.mdtrt_id, given.psn_no)
    main = _main_diagnosis(diagnoses)
    body = {
        "endtime": to_iso(given.endtime, field="input.dscginfo.endtime"),
        "dise_codg": given.dise_codg or (main.diag_code if main else None),
        "dise_name": given.dise_name or (main.diag_name if main else None),
        "dscg_way": given.dscg_way,
    }
    visit = await ctx.call(
        "settlement",
        "POST",
        f"/visits/{given.mdtrt_id}/discharge",
        json={key: value for key, value in body.items() if value is not None},
        node="input.dscginfo",
    )
    return {"dscginfo": mdtrtinfo(visit)}


async def discharge_cancellation(ctx: Context, data: dict[str, Any]) -> Output:
    """2405: the stay is open again (only while no settlement stands: reverse it with 2305 first)."""
    given = nodes.node(nodes.VisitKey, data.get("data"), "input.data")
    await visit_of(ctx, given.mdtrt_id, given.psn_no)
    visit = await ctx.call("settlement", "DELETE", f"/visits/{given.mdtrt_id}/discharge")
    return {"data": mdtrtinfo(visit)}


# --- 2204 / 2301 费用明细上传, 2205 / 2302 撤销 ---------------------------------------------------------


_PRAC_CODE = re.compile(PRAC_CODE_PATTERN)


def practitioner_code(value: str | None) -> str | None:
    """A 医保医师/药师代码 to check against suspensions; None for a local code (the national spec lets a HIS send
    its own staff number until the region's codes are standardised: nothing to match, so it is not passed on)."""
    return value if value is not None and _PRAC_CODE.match(value) else None


def trace_codes(value: list[str] | str | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


async def fee_upload(ctx: Context, data: dict[str, Any]) -> Output:
    upload = nodes.node(nodes.FeeUpload, {"feedetail": data.get("feedetail")}, "input")
    visits = {(line.mdtrt_id, line.psn_no) for line in upload.feedetail}
    if len(visits) != 1:
        raise NationalError(
            "INVALID_INPUT", "input.feedetail: every line must name the same mdtrt_id and psn_no"
        )
    ((mdtrt_id, psn_no),) = visits
    await visit_of(ctx, mdtrt_id, psn_no)
    lines = [
        {
            "feedetl_sn": line.feedetl_sn,
            "med_list_codg": line.med_list_codg,
            "medins_list_codg": line.medins_list_codg,
            "cnt": str(line.cnt),
            "pric": str(line.pric),
            "det_item_fee_sumamt": str(line.det_item_fee_sumamt),
            "fee_ocur_time": to_iso(line.fee_ocur_time, field=f"input.feedetail.{index}.fee_ocur_time"),
            "drug_trac_codg": trace_codes(line.drug_trac_codg),
            "dise_codg": line.dise_codg,
            "chrg_bchno": line.chrg_bchno,
            "bilg_dr_codg": practitioner_code(line.bilg_dr_codg),
            "phar_prac_codg": practitioner_code(line.phar_code),
        }
        for index, line in enumerate(upload.feedetail)
    ]
    body = await ctx.call(
        "settlement",
        "POST",
        f"/visits/{mdtrt_id}/fee-details",
        json={"feedetail": lines},
        node="input",
    )
    given = {line.feedetl_sn: line for line in upload.feedetail}
    return {
        "result": [
            {
                "feedetl_sn": row["feedetl_sn"],
                "mdtrt_id": mdtrt_id,
                "det_item_fee_sumamt": row["det_item_fee_sumamt"],
                "cnt": str(given[row["feedetl_sn"]].cnt),
                "pric": str(given[row["feedetl_sn"]].pric),
                "chrgitm_lv": row["chrgitm_lv"],
                "selfpay_prop": row["selfpay_prop"],
                "fulamt_ownpay_amt": row["fulamt_ownpay_amt"],
                "overlmt_amt": row["overlmt_amt"],
                "preselfpay_amt": row["preselfpay_amt"],
                "inscp_scp_amt": row["inscp_scp_amt"],
                "memo": ",".join(row["notes"]) or None,
            }
            for row in body["result"]
        ]
    }


async def withdraw_lines(ctx: Context, mdtrt_id: str, selection: dict[str, Any]) -> list[str]:
    body = await ctx.call("settlement", "POST", f"/visits/{mdtrt_id}/fee-details/withdrawal", json=selection)
    withdrawn: list[str] = body["withdrawn"]
    return withdrawn


async def batch_withdrawal(ctx: Context, data: dict[str, Any]) -> Output:
    """2205: the lines of one charge batch (收费批次号), or every line with "0000"."""
    given = nodes.node(nodes.BatchWithdrawal, data.get("data"), "input.data")
    if given.chrg_bchno is not None:
        selection: dict[str, Any] = {} if given.chrg_bchno == ALL_LINES else {"chrg_bchno": given.chrg_bchno}
    elif given.feedetl_sn is not None:
        selection = {} if given.feedetl_sn == ALL_LINES else {"feedetl_sn": [given.feedetl_sn]}
    else:
        raise NationalError(
            "INVALID_INPUT", 'input.data.chrg_bchno: the charge batch ("0000": all) is required'
        )
    await visit_of(ctx, given.mdtrt_id, given.psn_no)
    withdrawn = await withdraw_lines(ctx, given.mdtrt_id, selection)
    return {"data": {"mdtrt_id": given.mdtrt_id, "withdrawn": withdrawn}}


async def line_withdrawal(ctx: Context, data: dict[str, Any]) -> Output:
    """2302: one line by feedetl_sn, or every line with "0000"."""
    given = nodes.node(nodes.LineWithdrawal, data.get("data"), "input.data")
    await visit_of(ctx, given.mdtrt_id, given.psn_no)
    selection = {} if given.feedetl_sn == ALL_LINES else {"feedetl_sn": [given.feedetl_sn]}
    withdrawn = await withdraw_lines(ctx, given.mdtrt_id, selection)
    return {"data": {"mdtrt_id": given.mdtrt_id, "withdrawn": withdrawn}}


# --- 5201 就诊信息查询, 5204 费用明细查询 ----------------------------------------------------------------

_VISITS_PAGE = 100


async def visit_query(ctx: Context, data: dict[str, Any]) -> Output:
    """5201: the person's visits at this institution (one visit with mdtrt_id), newest first."""
    given = nodes.node(nodes.VisitQuery, data.get("data"), "input.data")
    if given.mdtrt_id:
        visits = [await visit_of(ctx, given.mdtrt_id, given.psn_no)]
    else:
        params: dict[str, Any] = {
            "psn_no": given.psn_no,
            "fixmedins_code": ctx.fixmedins_code,
            "limit": _VISITS_PAGE,
        }
        if given.begntime:
            params["begndate"] = to_date(given.begntime, field="input.data.begntime")
        if given.endtime:
            params["enddate"] = to_date(given.endtime, field="input.data.endtime")
        page = await ctx.call(
            "settlement",
            "GET",
            "/visits",
            params=params,
            fields={"begndate": "input.data.begntime", "enddate": "input.data.endtime"},
        )
        visits = page["items"]
    return {
        "mdtrtinfo": [
            mdtrtinfo(visit)
            for visit in visits
            if given.med_type is None or visit["med_type"] == given.med_type
        ]
    }


async def fee_query(ctx: Context, data: dict[str, Any]) -> Output:
    """5204: the visit's standing fee lines (by mdtrt_id, or the visit of setl_id)."""
    given = nodes.node(nodes.SettlementQuery, data.get("data"), "input.data")
    mdtrt_id = given.mdtrt_id
    if mdtrt_id is None:
        if given.setl_id is None:
            raise NationalError("INVALID_INPUT", "input.data.mdtrt_id: give mdtrt_id or setl_id")
        record = await ctx.call("settlement", "GET", f"/settlements/{given.setl_id}")
        mdtrt_id = str(record["setlinfo"]["mdtrt_id"])
    visit = await visit_of(ctx, mdtrt_id, given.psn_no)
    return {
        "output": [
            {
                "mdtrt_id": visit["mdtrt_id"],
                "feedetl_sn": line["feedetl_sn"],
                "med_list_codg": line["med_list_codg"],
                "medins_list_codg": line["medins_list_codg"],
                "cnt": line["cnt"],
                "pric": line["pric"],
                "det_item_fee_sumamt": line["det_item_fee_sumamt"],
                "fee_ocur_time": to_national(line["fee_ocur_time"]),
                "chrg_bchno": line.get("chrg_bchno"),
                "drug_trac_codg": line["drug_trac_codg"],
            }
            for line in visit["feedetail"]
        ]
    }
