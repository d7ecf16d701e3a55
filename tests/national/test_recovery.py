"""Conformance: a HIS that lost an answer recovers through the interface (2207 again, 5203, 2601 冲正)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gateway.models import NationalMessage
from tests.national.his import His, Person, failure
from tests.national.test_flows import line

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _registered(his: His, person: Person, msgid: str | None = None) -> str:
    registered = await his.ok(
        "2201",
        {"data": {"psn_no": person.psn_no, "insutype": "310", "begntime": "2026-03-02 09:30:00"}},
        msgid=msgid,
    )
    mdtrt_id: str = registered["data"]["mdtrt_id"]
    return mdtrt_id


async def _uploaded(his: His, person: Person, mdtrt_id: str) -> None:
    await his.ok("2204", {"feedetail": [line(mdtrt_id, person.psn_no, "1", "A01", "2", "500", "1000.00")]})


def _settle(person: Person, mdtrt_id: str, **more: str) -> dict[str, dict[str, str]]:
    return {"data": {"psn_no": person.psn_no, "mdtrt_id": mdtrt_id, "acct_used_flag": "1", **more}}


async def test_a_lost_settlement_answer_is_recovered_by_5203_and_undone_by_2601(his: His) -> None:
    person = await his.enrolled()
    mdtrt_id = await _registered(his, person)
    await _uploaded(his, person, mdtrt_id)
    lost = his.envelope(
        "2207", _settle(person, mdtrt_id), fixmedins_code="H42010000001", msgid="H42010000001LOST0001"
    )
    first = await his.post(lost)
    setl_id = first["output"]["setlinfo"]["setl_id"]
    # The HIS never saw that answer. Sent again under a new msgid, the visit names its settlement:
    code, message = failure(await his.call("2207", _settle(person, mdtrt_id)))
    assert code == "VISIT_SETTLED" and setl_id in message, message
    # ... and under the same msgid, the original answer comes back as it was.
    assert await his.post(lost) == first
    found = await his.ok("5203", {"data": {"psn_no": person.psn_no, "mdtrt_id": mdtrt_id}})
    assert found["setlinfo"] | {"setl_stas": None, "reversal_setl_id": None} == first["output"][
        "setlinfo"
    ] | {
        "setl_stas": None,
        "reversal_setl_id": None,
    }
    assert found["setlinfo"]["setl_stas"] == "settled"

    undone = await his.ok(
        "2601", {"data": {"psn_no": person.psn_no, "omsgid": lost["msgid"], "oinfno": "2207"}}
    )
    reversal_setl_id = undone["data"]["reversal_setl_id"]
    assert undone["data"] == {
        "omsgid": lost["msgid"],
        "oinfno": "2207",
        "undone": True,
        "result": "reversed",
        "setl_id": setl_id,
        "reversal_setl_id": reversal_setl_id,
    }
    again = await his.ok(
        "2601", {"data": {"psn_no": person.psn_no, "omsgid": lost["msgid"], "oinfno": "2207"}}
    )
    assert again["data"] | {"result": "-"} == undone["data"] | {"result": "-"}
    assert again["data"]["result"] == "already reversed"
    after = await his.ok("5203", {"data": {"psn_no": person.psn_no, "setl_id": setl_id}})
    assert (after["setlinfo"]["setl_stas"], after["setlinfo"]["reversal_setl_id"]) == (
        "reversed",
        reversal_setl_id,
    )
    account = await his.client.get(
        f"/settlement/accounts/{person.psn_no}", headers={"Authorization": f"Bearer {his.keys['ops']}"}
    )
    assert account.json()["balc"] == "160.00"


async def test_2601_finds_a_settlement_whose_answer_was_never_stored_by_its_msgid(his: His) -> None:
    person = await his.enrolled()
    mdtrt_id = await _registered(his, person)
    await _uploaded(his, person, mdtrt_id)
    settled = await his.ok("2207", _settle(person, mdtrt_id), msgid="H42010000001CRASH001")
    # As if the gateway had failed between the settlement and storing its answer.
    async with his.gateway_db.transaction() as session:
        await session.execute(
            sa.delete(NationalMessage).where(NationalMessage.msgid == "H42010000001CRASH001")
        )
    undone = await his.ok(
        "2601", {"data": {"psn_no": person.psn_no, "omsgid": "H42010000001CRASH001", "oinfno": "2207"}}
    )
    assert (undone["data"]["undone"], undone["data"]["setl_id"]) == (True, settled["setlinfo"]["setl_id"])


async def test_2601_withdraws_an_upload_cancels_a_registration_and_undoes_a_discharge(his: His) -> None:
    person = await his.enrolled()
    registration = f"H42010000001REG{person.psn_no[-6:]}"
    mdtrt_id = await _registered(his, person, registration)
    upload = his.envelope(
        "2204",
        {"feedetail": [line(mdtrt_id, person.psn_no, "7", "A01", "1", "10", "10.00")]},
        fixmedins_code="H42010000001",
        msgid=f"H42010000001UPL{person.psn_no[-6:]}",
    )
    await his.post(upload)
    withdrawn = await his.ok(
        "2601", {"data": {"psn_no": person.psn_no, "omsgid": upload["msgid"], "oinfno": "2204"}}
    )
    assert withdrawn["data"] | {"omsgid": "-"} == {
        "omsgid": "-",
        "oinfno": "2204",
        "undone": True,
        "result": "lines withdrawn",
        "mdtrt_id": mdtrt_id,
        "withdrawn": ["7"],
    }
    twice = await his.ok(
        "2601", {"data": {"psn_no": person.psn_no, "omsgid": upload["msgid"], "oinfno": "2204"}}
    )
    assert (twice["data"]["result"], twice["data"]["withdrawn"]) == ("already withdrawn", [])

    cancelled = await his.ok(
        "2601", {"data": {"psn_no": person.psn_no, "omsgid": registration, "oinfno": "2201"}}
    )
    assert (cancelled["data"]["result"], cancelled["data"]["status"]) == ("visit cancelled", "cancelled")


async def test_2601_says_when_there_is_nothing_to_undo_and_refuses_what_it_cannot(his: His) -> None:
    person = await his.enrolled()
    nothing = await his.ok(
        "2601", {"data": {"psn_no": person.psn_no, "omsgid": "NEVER-SENT-0001", "oinfno": "2207"}}
    )
    assert (nothing["data"]["undone"], nothing["data"]["result"]) == (
        False,
        "no settlement was made by this message: nothing to undo",
    )
    looked_up = his.envelope(
        "1101",
        {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": person.certno}},
        fixmedins_code="H42010000001",
        msgid="H42010000001LOOK0001",
    )
    await his.post(looked_up)
    code, _ = await his.refused(
        "2601", {"data": {"psn_no": person.psn_no, "omsgid": "H42010000001LOOK0001", "oinfno": "1101"}}
    )
    assert code == "NOT_REVERSIBLE"
    code, message = await his.refused(
        "2601", {"data": {"psn_no": person.psn_no, "omsgid": "H42010000001LOOK0001", "oinfno": "2207"}}
    )
    assert code == "OINFNO_MISMATCH", message
    code, message = await his.refused(
        "2601", {"data": {"psn_no": person.psn_no, "omsgid": "", "oinfno": "2207"}}
    )
    assert (code, message) == ("INVALID_INPUT", "input.data.omsgid: Field required")
