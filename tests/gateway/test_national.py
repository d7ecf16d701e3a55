"""The national interface on the gateway, against live enrollment, settlement, fraud and pricing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from common.clock import FrozenClock
from common.config import AppEnv
from common.testing.apps import LiveServer, wait_for
from common.testing.databases import Databases
from enrollment.app import create_app as create_enrollment
from enrollment.config import Settings as EnrollmentSettings
from enrollment.domain.certno import check_char
from fraud.app import create_app as create_fraud
from fraud.config import Settings as FraudSettings
from gateway.app import create_app as create_gateway
from gateway.models import NationalMessage, NationalSignIn
from pricing.app import create_app as create_pricing
from pricing.config import Settings as PricingSettings
from pricing.models import Pharmacy
from settlement.app import create_app as create_settlement
from settlement.config import Settings as SettlementSettings
from settlement.models import Visit
from tests.gateway.conftest import bearer, gateway_client, gateway_settings
from tests.settlement.seed import SEEDED_AT, count, seed_catalog, seed_institution

HOSPITAL, OTHER_HOSPITAL, PHARMACY = "H42010000001", "H42010000002", "P42010000001"
PATH = "/fsi/api/rsfComIfsService/callService"
FIRST17 = f"420102{date(1980, 5, 1):%Y%m%d}123"
CERTNO = FIRST17 + check_char(FIRST17)


@dataclass
class National:
    client: httpx.AsyncClient
    keys: dict[str, str]
    gateway_db: Any
    settlement_db: Any
    sequence: int = 0

    async def call(
        self,
        infno: str,
        input_: dict[str, Any],
        *,
        key: str = "his",
        fixmedins_code: str = HOSPITAL,
        msgid: str | None = None,
    ) -> dict[str, Any]:
        """One national message; the answer must be HTTP 200 whatever infcode says."""
        self.sequence += 1
        envelope = {
            "infno": infno,
            "msgid": msgid or f"{fixmedins_code}20260302100000{self.sequence:04d}",
            "mdtrtarea_admvs": "420100",
            "insuplc_admdvs": "420100",
            "recer_sys_code": "YBJ",
            "opter": "001",
            "opter_name": "张收费",
            "opter_type": "1",
            "fixmedins_code": fixmedins_code,
            "fixmedins_name": "测试医院",
            "sign_no": "",
            "inf_time": "2026-03-02 10:00:00",
            "infver": "V1.0",
            "input": input_,
        }
        response = await self.client.post(PATH, headers=bearer(self.keys[key]), json=envelope)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def ok(self, infno: str, input_: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        body = await self.call(infno, input_, **kwargs)
        assert (body["infcode"], body["err_msg"]) == ("0", None), body
        output: dict[str, Any] = body["output"]
        return output


def failure_code(body: dict[str, Any]) -> str:
    assert body["infcode"] == "-1", body
    assert body["output"] == {}
    return str(body["err_msg"]).split("]")[0].lstrip("[")


@pytest.fixture
async def national(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[National]:
    def live(create: Any, settings: Any, name: str, **extra: Any) -> LiveServer:
        return LiveServer(
            create(
                settings(database_url=databases.url(name), nats_url=nats_url, app_env=AppEnv.TEST, **extra),
                clock=clock,
            )
        )

    enrollment = live(create_enrollment, EnrollmentSettings, "enrollment")
    settlement = live(create_settlement, SettlementSettings, "settlement", review_enabled=False)
    fraud = live(create_fraud, FraudSettings, "fraud")
    pricing = live(create_pricing, PricingSettings, "pricing")
    servers = (enrollment, settlement, fraud, pricing)
    for server in servers:
        await server.start()
    sdb = settlement.app.state.db
    for code, kind in ((HOSPITAL, "hospital"), (OTHER_HOSPITAL, "hospital"), (PHARMACY, "pharmacy")):
        await seed_institution(sdb, code, fixmedins_type=kind)
    await seed_catalog(sdb, "A01", "01")
    await seed_catalog(sdb, "B02", "02")
    async with pricing.app.state.db.transaction() as session:
        session.add(
            Pharmacy(
                fixmedins_code=PHARMACY,
                fixmedins_name="药店",
                admdvs="420100",
                status="active",
                changed_at=SEEDED_AT,
            )
        )
    gateway = create_gateway(
        gateway_settings(
            databases,
            nats_url,
            tmp_path,
            enrollment_url=enrollment.url,
            settlement_url=settlement.url,
            fraud_url=fraud.url,
            pricing_url=pricing.url,
        ),
        clock=clock,
    )
    try:
        async with gateway_client(gateway, tmp_path) as (client, ops_key):
            keys = {"ops": ops_key}
            for name, role, scope in (
                ("his", "his", HOSPITAL),
                ("pos", "pos", PHARMACY),
                ("public", "public", None),
            ):
                issued = await client.post(
                    "/admin/clients",
                    headers=bearer(ops_key),
                    json={"name": name, "role": role, **({"scope": scope} if scope else {})},
                )
                assert issued.status_code == 201, issued.text
                keys[name] = issued.json()["api_key"]
            yield National(client, keys, gateway.state.db, sdb)
    finally:
        for server in servers:
            await server.stop()


async def enrolled_employee(national: National) -> str:
    """An employee enrolled through the API, with 800 contributed (160 to the account), known to settlement."""
    client, ops = national.client, bearer(national.keys["ops"])
    person = await client.post(
        "/enrollment/persons", headers=ops, json={"certno": CERTNO, "psn_name": "王五", "admdvs": "420100"}
    )
    assert person.status_code == 201, person.text
    psn_no: str = person.json()["psn_no"]
    coverage = await client.post(
        f"/enrollment/persons/{psn_no}/coverages",
        headers=ops,
        json={"insutype": "310", "begndate": "2025-01-01", "psn_type": "employed", "emp_code": "E1"},
    )
    assert coverage.status_code == 201, coverage.text
    paid = await client.post(
        f"/enrollment/persons/{psn_no}/contributions",
        headers=ops,
        json={
            "insutype": "310",
            "period": "2026-01",
            "amount": "800.00",
            "paid_at": "2026-01-15T10:00:00+08:00",
        },
    )
    assert paid.status_code == 201, paid.text

    async def known() -> bool:
        account = await client.get(f"/settlement/accounts/{psn_no}", headers=ops)
        return account.status_code == 200 and account.json()["balc"] == "160.00"

    await wait_for(known, timeout=15, what="settlement to learn of the person")
    return psn_no


def fee(mdtrt_id: str, psn_no: str, sn: str, code: str, cnt: int, pric: str, amount: str) -> dict[str, Any]:
    return {
        "feedetl_sn": sn,
        "mdtrt_id": mdtrt_id,
        "psn_no": psn_no,
        "chrg_bchno": "B1",
        "med_list_codg": code,
        "medins_list_codg": f"YY-{code}",
        "det_item_fee_sumamt": amount,
        "cnt": cnt,
        "pric": pric,
        "fee_ocur_time": "2026-03-02 10:05:00",
        "bilg_dept_codg": "A03",
        "bilg_dr_codg": "D001",
    }


async def test_an_outpatient_visit_goes_from_sign_in_to_reversal_with_exact_amounts(
    national: National,
) -> None:
    signed = await national.ok(
        "9001", {"signIn": {"opter_no": "001", "mac": "00-1A-2B-3C-4D-5E", "ip": "10.0.0.8"}}
    )
    assert signed["signinoutb"]["sign_time"] == "2026-03-02 10:00:00"
    assert len(signed["signinoutb"]["sign_no"]) == 26
    assert await count(national.gateway_db, NationalSignIn) == 1

    psn_no = await enrolled_employee(national)
    person = await national.ok(
        "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": CERTNO, "psn_no": ""}}
    )
    assert person["baseinfo"] | {"psn_no": "-"} == {
        "psn_no": "-",
        "psn_cert_type": "01",
        "certno": CERTNO,
        "psn_name": "王五",
        "gend": "1",
        "naty": None,
        "brdy": "1980-05-01",
        "age": 45,
        "insuplc_admdvs": "420100",
        "death_date": None,
        "exp_content": None,
    }
    assert person["baseinfo"]["psn_no"] == psn_no
    (insuinfo,) = person["insuinfo"]
    assert (insuinfo["insutype"], insuinfo["psn_type"], insuinfo["psn_insu_stas"], insuinfo["balc"]) == (
        "310",
        "11",
        "1",
        "160.00",
    )
    assert insuinfo["psn_insu_date"] == "2025-01-01"

    registered = await national.ok(
        "2201",
        {
            "data": {
                "psn_no": psn_no,
                "insutype": "310",
                "begntime": "2026-03-02 09:30:00",
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": CERTNO,
                "ipt_otp_no": "MZ0001",
                "atddr_no": "D001",
                "dr_name": "李医生",
                "dept_code": "A03",
                "caty": "A03",
            }
        },
    )
    mdtrt_id = registered["data"]["mdtrt_id"]
    assert registered["data"] == {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "ipt_otp_no": "MZ0001"}
    info = await national.ok(
        "2203",
        {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": "11"}, "diseinfo": []},
    )
    assert (info["mdtrtinfo"]["begntime"], info["mdtrtinfo"]["status"]) == ("2026-03-02 09:30:00", "open")

    uploaded = await national.ok(
        "2204",
        {
            "feedetail": [
                fee(mdtrt_id, psn_no, "1", "A01", 2, "500", "1000.00"),
                fee(mdtrt_id, psn_no, "2", "B02", 1, "200", "200.00"),
                fee(mdtrt_id, psn_no, "3", "X99", 1, "50", "50.00"),
                fee(mdtrt_id, psn_no, "4", "A01", 1, "30", "30.00"),
            ]
        },
    )
    assert [
        (r["feedetl_sn"], r["fulamt_ownpay_amt"], r["preselfpay_amt"], r["inscp_scp_amt"], r["chrgitm_lv"])
        for r in uploaded["result"]
    ] == [
        ("1", "0.00", "0.00", "1000.00", "01"),
        ("2", "0.00", "20.00", "180.00", "02"),
        ("3", "50.00", "0.00", "0.00", None),
        ("4", "0.00", "0.00", "30.00", "01"),
    ]
    withdrawn = await national.ok(
        "2205", {"data": {"mdtrt_id": mdtrt_id, "feedetl_sn": "4", "psn_no": psn_no}}
    )
    assert withdrawn["data"]["withdrawn"] == ["4"]

    settle = {
        "psn_no": psn_no,
        "mdtrt_id": mdtrt_id,
        "medfee_sumamt": "1250.00",
        "acct_used_flag": "1",
        "insutype": "310",
    }
    pre = await national.ok("2206", {"data": settle})
    mismatch = await national.call("2207", {"data": settle | {"medfee_sumamt": "1280.00"}})
    assert failure_code(mismatch) == "MEDFEE_MISMATCH"
    settled = await national.ok("2207", {"data": settle})
    setlinfo = settled["setlinfo"]
    amounts = ("medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc")
    assert [setlinfo[k] for k in amounts] == ["1250.00", "50.00", "20.00", "1180.00", "700.00"]
    paid = ("hifp_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "balc")
    assert [setlinfo[k] for k in paid] == ["288.00", "288.00", "962.00", "160.00", "802.00", "0.00"]
    assert setlinfo["setl_time"] == "2026-03-02 10:00:00"
    assert [pre["setlinfo"][k] for k in paid] == [setlinfo[k] for k in paid]
    assert pre["setlinfo"]["setl_id"] is None
    assert [(d["fund_pay_type"], d["fund_payamt"]) for d in settled["setldetail"]] == [("310100", "288.00")]

    reversed_ = await national.ok(
        "2208", {"data": {"setl_id": setlinfo["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": psn_no}}
    )
    back = reversed_["setlinfo"]
    assert back["init_setl_id"] == setlinfo["setl_id"]
    assert [back[k] for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay", "balc")] == [
        "-1250.00",
        "-288.00",
        "-160.00",
        "-802.00",
        "160.00",
    ]
    again = await national.call(
        "2208", {"data": {"setl_id": setlinfo["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": psn_no}}
    )
    assert failure_code(again) == "ALREADY_REVERSED"


async def test_an_inpatient_stay_settles_then_reconciles_and_accumulates(national: National) -> None:
    psn_no = await enrolled_employee(national)
    admitted = await national.ok(
        "2401",
        {
            "mdtrtinfo": {
                "psn_no": psn_no,
                "insutype": "310",
                "coner_name": "王五",
                "begntime": "2026-02-20 08:00:00",
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": CERTNO,
                "med_type": "21",
                "ipt_no": "ZY0001",
                "dise_codg": "J18.900",
                "dise_name": "肺炎",
            },
            "diseinfo": [],
        },
    )
    mdtrt_id = admitted["data"]["mdtrt_id"]
    assert admitted["data"]["ipt_no"] == "ZY0001"
    wrong = [
        fee(mdtrt_id, psn_no, "1", "A01", 1, "10", "10.00"),
        fee(mdtrt_id, psn_no, "2", "B02", 1, "5", "5.00"),
    ]
    await national.ok("2301", {"feedetail": wrong})
    cleared = await national.ok(
        "2205", {"data": {"mdtrt_id": mdtrt_id, "feedetl_sn": "0000", "psn_no": psn_no}}
    )
    assert cleared["data"]["withdrawn"] == ["1", "2"]
    await national.ok("2301", {"feedetail": [fee(mdtrt_id, psn_no, "3", "A01", 3, "500", "1500.00")]})
    settled = await national.ok(
        "2304",
        {
            "data": {
                "psn_no": psn_no,
                "mdtrt_id": mdtrt_id,
                "medfee_sumamt": 1500.00,
                "acct_used_flag": "0",
                "insutype": "310",
                "endtime": "2026-03-02 09:00:00",
                "medins_setl_id": "ZY0001-S1",
            }
        },
    )
    setlinfo = settled["setlinfo"]
    paid = ("act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay", "medins_setl_id")
    assert [setlinfo[k] for k in paid] == ["600.00", "792.00", "792.00", "0.00", "708.00", "ZY0001-S1"]

    totals = {
        "insutype": "310",
        "clr_type": "21",
        "setl_optins": "420100",
        "stmt_begndate": "2026-03-01",
        "stmt_enddate": "2026-03-31",
        "medfee_sumamt": "1500.00",
        "fund_pay_sumamt": "792.00",
        "acct_pay": "0.00",
        "fixmedins_setl_cnt": 1,
    }
    balanced = await national.ok("3201", {"data": totals})
    assert balanced["data"] == {"setl_optins": "420100", "stmt_rslt": "0", "stmt_rslt_dscr": "平"}
    unbalanced = await national.ok(
        "3201", {"data": totals | {"medfee_sumamt": "1400.00", "fixmedins_setl_cnt": 2}}
    )
    assert unbalanced["data"]["stmt_rslt"] == "1"
    assert unbalanced["differences"] == {"medfee_sumamt": "100.00", "fixmedins_setl_cnt": -1}
    assert "medfee_sumamt 差额(中心−机构) 100.00" in unbalanced["data"]["stmt_rslt_dscr"]

    details = await national.ok(
        "3202",
        {
            "data": {"setl_optins": "420100", "stmt_begndate": "2026-03-02", "stmt_enddate": "2026-03-02"},
            "details": [
                {
                    "setl_id": setlinfo["setl_id"],
                    "medfee_sumamt": "1500.00",
                    "fund_pay_sumamt": "790.00",
                    "acct_pay": "0",
                },
                {
                    "medins_setl_id": "NOT-OURS",
                    "medfee_sumamt": "10.00",
                    "fund_pay_sumamt": "0",
                    "acct_pay": "0",
                },
            ],
        },
    )
    assert details["data"]["stmt_rslt"] == "1"
    assert [(d["setl_id"], d["fields"]) for d in details["differing"]] == [
        (setlinfo["setl_id"], ["fund_pay_sumamt"])
    ]
    assert [t["medins_setl_id"] for t in details["only_theirs"]] == ["NOT-OURS"]
    assert details["only_ours"] == []

    cumulated = await national.ok("5206", {"data": {"psn_no": psn_no, "cum_ym": "202603"}})
    by_code = {(row["insutype"], row["cum_type_code"]): row["cum"] for row in cumulated["cuminfo"]}
    assert by_code == {
        ("310", "C0101"): "0.00",
        ("310", "C0102"): "0.00",
        ("310", "C0201"): "792.00",
        ("310", "C0202"): "108.00",
        ("330", "C0301"): "0.00",
        ("310", "C0601"): "0.00",
    }
    assert {row["year"] for row in cumulated["cuminfo"]} == {"2026"}


async def test_a_retried_msgid_gets_the_original_answer_and_another_body_under_it_is_refused(
    national: National,
) -> None:
    psn_no = await enrolled_employee(national)
    message = {
        "data": {"psn_no": psn_no, "insutype": "310", "begntime": "2026-03-02 09:30:00", "ipt_otp_no": "MZ9"}
    }
    first = await national.call("2201", message, msgid="H420100000012026030210000099")
    again = await national.call("2201", message, msgid="H420100000012026030210000099")
    assert first["infcode"] == "0"
    assert again == first
    assert await count(national.settlement_db, Visit) == 1
    changed = await national.call(
        "2201", {"data": message["data"] | {"ipt_otp_no": "MZ10"}}, msgid="H420100000012026030210000099"
    )
    assert failure_code(changed) == "MSGID_CONFLICT"
    # Another client's msgid space is its own.
    as_ops = await national.call("2201", message, msgid="H420100000012026030210000099", key="ops")
    assert as_ops["infcode"] == "0"
    assert as_ops["output"]["data"]["mdtrt_id"] != first["output"]["data"]["mdtrt_id"]


async def test_refusals_are_infcode_minus_one_with_a_stable_code_and_write_nothing(
    national: National,
) -> None:
    before = await count(national.settlement_db, Visit)
    register = {"data": {"psn_no": "PNOBODY", "insutype": "310", "begntime": "2026-03-02 09:30:00"}}
    assert (
        failure_code(await national.call("2201", register, fixmedins_code=OTHER_HOSPITAL))
        == "SCOPE_FORBIDDEN"
    )
    assert failure_code(await national.call("2201", register, key="pos")) == "SCOPE_FORBIDDEN"
    assert failure_code(await national.call("2201", register, key="public")) == "ROLE_FORBIDDEN"
    unknown = await national.call("9999", {})
    assert failure_code(unknown) == "INFNO_UNSUPPORTED"
    assert all(infno in unknown["err_msg"] for infno in ("1101", "4101A", "5206"))
    bad_time = {"data": register["data"] | {"begntime": "02/03/2026"}}
    assert failure_code(await national.call("2201", bad_time)) == "INVALID_INPUT"
    missing = await national.call("2201", {"data": {"insutype": "310"}})
    assert (failure_code(missing), missing["err_msg"]) == (
        "INVALID_INPUT",
        "[INVALID_INPUT] input.data.psn_no: Field required",
    )
    assert (await national.call("2201", register))[
        "err_msg"
    ] == "[PERSON_NOT_FOUND] No insured person PNOBODY."
    client = national.client
    for body in (b"not json", b"[1, 2]", b'{"infno": "2201", "input": {}}'):
        raw = await client.post(
            PATH, headers=bearer(national.keys["his"]) | {"content-type": "application/json"}, content=body
        )
        assert raw.status_code == 200
        assert failure_code(raw.json()) == "MALFORMED_ENVELOPE", raw.json()
    no_key = await client.post(PATH, json={})
    assert (no_key.status_code, failure_code(no_key.json())) == (200, "API_KEY_MISSING")
    assert await count(national.settlement_db, Visit) == before
    async with national.gateway_db.transaction(readonly=True) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(NationalMessage)) == 0


async def test_a_review_and_a_pharmacy_sale_reach_fraud_and_pricing(national: National) -> None:
    psn_no = await enrolled_employee(national)
    review = {
        "data": {
            "psn_no": psn_no,
            "insutype": "310",
            "med_type": "11",
            "begntime": "2026-03-02 09:30:00",
            "feedetail": [
                {
                    "feedetl_sn": "1",
                    "med_list_codg": "A01",
                    "cnt": 1,
                    "pric": "20",
                    "det_item_fee_sumamt": "20.00",
                }
            ],
        }
    }
    assert await national.ok("3101", review) == {"result": []}
    assert await national.ok("3102", review) == {"result": []}
    # A female-only item for a man: the catalogue reaches fraud as an event, then the review blocks it.
    item = await national.client.put(
        "/settlement/catalog/W01",
        headers=bearer(national.keys["ops"]),
        json={"name": "妇科检查", "chrgitm_lv": "01", "gend_lmt": "2"},
    )
    assert item.status_code == 201, item.text
    line = {"feedetl_sn": "7", "med_list_codg": "W01", "cnt": 1, "pric": "80", "det_item_fee_sumamt": "80.00"}
    flagged = {"data": review["data"] | {"feedetail": [line]}}

    async def blocked() -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = (await national.ok("3102", flagged))["result"]
        return result

    (hit,) = await wait_for(blocked, timeout=15, what="fraud to learn of the catalogue item")
    assert hit | {"jr_id": "-", "rule_id": "-", "vola_cont": "-"} == {
        "jr_id": "-",
        "rule_id": "-",
        "rule_name": "gender_age_limit",
        "vola_cont": "-",
        "vola_amt": "80.00",
        "sev_deg": "1",
        "feedetl_sn": "7",
        "mdtrt_id": None,
        "psn_no": psn_no,
    }
    assert hit["jr_id"].endswith("-1")

    drug = await national.client.put(
        "/pricing/drugs/XC10AAA0001010101",
        headers=bearer(national.keys["ops"]),
        json={"generic_name": "阿托伐他汀钙片", "spec": "20mg*7片", "listing_price": "25.80"},
    )
    assert drug.status_code == 201, drug.text
    selinfo = {
        "med_list_codg": "XC10AAA0001010101",
        "fixmedins_hilist_id": "YP001",
        "fixmedins_hilist_name": "阿托伐他汀钙片",
        "finl_trns_pric": 24.5,
        "sel_retn_cnt": 2,
        "sel_retn_time": "2026-03-02 09:15:00",
        "drugtracinfo": [
            {"drug_trac_codg": "81234567890123456789"},
            {"drug_trac_codg": "81234567890123456790"},
        ],
    }
    sold = await national.ok("3505", {"selinfo": selinfo}, key="pos", fixmedins_code=PHARMACY, msgid="S-1")
    assert (sold["data"]["sale_id"], sold["data"]["status"], sold["data"]["pric"]) == (
        "S-1",
        "accepted",
        "24.50",
    )
    unknown = await national.call(
        "3505", {"selinfo": selinfo | {"med_list_codg": "XNOSUCHDRUG"}}, key="pos", fixmedins_code=PHARMACY
    )
    assert failure_code(unknown) == "DRUG_NOT_FOUND"
