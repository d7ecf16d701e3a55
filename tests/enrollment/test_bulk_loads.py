"""Bulk enrolment and contributions: each item under the rules of one call, refused items leave no trace."""

from __future__ import annotations

from datetime import date

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.events.tables import outbox_event
from common.principal import Principal, Role
from enrollment.models import Contribution, Coverage
from tests.enrollment.conftest import as_client, register

EMPLOYER = "91420100MA4K123456"
PAID = "2026-01-15T10:00:00+08:00"


async def _counts(app: FastAPI) -> tuple[int, int, int]:
    async with app.state.db.transaction(readonly=True) as session:
        return (
            await session.scalar(sa.select(sa.func.count()).select_from(Coverage)) or 0,
            await session.scalar(sa.select(sa.func.count()).select_from(Contribution)) or 0,
            await session.scalar(sa.select(sa.func.count()).select_from(outbox_event)) or 0,
        )


async def test_bulk_coverages_create_the_valid_items_and_refuse_the_rest_with_their_codes(
    api: httpx.AsyncClient, enrollment_app: FastAPI
) -> None:
    a = (await register(api, date(1980, 1, 1), seq=101))["psn_no"]
    b = (await register(api, date(1985, 5, 5), seq=102))["psn_no"]
    c = (await register(api, date(2000, 2, 2), seq=103))["psn_no"]
    _, _, events_before = await _counts(enrollment_app)
    body = {
        "coverages": [
            {"psn_no": a, "insutype": "310", "begndate": "2026-01-01", "emp_code": EMPLOYER},
            {"psn_no": "P-NOBODY", "insutype": "390", "begndate": "2026-01-01"},
            {"psn_no": b, "insutype": "310", "begndate": "2026-01-01"},  # no emp_code
            {"psn_no": c, "insutype": "390", "begndate": "2026-01-01", "enrolled_on": "2025-12-01"},
            {"psn_no": a, "insutype": "390", "begndate": "2026-01-01"},  # a is covered already
        ]
    }
    response = await api.post("/coverages:bulk", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert [(r["index"], r["psn_no"]) for r in result["created"]] == [(0, a), (3, c)]
    assert [(r["index"], r["code"]) for r in result["rejected"]] == [
        (1, "PERSON_NOT_FOUND"),
        (2, "EMP_CODE_REQUIRED"),
        (4, "DUPLICATE_COVERAGE"),
    ]
    # The same as one call would give: the resident enrolled in December waits no longer than one.
    single = (await api.get(f"/persons/{c}/coverages")).json()
    assert [(x["coverage_id"], x["insutype"], x["benefit_start_date"]) for x in single] == [
        (result["created"][1]["id"], "390", "2026-01-01")
    ]
    coverages, _, events_after = await _counts(enrollment_app)
    assert coverages == 2
    assert events_after - events_before == 2  # one coverage.changed per created item, none for a refused one


async def test_bulk_contributions_are_idempotent_per_period_like_one_call(
    api: httpx.AsyncClient, enrollment_app: FastAPI
) -> None:
    a = (await register(api, date(1980, 1, 1), seq=101))["psn_no"]
    b = (await register(api, date(1985, 5, 5), seq=102))["psn_no"]
    await api.post(
        "/coverages:bulk",
        json={
            "coverages": [
                {"psn_no": a, "insutype": "310", "begndate": "2026-01-01", "emp_code": EMPLOYER},
            ]
        },
    )
    items = [
        {"psn_no": a, "insutype": "310", "period": "2026-01", "amount": "800.03", "paid_at": PAID},
        {
            "psn_no": b,
            "insutype": "310",
            "period": "2026-01",
            "amount": "800.00",
            "paid_at": PAID,
        },  # no coverage
        {"psn_no": a, "insutype": "310", "period": "2026-02", "amount": "-1", "paid_at": PAID},
    ]
    first = await api.post("/contributions:bulk", json={"contributions": items})
    assert first.status_code == 200, first.text
    assert [r["index"] for r in first.json()["created"]] == [0]
    assert [(r["index"], r["code"]) for r in first.json()["rejected"]] == [
        (1, "NO_COVERAGE"),
        (2, "INVALID_AMOUNT"),
    ]
    again = await api.post(
        "/contributions:bulk",
        json={"contributions": [items[0], items[0] | {"amount": "900.00"}]},
    )
    assert again.json()["existing"] == [first.json()["created"][0]]
    assert [(r["index"], r["code"]) for r in again.json()["rejected"]] == [(1, "CONTRIBUTION_EXISTS")]
    listed = (await api.get(f"/persons/{a}/contributions")).json()
    assert [(x["period"], x["amount"], x["acct_amount"]) for x in listed] == [("2026-01", "800.03", "160.01")]
    _, contributions, _ = await _counts(enrollment_app)
    assert contributions == 1


async def test_bulk_loads_are_for_the_bureau_only_and_refuse_malformed_bodies(
    api: httpx.AsyncClient, enrollment_app: FastAPI
) -> None:
    his = await as_client(enrollment_app, Principal(client_id="his-1", role=Role.HIS, scope="H1"))
    async with his:
        for path, key in (("/coverages:bulk", "coverages"), ("/contributions:bulk", "contributions")):
            refused = await his.post(path, json={key: []})
            assert (refused.status_code, refused.json()["code"]) == (403, "ROLE_FORBIDDEN"), refused.text
    for body in ({"coverages": []}, {"coverages": [{"insutype": "390"}]}, {"coverages": [{}] * 10_001}):
        response = await api.post("/coverages:bulk", json=body)
        assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_ERROR")
    assert await _counts(enrollment_app) == (0, 0, 0)
