"""National transactions about the operator's session and the person: 9001/9002 签到签退, 1101, 5206."""

from __future__ import annotations

import asyncio
import secrets
from datetime import date
from typing import Any

from common.clock import SHANGHAI, business_date
from common.national import (
    CERT_EC_TOKEN,
    CERT_ID_CARD,
    CERT_SOCIAL_SECURITY_CARD,
    FUND_EMPLOYEE_POOL,
    FUND_RESIDENT_POOL,
    MDTRT_CERT_TYPE,
    PSN_CERT_ID_CARD,
    SUPPLEMENTARY_INSUTYPE,
    age_on,
    described,
)
from gateway.national import nodes
from gateway.national.calls import Context
from gateway.national.envelope import NATIONAL_DATETIME, NationalError, to_date
from gateway.service import national
from gateway.uow import GatewayUnitOfWork

Output = dict[str, Any]

# Our psn_type and coverage status as national codes (人员类别 / 人员参保状态).
PSN_TYPE = {"employed": "11", "retired": "21"}
INSU_STAS = {"active": "1", "suspended": "2", "ended": "4"}
# 5206 累计类型 (cum_type_code) for each of our yearly totals; see docs/integration-guide.md.
CUM_TYPES = (
    ("outpatient_dedc", "C0101", "门诊起付线累计"),
    ("outpatient_pool", "C0102", "门诊统筹基金支付累计"),
    ("hifp_pay", "C0201", "统筹基金支付累计"),
    ("pool_self", "C0202", "政策范围内自付累计"),
    ("supplementary_pay", "C0301", "大病保险/大额医疗支付累计"),
    ("maf_pay", "C0601", "医疗救助支付累计"),
)
_ID_NUMBER_LENGTH = 18


# --- 9001 签到, 9002 签退 -------------------------------------------------------------------------------


async def sign_in(ctx: Context, data: dict[str, Any]) -> Output:
    given = nodes.node(nodes.SignIn, data.get("signIn"), "input.signIn")
    local = ctx.now.astimezone(SHANGHAI)
    sign_no = f"{local:%Y%m%d%H%M%S}{secrets.randbelow(10**12):012d}"
    async with GatewayUnitOfWork(ctx.db) as uow:
        await national.sign_in(
            uow=uow,
            sign_no=sign_no,
            client_id=ctx.principal.client_id,
            fixmedins_code=ctx.fixmedins_code,
            opter_no=given.opter_no,
            mac=given.mac,
            ip=given.ip,
            now=ctx.now,
        )
    return {"signinoutb": {"sign_time": local.strftime(NATIONAL_DATETIME), "sign_no": sign_no}}


async def sign_out(ctx: Context, data: dict[str, Any]) -> Output:
    """9002: ends the operator's sign-in; signing out again answers the first sign-out time."""
    given = nodes.node(nodes.SignOut, data.get("signOut"), "input.signOut")
    async with GatewayUnitOfWork(ctx.db) as uow:
        out_time = await national.sign_out(
            uow=uow,
            sign_no=given.sign_no,
            client_id=ctx.principal.client_id,
            opter_no=given.opter_no,
            now=ctx.now,
        )
    return {"signoutoutb": {"sign_time": out_time.astimezone(SHANGHAI).strftime(NATIONAL_DATETIME)}}


# --- 1101 人员信息获取 -----------------------------------------------------------------------------------


def _person_key(query: nodes.PersonQuery) -> dict[str, str]:
    """Who the desk means, by the credential shown (就诊凭证类型) and what came with it."""
    if query.mdtrt_cert_type not in MDTRT_CERT_TYPE:
        raise NationalError(
            "CERT_TYPE_UNSUPPORTED",
            f"mdtrt_cert_type {query.mdtrt_cert_type} is not a 就诊凭证类型 here; use {described(MDTRT_CERT_TYPE)}.",
        )
    if query.psn_no:
        return {"psn_no": query.psn_no}
    if query.certno is not None and query.psn_cert_type not in (None, PSN_CERT_ID_CARD):
        raise NationalError(
            "CERT_TYPE_UNSUPPORTED",
            f"psn_cert_type {query.psn_cert_type}: persons are registered here by 居民身份证 number (01).",
        )
    if query.mdtrt_cert_type == CERT_ID_CARD:
        number = query.mdtrt_cert_no or query.certno
        if number is None:
            raise NationalError(
                "INVALID_INPUT", "input.data.mdtrt_cert_no: the ID number is required for type 02"
            )
        return {"certno": number}
    if query.mdtrt_cert_type == CERT_SOCIAL_SECURITY_CARD:
        if query.card_sn is None:
            raise NationalError(
                "INVALID_INPUT", "input.data.card_sn: the card's 卡识别码 is required for type 03"
            )
        # The card carries the 社会保障号码, which is the holder's ID number; a card number of another
        # shape is not registered with the bureau here, so the certno read from the card must come with it.
        if query.certno:
            return {"certno": query.certno}
        if query.mdtrt_cert_no and len(query.mdtrt_cert_no) == _ID_NUMBER_LENGTH:
            return {"certno": query.mdtrt_cert_no}
        raise NationalError(
            "PERSON_NOT_IDENTIFIED",
            "Social-security card numbers are not registered here: send the 社会保障号码 read from the card "
            "as certno (psn_cert_type 01), or psn_no.",
        )
    # CERT_EC_TOKEN: the 医保电子凭证 token is checked by the national platform, not here.
    assert query.mdtrt_cert_type == CERT_EC_TOKEN
    if query.certno:
        return {"certno": query.certno}
    raise NationalError(
        "PERSON_NOT_IDENTIFIED",
        "An 医保电子凭证 (01) is resolved by the national platform: send the certno (psn_cert_type 01) or "
        "psn_no it answered alongside the token.",
    )


async def person_info(ctx: Context, data: dict[str, Any]) -> Output:
    query = nodes.node(nodes.PersonQuery, data.get("data"), "input.data")
    eligibility = await ctx.call(
        "enrollment", "GET", "/eligibility", params=_person_key(query), fields={"certno": "input.data.certno"}
    )
    psn_no = eligibility["psn_no"]
    person, coverages, account = await asyncio.gather(
        ctx.call("enrollment", "GET", f"/persons/{psn_no}"),
        ctx.call("enrollment", "GET", f"/persons/{psn_no}/coverages"),
        ctx.call("settlement", "GET", f"/accounts/{psn_no}"),
    )
    baseinfo = {
        **person_fields(person, on=business_date(ctx.now)),
        "naty": None,
        "brdy": person["brdy"],
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


# What the fund pays from for each basic insutype (基金支付类型 of the pool).
POOL_FUND = {"310": FUND_EMPLOYEE_POOL, "390": FUND_RESIDENT_POOL}


async def benefit_check(ctx: Context, data: dict[str, Any]) -> Output:
    """2001 人员待遇享受检查: may the fund pay for care begun at begntime (coverage, waiting period, death)?"""
    given = nodes.node(nodes.BenefitCheck, data.get("data"), "input.data")
    on = to_date(given.begntime, field="input.data.begntime")
    answer = await ctx.call(
        "enrollment",
        "GET",
        "/eligibility",
        params={"psn_no": given.psn_no, "insutype": given.insutype, "date": on},
        fields={"date": "input.data.begntime"},
    )
    return {
        "trtinfo": [
            {
                "psn_no": given.psn_no,
                "insutype": given.insutype,
                "fund_pay_type": POOL_FUND.get(given.insutype),
                "trt_enjymnt_flag": "1" if answer["eligible"] else "0",
                "trt_chk_rslt": answer["reason"] or "可享受待遇",
                "begndate": answer["benefit_start_date"],
                "waiting_days": answer["waiting_days"],
            }
        ]
    }


def person_fields(person: dict[str, Any], *, on: date) -> dict[str, Any]:
    """What a HIS prints of the person on a receipt: number, name, certificate, gender and age on a day."""
    return {
        "psn_no": person["psn_no"],
        "psn_name": person["psn_name"],
        "psn_cert_type": PSN_CERT_ID_CARD,
        "certno": person["certno"],
        "gend": person["gend"],
        "age": age_on(date.fromisoformat(person["brdy"]), on),
    }


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
