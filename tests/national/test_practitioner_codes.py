"""The national 2204 fee lines carry the ordering doctor (bilg_dr_codg) and the pharmacist (phar_code): a
national code is kept with the line and checked against suspensions at 2207; a local staff number (allowed
before a region's codes are standardised) and every name are not passed on."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from common.events.contracts import Subject
from common.events.envelope import new_event
from common.events.fraud import PractitionerSuspended
from settlement.events import on_practitioner_event
from settlement.models import FeeDetail
from tests.national.his import HOSPITAL, His
from tests.national.test_flows import line

pytestmark = pytest.mark.asyncio(loop_scope="module")

DR, PHAR = "D420100000077", "Y420100000078"


async def test_a_suspended_doctors_2204_line_is_kept_and_its_2207_settlement_refused(his: His) -> None:
    person = await his.enrolled()
    registration = {
        "psn_no": person.psn_no,
        "insutype": "310",
        "begntime": "2026-03-02 09:30:00",
        "med_type": "11",
    }
    mdtrt_id = (await his.ok("2201", {"data": registration}))["data"]["mdtrt_id"]
    await his.ok(
        "2204",
        {
            "feedetail": [
                line(
                    mdtrt_id, person.psn_no, "1", "A01", "1", "10", "10.00", bilg_dr_codg=DR, phar_code=PHAR
                ),
                line(mdtrt_id, person.psn_no, "2", "A01", "1", "10", "10.00"),  # a local "D001"
            ]
        },
    )
    async with his.settlement_db.transaction(readonly=True) as session:
        rows = (
            await session.execute(
                sa.select(FeeDetail.feedetl_sn, FeeDetail.bilg_dr_codg, FeeDetail.phar_prac_codg)
                .where(FeeDetail.mdtrt_id == mdtrt_id)
                .order_by(FeeDetail.feedetl_sn)
            )
        ).all()
    assert [tuple(row) for row in rows] == [("1", DR, PHAR), ("2", None, None)]
    suspension = PractitionerSuspended(
        suspension_id="N-1",
        prac_codg=DR,
        prac_type="doctor",
        fixmedins_code=HOSPITAL,
        points=9,
        level="suspended",
        suspended_from=date(2026, 3, 1),
        suspended_until=date(2026, 3, 31),
    )
    event = new_event(
        type=Subject.PRACTITIONER_SUSPENDED,
        source="fraud",
        subject=DR,
        data=suspension.model_dump(mode="json"),
        clock=his.clock,
    )
    async with his.settlement_db.transaction() as session:
        await on_practitioner_event(session, event, clock=his.clock)
    code, message = await his.refused(
        "2207", {"data": {"psn_no": person.psn_no, "mdtrt_id": mdtrt_id, "acct_used_flag": "0"}}
    )
    assert code == "PRACTITIONER_SUSPENDED", message
    assert "Line 1" in message and DR in message
