"""Bulk enrolment and contributions: each item under the rules of one call, refused items leave no trace."""

from __future__ import annotations

from datetime import date

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.envelope import EventEnvelope
from common.events.tables import outbox_event
from common.principal import Principal, Role
from enrollment.models import Contribution, Coverage
from tests.enrollment.conftest import as_client, at_shanghai, enroll, register

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


async def _events_of(app: FastAPI, psn_no: str) -> list[tuple[str, dict[str, object]]]:
    """A person's events in outbox order, without the ids a second person's rows necessarily differ in."""
    async with app.state.db.transaction(readonly=True) as session:
        payloads = (
            await session.scalars(
                sa.select(outbox_event.c.payload)
                .where(outbox_event.c.subject == psn_no)
                .order_by(outbox_event.c.seq)
            )
        ).all()
    events = [EventEnvelope.from_bytes(payload) for payload in payloads]
    return [
        (
            event.type,
            {
                k: v
                for k, v in event.data.items()
                if k not in ("psn_no", "certno", "coverage_id", "contribution_id")
            },
        )
        for event in events
    ]


async def _state_of(
    api: httpx.AsyncClient, psn_no: str
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    ignored = ("psn_no", "coverage_id", "contribution_id")
    coverages = (await api.get(f"/persons/{psn_no}/coverages")).json()
    contributions = (await api.get(f"/persons/{psn_no}/contributions")).json()
    return (
        [{k: v for k, v in row.items() if k not in ignored} for row in coverages],
        [{k: v for k, v in row.items() if k not in ignored} for row in contributions],
    )


async def test_bulk_loads_give_the_rows_events_and_answers_of_one_call_per_item(
    api: httpx.AsyncClient, enrollment_app: FastAPI, clock: FrozenClock
) -> None:
    """The set-based loads against the same items sent one call at a time: same codes, rows and events,
    in the same order, for waiting periods shortened by back-payments and incentives restated on the way."""
    clock.set(at_shanghai(2026, 2, 20))
    twins: list[tuple[str, str, str]] = []  # (resident, employee, employee without coverage) per path
    for base in (100, 200):
        resident = (await register(api, date(1975, 4, 4), seq=base + 1))["psn_no"]
        employee = (await register(api, date(1982, 8, 8), seq=base + 3))["psn_no"]
        uncovered = (await register(api, date(1990, 9, 9), seq=base + 5))["psn_no"]
        # The same history for both: a resident covered 2016-2020, then a break of five years.
        old = await enroll(api, resident, insutype="390", begndate="2016-01-01", enrolled_on="2015-11-01")
        ended = await api.post(f"/coverages/{old['coverage_id']}/end", json={"enddate": "2020-12-31"})
        assert ended.status_code == 200, ended.text
        twins.append((resident, employee, uncovered))

    def coverage_items(resident: str, employee: str, uncovered: str) -> list[dict[str, object]]:
        return [
            {"psn_no": resident, "insutype": "390", "begndate": "2026-03-01", "enrolled_on": "2026-02-10"},
            {"psn_no": employee, "insutype": "310", "begndate": "2026-01-01", "emp_code": EMPLOYER},
            {"psn_no": resident, "insutype": "310", "begndate": "2026-01-01", "emp_code": EMPLOYER},
            {"psn_no": uncovered, "insutype": "390", "begndate": "1980-01-01"},  # before birth
            {"psn_no": uncovered, "insutype": "390", "begndate": "2026-01-01", "psn_type": "retired"},
        ]

    def contribution_items(resident: str, employee: str, uncovered: str) -> list[dict[str, object]]:
        late = "2026-02-15T10:00:00+08:00"
        return [
            *(
                {
                    "psn_no": resident,
                    "insutype": "390",
                    "period": str(year),
                    "amount": "380.00",
                    "paid_at": late,
                }
                for year in (2021, 2022, 2023)
            ),  # back-payments: each shortens the waiting period
            {"psn_no": resident, "insutype": "390", "period": "2026", "amount": "400.00", "paid_at": late},
            {"psn_no": resident, "insutype": "390", "period": "2021", "amount": "380.00", "paid_at": late},
            {"psn_no": resident, "insutype": "390", "period": "2022", "amount": "1.00", "paid_at": late},
            {"psn_no": resident, "insutype": "390", "period": "2026-01", "amount": "1.00", "paid_at": late},
            {"psn_no": resident, "insutype": "310", "period": "2026-01", "amount": "1.00", "paid_at": late},
            {"psn_no": employee, "insutype": "310", "period": "2026-01", "amount": "800.05", "paid_at": PAID},
            {
                "psn_no": employee,
                "insutype": "310",
                "period": "2026-02",
                "amount": "800.00",
                "acct_amount": "900.00",
                "paid_at": PAID,
            },
            {"psn_no": employee, "insutype": "310", "period": "2026-02", "amount": "800.00", "paid_at": PAID},
            {
                "psn_no": employee,
                "insutype": "310",
                "period": "2026-03",
                "amount": "800.00",
                "paid_at": late[:-6] + "+00:00",
            },
            {"psn_no": uncovered, "insutype": "390", "period": "2026", "amount": "400.00", "paid_at": late},
            {"psn_no": "P-NOBODY", "insutype": "390", "period": "2026", "amount": "400.00", "paid_at": late},
        ]

    one_by_one, bulk = twins
    answers: list[tuple[int, str | None]] = []
    for item in coverage_items(*one_by_one):
        psn_no = item.pop("psn_no")
        response = await api.post(f"/persons/{psn_no}/coverages", json=item)
        answers.append((response.status_code, response.json().get("code")))
    for item in contribution_items(*one_by_one):
        psn_no = item.pop("psn_no")
        response = await api.post(f"/persons/{psn_no}/contributions", json=item)
        answers.append((response.status_code, response.json().get("code")))

    covered = await api.post("/coverages:bulk", json={"coverages": coverage_items(*bulk)})
    paid = await api.post("/contributions:bulk", json={"contributions": contribution_items(*bulk)})
    assert (covered.status_code, paid.status_code) == (200, 200), paid.text
    bulk_answers: dict[int, tuple[int, str | None]] = {}
    offset = len(coverage_items(*bulk))
    for shift, result in ((0, covered.json()), (offset, paid.json())):
        bulk_answers |= {shift + r["index"]: (201, None) for r in result["created"]}
        bulk_answers |= {shift + r["index"]: (200, None) for r in result.get("existing", [])}
        bulk_answers |= {shift + r["index"]: (0, r["code"]) for r in result["rejected"]}
    assert [
        (bulk_answers[i][0] or status, bulk_answers[i][1]) for i, (status, _) in enumerate(answers)
    ] == answers
    assert [code for _, code in answers if code] == [
        "DUPLICATE_COVERAGE",
        "INVALID_DATE",
        "NOT_FOR_RESIDENTS",
        "CONTRIBUTION_EXISTS",
        "INVALID_PERIOD",
        "NO_COVERAGE",
        "INVALID_AMOUNT",
        "NO_COVERAGE",
        "PERSON_NOT_FOUND",
    ]
    for single, many in zip(one_by_one, bulk, strict=True):
        assert await _state_of(api, many) == await _state_of(api, single)
        assert await _events_of(enrollment_app, many) == await _events_of(enrollment_app, single)
    resident_events = await _events_of(enrollment_app, bulk[0])
    waits = [data["waiting_months"] for kind, data in resident_events if kind == Subject.COVERAGE_CHANGED]
    assert len(set(waits)) > 1, waits  # the back-payments did shorten the waiting period on the way
