"""The transaction table (infno → handler) and each transaction's translation to the services' APIs."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from common.clock import SHANGHAI, business_date
from gateway.models import NationalSignIn
from gateway.national import nodes
from gateway.national.calls import Context
from gateway.national.envelope import NationalError, to_date, to_iso, to_national

Output = dict[str, Any]
Handler = Callable[[Context, dict[str, Any]], Awaitable[Output]]


@dataclass(frozen=True)
class Transaction:
    name: str
    handle: Handler


# --- shared translations -------------------------------------------------------------------------------

# Our psn_type and coverage status as national codes (人员类别 / 人员参保状态).
PSN_TYPE = {"employed": "11", "retired": "21"}
INSU_STAS = {"active": "1", "suspended": "2", "ended": "4"}
# 人员证件类型 01 居民身份证; 就诊凭证类型 02 居民身份证.
CERT_TYPE_ID_CARD = "02"
# Our review severities as 严重程度 (sev_deg): 1 明确违规, 2 高度可疑, 3 轻度可疑.
SEV_DEG = {"block": "1", "warn": "2", "info": "3"}
# 5206 累计类型 (cum_type_code) for each of our yearly totals; see README "National interface".
CUM_TYPES = (
    ("outpatient_dedc", "C0101", "门诊起付线累计"),
    ("outpatient_pool", "C0102", "门诊统筹基金支付累计"),
    ("hifp_pay", "C0201", "统筹基金支付累计"),
    ("pool_self", "C0202", "政策范围内自付累计"),
    ("supplementary_pay", "C0301", "大病保险/大额医疗支付累计"),
    ("maf_pay", "C0601", "医疗救助支付累计"),
)
SUPPLEMENTARY_INSUTYPE = {"310": "330", "390": "392"}
REVERSED_AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay")


def _age(brdy: date, on: date) -> int:
    return on.year - brdy.year - ((on.month, on.day) < (brdy.month, brdy.day))


def _setlinfo(setlinfo: dict[str, Any]) -> dict[str, Any]:
    return {**setlinfo, "setl_time": to_national(setlinfo.get("setl_time"))}


def _settlement_output(body: dict[str, Any]) -> Output:
    return {
        "setlinfo": _setlinfo(body["setlinfo"]),
        "setldetail": body["setldetail"],
        "warnings": body.get("warnings", []),
    }


def _same_person(given: str, ours: str, what: str) -> None:
    if given != ours:
        raise NationalError("PSN_NO_MISMATCH", f"The {what} is not of person {given}.")


async def _visit(ctx: Context, mdtrt_id: str, psn_no: str) -> dict[str, Any]:
    visit: dict[str, Any] = await ctx.call("settlement", "GET", f"/visits/{mdtrt_id}")
    _same_person(psn_no, visit["psn_no"], f"visit {mdtrt_id}")
    return visit


# --- 9001 签到 -----------------------------------------------------------------------------------------


async def sign_in(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.SignIn, data.get("signIn"), "input.signIn")
    local = ctx.now.astimezone(SHANGHAI)
    sign_no = f"{local:%Y%m%d%H%M%S}{secrets.randbelow(10**12):012d}"
    async with ctx.request.app.state.db.transaction() as session:
        session.add(
            NationalSignIn(
                sign_no=sign_no,
                client_id=ctx.principal.client_id,
                fixmedins_code=ctx.fixmedins_code,
                opter_no=given.opter_no,
                mac=given.mac,
                ip=given.ip,
                sign_time=ctx.now,
            )
        )
    return {"signinoutb": {"sign_time": local.strftime("%Y-%m-%d %H:%M:%S"), "sign_no": sign_no}}


# --- 1101 人员信息获取 -----------------------------------------------------------------------------------


async def person_info(ctx: Context, data: dict[str, Any]) -> Output:
    query = nodes.node(nodes.PersonQuery, data.get("data"), "input.data")
    if query.psn_no:
        params = {"psn_no": query.psn_no}
    elif query.mdtrt_cert_type == CERT_TYPE_ID_CARD and (query.mdtrt_cert_no or query.certno):
        params = {"certno": str(query.mdtrt_cert_no or query.certno)}
    else:
        raise NationalError(
            "CERT_TYPE_UNSUPPORTED",
            "Give psn_no, or mdtrt_cert_type 02 (居民身份证) with the ID number in mdtrt_cert_no.",
        )
    eligibility = await ctx.call("enrollment", "GET", "/eligibility", params=params)
    psn_no = eligibility["psn_no"]
    person, coverages, account = await asyncio.gather(
        ctx.call("enrollment", "GET", f"/persons/{psn_no}"),
        ctx.call("enrollment", "GET", f"/persons/{psn_no}/coverages"),
        ctx.call("settlement", "GET", f"/accounts/{psn_no}"),
    )
    brdy = date.fromisoformat(person["brdy"])
    baseinfo = {
        "psn_no": psn_no,
        "psn_cert_type": "01",
        "certno": person["certno"],
        "psn_name": person["psn_name"],
        "gend": person["gend"],
        "naty": None,
        "brdy": person["brdy"],
        "age": _age(brdy, business_date(ctx.now)),
        "insuplc_admdvs": person["admdvs"],
        "death_date": person["death_date"],
        "exp_content": None,
    }
    insuinfo = [
        {
            "insutype": coverage["insutype"],
            "psn_type": PSN_TYPE.get(coverage["psn_type"] or ""),
            "psn_insu_stas": INSU_STAS.get(coverage["status"], coverage["status"]),
            "psn_insu_date": coverage["begndate"],
            "paus_insu_date": coverage["enddate"],
            "benefit_start_date": coverage["benefit_start_date"],
            "balc": account["balc"],
            "insuplc_admdvs": person["admdvs"],
            "emp_code": coverage["emp_code"],
            "cvlserv_flag": "0",
        }
        for coverage in coverages
    ]
    idetinfo = [{"psn_idet_type": coverage["assistance"]} for coverage in coverages if coverage["assistance"]]
    eligible = {
        "eligible": eligibility["eligible"],
        "insutype": eligibility["insutype"],
        "waiting_days": eligibility["waiting_days"],
        "reason": eligibility["reason"],
    }
    return {"baseinfo": baseinfo, "insuinfo": insuinfo, "idetinfo": idetinfo, "eligibility": eligible}


# --- 2201 / 2401 挂号 / 入院办理 -------------------------------------------------------------------------


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


# --- 2203 就诊信息上传 -----------------------------------------------------------------------------------


async def visit_info(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.VisitInfo, data.get("mdtrtinfo"), "input.mdtrtinfo")
    visit = await _visit(ctx, given.mdtrt_id, given.psn_no)
    # The settlement service keeps the diagnosis given at registration; 2203 confirms the visit as it stands.
    return {
        "mdtrtinfo": {
            "mdtrt_id": visit["mdtrt_id"],
            "psn_no": visit["psn_no"],
            "insutype": visit["insutype"],
            "med_type": visit["med_type"],
            "begntime": to_national(visit["begntime"]),
            "endtime": to_national(visit["endtime"]),
            "dise_codg": visit["dise_codg"],
            "dise_name": visit["dise_name"],
            "ipt_otp_no": visit["ipt_otp_no"],
            "status": visit["status"],
        }
    }


# --- 2204 / 2301 费用明细上传, 2205 撤销 -----------------------------------------------------------------


def _trace_codes(value: list[str] | str | None) -> list[str]:
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
    await _visit(ctx, mdtrt_id, psn_no)
    lines = [
        {
            "feedetl_sn": line.feedetl_sn,
            "med_list_codg": line.med_list_codg,
            "medins_list_codg": line.medins_list_codg,
            "cnt": str(line.cnt),
            "pric": str(line.pric),
            "det_item_fee_sumamt": str(line.det_item_fee_sumamt),
            "fee_ocur_time": to_iso(line.fee_ocur_time, field=f"input.feedetail.{index}.fee_ocur_time"),
            "drug_trac_codg": _trace_codes(line.drug_trac_codg),
            "dise_codg": line.dise_codg,
        }
        for index, line in enumerate(upload.feedetail)
    ]
    body = await ctx.call("settlement", "POST", f"/visits/{mdtrt_id}/fee-details", json={"feedetail": lines})
    given = {line.feedetl_sn: line for line in upload.feedetail}
    return {
        "result": [
            {
                "feedetl_sn": row["feedetl_sn"],
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


ALL_LINES = "0000"


async def fee_withdrawal(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.Withdrawal, data.get("data"), "input.data")
    visit = await _visit(ctx, given.mdtrt_id, given.psn_no)
    if given.feedetl_sn == ALL_LINES:
        serials = [line["feedetl_sn"] for line in visit["feedetail"]]
    else:
        serials = [given.feedetl_sn]
    for serial in serials:
        await ctx.call("settlement", "DELETE", f"/visits/{given.mdtrt_id}/fee-details/{serial}")
    return {"data": {"mdtrt_id": given.mdtrt_id, "withdrawn": serials}}


# --- 2206 / 2303 预结算, 2207 / 2304 结算 ----------------------------------------------------------------


def _check_total(given: Decimal | None, ours: Decimal) -> None:
    # The institution states its total; a mismatch means the two sides disagree on the lines: settle nothing.
    if given is not None and given != ours:
        raise NationalError(
            "MEDFEE_MISMATCH", f"medfee_sumamt {given} differs from the uploaded lines' total {ours}."
        )


async def pre_settlement(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.Settling, data.get("data"), "input.data")
    await _visit(ctx, given.mdtrt_id, given.psn_no)
    body = await ctx.call(
        "settlement",
        "POST",
        f"/visits/{given.mdtrt_id}/pre-settlement",
        json={"acct_used_flag": int(given.acct_used_flag)},
    )
    _check_total(given.medfee_sumamt, Decimal(body["setlinfo"]["medfee_sumamt"]))
    return _settlement_output(body)


async def settlement(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.Settling, data.get("data"), "input.data")
    visit = await _visit(ctx, given.mdtrt_id, given.psn_no)
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
        },
    )
    return _settlement_output(body)


# --- 2208 / 2305 结算撤销 --------------------------------------------------------------------------------


async def reversal(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.Reversal, data.get("data"), "input.data")
    record = await ctx.call("settlement", "GET", f"/settlements/{given.setl_id}")
    if record["setlinfo"]["mdtrt_id"] != given.mdtrt_id:
        raise NationalError(
            "MDTRT_ID_MISMATCH", f"Settlement {given.setl_id} is not of visit {given.mdtrt_id}."
        )
    _same_person(given.psn_no, record["setlinfo"]["psn_no"], f"settlement {given.setl_id}")
    body = await ctx.call(
        "settlement",
        "POST",
        f"/settlements/{given.setl_id}/reversal",
        json={"reason": f"{ctx.envelope.infno} 结算撤销 msgid {ctx.envelope.msgid}"},
    )
    # National reversal records carry the original amounts negated (退费为负).
    negated = {key: str(-Decimal(body[key])) for key in REVERSED_AMOUNTS}
    return {
        "setlinfo": {
            "setl_id": body["setl_id"],
            "init_setl_id": body["orig_setl_id"],
            "mdtrt_id": given.mdtrt_id,
            "psn_no": body["psn_no"],
            "setl_time": to_national(body["setl_time"]),
            **negated,
            "balc": body["balc"],
        }
    }


# --- 3101 / 3102 事前/事中分析 ---------------------------------------------------------------------------


def _review(stage: str) -> Handler:
    async def review(ctx: Context, data: dict[str, Any]) -> Output:
        given = nodes.node(nodes.ReviewQuery, data.get("data"), "input.data")
        person, institution = await asyncio.gather(
            ctx.call("enrollment", "GET", f"/persons/{given.psn_no}"),
            ctx.call("settlement", "GET", f"/institutions/{ctx.fixmedins_code}"),
        )
        lines: list[dict[str, Any]] = []
        total = Decimal(0)
        for index, line in enumerate(given.feedetail):
            where = f"input.data.feedetail.{index}"
            code = line.med_list_codg or line.hilist_code
            amount = line.det_item_fee_sumamt if line.det_item_fee_sumamt is not None else line.sumamt
            if code is None or amount is None:
                raise NationalError(
                    "INVALID_INPUT", f"{where}: med_list_codg and det_item_fee_sumamt are required"
                )
            total += amount
            lines.append(
                {
                    "feedetl_sn": line.feedetl_sn or line.rx_id or str(index + 1),
                    "med_list_codg": code,
                    "chrgitm_lv": line.chrgitm_lv,
                    "cnt": str(line.cnt),
                    "pric": str(line.pric),
                    "det_item_fee_sumamt": str(amount),
                    "fee_ocur_time": to_iso(
                        line.fee_ocur_time or given.begntime, field=f"{where}.fee_ocur_time"
                    ),
                    "drug_trac_codg": line.drug_trac_codg or [],
                }
            )
        claim = {
            "stage": stage,
            "psn_no": given.psn_no,
            "gend": person["gend"],
            "brdy": person["brdy"],
            "insutype": given.insutype,
            "med_type": given.med_type,
            "fixmedins_code": ctx.fixmedins_code,
            "fixmedins_type": institution["fixmedins_type"],
            "hosp_lv": institution["hosp_lv"],
            "admdvs": institution["admdvs"],
            "mdtrt_id": given.mdtrt_id,
            "begntime": to_iso(given.begntime, field="input.data.begntime"),
            "endtime": to_iso(given.endtime, field="input.data.endtime") if given.endtime else None,
            "dise_codg": given.dise_codg,
            "medfee_sumamt": str(total),
            "lines": lines,
        }
        body = await ctx.call("fraud", "POST", "/reviews", json=claim)
        return {
            "result": [
                {
                    "jr_id": f"{ctx.envelope.msgid}-{index + 1}",
                    "rule_id": str(hit["rule_id"]),
                    "rule_name": hit["family"],
                    "vola_cont": hit["message"],
                    "vola_amt": hit.get("vola_amt"),
                    "sev_deg": SEV_DEG.get(hit["severity"], hit["severity"]),
                    "feedetl_sn": hit.get("feedetl_sn"),
                    "mdtrt_id": given.mdtrt_id,
                    "psn_no": given.psn_no,
                }
                for index, hit in enumerate(body["hits"])
            ]
        }

    return review


# --- 3201 对总账, 3202 对明细 ----------------------------------------------------------------------------


def _period(begn: str, end: str) -> dict[str, str]:
    return {
        "begndate": to_date(begn, field="input.data.stmt_begndate"),
        "enddate": to_date(end, field="input.data.stmt_enddate"),
    }


async def totals_reconciliation(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.TotalsQuery, data.get("data"), "input.data")
    body = await ctx.call(
        "settlement",
        "POST",
        "/reconciliations/totals",
        json={
            "fixmedins_code": ctx.fixmedins_code,
            "insutype": given.insutype,
            **_period(given.stmt_begndate, given.stmt_enddate),
            "medfee_sumamt": str(given.medfee_sumamt),
            "fund_pay_sumamt": str(given.fund_pay_sumamt),
            "acct_pay": str(given.acct_pay),
            "fixmedins_setl_cnt": given.fixmedins_setl_cnt,
        },
    )
    differences = body["differences"]
    balanced = body["stmt_rslt"] == "balanced"
    dscr = (
        "平"
        if balanced
        else "不平: " + "; ".join(f"{key} 差额(中心−机构) {value}" for key, value in differences.items())
    )
    return {
        "data": {
            "setl_optins": given.setl_optins or ctx.envelope.insuplc_admdvs,
            "stmt_rslt": "0" if balanced else "1",
            "stmt_rslt_dscr": dscr,
        },
        "ours": body["ours"],
        "differences": differences,
    }


async def details_reconciliation(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.DetailsQuery, data.get("data"), "input.data")
    rows = nodes.node_list(nodes.DetailRow, data.get("details", []), "input.details")
    body = await ctx.call(
        "settlement",
        "POST",
        "/reconciliations/details",
        json={
            "fixmedins_code": ctx.fixmedins_code,
            **_period(given.stmt_begndate, given.stmt_enddate),
            "items": [
                {
                    "setl_id": row.setl_id,
                    "medins_setl_id": row.medins_setl_id,
                    "medfee_sumamt": str(row.medfee_sumamt),
                    "fund_pay_sumamt": str(row.fund_pay_sumamt),
                    "acct_pay": str(row.acct_pay),
                }
                for row in rows
            ],
        },
    )
    balanced = body["stmt_rslt"] == "balanced"
    return {
        "data": {
            "setl_optins": given.setl_optins or ctx.envelope.insuplc_admdvs,
            "stmt_rslt": "0" if balanced else "1",
            "stmt_rslt_dscr": "平"
            if balanced
            else f"不平: 差异 {len(body['differing'])} 笔, 中心独有 {len(body['only_ours'])} 笔, "
            f"机构独有 {len(body['only_theirs'])} 笔",
            "matched": body["matched"],
        },
        "differing": body["differing"],
        "only_ours": body["only_ours"],
        "only_theirs": body["only_theirs"],
    }


# --- 3505 商品销售上传 -----------------------------------------------------------------------------------


async def sale_upload(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.Sale, data.get("selinfo"), "input.selinfo")
    sale_id = given.medins_prod_sel_no or ctx.envelope.msgid
    body = await ctx.call(
        "pricing",
        "POST",
        "/sales",
        json={
            "fixmedins_code": ctx.fixmedins_code,
            "sales": [
                {
                    "sale_id": sale_id,
                    "med_list_codg": given.med_list_codg,
                    "finl_trns_pric": str(given.finl_trns_pric),
                    "cnt": str(given.sel_retn_cnt),
                    "sel_time": to_iso(given.sel_retn_time, field="input.selinfo.sel_retn_time"),
                    "drug_trac_codg": [trace.drug_trac_codg for trace in given.drugtracinfo],
                }
            ],
        },
    )
    (result,) = body["results"]
    if result["status"] != "accepted":
        raise NationalError(
            result["reason"] or "SALE_REJECTED", result["message"] or "The sale was rejected."
        )
    return {"data": result}


# --- 5206 人员累计信息查询 -------------------------------------------------------------------------------


async def accumulations(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.Accumulations, data.get("data"), "input.data")
    year = int(given.cum_ym[:4])
    body = await ctx.call(
        "settlement", "GET", f"/accounts/{given.psn_no}/accumulators", params={"year": year}
    )
    cuminfo = []
    for totals in body["totals"]:
        for field, code, name in CUM_TYPES:
            insutype = (
                SUPPLEMENTARY_INSUTYPE.get(totals["insutype"], totals["insutype"])
                if field == "supplementary_pay"
                else totals["insutype"]
            )
            cuminfo.append(
                {
                    "insutype": insutype,
                    "year": str(year),
                    "cum_type_code": code,
                    "cum_type_name": name,
                    "cum": totals[field],
                }
            )
    return {"cuminfo": cuminfo}


TRANSACTIONS: dict[str, Transaction] = {
    "9001": Transaction("签到 sign-in", sign_in),
    "1101": Transaction("人员信息获取 person info", person_info),
    "2201": Transaction("门诊挂号 outpatient registration", outpatient_registration),
    "2203": Transaction("门诊就诊信息上传 visit info", visit_info),
    "2204": Transaction("门诊费用明细上传 fee-detail upload", fee_upload),
    "2205": Transaction("门诊费用明细撤销 fee-detail withdrawal", fee_withdrawal),
    "2206": Transaction("门诊预结算 pre-settlement", pre_settlement),
    "2207": Transaction("门诊结算 settlement", settlement),
    "2208": Transaction("门诊结算撤销 reversal", reversal),
    "2401": Transaction("入院办理 admission", admission),
    "2301": Transaction("住院费用明细上传 fee-detail upload", fee_upload),
    "2303": Transaction("住院预结算 pre-settlement", pre_settlement),
    "2304": Transaction("住院结算 settlement", settlement),
    "2305": Transaction("住院结算撤销 reversal", reversal),
    "3101": Transaction("明细审核事前分析 pre-event review", _review("pre")),
    "3102": Transaction("明细审核事中分析 in-event review", _review("in")),
    "3201": Transaction("医药机构费用结算对总账 totals reconciliation", totals_reconciliation),
    "3202": Transaction("医药机构费用结算对明细账 detail reconciliation", details_reconciliation),
    "3505": Transaction("商品销售 pharmacy sale upload", sale_upload),
    "5206": Transaction("人员累计信息查询 yearly accumulations", accumulations),
}
