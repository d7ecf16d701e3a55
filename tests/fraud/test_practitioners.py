"""Practitioners' payment qualification (记分): registry, points by calendar year, suspensions, reinstatement."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.errors import ProblemError
from common.events.contracts import Subject
from common.events.tables import outbox_event
from common.principal import Principal, Role
from common.testing.apps import app_client
from common.testing.databases import Databases
from fraud.app import create_app
from fraud.domain.practitioners import (
    SUSPENDED,
    TERMINATED,
    PointsScale,
    SuspensionStart,
    add_months,
    band,
    suspension_after,
    type_of_code,
)
from fraud.models import Practitioner, PractitionerPoints, PractitionerSuspension
from fraud.service.practitioners import record_points
from fraud.uow import FraudUnitOfWork
from tests.fraud.conftest import fraud_settings
from tests.fraud.test_findings_api import city
from tests.settlement.conftest import as_client

DR, DR2, PHAR = "D420100000001", "D420100000002", "Y420100000003"
SCALE = PointsScale()


# --- the scale, with literals ---------------------------------------------------------------------------


def test_eleven_points_start_nothing_when_the_scale_suspends_only_at_twelve() -> None:
    only_twelve = PointsScale(suspend_at=12)
    assert (
        suspension_after(year_points_before=6, points=5, on_date=date(2026, 3, 2), scale=only_twelve) is None
    )
    assert suspension_after(
        year_points_before=11, points=1, on_date=date(2026, 3, 2), scale=only_twelve
    ) == SuspensionStart(TERMINATED, date(2026, 3, 2), date(2027, 3, 1), 12)


def test_nine_points_suspend_for_a_month_and_twelve_terminate_for_a_year_or_three_at_once() -> None:
    assert suspension_after(year_points_before=5, points=3, on_date=date(2026, 3, 10), scale=SCALE) is None
    assert suspension_after(
        year_points_before=6, points=3, on_date=date(2026, 3, 10), scale=SCALE
    ) == SuspensionStart(SUSPENDED, date(2026, 3, 10), date(2026, 4, 9), 9)
    # Already past 9: the next entry starts nothing until 12.
    assert suspension_after(year_points_before=9, points=2, on_date=date(2026, 5, 1), scale=SCALE) is None
    assert suspension_after(
        year_points_before=10, points=4, on_date=date(2026, 5, 1), scale=SCALE
    ) == SuspensionStart(TERMINATED, date(2026, 5, 1), date(2027, 4, 30), 14)
    assert suspension_after(
        year_points_before=0, points=12, on_date=date(2026, 5, 1), scale=SCALE
    ) == SuspensionStart(TERMINATED, date(2026, 5, 1), date(2029, 4, 30), 12)


def test_months_are_added_to_the_same_day_or_the_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
    assert [band(p) for p in (1, 3, 4, 6, 7, 9, 10, 12)] == [
        "minor",
        "minor",
        "general",
        "general",
        "serious",
        "serious",
        "grave",
        "grave",
    ]
    assert (type_of_code(DR), type_of_code("HY420100000001"), type_of_code("X420100000001")) == (
        ("doctor",),
        ("pharmacist",),
        None,
    )
    with pytest.raises(ValueError):
        PointsScale(suspend_at=10, terminate_at=9)


# --- over HTTP --------------------------------------------------------------------------------------------


async def register(
    api: httpx.AsyncClient, code: str = DR, kind: str = "doctor", at: str = "H1"
) -> httpx.Response:
    return await api.post("/practitioners", json={"prac_codg": code, "prac_type": kind, "fixmedins_code": at})


async def points(api: httpx.AsyncClient, code: str, value: int, **extra: Any) -> httpx.Response:
    return await api.post(f"/practitioners/{code}/points", json={"points": value, "reason": "违规", **extra})


async def events(app: FastAPI, kind: str) -> list[dict[str, Any]]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (
            await session.execute(
                sa.select(outbox_event.c.type, outbox_event.c.payload).order_by(outbox_event.c.seq)
            )
        ).all()
    return [json.loads(payload)["data"] for type_, payload in rows if type_ == kind]


async def count(app: FastAPI, model: type[Any]) -> int:
    async with app.state.db.transaction(readonly=True) as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


@pytest.fixture
async def only_twelve(databases: Databases, nats_url: str, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    app = create_app(fraud_settings(databases, nats_url, practitioner_suspend_at=12), clock=clock)
    async with app_client(app):
        yield app


async def test_at_eleven_points_nothing_happens_and_at_twelve_the_practitioner_is_terminated_for_a_year(
    only_twelve: FastAPI,
) -> None:
    async with as_client(only_twelve, Principal("ops-1", Role.OPS)) as api:
        assert (await register(api)).status_code == 201
        first = await points(api, DR, 6, on_date="2026-01-15")
        eleven = await points(api, DR, 5, on_date="2026-02-01")
        assert (first.status_code, eleven.status_code) == (201, 201)
        assert (eleven.json()["year_points"], eleven.json()["suspension"]) == (11, None)
        assert (await api.get(f"/practitioners/{DR}")).json()["status"] == "active"
        twelve = await points(api, DR, 1, on_date="2026-03-02")
        assert twelve.status_code == 201
        assert twelve.json()["year_points"] == 12
        suspension = twelve.json()["suspension"]
        assert (
            suspension["level"],
            suspension["suspended_from"],
            suspension["suspended_until"],
            suspension["points"],
        ) == ("terminated", "2026-03-02", "2027-03-01", 12)
        detail = (await api.get(f"/practitioners/{DR}")).json()
        assert (detail["status"], detail["year"], detail["year_points"]) == ("terminated", 2026, 12)
        assert [e["points"] for e in detail["entries"]] == [1, 5, 6]
        assert [e["band"] for e in detail["entries"]] == ["minor", "general", "general"]
    pointed = await events(only_twelve, Subject.PRACTITIONER_POINTED)
    assert [(e["points"], e["year_points"], e["fixmedins_code"]) for e in pointed] == [
        (6, 6, "H1"),
        (5, 11, "H1"),
        (1, 12, "H1"),
    ]
    assert await events(only_twelve, Subject.PRACTITIONER_SUSPENDED) == [
        {
            "suspension_id": str(suspension["suspension_id"]),
            "prac_codg": DR,
            "prac_type": "doctor",
            "fixmedins_code": "H1",
            "points": 12,
            "level": "terminated",
            "suspended_from": "2026-03-02",
            "suspended_until": "2027-03-01",
        }
    ]


async def test_nine_points_suspend_by_the_default_scale_and_last_years_points_do_not_count(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await register(api)
    await register(api, DR2)
    # 8 points last year, 4 this year: 4 this year, nothing starts.
    await points(api, DR2, 8, on_date="2025-12-31")
    this_year = await points(api, DR2, 4, on_date="2026-01-02")
    assert (this_year.json()["year_points"], this_year.json()["suspension"]) == (4, None)
    assert (await api.get(f"/practitioners/{DR2}?year=2025")).json()["year_points"] == 8
    assert (await api.get(f"/practitioners/{DR2}")).json()["status"] == "active"
    eight = await points(api, DR, 8, on_date="2026-02-20")
    nine = await points(api, DR, 1, on_date="2026-03-02")
    assert eight.json()["suspension"] is None
    suspension = nine.json()["suspension"]
    assert (suspension["level"], suspension["suspended_from"], suspension["suspended_until"]) == (
        "suspended",
        "2026-03-02",
        "2026-04-01",
    )
    assert (await api.get(f"/practitioners/{DR}")).json()["status"] == "suspended"
    assert [e["prac_codg"] for e in await events(fraud_app, Subject.PRACTITIONER_SUSPENDED)] == [DR]
    listed = (await api.get("/practitioners?status=suspended")).json()["items"]
    assert [p["prac_codg"] for p in listed] == [DR]


async def test_the_sweep_reinstates_once_after_the_last_day_and_never_ahead_of_today(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await register(api)
    await points(api, DR, 9, on_date="2026-03-02")  # suspended 2026-03-02 .. 2026-04-01
    clock.set(datetime(2026, 4, 1, 4, tzinfo=UTC))
    assert (await api.post("/practitioners/reinstatements", json={})).json() == {
        "as_of": "2026-04-01",
        "reinstated": [],
    }
    clock.set(datetime(2026, 4, 2, 4, tzinfo=UTC))
    ahead = await api.post("/practitioners/reinstatements", json={"as_of": "2026-04-03"})
    assert (ahead.status_code, ahead.json()["code"]) == (422, "REINSTATEMENT_DATE_IN_FUTURE")
    swept = (await api.post("/practitioners/reinstatements", json={})).json()
    assert [(s["prac_codg"], s["reinstated_on"]) for s in swept["reinstated"]] == [(DR, "2026-04-02")]
    assert (await api.post("/practitioners/reinstatements", json={})).json()["reinstated"] == []
    assert (await api.get(f"/practitioners/{DR}")).json()["status"] == "active"
    reinstated = await events(fraud_app, Subject.PRACTITIONER_REINSTATED)
    assert [(e["prac_codg"], e["level"], e["suspended_until"], e["reinstated_on"]) for e in reinstated] == [
        (DR, "suspended", "2026-04-01", "2026-04-02")
    ]


async def test_a_confirmed_finding_gives_a_practitioner_its_points_once(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await city(fraud_app)  # finding 1 (H1, fraud), finding 2 (H2, assistance)
    await api.post("/findings/1/confirm", json={"amount_to_recover": "100.00", "note": "核实"})
    await register(api)
    first = await points(api, DR, 3, source="finding", source_id="1")
    again = await points(api, DR, 3, source="finding", source_id="1")
    other = await points(api, DR, 4, source="finding", source_id="1")
    open_one = await points(api, DR, 3, source="finding", source_id="2")
    missing = await points(api, DR, 3, source="finding", source_id="99")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert [(r.status_code, r.json()["code"]) for r in (other, open_one, missing)] == [
        (409, "POINTS_ALREADY_RECORDED"),
        (409, "FINDING_NOT_CONFIRMED"),
        (404, "FINDING_NOT_FOUND"),
    ]
    assert await count(fraud_app, PractitionerPoints) == 1
    assert len(await events(fraud_app, Subject.PRACTITIONER_POINTED)) == 1


async def test_bad_points_and_registrations_are_refused_with_their_codes_and_write_nothing(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    his = as_client(fraud_app, Principal("his-h1", Role.HIS, scope="H1"))
    pos = as_client(fraud_app, Principal("pos-p2", Role.POS, scope="P2"))
    refused = [
        await register(his, DR, at="H2"),  # another institution's key
        await register(api, "D42010000001"),  # 12 characters
        await register(api, "X420100000001"),
        await register(api, PHAR, "doctor"),
        await points(api, DR, 3),  # not registered
    ]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [
        (403, "SCOPE_FORBIDDEN"),
        (422, "VALIDATION_ERROR"),
        (422, "VALIDATION_ERROR"),
        (422, "PRACTITIONER_TYPE_MISMATCH"),
        (404, "PRACTITIONER_NOT_FOUND"),
    ]
    assert (await register(his, DR, at="H1")).status_code == 201
    assert (await register(his, DR, at="H1")).status_code == 200
    assert (await register(pos, PHAR, "pharmacist", at="P2")).status_code == 201
    takeover = await register(pos, DR, at="P2")
    assert (takeover.status_code, takeover.json()["code"]) == (409, "PRACTITIONER_CONFLICT")
    bad_points = [
        await points(api, DR, 0),
        await points(api, DR, 13),
        await points(api, DR, 3, on_date="2026-03-03"),  # tomorrow
        await points(his, DR, 3),  # institutions do not give points
        await points(api, DR, 3, source="case", source_id="1"),  # cases give points by their decision
    ]
    assert [(r.status_code, r.json()["code"]) for r in bad_points] == [
        (422, "VALIDATION_ERROR"),
        (422, "VALIDATION_ERROR"),
        (422, "POINTS_DATE_IN_FUTURE"),
        (403, "ROLE_FORBIDDEN"),
        (422, "VALIDATION_ERROR"),
    ]
    assert (await count(fraud_app, PractitionerPoints), await count(fraud_app, PractitionerSuspension)) == (
        0,
        0,
    )
    assert await events(fraud_app, Subject.PRACTITIONER_POINTED) == []
    # An institution sees only its own practitioners.
    assert [p["prac_codg"] for p in (await his.get("/practitioners")).json()["items"]] == [DR]
    assert (await his.get("/practitioners?fixmedins_code=P2")).status_code == 403
    assert (await his.get(f"/practitioners/{PHAR}")).status_code == 403
    assert [p["prac_codg"] for p in (await api.get("/practitioners")).json()["items"]] == [PHAR, DR]
    assert await count(fraud_app, Practitioner) == 2


async def test_a_case_decision_records_points_through_the_service_once_per_case(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await register(api)

    async def decide(value: int) -> Any:
        async with FraudUnitOfWork(fraud_app.state.db) as uow:
            return await record_points(
                uow=uow,
                prac_codg=DR,
                points=value,
                reason="案件处理决定",
                source="case",
                source_id="C-7",
                on_date=date(2026, 3, 2),
                by="ops-1",
                clock=clock,
            )

    first = await decide(12)
    again = await decide(12)
    assert (first.year_points, first.suspension.level, first.suspension.suspended_until) == (
        12,
        "terminated",
        date(2029, 3, 1),  # 12 points at once: 3 years
    )
    assert (again.replayed, again.entry.entry_id, again.suspension.suspension_id) == (
        True,
        first.entry.entry_id,
        first.suspension.suspension_id,
    )
    with pytest.raises(ProblemError) as refused:
        async with FraudUnitOfWork(fraud_app.state.db) as uow:
            await record_points(
                uow=uow,
                prac_codg="D420100009999",
                points=3,
                reason="x",
                source="case",
                source_id="C-8",
                on_date=date(2026, 3, 2),
                by="ops-1",
                clock=clock,
            )
    assert refused.value.code == "PRACTITIONER_NOT_FOUND"
    assert len(await events(fraud_app, Subject.PRACTITIONER_SUSPENDED)) == 1
