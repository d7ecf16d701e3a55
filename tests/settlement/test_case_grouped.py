"""What settlement tells fraud for its institution-level rules: a points case's group and severity
(settlement.case.grouped, each time its 医保结算清单 is uploaded) and the person's assistance category on
settlement.settled."""

from __future__ import annotations

import json
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.settlement import CaseGrouped, SettlementSettled
from common.events.tables import outbox_event
from tests.settlement.conftest import at_shanghai
from tests.settlement.seed import seed_catalog, seed_institution, seed_person
from tests.settlement.test_points import YEAR, admission, put, settlement_list


async def sent(app: FastAPI, kind: str) -> list[dict[str, Any]]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (
            await session.execute(
                sa.select(outbox_event.c.type, outbox_event.c.payload).order_by(outbox_event.c.seq)
            )
        ).all()
    return [json.loads(payload)["data"] for type_, payload in rows if type_ == kind]


def coded(secondary: str | None) -> dict[str, Any]:
    listed = settlement_list("K80.100", "51.2300")
    if secondary:
        listed["diagnoses"].append({"dise_codg": secondary, "main": False})
    return listed


async def test_uploading_a_list_sends_the_cases_group_and_severity_and_a_replacement_its_revision(
    settlement_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    db = settlement_app.state.db
    await seed_catalog(db, "A01", "01")
    await seed_institution(db, "H1", hosp_lv=3)
    await seed_institution(db, "H3", hosp_lv=2)
    await seed_person(db, "P1", coverage_id=1, assistance="minimum_living")
    await seed_person(db, "P2", coverage_id=2)
    clock.set(at_shanghai(YEAR, 12, 10, 9))
    await put(
        api,
        "/institutions/H1",
        {
            "fixmedins_name": "机构H1",
            "fixmedins_type": "hospital",
            "hosp_lv": 3,
            "admdvs": "420100",
            "status": "active",
            "points_payment": True,
        },
        200,
    )
    await put(api, f"/payment-years/{YEAR}/310", {"method": "drg", "budget": "100000.00"})
    for code, points_, cost in (("HC21", "150", "20000"), ("HC23", "120", "15000"), ("HC25", "100", "10000")):
        await put(
            api, f"/points/{YEAR}/groups/{code}", {"group_name": code, "points": points_, "avg_cost": cost}
        )
    await put(
        api,
        f"/points/{YEAR}/drg-adrgs/HC2",
        {"dise_prefixes": ["K80"], "oprn_codes": ["51.2300"], "priority": 1},
    )
    await put(api, f"/points/{YEAR}/drg-complications/J96", {"level": "mcc"})
    await put(api, f"/points/{YEAR}/drg-complications/E11", {"level": "cc"})
    ids = {}
    for key, code, psn_no in (("case", "H1", "P1"), ("other", "H3", "P2")):
        body = admission(key, code, psn_no, "10000.00", "K80.100") | {"insutype": "310"}
        response = await api.post("/settlements", json=body)
        assert response.status_code == 201, response.text
        ids[key] = response.json()["setlinfo"]["setl_id"]

    settled = await sent(settlement_app, Subject.SETTLED)
    assert [(data["setl_id"], data["assistance"]) for data in settled] == [
        (ids["case"], "minimum_living"),
        (ids["other"], None),
    ]
    for data in settled:
        assert data == SettlementSettled.model_validate(data).model_dump(mode="json")

    await put(api, f"/settlements/{ids['case']}/settlement-list", coded("J96.000"))
    await put(api, f"/settlements/{ids['case']}/settlement-list", coded("E11.900"), 200)
    await put(api, f"/settlements/{ids['other']}/settlement-list", coded("J96.000"))  # not paid by points
    grouped = await sent(settlement_app, Subject.CASE_GROUPED)
    assert [{k: v for k, v in data.items() if k != "grouped_at"} for data in grouped] == [
        {
            "setl_id": ids["case"],
            "fixmedins_code": "H1",
            "insutype": "310",
            "year": YEAR,
            "method": "drg",
            "group_code": "HC21",
            "group_name": "HC21",
            "severity": "mcc",
            "base_points": "150.0000",
            "points": "150.0000",
            "deviation": "normal",
            "medfee_sumamt": "10000.00",
            "revision": 1,
        },
        {
            "setl_id": ids["case"],
            "fixmedins_code": "H1",
            "insutype": "310",
            "year": YEAR,
            "method": "drg",
            "group_code": "HC23",
            "group_name": "HC23",
            "severity": "cc",
            "base_points": "120.0000",
            "points": "120.0000",
            "deviation": "normal",
            "medfee_sumamt": "10000.00",
            "revision": 2,
        },
    ]
    assert CaseGrouped.model_validate(grouped[1]).model_dump(mode="json") == grouped[1]
