"""Playing a day of the city's traffic through the gateway, each hospital and pharmacy with its own key."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from bench.city.client import GatewayError, expect, run_all, send, wait_consumed
from bench.city.load import LoadedCity, gateway_client
from bench.city.model import City, ClaimSpec, DeathSpec, SaleBatch
from common.money import yuan_to_fen
from common.progress import ProgressBar

NATIONAL_PATH = "/fsi/api/rsfComIfsService/callService"  # the gateway's national interface (国家接口)
# The hospitals whose HIS settles its outpatient visits (med_type 11) through the national interface, 2201 挂号 →
# 2204 费用明细上传 → 2207 结算, instead of the one-call REST settlement: a stable part of the traffic, decided
# here (the city's bytes do not change), the same whatever the seed.
NATIONAL_OUTPATIENT_HOSPITALS = frozenset({"H42010000002", "H42010000008"})
# National failures that are the platform's, not a refusal of the claim: the message is sent again (same msgid).
_NATIONAL_TRANSIENT = frozenset({"RATE_LIMITED", "SERVICE_UNAVAILABLE", "UPSTREAM_TIMEOUT", "INTERNAL_ERROR"})
# The HTTP status the REST path answers a refusal with, by code (422 for any other business refusal).
_REST_STATUS = {"VALIDATION_ERROR": 422, "SETTLEMENT_CONFLICT": 409, "VISIT_CHANGED": 409}
_BLOCKED_FAMILIES = re.compile(r"blocked this settlement \(([^)]*)\)")


def via_national(claim: ClaimSpec) -> bool:
    """Whether the claim is settled through the national messages (2201/2204/2207) rather than by REST."""
    return claim.body.get("med_type") == "11" and claim.fixmedins_code in NATIONAL_OUTPATIENT_HOSPITALS


@dataclass(frozen=True, slots=True)
class AcceptedClaim:
    setl_id: str
    psn_no: str
    fixmedins_code: str
    med_type: str
    medfee_fen: int
    fund_pay_fen: int
    acct_pay_fen: int
    cash_fen: int
    warnings: tuple[str, ...]  # notice codes: WAITING_PERIOD, REVIEW_WARNING, REVIEW_SKIPPED, ...
    review: str  # passed | warned | skipped | disabled
    hit_families: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RefusedClaim:
    status: int
    code: str
    hit_families: tuple[str, ...]


@dataclass
class DayOutcome:
    business_date: str
    accepted: dict[str, AcceptedClaim] = field(default_factory=dict)
    refused: dict[str, RefusedClaim] = field(default_factory=dict)
    sales_accepted: int = 0
    sales_rejected: int = 0
    lights: dict[str, int] = field(default_factory=dict)
    deaths: int = 0
    seconds: float = 0.0
    # Settlement lists uploaded, by how: rest, 4101A (and 4101A→rest when the gateway did not offer 4101A).
    lists: dict[str, int] = field(default_factory=dict)
    # Outpatient claims played through the national messages 2201 → 2204 → 2207 (accepted or refused).
    national_claims: int = 0


async def play_day(
    city: City,
    loaded: LoadedCity,
    index: int,
    *,
    progress: bool = True,
    concurrency: int = 8,
    settle_timeout_s: float = 120.0,
) -> DayOutcome:
    """Play day `index` phase by phase; after each phase wait until fraud and pricing have seen it all."""
    day = city.days[index]
    outcome = DayOutcome(day.business_date.isoformat())
    started = time.perf_counter()
    month = day.business_date.strftime("%Y-%m")
    async with gateway_client(loaded.gateway_url, concurrency) as client:
        for phase in day.phases:
            label = f"{day.business_date} {phase.name}"
            bar = (
                ProgressBar(len(phase.claims), label=f"{label} claims") if progress and phase.claims else None
            )

            async def settle(claim: ClaimSpec) -> None:
                await _settle(client, loaded, claim, outcome, month, city.admdvs)

            await run_all(phase.claims, settle, concurrency=concurrency, bar=bar)
            if bar:
                bar.close()

            async def upload(batch: SaleBatch) -> None:
                await _upload(client, loaded, batch, outcome, month)

            await run_all(phase.sales, upload, concurrency=min(concurrency, 4), bar=None)

            async def die(death: DeathSpec) -> None:
                psn_no = loaded.psn_no[death.person]
                body = {"death_date": death.death_date.isoformat()}
                expect(
                    await send(
                        client, "POST", f"/enrollment/persons/{psn_no}/death", loaded.ops_key, json=body
                    ),
                    200,
                    201,
                )
                outcome.deaths += 1
                loaded.deaths += 1

            await run_all(phase.deaths, die, concurrency=2, bar=None)
            await wait_for_consumers(client, loaded, month, timeout_s=settle_timeout_s)
    outcome.seconds = time.perf_counter() - started
    return outcome


async def wait_for_consumers(
    client: httpx.AsyncClient, loaded: LoadedCity, month: str, *, timeout_s: float
) -> None:
    """Until fraud has run its post rules on every settlement and death so far and holds every code sold at
    POS (pricing.sale.recorded), and pricing has every sale."""
    await wait_consumed(
        client,
        loaded.ops_key,
        "fraud",
        {
            "settlement.settled": loaded.settled,
            "enrollment.person.deceased": loaded.deaths,
            "pricing.sale.recorded": loaded.sale_events,
        },
        timeout_s=timeout_s,
        what="the settlements played",
    )
    await wait_consumed(
        client,
        loaded.ops_key,
        "pricing",
        {"settlement.settled": loaded.settled},
        timeout_s=timeout_s,
        what="settlements",
    )
    # The index counts the observations: sales (recorded synchronously) and the pharmacy settlements' lines.
    expected = loaded.pricing_lines.get(month, 0)
    deadline = time.monotonic() + timeout_s
    while True:
        ranking = expect(
            await send(
                client, "GET", "/pricing/price-index/ranking", loaded.ops_key, params={"month": month}
            ),
            200,
        )
        lines = sum(int(item["lines"]) for item in ranking["items"])
        if lines >= expected:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"pricing holds {lines} of {expected} observations of {month} after {timeout_s:.0f}s"
            )
        await asyncio.sleep(0.2)


async def _settle(
    client: httpx.AsyncClient,
    loaded: LoadedCity,
    claim: ClaimSpec,
    outcome: DayOutcome,
    month: str,
    admdvs: str,
) -> None:
    if via_national(claim):
        await _settle_national(client, loaded, claim, outcome, admdvs)
        return
    body = {**claim.body, "psn_no": loaded.psn_no[claim.person]}
    response = await send(
        client, "POST", "/settlement/settlements", loaded.keys[claim.fixmedins_code], json=body
    )
    if response.status_code in (200, 201):
        answer = response.json()
        info = answer["setlinfo"]
        hits = tuple(sorted({hit["family"] for hit in answer["review"]["hits"]}))
        outcome.accepted[claim.medins_setl_id] = AcceptedClaim(
            setl_id=info["setl_id"],
            psn_no=info["psn_no"],
            fixmedins_code=info["fixmedins_code"],
            med_type=info["med_type"],
            medfee_fen=yuan_to_fen(info["medfee_sumamt"]),
            fund_pay_fen=yuan_to_fen(info["fund_pay_sumamt"]),
            acct_pay_fen=yuan_to_fen(info["acct_pay"]) + yuan_to_fen(info["acct_mulaid_pay"]),
            cash_fen=yuan_to_fen(info["psn_cash_pay"]),
            warnings=tuple(notice["code"] for notice in answer["warnings"]),
            review=answer["review"]["status"],
            hit_families=hits,
        )
        loaded.settled += 1
        if info["med_type"] == "41":
            loaded.pricing_lines[month] = loaded.pricing_lines.get(month, 0) + len(claim.body["feedetail"])
        if claim.settlement_list is not None:
            await _upload_list(client, loaded, claim, info, outcome, admdvs)
        return
    if response.status_code >= 500 or "json" not in response.headers.get("content-type", ""):
        expect(response, 201)  # raises: a 5xx or a non-problem answer is a platform fault, not a refusal
    problem = response.json()
    families = tuple(sorted({hit["family"] for hit in problem.get("hits", []) if isinstance(hit, dict)}))
    outcome.refused[claim.medins_setl_id] = RefusedClaim(
        response.status_code, str(problem.get("code")), families
    )


def _national_time(value: Any) -> str:
    """An ISO time ("2026-03-27T08:38:00+08:00", Beijing time) as the national "2026-03-27 08:38:00"."""
    return str(value)[:19].replace("T", " ")


def national_envelope(infno: str, msgid: str, claim: ClaimSpec, admdvs: str, input_: Any) -> dict[str, Any]:
    """The envelope a HIS fills: strings everywhere, "" for what it leaves empty (no sign-in: sign_no "")."""
    return {
        "infno": infno,
        "msgid": msgid,
        "insuplc_admdvs": admdvs,
        "mdtrtarea_admvs": admdvs,
        "recer_sys_code": "YBJ",
        "infver": "1.0.0",
        "signtype": "SM3",
        "cainfo": "",
        "opter_type": "1",
        "opter": "MZ01",
        "opter_name": "门诊收费处",
        "inf_time": _national_time(claim.body["begntime"]),
        "fixmedins_code": claim.fixmedins_code,
        "sign_no": "",
        "input": input_,
    }


class NationalRefusal(Exception):
    """A national message answered infcode -1 for the claim itself (err_msg "[CODE] message")."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message


async def _national(
    client: httpx.AsyncClient, key: str, message: dict[str, Any], *, attempts: int = 30
) -> dict[str, Any]:
    """The output of one national message; NationalRefusal when it is refused, GatewayError when the platform
    could not answer it (after retrying the same msgid, which the gateway answers once)."""
    for attempt in range(attempts):
        answer = expect(await send(client, "POST", NATIONAL_PATH, key, json=message), 200)
        if answer.get("infcode") == "0":
            output: dict[str, Any] = answer.get("output") or {}
            return output
        code, _, text = str(answer.get("err_msg") or "").partition("] ")
        code = code.lstrip("[")
        if code not in _NATIONAL_TRANSIENT:
            raise NationalRefusal(code, text)
        if attempt < attempts - 1:
            await asyncio.sleep(0.5)
    raise GatewayError(f"{message['infno']} msgid {message['msgid']} failed: {answer.get('err_msg')}")


async def _settle_national(
    client: httpx.AsyncClient, loaded: LoadedCity, claim: ClaimSpec, outcome: DayOutcome, admdvs: str
) -> None:
    """The outpatient visit as a HIS on the national interface settles it: 2201 挂号 (its answer gives the
    mdtrt_id), 2204 费用明细上传 (trace codes, 开单医生 bilg_dr_codg, 药师 phar_code), 2207 结算 under the claim's
    medins_setl_id. The outcome is recorded as the REST path records it; a visit refused at 2204 or 2207 is
    withdrawn (2202 挂号撤销), so a refused claim leaves nothing standing, as a refused REST settlement."""
    key = loaded.keys[claim.fixmedins_code]
    body = claim.body
    psn_no = loaded.psn_no[claim.person]
    ref = claim.medins_setl_id

    def message(infno: str, input_: dict[str, Any]) -> dict[str, Any]:
        return national_envelope(infno, f"{infno}-{ref}", claim, admdvs, input_)

    outcome.national_claims += 1
    mdtrt_id: str | None = None
    try:
        registered = await _national(
            client,
            key,
            message(
                "2201",
                {
                    "data": {
                        "psn_no": psn_no,
                        "insutype": body["insutype"],
                        "begntime": _national_time(body["begntime"]),
                        "ipt_otp_no": ref,
                        "med_type": body["med_type"],
                        "dise_codg": body.get("dise_codg") or "",
                        "dise_name": body.get("dise_name") or "",
                    }
                },
            ),
        )
        mdtrt_id = str(registered["data"]["mdtrt_id"])
        await _national(
            client,
            key,
            message(
                "2204",
                {
                    "feedetail": [
                        {
                            "feedetl_sn": line["feedetl_sn"],
                            "mdtrt_id": mdtrt_id,
                            "psn_no": psn_no,
                            "med_list_codg": line["med_list_codg"],
                            "medins_list_codg": line.get("medins_list_codg") or "",
                            "det_item_fee_sumamt": line["det_item_fee_sumamt"],
                            "cnt": line["cnt"],
                            "pric": line["pric"],
                            "fee_ocur_time": _national_time(line["fee_ocur_time"]),
                            "drug_trac_codg": line.get("drug_trac_codg") or [],
                            "bilg_dr_codg": line.get("bilg_dr_codg") or "",
                            "phar_code": line.get("phar_prac_codg") or "",
                            "chrg_bchno": "1",
                        }
                        for line in body["feedetail"]
                    ]
                },
            ),
        )
        total = sum((Decimal(line["det_item_fee_sumamt"]) for line in body["feedetail"]), Decimal(0))
        settled = await _national(
            client,
            key,
            message(
                "2207",
                {
                    "data": {
                        "psn_no": psn_no,
                        "mdtrt_id": mdtrt_id,
                        "medfee_sumamt": f"{total:.2f}",
                        "acct_used_flag": str(body.get("acct_used_flag", 0)),
                        "medins_setl_id": ref,
                        "insutype": body["insutype"],
                        "med_type": body["med_type"],
                        "mid_setl_flag": "0",
                    }
                },
            ),
        )
    except NationalRefusal as refused:
        if mdtrt_id is not None:
            await _national(client, key, message("2202", {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no}}))
        # As the REST path records it: the problem's code (an input fault is VALIDATION_ERROR there), and
        # the families the review named when it blocked the claim.
        code = "VALIDATION_ERROR" if refused.code == "INVALID_INPUT" else refused.code
        named = _BLOCKED_FAMILIES.search(refused.message) if code == "REVIEW_BLOCKED" else None
        families = tuple(sorted({f.strip() for f in named.group(1).split(",") if f.strip()})) if named else ()
        outcome.refused[ref] = RefusedClaim(_REST_STATUS.get(code, 422), code, families)
        return
    info = settled["setlinfo"]
    warnings = settled.get("warnings") or []
    codes = tuple(str(notice["code"]) for notice in warnings)
    hits = tuple(
        sorted(
            {
                str(notice["details"]["family"])
                for notice in warnings
                if notice["code"] == "REVIEW_WARNING" and (notice.get("details") or {}).get("family")
            }
        )
    )
    review = "skipped" if "REVIEW_SKIPPED" in codes else "warned" if hits else "passed"
    outcome.accepted[ref] = AcceptedClaim(
        setl_id=info["setl_id"],
        psn_no=info["psn_no"],
        fixmedins_code=info["fixmedins_code"],
        med_type=info["med_type"],
        medfee_fen=yuan_to_fen(info["medfee_sumamt"]),
        fund_pay_fen=yuan_to_fen(info["fund_pay_sumamt"]),
        acct_pay_fen=yuan_to_fen(info["acct_pay"]) + yuan_to_fen(info["acct_mulaid_pay"]),
        cash_fen=yuan_to_fen(info["psn_cash_pay"]),
        warnings=codes,
        review=review,
        hit_families=hits,
    )
    loaded.settled += 1


async def _upload(
    client: httpx.AsyncClient, loaded: LoadedCity, batch: SaleBatch, outcome: DayOutcome, month: str
) -> None:
    answer = expect(
        await send(client, "POST", "/pricing/sales", loaded.keys[batch.fixmedins_code], json=batch.body),
        200,
        201,
    )
    outcome.sales_accepted += answer["accepted"]
    outcome.sales_rejected += answer["rejected"]
    for result in answer["results"]:
        if result["status"] == "accepted" and not result.get("replay"):
            light = result["light"]
            outcome.lights[light] = outcome.lights.get(light, 0) + 1
    loaded.pricing_lines[month] = loaded.pricing_lines.get(month, 0) + answer["accepted"]
    # An upload with fresh lines is one pricing.sale.recorded (its codes reach fraud's trace-code projection).
    if any(r["status"] == "accepted" and not r.get("replay") for r in answer["results"]):
        loaded.sale_events += 1


async def _upload_list(
    client: httpx.AsyncClient,
    loaded: LoadedCity,
    claim: ClaimSpec,
    info: dict[str, Any],
    outcome: DayOutcome,
    admdvs: str,
) -> None:
    """The hospital sends the case's 医保结算清单 with its own key: by REST, or as the national 4101A message
    (when the gateway does not offer 4101A, by REST after all, counted as `4101A→rest`)."""
    key = loaded.keys[claim.fixmedins_code]
    how = "rest"
    if claim.list_via == "4101A":
        answer = expect(
            await send(client, "POST", NATIONAL_PATH, key, json=national_4101a(claim, info, admdvs)), 200
        )
        if answer.get("infcode") == "0":
            outcome.lists["4101A"] = outcome.lists.get("4101A", 0) + 1
            return
        if not str(answer.get("err_msg", "")).startswith("[INFNO_UNSUPPORTED]"):
            raise GatewayError(f"4101A for settlement {info['setl_id']} refused: {answer.get('err_msg')}")
        how = "4101A→rest"
    path = f"/settlement/settlements/{info['setl_id']}/settlement-list"
    expect(await send(client, "PUT", path, key, json=claim.settlement_list), 201, 200)
    outcome.lists[how] = outcome.lists.get(how, 0) + 1


def national_4101a(claim: ClaimSpec, info: dict[str, Any], admdvs: str) -> dict[str, Any]:
    """4101A 医保结算清单信息上传 as a HIS sends it: the envelope, setlinfo naming the settlement, diseinfo and
    oprninfo (flags "1"/"0"); the many other fields of the 结算清单 are left empty or out."""
    listed = claim.settlement_list or {}
    setlinfo = {"setl_id": info["setl_id"], "psn_no": info["psn_no"], "fixmedins_code": claim.fixmedins_code}
    if info.get("mdtrt_id"):
        setlinfo["mdtrt_id"] = info["mdtrt_id"]
    return {
        "infno": "4101A",
        "msgid": f"4101A-{info['setl_id']}",
        "insuplc_admdvs": admdvs,
        "mdtrtarea_admvs": admdvs,
        "recer_sys_code": "YBJ",
        "infver": "1.0.0",
        "signtype": "SM3",
        "cainfo": "",
        "opter_type": "1",
        "opter": "BA01",
        "opter_name": "病案室",
        "inf_time": str(claim.body["endtime"])[:19].replace("T", " "),
        "fixmedins_code": claim.fixmedins_code,
        "sign_no": "",
        "input": {
            "setlinfo": setlinfo,
            "diseinfo": [
                {"diag_type": "1", "diag_srt_no": str(n), "diag_code": row["dise_codg"],
                 "diag_name": row.get("dise_name") or "", "maindiag_flag": "1" if row["main"] else "0"}
                for n, row in enumerate(listed.get("diagnoses", []), start=1)
            ],
            "oprninfo": [
                {"oprn_oprt_type": "1", "oprn_oprt_code": row["oprn_codg"],
                 "oprn_oprt_name": row.get("oprn_name") or "", "main_oprn_flag": "1" if row["main"] else "0",
                 "oprn_oprt_date": row.get("oprn_date") or ""}
                for row in listed.get("procedures", [])
            ],
        },
    }  # fmt: skip
