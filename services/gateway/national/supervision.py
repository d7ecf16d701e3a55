"""National transactions of review, reconciliation and pharmacy sales: 3101/3102, 3201/3202, 3505."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from gateway.national import nodes
from gateway.national.calls import Context
from gateway.national.envelope import NationalError, to_date, to_iso

Output = dict[str, Any]
Handler = Callable[[Context, dict[str, Any]], Awaitable[Output]]
# Our review severities as 严重程度 (sev_deg): 1 明确违规, 2 高度可疑, 3 轻度可疑.
SEV_DEG = {"block": "1", "warn": "2", "info": "3"}
# The service's names of the statement period, as the national message names them.
PERIOD_FIELDS = {"begndate": "input.data.stmt_begndate", "enddate": "input.data.stmt_enddate"}


# --- 3101 / 3102 事前/事中分析 ---------------------------------------------------------------------------


def review(stage: str) -> Handler:
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
        body = await ctx.call(
            "fraud", "POST", "/reviews", json=claim, fields={"lines": "input.data.feedetail"}
        )
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
            "clr_type": given.clr_type,
            **_period(given.stmt_begndate, given.stmt_enddate),
            "medfee_sumamt": str(given.medfee_sumamt),
            "fund_pay_sumamt": str(given.fund_pay_sumamt),
            "acct_pay": str(given.acct_pay),
            "fixmedins_setl_cnt": given.fixmedins_setl_cnt,
        },
        fields=PERIOD_FIELDS,
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
        fields={**PERIOD_FIELDS, "items": "input.details"},
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
        node="input.selinfo",
    )
    (result,) = body["results"]
    if result["status"] != "accepted":
        raise NationalError(
            result["reason"] or "SALE_REJECTED", result["message"] or "The sale was rejected."
        )
    return {"data": result}
