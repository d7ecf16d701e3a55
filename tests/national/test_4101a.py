"""Conformance: 4101A 医保结算清单信息上传, the settlement list a points case is grouped by, as HIS clients send it
(lists beside `setlinfo` or inside it, flags as strings or numbers), and each refusal writing nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.national.his import OTHER_HOSPITAL, His, Person, as_strings, bearer, input_as_string
from tests.national.test_flows import line

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _settled_stay(his: His, person: Person, **call: Any) -> dict[str, Any]:
    """An inpatient stay (21) with one line, discharged and settled (2401, 2301, 2402, 2304)."""
    admitted = await his.ok(
        "2401",
        {
            "mdtrtinfo": {
                "psn_no": person.psn_no,
                "insutype": "310",
                "med_type": "21",
                "begntime": "2026-02-27 09:30:00",
                "dise_codg": "K80.100",
                "dise_name": "胆囊结石伴胆囊炎",
            }
        },
        **call,
    )
    mdtrt_id = admitted["data"]["mdtrt_id"]
    await his.ok(
        "2301",
        {
            "feedetail": [
                line(
                    mdtrt_id,
                    person.psn_no,
                    "1",
                    "A01",
                    "1",
                    "1000",
                    "1000.00",
                    fee_ocur_time="2026-02-27 10:00:00",
                )
            ]
        },
        **call,
    )
    await his.ok(
        "2402",
        {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": person.psn_no, "endtime": "2026-03-01 09:00:00"}},
        **call,
    )
    settled = await his.ok(
        "2304", {"data": {"psn_no": person.psn_no, "mdtrt_id": mdtrt_id, "acct_used_flag": "0"}}, **call
    )
    setlinfo: dict[str, Any] = settled["setlinfo"]
    return setlinfo


def _setlinfo(setlinfo: dict[str, Any]) -> dict[str, str]:
    """setlinfo as a HIS fills it: the keys we read and some of the many 结算清单 fields we ignore."""
    return {
        "setl_id": setlinfo["setl_id"],
        "mdtrt_id": setlinfo["mdtrt_id"],
        "psn_no": setlinfo["psn_no"],
        "fixmedins_code": setlinfo["fixmedins_code"],
        "medcasno": "BA0001",
        "ipt_med_type": "1",
        "adm_time": "2026-02-27 09:30:00",
        "dscg_time": "2026-03-01 09:00:00",
        "hi_paymtd": "",
        "bld_cat": "",
    }


def _diseinfo(*rows: tuple[str, str, Any]) -> list[dict[str, Any]]:
    return [
        {"diag_type": "1", "diag_code": code, "diag_name": name, "maindiag_flag": main, "adm_cond_type": ""}
        for code, name, main in rows
    ]


def _oprninfo(*rows: tuple[str, str, Any, str]) -> list[dict[str, Any]]:
    return [
        {
            "oprn_oprt_type": "1",
            "oprn_oprt_code": code,
            "oprn_oprt_name": name,
            "main_oprn_flag": main,
            "oprn_oprt_date": when,
            "anst_way": "01",
            "oper_dr_name": "李医生",
            "oper_dr_code": "D001",
            "anst_dr_name": "赵医生",
        }
        for code, name, main, when in rows
    ]


MAIN = ("K80.100", "胆囊结石伴胆囊炎", "1")
SECONDARY = ("E11.900", "2型糖尿病", "0")
OPERATION = ("51.2300", "腹腔镜胆囊切除术", "1", "2026-02-28 14:00:00")


async def _read_back(his: His, setl_id: str, key: str = "his") -> dict[str, Any]:
    """GET the list through the gateway's REST proxy, as the institution itself."""
    response = await his.client.get(
        f"/settlement/settlements/{setl_id}/settlement-list", headers=bearer(his.keys[key])
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_list_uploaded_by_4101a_is_read_back_and_a_resend_replaces_it(his: His) -> None:
    person = await his.enrolled()
    setlinfo = await _settled_stay(his, person)
    setl_id = setlinfo["setl_id"]
    uploaded = await his.ok(
        "4101A",
        {
            "setlinfo": _setlinfo(setlinfo),
            "diseinfo": _diseinfo(MAIN, SECONDARY),
            "oprninfo": _oprninfo(OPERATION),
            "icuinfo": [],
        },
    )
    assert uploaded == {"setl_list_id": setl_id, "revision": 1, "replaced": False}
    stored = await _read_back(his, setl_id)
    assert stored["diagnoses"] == [
        {"dise_codg": "K80.100", "dise_name": "胆囊结石伴胆囊炎", "main": True},
        {"dise_codg": "E11.900", "dise_name": "2型糖尿病", "main": False},
    ]
    assert stored["procedures"] == [
        {"oprn_codg": "51.2300", "oprn_name": "腹腔镜胆囊切除术", "main": True, "oprn_date": "2026-02-28"}
    ]
    assert stored["revision"] == 1

    # Sent again (a new msgid) with the coder's correction: the list is replaced, not added to.
    resent = await his.ok(
        "4101A",
        {"setlinfo": _setlinfo(setlinfo), "diseinfo": _diseinfo(MAIN), "oprninfo": []},
    )
    assert resent == {"setl_list_id": setl_id, "revision": 2, "replaced": True}
    stored = await _read_back(his, setl_id)
    assert (stored["revision"], stored["diagnoses"], stored["procedures"]) == (
        2,
        [{"dise_codg": "K80.100", "dise_name": "胆囊结石伴胆囊炎", "main": True}],
        [],
    )


async def test_the_lists_may_come_inside_setlinfo_with_flags_as_numbers_and_input_as_a_string(
    his: His,
) -> None:
    person = await his.enrolled()
    setlinfo = await _settled_stay(his, person)
    setl_id = setlinfo["setl_id"]
    # A HIS that nests the lists in setlinfo and types the flags as integers (maindiag_flag 1).
    nested = {
        "setlinfo": {
            **_setlinfo(setlinfo),
            "diseinfo": _diseinfo(("K80.100", "胆囊结石伴胆囊炎", 1), ("E11.900", "2型糖尿病", 0)),
            "oprninfo": _oprninfo(
                ("51.2300", "腹腔镜胆囊切除术", 1, "2026-02-28 14:00:00"),
                ("88.0100", "腹部CT", 0, "2026-02-27"),
            ),
        }
    }
    assert await his.ok("4101A", nested) == {"setl_list_id": setl_id, "revision": 1, "replaced": False}
    stored = await _read_back(his, setl_id)
    assert [(row["dise_codg"], row["main"]) for row in stored["diagnoses"]] == [
        ("K80.100", True),
        ("E11.900", False),
    ]
    assert [(row["oprn_codg"], row["main"], row["oprn_date"]) for row in stored["procedures"]] == [
        ("51.2300", True, "2026-02-28"),
        ("88.0100", False, "2026-02-27"),
    ]
    # The same, at the top level of an `input` serialised into a string.
    his.shape = input_as_string
    try:
        again = await his.ok(
            "4101A",
            {
                "setlinfo": _setlinfo(setlinfo),
                "diseinfo": _diseinfo(MAIN),
                "oprninfo": _oprninfo(OPERATION),
            },
        )
    finally:
        his.shape = as_strings
    assert again == {"setl_list_id": setl_id, "revision": 2, "replaced": True}


async def test_a_list_is_refused_for_an_unknown_or_foreign_settlement_and_without_a_main_diagnosis(
    his: His,
) -> None:
    person = await his.enrolled()
    setlinfo = await _settled_stay(his, person)
    unknown = {**_setlinfo(setlinfo), "setl_id": "S-NO-SUCH-SETTLEMENT"}
    code, _ = await his.refused("4101A", {"setlinfo": unknown, "diseinfo": _diseinfo(MAIN)})
    assert code == "SETTLEMENT_NOT_FOUND"

    other = await his.enrolled(name="赵六")
    foreign = await _settled_stay(his, other, key="his2", fixmedins_code=OTHER_HOSPITAL)
    code, _ = await his.refused("4101A", {"setlinfo": _setlinfo(foreign), "diseinfo": _diseinfo(MAIN)})
    assert code == "SCOPE_FORBIDDEN"

    code, message = await his.refused(
        "4101A", {"setlinfo": _setlinfo(setlinfo), "diseinfo": _diseinfo(SECONDARY)}
    )
    assert code == "MAIN_DIAGNOSIS_REQUIRED", message
    code, message = await his.refused(
        "4101A",
        {
            "setlinfo": _setlinfo(setlinfo),
            "diseinfo": _diseinfo(MAIN),
            "oprninfo": _oprninfo(("51.2300", "腹腔镜胆囊切除术", "0", "2026-02-28 14:00:00")),
        },
    )
    assert code == "MAIN_PROCEDURE_REQUIRED", message
    code, message = await his.refused(
        "4101A",
        {"setlinfo": _setlinfo(setlinfo), "diseinfo": [{"diag_type": "1", "diag_name": "胆囊结石伴胆囊炎"}]},
    )
    assert (code, message) == ("INVALID_INPUT", "input.diseinfo.0.diag_code: Field required")
    # A code settlement cannot read is named by its field in the national message, wherever the list was.
    code, message = await his.refused(
        "4101A",
        {
            "setlinfo": {
                **_setlinfo(setlinfo),
                "diseinfo": _diseinfo(MAIN),
                "oprninfo": _oprninfo(("51 2300", "腹腔镜胆囊切除术", "1", "2026-02-28 14:00:00")),
            }
        },
    )
    assert code == "INVALID_INPUT" and message.startswith("input.setlinfo.oprninfo.0.oprn_oprt_code: "), (
        message
    )
    code, message = await his.refused("4101A", {"setlinfo": _setlinfo(setlinfo)})
    assert (code, message) == ("INVALID_INPUT", "input.diseinfo: the node is required")
    code, message = await his.refused(
        "4101A", {"setlinfo": {**_setlinfo(setlinfo), "mdtrt_id": "M-ANOTHER"}, "diseinfo": _diseinfo(MAIN)}
    )
    assert code == "MDTRT_ID_MISMATCH", message
    # Nothing was stored by any of them.
    response = await his.client.get(
        f"/settlement/settlements/{setlinfo['setl_id']}/settlement-list", headers=bearer(his.keys["his"])
    )
    assert response.status_code == 404, response.text


async def test_a_reversed_settlement_takes_no_list(his: His) -> None:
    person = await his.enrolled()
    setlinfo = await _settled_stay(his, person)
    await his.ok(
        "2305",
        {"data": {"setl_id": setlinfo["setl_id"], "mdtrt_id": setlinfo["mdtrt_id"], "psn_no": person.psn_no}},
    )
    code, message = await his.refused("4101A", {"setlinfo": _setlinfo(setlinfo), "diseinfo": _diseinfo(MAIN)})
    assert code == "SETTLEMENT_REVERSED", message
