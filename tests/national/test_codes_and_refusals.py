"""Conformance: the national dictionaries (med_type, certificate types, clr_type) and every refusal in the
caller's terms (`[INVALID_INPUT] input.<node>.<field>` or the platform's stable code), writing nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.national.his import OTHER_HOSPITAL, His, Person
from tests.national.test_flows import line

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _settled(his: His, person: Person, med_type: str, amount: str, **call: Any) -> dict[str, Any]:
    """A visit of med_type with one 甲类 line of `amount`, settled (inpatient benefits discharged first)."""
    inpatient = med_type in ("21", "22", "23", "24", "28", "52")
    registration = {
        "psn_no": person.psn_no,
        "insutype": "310",
        "begntime": "2026-03-01 09:30:00",
        "med_type": med_type,
    }
    if inpatient:
        visit = (await his.ok("2401", {"mdtrtinfo": registration}, **call))["data"]
    else:
        visit = (await his.ok("2201", {"data": registration}, **call))["data"]
    mdtrt_id = visit["mdtrt_id"]
    await his.ok(
        "2301" if inpatient else "2204",
        {
            "feedetail": [
                line(
                    mdtrt_id,
                    person.psn_no,
                    "1",
                    "A01",
                    "1",
                    amount,
                    amount,
                    fee_ocur_time="2026-03-01 10:00:00",
                )
            ]
        },
        **call,
    )
    if inpatient:
        await his.ok(
            "2402",
            {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": person.psn_no, "endtime": "2026-03-02 09:00:00"}},
            **call,
        )
    infno = "2304" if inpatient else "2207"
    settled = await his.ok(
        infno, {"data": {"psn_no": person.psn_no, "mdtrt_id": mdtrt_id, "acct_used_flag": "0"}}, **call
    )
    setlinfo: dict[str, Any] = settled["setlinfo"]
    return setlinfo


@pytest.mark.parametrize(
    ("med_type", "deductible", "pool"),
    [
        ("11", "700.00", "180.00"),  # 普通门诊: the yearly outpatient deductible, 60 % at level 2
        ("13", "700.00", "180.00"),  # 急诊: paid as outpatient care under the default policy
        ("14", "700.00", "180.00"),  # 门诊慢特病
        ("51", "700.00", "180.00"),  # 生育门诊: outpatient care of the basic scheme
        ("21", "600.00", "352.00"),  # 普通住院: 600 per admission, 88 % of the rest
        ("24", "600.00", "352.00"),  # 急诊转住院
        ("28", "600.00", "352.00"),  # 日间手术: an admission
        ("52", "600.00", "352.00"),  # 生育住院
    ],
)
async def test_every_med_type_is_paid_as_the_benefit_the_policy_gives_it(
    his: His, med_type: str, deductible: str, pool: str
) -> None:
    person = await his.enrolled()
    setlinfo = await _settled(his, person, med_type, "1000.00")
    assert (setlinfo["med_type"], setlinfo["act_pay_dedc"], setlinfo["hifp_pay"]) == (
        med_type,
        deductible,
        pool,
    )


async def test_a_med_type_outside_the_dictionary_is_refused_naming_the_code(his: His) -> None:
    person = await his.enrolled()
    registration = {
        "psn_no": person.psn_no,
        "insutype": "310",
        "begntime": "2026-03-02 09:30:00",
        "med_type": "99",
    }
    code, message = await his.refused("2201", {"data": registration})
    assert code == "MED_TYPE_UNKNOWN" and "99" in message, message
    code, message = await his.refused("2201", {"data": {**registration, "med_type": "41"}})
    assert code == "MED_TYPE_NOT_ALLOWED" and "41" in message, message


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (
            {"mdtrt_cert_type": "01", "mdtrt_cert_no": "ecToken-abc", "psn_cert_type": "01"},
            "PERSON_NOT_IDENTIFIED",
        ),
        ({"mdtrt_cert_type": "03", "mdtrt_cert_no": "A12345678", "card_sn": "C1"}, "PERSON_NOT_IDENTIFIED"),
        ({"mdtrt_cert_type": "04", "mdtrt_cert_no": "X"}, "CERT_TYPE_UNSUPPORTED"),
        ({"mdtrt_cert_type": "02", "mdtrt_cert_no": "", "psn_no": ""}, "INVALID_INPUT"),
    ],
)
async def test_1101_refuses_a_credential_it_cannot_resolve(his: His, data: dict[str, str], code: str) -> None:
    assert (await his.refused("1101", {"data": data}))[0] == code


async def test_1101_resolves_an_electronic_voucher_with_its_certno_and_a_card_by_its_social_security_number(
    his: His,
) -> None:
    person = await his.enrolled()
    for data in (
        {
            "mdtrt_cert_type": "01",
            "mdtrt_cert_no": "ecToken-abc",
            "psn_cert_type": "01",
            "certno": person.certno,
        },
        {"mdtrt_cert_type": "03", "mdtrt_cert_no": person.certno, "card_sn": "420100D156000005"},
        {
            "mdtrt_cert_type": "03",
            "mdtrt_cert_no": "",
            "card_sn": "420100D156000005",
            "psn_no": person.psn_no,
        },
    ):
        info = await his.ok("1101", {"data": data})
        assert (info["baseinfo"]["psn_no"], info["baseinfo"]["certno"]) == (person.psn_no, person.certno)
    code, message = await his.refused(
        "1101", {"data": {"mdtrt_cert_type": "03", "mdtrt_cert_no": person.certno, "card_sn": ""}}
    )
    assert (code, message) == (
        "INVALID_INPUT",
        "input.data.card_sn: the card's 卡识别码 is required for type 03",
    )


@pytest.mark.parametrize(
    ("infno", "input_", "expected"),
    [
        (
            "2201",
            {"data": {"insutype": "310", "begntime": "2026-03-02 09:30:00"}},
            "input.data.psn_no: Field required",
        ),
        (
            "2201",
            {"data": {"psn_no": "PX", "insutype": "310", "begntime": "2026-13-02 09:30:00"}},
            "input.data.begntime: not a valid time: '2026-13-02 09:30:00'",
        ),
        ("2402", {"dscginfo": {"mdtrt_id": "M1", "psn_no": "P1"}}, "input.dscginfo.endtime: Field required"),
        (
            "2205",
            {"data": {"mdtrt_id": "M1", "psn_no": "P1"}},
            'input.data.chrg_bchno: the charge batch ("0000": all) is required',
        ),
        (
            "2601",
            {"data": {"psn_no": "P1", "omsgid": "X", "oinfno": "27"}},
            "input.data.oinfno: String should match pattern '^[0-9]{4}$'",
        ),
        ("9002", {"signOut": {"opter_no": "001"}}, "input.signOut.sign_no: Field required"),
        ("5203", {"data": {"psn_no": "P1"}}, "input.data.setl_id: give setl_id or mdtrt_id"),
    ],
)
async def test_an_input_fault_is_answered_at_its_national_field_path(
    his: His, infno: str, input_: dict[str, Any], expected: str
) -> None:
    assert await his.refused(infno, input_) == ("INVALID_INPUT", expected)


async def test_a_fault_the_service_finds_is_named_by_its_national_path_not_the_services(his: His) -> None:
    person = await his.enrolled()
    registration = {"psn_no": person.psn_no, "insutype": "999", "begntime": "2026-03-02 09:30:00"}
    code, message = await his.refused("2201", {"data": registration})
    assert code == "INVALID_INPUT" and message.startswith("input.data.insutype: "), message
    visit = (await his.ok("2201", {"data": {**registration, "insutype": "310"}}))["data"]
    code, message = await his.refused(
        "2204", {"feedetail": [line(visit["mdtrt_id"], person.psn_no, "1", "A01", "1", "1.1234567", "1.12")]}
    )
    assert code == "INVALID_INPUT" and message.startswith("input.feedetail.0.pric: "), message


async def test_3201_compares_totals_within_the_clearing_class_it_names(his: His) -> None:
    person = await his.enrolled()
    other = {"key": "his2", "fixmedins_code": OTHER_HOSPITAL}
    outpatient = await _settled(his, person, "11", "1000.00", **other)
    inpatient = await _settled(his, person, "21", "2000.00", **other)

    def totals(clr_type: str, setlinfo: dict[str, Any]) -> dict[str, Any]:
        return {
            "data": {
                "insutype": "310",
                "clr_type": clr_type,
                "setl_optins": "420100",
                "stmt_begndate": "2026-03-01",
                "stmt_enddate": "2026-03-31",
                "medfee_sumamt": setlinfo["medfee_sumamt"],
                "fund_pay_sumamt": setlinfo["fund_pay_sumamt"],
                "acct_pay": setlinfo["acct_pay"],
                "fixmedins_setl_cnt": 1,
            }
        }

    for clr_type, setlinfo in (("11", outpatient), ("21", inpatient)):
        answer = await his.ok("3201", totals(clr_type, setlinfo), **other)
        assert (answer["data"]["stmt_rslt"], answer["data"]["stmt_rslt_dscr"]) == ("0", "平")
    mixed = await his.ok("3201", totals("", outpatient), **other)
    assert mixed["data"]["stmt_rslt"] == "1"
    code, message = await his.refused("3201", totals("99", outpatient), **other)
    assert code == "CLR_TYPE_UNKNOWN", message


async def test_a_visit_of_another_institution_is_not_reached_through_the_interface(his: His) -> None:
    person = await his.enrolled()
    visit = (
        await his.ok(
            "2201", {"data": {"psn_no": person.psn_no, "insutype": "310", "begntime": "2026-03-02 09:30:00"}}
        )
    )["data"]
    key = {"mdtrt_id": visit["mdtrt_id"], "psn_no": person.psn_no}
    for infno, input_ in (
        ("2202", {"data": key}),
        ("2205", {"data": {**key, "chrg_bchno": "0000"}}),
        ("5204", {"data": key}),
        ("5203", {"data": key}),
    ):
        refusal = await his.refused(infno, input_, key="his2", fixmedins_code=OTHER_HOSPITAL)
        assert refusal == (
            "SCOPE_FORBIDDEN",
            f"This client may only act for institution {OTHER_HOSPITAL}, not H42010000001.",
        ), infno


async def test_2001_says_whether_the_fund_pays_for_care_begun_on_a_day(his: His) -> None:
    person = await his.enrolled()
    check = {"psn_no": person.psn_no, "insutype": "310", "med_type": "21", "begntime": "2026-03-02 10:00:00"}
    paid = await his.ok("2001", {"data": check})
    assert paid == {
        "trtinfo": [
            {
                "psn_no": person.psn_no,
                "insutype": "310",
                "fund_pay_type": "310100",
                "trt_enjymnt_flag": "1",
                "trt_chk_rslt": "可享受待遇",
                "begndate": "2025-01-01",
                "waiting_days": 0,
            }
        ]
    }
    before = await his.ok("2001", {"data": {**check, "begntime": "2024-12-31 10:00:00"}})
    assert (before["trtinfo"][0]["trt_enjymnt_flag"], before["trtinfo"][0]["trt_chk_rslt"]) == (
        "0",
        "NO_COVERAGE",
    )


async def test_2403_changes_an_open_stays_diagnosis_and_refuses_a_message_that_changes_nothing(
    his: His,
) -> None:
    person = await his.enrolled()
    stay = (
        await his.ok(
            "2401",
            {
                "mdtrtinfo": {
                    "psn_no": person.psn_no,
                    "insutype": "310",
                    "begntime": "2026-03-01 09:30:00",
                    "dise_codg": "J18.900",
                    "dise_name": "肺炎",
                }
            },
        )
    )["data"]
    key = {"mdtrt_id": stay["mdtrt_id"], "psn_no": person.psn_no}
    changed = await his.ok(
        "2403",
        {
            "adminfo": key,
            "diseinfo": [{"diag_code": "J15.900", "diag_name": "细菌性肺炎", "maindiag_flag": "1"}],
        },
    )
    assert (changed["adminfo"]["dise_codg"], changed["adminfo"]["dise_name"]) == ("J15.900", "细菌性肺炎")
    code, message = await his.refused("2403", {"adminfo": {**key, "dise_codg": "J15.900"}})
    assert (code, message) == (
        "NOTHING_TO_CHANGE",
        f"The message changes nothing of visit {stay['mdtrt_id']}.",
    )
    code, message = await his.refused("2403", {"adminfo": {**key, "med_type": "11"}})
    assert code == "MED_TYPE_CHANGE_REFUSED", message
