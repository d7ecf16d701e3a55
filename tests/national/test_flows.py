"""Conformance: the outpatient, inpatient and pharmacy flows through the national interface, in every shape a
real client sends (strings, numbers, `input` as a string, GBK), with every amount asserted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.national.his import PHARMACY, SHAPES, His, as_strings

pytestmark = pytest.mark.asyncio(loop_scope="module")

RECEIPT = ("psn_no", "psn_name", "psn_cert_type", "certno", "gend", "age")
PAID = ("hifp_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "balc")


@pytest.fixture(params=list(SHAPES))
def shaped(his: His, request: pytest.FixtureRequest) -> Iterator[His]:
    """The platform's HIS, sending every message of the test in one client shape."""
    his.shape = SHAPES[request.param]
    yield his
    his.shape = as_strings


def line(
    mdtrt_id: str, psn_no: str, sn: str, code: str, cnt: str, pric: str, amount: str, **more: Any
) -> dict[str, Any]:
    """A feedetail row as the published clients fill it (科室/医师 fields the platform ignores included)."""
    return {
        "feedetl_sn": sn,
        "init_feedetl_sn": "",
        "mdtrt_id": mdtrt_id,
        "drord_no": "",
        "psn_no": psn_no,
        "med_type": "",
        "fee_ocur_time": "2026-03-02 09:40:00",
        "med_list_codg": code,
        "medins_list_codg": f"YY-{code}",
        "det_item_fee_sumamt": amount,
        "cnt": cnt,
        "pric": pric,
        "sin_dos_dscr": "",
        "used_frqu_dscr": "",
        "prd_days": "",
        "medc_way_dscr": "",
        "bilg_dept_codg": "A03",
        "bilg_dept_name": "内科",
        "bilg_dr_codg": "D001",
        "bilg_dr_name": "李医生",
        "hosp_appr_flag": "1",
        "chrg_bchno": "B1",
        **more,
    }


async def test_an_outpatient_visit_from_sign_in_to_reversal_and_sign_out(shaped: His) -> None:
    his = shaped
    signed = (
        await his.ok("9001", {"signIn": {"opter_no": "001", "mac": "00-1A-2B-3C-4D-5E", "ip": "10.0.0.8"}})
    )["signinoutb"]
    assert signed["sign_time"] == "2026-03-02 10:00:00"
    person = await his.enrolled()
    info = await his.ok(
        "1101",
        {
            "data": {
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": person.certno,
                "card_sn": "",
                "begntime": "",
                "psn_cert_type": "",
                "certno": "",
                "psn_name": "",
            }
        },
    )
    assert {key: info["baseinfo"][key] for key in RECEIPT} == {
        "psn_no": person.psn_no,
        "psn_name": "王五",
        "psn_cert_type": "01",
        "certno": person.certno,
        "gend": "1",
        "age": 45,
    }
    registered = await his.ok(
        "2201",
        {
            "data": {
                "psn_no": person.psn_no,
                "insutype": "310",
                "begntime": "2026-03-02 09:30:00",
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": person.certno,
                "ipt_otp_no": "MZ0001",
                "atddr_no": "D001",
                "dr_name": "李医生",
                "dept_code": "A03",
                "dept_name": "内科",
                "caty": "A03",
            }
        },
    )
    mdtrt_id = registered["data"]["mdtrt_id"]
    assert registered["data"] == {"mdtrt_id": mdtrt_id, "psn_no": person.psn_no, "ipt_otp_no": "MZ0001"}
    amended = await his.ok(
        "2203",
        {
            "mdtrtinfo": {
                "mdtrt_id": mdtrt_id,
                "psn_no": person.psn_no,
                "med_type": "11",
                "begntime": "2026-03-02 09:30:00",
                "main_cond_dscr": "咳嗽三天",
                "dise_codg": "",
                "dise_name": "",
                "birctrl_type": "",
                "birctrl_matn_date": "",
            },
            "diseinfo": [
                {
                    "diag_type": "1",
                    "diag_srt_no": "2",
                    "diag_code": "R05.X00",
                    "diag_name": "咳嗽",
                    "vali_flag": "1",
                },
                {
                    "diag_type": "1",
                    "diag_srt_no": "1",
                    "diag_code": "J06.900",
                    "diag_name": "急性上呼吸道感染",
                },
            ],
        },
    )
    assert (amended["mdtrtinfo"]["dise_codg"], amended["mdtrtinfo"]["dise_name"]) == (
        "J06.900",
        "急性上呼吸道感染",
    )
    assert (amended["mdtrtinfo"]["begntime"], amended["mdtrtinfo"]["status"]) == (
        "2026-03-02 09:30:00",
        "open",
    )

    uploaded = await his.ok(
        "2204",
        {
            "feedetail": [
                line(mdtrt_id, person.psn_no, "1", "A01", "2", "500", "1000.00"),
                line(mdtrt_id, person.psn_no, "2", "B02", "1", "200", "200.00"),
                line(mdtrt_id, person.psn_no, "3", "X99", "1", "50", "50.00"),
                line(mdtrt_id, person.psn_no, "4", "A01", "1", "30", "30.00", chrg_bchno="B2"),
                line(mdtrt_id, person.psn_no, "5", "B02", "1", "20", "20.00", chrg_bchno="B2"),
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
        ("5", "0.00", "2.00", "18.00", "02"),
    ]
    # 2205 by charge batch, as RequestGzsiModel2205.cs sends it: batch B2 goes, batch B1 stays.
    withdrawn = await his.ok(
        "2205", {"data": {"mdtrt_id": mdtrt_id, "chrg_bchno": "B2", "psn_no": person.psn_no}}
    )
    assert withdrawn["data"] == {"mdtrt_id": mdtrt_id, "withdrawn": ["4", "5"]}

    settle = {
        "psn_no": person.psn_no,
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": person.certno,
        "med_type": "11",
        "medfee_sumamt": "1250.00",
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "chrg_bchno": "B1",
        "insutype": "310",
        "acct_used_flag": "1",
    }
    pre = await his.ok("2206", {"data": settle})
    settled = await his.ok("2207", {"data": settle})
    setlinfo = settled["setlinfo"]
    assert {key: setlinfo[key] for key in RECEIPT} == {key: info["baseinfo"][key] for key in RECEIPT}
    amounts = ("medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc")
    assert [setlinfo[k] for k in amounts] == ["1250.00", "50.00", "20.00", "1180.00", "700.00"]
    assert [setlinfo[k] for k in PAID] == ["288.00", "288.00", "962.00", "160.00", "802.00", "0.00"]
    assert [pre["setlinfo"][k] for k in PAID] == [setlinfo[k] for k in PAID]
    assert (pre["setlinfo"]["setl_id"], setlinfo["setl_time"]) == (None, "2026-03-02 10:00:00")
    assert [(d["fund_pay_type"], d["fund_payamt"]) for d in settled["setldetail"]] == [("310100", "288.00")]

    query = {"data": {"psn_no": person.psn_no, "setl_id": "", "mdtrt_id": mdtrt_id}}
    found = await his.ok("5203", query)
    assert found["setlinfo"] | {"setl_stas": "-"} == setlinfo | {
        "setl_stas": "-",
        "reversal_setl_id": None,
    }
    assert found["setlinfo"]["setl_stas"] == "settled"
    fees = await his.ok("5204", query)
    assert [(row["feedetl_sn"], row["det_item_fee_sumamt"], row["chrg_bchno"]) for row in fees["output"]] == [
        ("1", "1000.00", "B1"),
        ("2", "200.00", "B1"),
        ("3", "50.00", "B1"),
    ]

    reversed_ = await his.ok(
        "2208", {"data": {"setl_id": setlinfo["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": person.psn_no}}
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
    after = await his.ok("5203", query)
    assert (after["setlinfo"]["setl_stas"], after["setlinfo"]["reversal_setl_id"]) == (
        "reversed",
        back["setl_id"],
    )
    signed_out = await his.ok("9002", {"signOut": {"sign_no": signed["sign_no"], "opter_no": "001"}})
    assert signed_out == {"signoutoutb": {"sign_time": "2026-03-02 10:00:00"}}


async def test_an_inpatient_stay_from_admission_through_discharge_to_reversal(shaped: His) -> None:
    his = shaped
    person = await his.enrolled()
    admitted = await his.ok(
        "2401",
        {
            "mdtrtinfo": {
                "psn_no": person.psn_no,
                "insutype": "310",
                "coner_name": "",
                "tel": "",
                "begntime": "2026-02-25 10:00:00",
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": person.certno,
                "med_type": "21",
                "ipt_no": "ZY0001",
                "medrcdno": "BA0001",
                "atddr_no": "D001",
                "chfpdr_name": "李医生",
                "adm_diag_dscr": "肺炎",
                "adm_dept_codg": "A03",
                "adm_dept_name": "内科",
                "adm_bed": "12",
                "dscg_maindiag_code": "",
                "dscg_maindiag_name": "",
                "main_cond_dscr": "",
                "dise_codg": "J18.900",
                "dise_name": "肺炎",
            },
            "diseinfo": [
                {
                    "psn_no": person.psn_no,
                    "diag_type": "1",
                    "maindiag_flag": "1",
                    "diag_srt_no": "1",
                    "diag_code": "J18.900",
                    "diag_name": "肺炎",
                    "adm_cond": "",
                    "diag_dept": "A03",
                    "dise_dor_no": "D001",
                    "dise_dor_name": "李医生",
                    "diag_time": "2026-02-25 10:00:00",
                }
            ],
        },
    )
    mdtrt_id = admitted["data"]["mdtrt_id"]
    assert admitted["data"] == {"mdtrt_id": mdtrt_id, "psn_no": person.psn_no, "ipt_no": "ZY0001"}
    day1 = await his.ok(
        "2301",
        {
            "feedetail": [
                line(
                    mdtrt_id,
                    person.psn_no,
                    "1",
                    "A01",
                    "1",
                    "300",
                    "300.00",
                    fee_ocur_time="2026-02-25 12:00:00",
                ),
                line(
                    mdtrt_id,
                    person.psn_no,
                    "2",
                    "B02",
                    "1",
                    "100",
                    "100.00",
                    fee_ocur_time="2026-02-25 12:00:00",
                ),
            ]
        },
    )
    assert [r["inscp_scp_amt"] for r in day1["result"]] == ["300.00", "90.00"]
    day2 = await his.ok(
        "2301",
        {
            "feedetail": [
                line(
                    mdtrt_id,
                    person.psn_no,
                    "3",
                    "A01",
                    "1",
                    "600",
                    "600.00",
                    fee_ocur_time="2026-02-26 08:00:00",
                ),
                line(
                    mdtrt_id,
                    person.psn_no,
                    "4",
                    "C03",
                    "1",
                    "40",
                    "40.00",
                    fee_ocur_time="2026-02-26 08:00:00",
                ),
            ]
        },
    )
    assert [r["fulamt_ownpay_amt"] for r in day2["result"]] == ["0.00", "40.00"]
    dropped = await his.ok(
        "2302", {"data": {"feedetl_sn": "4", "mdtrt_id": mdtrt_id, "psn_no": person.psn_no}}
    )
    assert dropped["data"] == {"mdtrt_id": mdtrt_id, "withdrawn": ["4"]}

    settle = {
        "psn_no": person.psn_no,
        "mdtrt_id": mdtrt_id,
        "medfee_sumamt": "1000.00",
        "insutype": "310",
        "acct_used_flag": "0",
        "mid_setl_flag": "0",
        "mdtrt_cert_type": "02",
        "mdtrt_cert_no": person.certno,
        "medins_setl_id": f"ZY-{mdtrt_id}",
    }
    code, message = await his.refused("2304", {"data": settle})
    assert code == "NOT_DISCHARGED", message

    discharged = await his.ok(
        "2402",
        {
            "dscginfo": {
                "mdtrt_id": mdtrt_id,
                "psn_no": person.psn_no,
                "insutype": "310",
                "endtime": "2026-03-01 10:00:00",
                "dise_codg": "",
                "dise_name": "",
                "oprn_oprt_code": "",
                "oprn_oprt_name": "",
                "fpsc_no": "",
                "matn_type": "",
                "birctrl_type": "",
                "latechb_flag": "",
                "geso_val": "",
                "fetts": "",
                "fetus_cnt": "",
                "pret_flag": "",
                "birctrl_matn_date": "",
                "cop_flag": "",
                "dscg_dept_code": "A03",
                "dscg_dept_name": "内科",
                "dscg_bed": "12",
                "dscg_way": "1",
                "die_date": "",
            },
            "diseinfo": [
                {
                    "mdtrt_id": mdtrt_id,
                    "psn_no": person.psn_no,
                    "diag_type": "1",
                    "maindiag_flag": "1",
                    "diag_srt_no": "1",
                    "diag_code": "J15.900",
                    "diag_name": "细菌性肺炎",
                    "diag_dept": "A03",
                    "dise_dor_no": "D001",
                    "dise_dor_name": "李医生",
                    "diag_time": "2026-03-01 09:00:00",
                }
            ],
        },
    )
    stay = discharged["dscginfo"]
    assert (stay["endtime"], stay["dise_codg"], stay["dise_name"], stay["dscg_way"]) == (
        "2026-03-01 10:00:00",
        "J15.900",
        "细菌性肺炎",
        "1",
    )
    pre = await his.ok("2303", {"data": settle})
    settled = await his.ok("2304", {"data": settle})
    setlinfo = settled["setlinfo"]
    # Employee at a level-2 hospital: 600 deductible per admission, 88 % of the rest of 990 in scope.
    amounts = ("medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc")
    assert [setlinfo[k] for k in amounts] == ["1000.00", "0.00", "10.00", "990.00", "600.00"]
    assert [setlinfo[k] for k in PAID] == ["343.20", "343.20", "656.80", "0.00", "656.80", "160.00"]
    assert [pre["setlinfo"][k] for k in PAID] == [setlinfo[k] for k in PAID]
    assert (setlinfo["med_type"], setlinfo["psn_name"], setlinfo["age"]) == ("21", "王五", 45)

    visits = await his.ok(
        "5201",
        {
            "data": {
                "psn_no": person.psn_no,
                "begntime": "2026-02-01 00:00:00",
                "endtime": "",
                "med_type": "",
                "mdtrt_id": "",
            }
        },
    )
    assert [(v["mdtrt_id"], v["status"], v["endtime"]) for v in visits["mdtrtinfo"]] == [
        (mdtrt_id, "settled", "2026-03-01 10:00:00")
    ]
    code, message = await his.refused("2405", {"data": {"mdtrt_id": mdtrt_id, "psn_no": person.psn_no}})
    assert code == "VISIT_SETTLED" and setlinfo["setl_id"] in message, message

    reversed_ = await his.ok(
        "2305", {"data": {"setl_id": setlinfo["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": person.psn_no}}
    )
    assert reversed_["setlinfo"]["fund_pay_sumamt"] == "-343.20"
    reopened = await his.ok("2405", {"data": {"mdtrt_id": mdtrt_id, "psn_no": person.psn_no}})
    assert (reopened["data"]["endtime"], reopened["data"]["status"]) == (None, "open")
    cancelled = await his.ok("2404", {"data": {"mdtrt_id": mdtrt_id, "psn_no": person.psn_no}})
    assert cancelled["data"] == {"mdtrt_id": mdtrt_id, "psn_no": person.psn_no, "status": "cancelled"}
    code, _ = await his.refused(
        "2301", {"feedetail": [line(mdtrt_id, person.psn_no, "9", "A01", "1", "1", "1.00")]}
    )
    assert code == "VISIT_CANCELLED"


async def test_a_pharmacy_purchase_by_social_security_card_and_its_sale_upload(shaped: His) -> None:
    his = shaped
    person = await his.enrolled()
    pos = {"key": "pos", "fixmedins_code": PHARMACY}
    info = await his.ok(
        "1101",
        {
            "data": {
                "mdtrt_cert_type": "03",
                "mdtrt_cert_no": "A12345678",
                "card_sn": "420100D15600000500BF7C7A0A2B3C4D",
                "psn_cert_type": "01",
                "certno": person.certno,
                "psn_name": "王五",
            }
        },
        **pos,
    )
    assert info["baseinfo"]["psn_no"] == person.psn_no
    registered = await his.ok(
        "2201",
        {
            "data": {
                "psn_no": person.psn_no,
                "insutype": "310",
                "begntime": "2026-03-02 09:50:00",
                "med_type": "41",
            }
        },
        **pos,
    )
    mdtrt_id = registered["data"]["mdtrt_id"]
    await his.ok(
        "2204",
        {
            "feedetail": [
                line(
                    mdtrt_id,
                    person.psn_no,
                    "1",
                    "A01",
                    "2",
                    "12.5",
                    "25.00",
                    drug_trac_codg="81234567890123456789",
                )
            ]
        },
        **pos,
    )
    settled = await his.ok(
        "2207",
        {
            "data": {
                "psn_no": person.psn_no,
                "mdtrt_id": mdtrt_id,
                "medfee_sumamt": "25.00",
                "acct_used_flag": "1",
            }
        },
        **pos,
    )
    # A pharmacy purchase is paid from the personal account, never from the pool.
    assert [settled["setlinfo"][k] for k in PAID] == ["0.00", "0.00", "25.00", "25.00", "0.00", "135.00"]
    sold = await his.ok(
        "3505",
        {
            "selinfo": {
                "med_list_codg": "A01",
                "fixmedins_hilist_id": "YY-A01",
                "fixmedins_hilist_name": "阿莫西林胶囊",
                "rx_flag": "0",
                "rtal_docno": "",
                "stoout_no": "",
                "bchno": "",
                "medins_prod_sel_no": f"SALE-{mdtrt_id}",
                "finl_trns_pric": "12.50",
                "sel_retn_cnt": "2",
                "sel_retn_time": "2026-03-02 09:55:00",
                "sel_retn_opter_name": "张三",
                "mdtrt_sn": mdtrt_id,
                "drugtracinfo": [{"drug_trac_codg": "81234567890123456789"}],
            }
        },
        **pos,
    )
    assert (sold["data"]["sale_id"], sold["data"]["status"]) == (f"SALE-{mdtrt_id}", "accepted")


async def test_a_pharmacy_settles_a_purchase_in_one_message_and_reverses_it(shaped: His) -> None:
    his = shaped
    person = await his.enrolled()
    pos = {"key": "pos", "fixmedins_code": PHARMACY}
    purchase = {
        "data": {
            "psn_no": person.psn_no,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": person.certno,
            "begntime": "2026-03-02 09:58:00",
            "medfee_sumamt": "37.50",
            "insutype": "310",
            "psn_setlway": "01",
            "acct_used_flag": "1",
        },
        "drugdetail": [
            {
                "feedetl_sn": "1",
                "rx_circ_flag": "0",
                "fee_ocur_time": "2026-03-02 09:58:00",
                "med_list_codg": "A01",
                "medins_list_codg": "YY-A01",
                "det_item_fee_sumamt": "25.00",
                "cnt": "2",
                "pric": "12.5",
                "drug_trac_codg": "81234567890123456700",
            },
            {
                "feedetl_sn": "2",
                "rx_circ_flag": "0",
                "fee_ocur_time": "2026-03-02 09:58:00",
                "med_list_codg": "B02",
                "medins_list_codg": "YY-B02",
                "det_item_fee_sumamt": "12.50",
                "cnt": "1",
                "pric": "12.5",
            },
        ],
    }
    settled = (await his.ok("2102", purchase, **pos))["setlinfo"]
    assert (settled["med_type"], settled["psn_name"], settled["medfee_sumamt"]) == ("41", "王五", "37.50")
    assert [settled[k] for k in PAID] == ["0.00", "0.00", "37.50", "37.50", "0.00", "122.50"]
    code, message = await his.refused(
        "2102", {**purchase, "data": {**purchase["data"], "medfee_sumamt": "40.00"}}, **pos
    )
    assert code == "MEDFEE_MISMATCH", message
    back = (await his.ok("2103", {"data": {"setl_id": settled["setl_id"], "psn_no": person.psn_no}}, **pos))[
        "setlinfo"
    ]
    assert (back["init_setl_id"], back["acct_pay"], back["balc"]) == (settled["setl_id"], "-37.50", "160.00")
