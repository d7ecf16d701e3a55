"""Cases over HTTP (疑点核查 → 告知 → 申诉 → 处理决定): the appeal window, every transition, the decision's limits."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.tables import outbox_event
from common.principal import Principal, Role
from common.testing.databases import Databases
from fraud.app import create_app
from fraud.models import Case, CaseEvent, CaseFinding
from tests.fraud.cases import after_deadline, decide_through_case, open_case
from tests.fraud.conftest import apply, at_shanghai, fraud_settings, settled
from tests.settlement.conftest import as_client

# Notified on Thursday 12 March 2026; Monday 16 March is a configured holiday: Fri 13 (1), Tue 17 (2), Wed 18 (3),
# Thu 19 (4), Fri 20 (5) — the weekend and the holiday inside the window do not count.
NOTIFIED = at_shanghai(2026, 3, 12, 10)
HOLIDAY = date(2026, 3, 16)
DEADLINE = "2026-03-20"
DECISION = {"penalty_basis": "none", "penalty_multiple": "0", "note": "责令退回"}


@pytest.fixture
def fraud_app(databases: Databases, nats_url: str, clock: FrozenClock) -> FastAPI:
    settings = fraud_settings(databases, nats_url, case_holidays=[HOLIDAY], case_makeup_workdays=[])
    return create_app(settings, clock=clock)


async def city(app: FastAPI) -> dict[str, int]:
    """Three admissions in a year each for P1 and P4 at H1 and P3 at H2 (one finding each), a high burden at H2."""
    stays = [
        ("P1", "H1", "S1", "S2", "S3", "1200.50"),
        ("P4", "H1", "S4", "S5", "S6", "500.00"),
        ("P3", "H2", "S7", "S8", "S9", "800.00"),
    ]
    for psn_no, code, first, second, third, fund in stays:
        await apply(
            app,
            settled(first, psn_no=psn_no, code=code, begin=date(2025, 5, 5), end=date(2025, 5, 10)),
            settled(second, psn_no=psn_no, code=code, begin=date(2025, 8, 5), end=date(2025, 8, 9), dise="J18.000"),
            settled(third, psn_no=psn_no, code=code, begin=date(2025, 11, 5), end=date(2025, 11, 9),
                    dise="K35.000", fund=fund),
        )  # fmt: skip
    await apply(
        app,
        settled("S10", psn_no="P2", code="H2", begin=date(2025, 6, 1), end=date(2025, 6, 30), medfee="80000.00",
                fund="20000.00"),
    )  # fmt: skip
    async with app.state.db.transaction(readonly=True) as session:
        rows = await session.execute(sa.text("SELECT setl_id, finding_id FROM finding"))
        return {str(setl_id): int(finding_id) for setl_id, finding_id in rows}


async def events(app: FastAPI, *types: str) -> list[tuple[str, dict[str, Any]]]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (
            await session.execute(
                sa.select(outbox_event.c.type, outbox_event.c.payload).order_by(outbox_event.c.seq)
            )
        ).all()
    return [(kind, json.loads(payload)["data"]) for kind, payload in rows if kind in types]


async def counts(app: FastAPI) -> tuple[int, int, int]:
    async with app.state.db.transaction(readonly=True) as session:
        found = [
            int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
            for table in (Case, CaseFinding, CaseEvent)
        ]
    return found[0], found[1], found[2]


DECIDING = (Subject.CASE_DECIDED, Subject.FINDING_CONFIRMED)


async def test_a_case_notifies_the_institution_with_a_deadline_in_working_days(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ids = await city(fraud_app)
    clock.set(NOTIFIED)
    case = await open_case(api, {ids["S3"]: "1000.00", ids["S6"]: None}, summary="分解住院疑点")
    assert {k: case[k] for k in ("case_id", "fixmedins_code", "status", "outcome", "summary", "proposed_amount",
                                 "notified_on", "appeal_deadline", "created_by", "recovery")} == {
        "case_id": 1, "fixmedins_code": "H1", "status": "notified", "outcome": None, "summary": "分解住院疑点",
        "proposed_amount": "1500.00", "notified_on": "2026-03-12", "appeal_deadline": DEADLINE,
        "created_by": "ops-test", "recovery": None,
    }  # fmt: skip
    # The amount notified defaults to the finding's amount concerned (here its fund pay).
    assert [
        (f["finding_id"], f["proposed_amount"], f["fund_pay_sumamt"], f["finding_status"])
        for f in case["findings"]
    ] == [(ids["S3"], "1000.00", "1200.50", "open"), (ids["S6"], "500.00", "500.00", "open")]
    assert [(h["action"], h["status_from"], h["status_to"], h["by"]) for h in case["history"]] == [
        ("notified", None, "notified", "ops-test")
    ]
    assert case["history"][0]["detail"] == {"appeal_deadline": DEADLINE}
    # Nothing is deducted until a decision.
    assert await events(fraud_app, *DECIDING) == []
    assert (await api.get(f"/cases/{case['case_id']}")).json() == case
    listed = (await api.get("/cases", params={"status": "notified", "fixmedins_code": "H1"})).json()
    assert [(c["case_id"], c["history"]) for c in listed["items"]] == [(1, None)]
    assert (await api.get("/cases", params={"status": "decided"})).json()["items"] == []
    missing = await api.get("/cases/99")
    assert (missing.status_code, missing.json()["code"]) == (404, "CASE_NOT_FOUND")


async def test_an_appeal_on_the_last_day_of_the_window_is_accepted_and_the_day_after_refused(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ids = await city(fraud_app)
    clock.set(NOTIFIED)
    first = await open_case(api, {ids["S3"]: None})
    second = await open_case(api, {ids["S6"]: None})
    appeal = {
        "statement": "三次住院诊断不同，均有入院指征。",
        "files": [{"name": "病程记录.pdf", "ref": "his://IP-3/notes"}],
    }
    his = as_client(fraud_app, Principal(client_id="his-h1", role=Role.HIS, scope="H1"))
    async with his:
        clock.set(at_shanghai(2026, 3, 20, 23, 59))  # the deadline's last minute
        on_time = await his.post(f"/cases/{first['case_id']}/appeal", json=appeal)
        clock.set(at_shanghai(2026, 3, 21, 0, 0))  # the day after, in Shanghai (still 20 March in UTC)
        late = await his.post(f"/cases/{second['case_id']}/appeal", json=appeal)
        late_refund = await his.post(f"/cases/{second['case_id']}/refund", json={"statement": "同意退回"})
    assert on_time.status_code == 200, on_time.text
    body = on_time.json()
    assert (body["status"], body["appeal_statement"], body["appeal_files"], body["appealed_by"]) == (
        "appealed",
        appeal["statement"],
        appeal["files"],
        "his-h1",
    )
    assert [(h["action"], h["status_from"], h["status_to"]) for h in body["history"]][-1] == (
        "appealed",
        "notified",
        "appealed",
    )
    for refused in (late, late_refund):
        assert (refused.status_code, refused.json()["code"], refused.json()["appeal_deadline"]) == (
            422,
            "APPEAL_WINDOW_CLOSED",
            DEADLINE,
        )
    assert (await api.get(f"/cases/{second['case_id']}")).json()["status"] == "notified"


async def test_opening_a_case_refuses_what_cannot_be_one_and_writes_nothing(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ids = await city(fraud_app)
    clock.set(NOTIFIED)
    assert (await api.post(f"/findings/{ids['S9']}/dismiss", json={"note": "病情需要"})).status_code == 200
    bodies = {
        "dismissed": [{"finding_id": ids["S3"]}, {"finding_id": ids["S9"]}],
        "assistance": [{"finding_id": ids["S10"]}],
        "unknown": [{"finding_id": 999}],
        "twice": [{"finding_id": ids["S3"]}, {"finding_id": ids["S3"]}],
        "above fund pay": [{"finding_id": ids["S3"], "amount": "1200.51"}],
        "empty": [],
    }
    answers = {}
    for what, findings in bodies.items():
        response = await api.post("/cases", json={"findings": findings, "summary": "x"})
        answers[what] = (response.status_code, response.json()["code"])
    assert answers == {
        "dismissed": (409, "FINDING_DISMISSED"),
        "assistance": (422, "FINDING_NOT_FRAUD"),
        "unknown": (404, "FINDING_NOT_FOUND"),
        "twice": (422, "DUPLICATE_FINDING"),
        "above fund pay": (422, "AMOUNT_EXCEEDS_FUND_PAY"),
        "empty": (422, "VALIDATION_ERROR"),
    }
    assert await counts(fraud_app) == (0, 0, 0)
    await apply(
        fraud_app,
        settled("S11", psn_no="P5", code="H2", begin=date(2025, 5, 5), end=date(2025, 5, 10)),
        settled("S12", psn_no="P5", code="H2", begin=date(2025, 8, 5), end=date(2025, 8, 9), dise="J18.000"),
        settled(
            "S13", psn_no="P5", code="H2", begin=date(2025, 11, 5), end=date(2025, 11, 9), dise="K35.000"
        ),
    )
    async with fraud_app.state.db.transaction(readonly=True) as session:
        h2 = int(await session.scalar(sa.text("SELECT finding_id FROM finding WHERE setl_id = 'S13'")))
    several = await api.post("/cases", json={"findings": [{"finding_id": ids["S3"]}, {"finding_id": h2}],
                                             "summary": "x"})  # fmt: skip
    assert (several.status_code, several.json()["code"], several.json()["fixmedins_codes"]) == (
        422,
        "FINDINGS_OF_SEVERAL_INSTITUTIONS",
        ["H1", "H2"],
    )
    assert await counts(fraud_app) == (0, 0, 0)
    # A finding is in one case only, and a finding in a case is the case's to confirm or dismiss.
    case = await open_case(api, {ids["S3"]: None})
    again = await api.post("/cases", json={"findings": [{"finding_id": ids["S6"]}, {"finding_id": ids["S3"]}],
                                           "summary": "x"})  # fmt: skip
    assert (again.status_code, again.json()["code"], again.json()["case_id"]) == (
        409,
        "FINDING_IN_CASE",
        case["case_id"],
    )
    for path, body in (("confirm", {"amount_to_recover": "1.00", "note": "x"}), ("dismiss", {"note": "x"})):
        refused = await api.post(f"/findings/{ids['S3']}/{path}", json=body)
        assert (refused.status_code, refused.json()["code"]) == (409, "FINDING_IN_CASE")
    assert await counts(fraud_app) == (1, 1, 1)


async def test_every_wrong_transition_is_refused_with_a_stable_code(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ids = await city(fraud_app)
    clock.set(NOTIFIED)
    case = await open_case(api, {ids["S3"]: None})
    path = f"/cases/{case['case_id']}"
    review = {"outcome": "upheld", "note": "维持"}
    appeal = {"statement": "不服"}

    async def refused(action: str, body: dict[str, Any]) -> tuple[int, str, str]:
        response = await api.post(f"{path}/{action}", json=body)
        problem = response.json()
        return response.status_code, problem.get("code", ""), problem.get("status_now", "")

    # notified: no review, no close; no decision while the institution may still answer.
    assert await refused("appeal-review", review) == (409, "CASE_NOT_APPEALED", "notified")
    assert await refused("close", {}) == (409, "CASE_NOT_DECIDED", "notified")
    assert await refused("decide", DECISION) == (409, "APPEAL_WINDOW_OPEN", "notified")
    assert (await api.post(f"{path}/appeal", json=appeal)).status_code == 200
    # appealed: one appeal, no refund, no decision before the review, no close.
    assert await refused("appeal", appeal) == (409, "CASE_NOT_NOTIFIED", "appealed")
    assert await refused("refund", {"statement": "x"}) == (409, "CASE_NOT_NOTIFIED", "appealed")
    assert await refused("decide", DECISION) == (409, "CASE_NOT_DECIDABLE", "appealed")
    assert await refused("close", {}) == (409, "CASE_NOT_DECIDED", "appealed")
    assert (await api.post(f"{path}/appeal-review", json=review)).status_code == 200
    # upheld: only the decision.
    assert await refused("appeal", appeal) == (409, "CASE_NOT_NOTIFIED", "upheld")
    assert await refused("appeal-review", review) == (409, "CASE_NOT_APPEALED", "upheld")
    assert await refused("refund", {"statement": "x"}) == (409, "CASE_NOT_NOTIFIED", "upheld")
    assert await refused("close", {}) == (409, "CASE_NOT_DECIDED", "upheld")
    assert (await api.post(f"{path}/decide", json=DECISION)).status_code == 200
    # decided: only the close.
    assert await refused("appeal", appeal) == (409, "CASE_NOT_NOTIFIED", "decided")
    assert await refused("appeal-review", review) == (409, "CASE_NOT_APPEALED", "decided")
    assert await refused("refund", {"statement": "x"}) == (409, "CASE_NOT_NOTIFIED", "decided")
    assert await refused("decide", DECISION) == (409, "CASE_NOT_DECIDABLE", "decided")
    closed = await api.post(f"{path}/close", json={"note": "已扣回，结案"})
    assert (closed.status_code, closed.json()["status"], closed.json()["closed_by"]) == (
        200,
        "closed",
        "ops-test",
    )
    # closed: nothing more.
    assert await refused("close", {}) == (409, "CASE_NOT_DECIDED", "closed")
    assert await refused("decide", DECISION) == (409, "CASE_NOT_DECIDABLE", "closed")
    assert await refused("appeal", appeal) == (409, "CASE_NOT_NOTIFIED", "closed")
    history = (await api.get(path)).json()["history"]
    assert [(h["action"], h["status_from"], h["status_to"]) for h in history] == [
        ("notified", None, "notified"),
        ("appealed", "notified", "appealed"),
        ("appeal_upheld", "appealed", "upheld"),
        ("decided", "upheld", "decided"),
        ("closed", "decided", "closed"),
    ]
    assert history[-1]["note"] == "已扣回，结案"


async def test_a_decision_recovers_at_most_the_fund_pay_with_a_penalty_within_the_scale_rounded_half_up(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ids = await city(fraud_app)
    clock.set(NOTIFIED)
    case = await open_case(api, {ids["S3"]: "1000.00", ids["S6"]: "400.00"})
    path = f"/cases/{case['case_id']}/decide"
    after_deadline(clock, case)  # the window passed without an answer
    recoveries = [{"finding_id": ids["S3"], "amount": "100.00"}, {"finding_id": ids["S6"], "amount": "33.33"}]

    def body(**changes: Any) -> dict[str, Any]:
        return {"recoveries": recoveries, "penalty_basis": "violation", "penalty_multiple": "1.5",
                "note": "责令退回，并处1.5倍违约金"} | changes  # fmt: skip

    bad = {
        "above fund pay": body(recoveries=[{"finding_id": ids["S6"], "amount": "500.01"}]),
        "not in the case": body(recoveries=[{"finding_id": ids["S9"], "amount": "1.00"}]),
        "twice": body(recoveries=[recoveries[0], recoveries[0]]),
        "violation above 2": body(penalty_multiple="2.5"),
        "fraud below 2": body(penalty_basis="fraud", penalty_multiple="1.5"),
        "fraud above 5": body(penalty_basis="fraud", penalty_multiple="5.01"),
        "none but 1": body(penalty_basis="none", penalty_multiple="1"),
        "unknown basis": body(penalty_basis="warning"),
        "three places": body(penalty_multiple="1.505"),
        "referral_to alone": body(referral_to="公安机关"),
    }
    answers = {}
    for what, payload in bad.items():
        response = await api.post(path, json=payload)
        answers[what] = (response.status_code, response.json()["code"])
    assert answers == {
        "above fund pay": (422, "AMOUNT_EXCEEDS_FUND_PAY"),
        "not in the case": (422, "FINDING_NOT_IN_CASE"),
        "twice": (422, "DUPLICATE_FINDING"),
        "violation above 2": (422, "PENALTY_MULTIPLE_OUT_OF_SCALE"),
        "fraud below 2": (422, "PENALTY_MULTIPLE_OUT_OF_SCALE"),
        "fraud above 5": (422, "PENALTY_MULTIPLE_OUT_OF_SCALE"),
        "none but 1": (422, "PENALTY_MULTIPLE_OUT_OF_SCALE"),
        "unknown basis": (422, "PENALTY_BASIS_UNKNOWN"),
        "three places": (422, "VALIDATION_ERROR"),
        "referral_to alone": (422, "REFERRAL_INCONSISTENT"),
    }
    assert (await api.get(f"/cases/{case['case_id']}")).json()["status"] == "notified"
    assert await events(fraud_app, *DECIDING) == []

    decided = await api.post(path, json=body(referral=True, referral_to="公安机关"))
    assert decided.status_code == 200, decided.text
    answer = decided.json()
    # 133.33 × 1.5 = 199.995 → 200.00, half-up to the fen.
    assert {k: answer[k] for k in ("status", "outcome", "recovery", "penalty_basis", "penalty_multiple",
                                   "penalty_amount", "referral", "referral_to", "decided_by")} == {
        "status": "decided", "outcome": "decided", "recovery": "133.33", "penalty_basis": "violation",
        "penalty_multiple": "1.5", "penalty_amount": "200.00", "referral": True, "referral_to": "公安机关",
        "decided_by": "ops-test",
    }  # fmt: skip
    assert [(f["finding_id"], f["recovery"], f["finding_status"]) for f in answer["findings"]] == [
        (ids["S3"], "100.00", "confirmed"),
        (ids["S6"], "33.33", "confirmed"),
    ]
    finding = (await api.get(f"/findings/{ids['S3']}")).json()
    assert (finding["status"], finding["amount_to_recover"]) == ("confirmed", "100.00")
    published = await events(fraud_app, *DECIDING)
    assert [kind for kind, _ in published] == [
        Subject.CASE_DECIDED,
        Subject.FINDING_CONFIRMED,
        Subject.FINDING_CONFIRMED,
    ]
    data = published[0][1]
    assert {k: data[k] for k in ("case_id", "fixmedins_code", "outcome", "total_recovery", "penalty_basis",
                                 "penalty_multiple", "penalty_amount", "referral", "referral_to", "decided_by",
                                 "points")} == {
        "case_id": str(case["case_id"]), "fixmedins_code": "H1", "outcome": "decided", "total_recovery": "133.33",
        "penalty_basis": "violation", "penalty_multiple": "1.5", "penalty_amount": "200.00", "referral": True,
        "referral_to": "公安机关", "decided_by": "ops-test", "points": [],
    }  # fmt: skip
    assert [(f["finding_id"], f["setl_id"], f["recovery"]) for f in data["findings"]] == [
        (str(ids["S3"]), "S3", "100.00"),
        (str(ids["S6"]), "S6", "33.33"),
    ]
    assert [(d["finding_id"], d["amount_to_recover"], d["case_id"]) for _, d in published[1:]] == [
        (str(ids["S3"]), "100.00", str(case["case_id"])),
        (str(ids["S6"]), "33.33", str(case["case_id"])),
    ]


async def test_a_finding_decided_with_nothing_to_recover_publishes_no_deduction(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ids = await city(fraud_app)
    clock.set(NOTIFIED)
    # A finding confirmed beforehand keeps its amount as the one notified.
    confirmed = await api.post(
        f"/findings/{ids['S6']}/confirm", json={"amount_to_recover": "120.00", "note": "成立"}
    )
    assert confirmed.status_code == 200
    case = await open_case(api, {ids["S3"]: None, ids["S6"]: None})
    assert [f["proposed_amount"] for f in case["findings"]] == ["1200.50", "120.00"]
    after_deadline(clock, case)
    decided = await api.post(
        f"/cases/{case['case_id']}/decide",
        json={"recoveries": [{"finding_id": ids["S3"], "amount": "0"}], "penalty_basis": "fraud",
              "penalty_multiple": "2", "note": "欺诈骗保"},
    )  # fmt: skip
    assert decided.status_code == 200, decided.text
    assert (decided.json()["recovery"], decided.json()["penalty_amount"]) == ("120.00", "240.00")
    published = await events(fraud_app, *DECIDING)
    assert [(kind, d.get("finding_id")) for kind, d in published] == [
        (Subject.CASE_DECIDED, None),
        (Subject.FINDING_CONFIRMED, str(ids["S6"])),
    ]


async def test_a_voluntary_refund_is_decided_at_once_with_no_penalty(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ids = await city(fraud_app)
    clock.set(NOTIFIED)
    case = await open_case(api, {ids["S9"]: "300.00"})
    pos = as_client(fraud_app, Principal(client_id="his-h2", role=Role.HIS, scope="H2"))
    async with pos:
        clock.set(at_shanghai(2026, 3, 20, 16))
        refunded = await pos.post(f"/cases/{case['case_id']}/refund", json={"statement": "经自查，同意退回"})
    assert refunded.status_code == 200, refunded.text
    body = refunded.json()
    assert {k: body[k] for k in ("status", "outcome", "recovery", "penalty_basis", "penalty_multiple",
                                 "penalty_amount", "points", "referral", "decided_by")} == {
        "status": "decided", "outcome": "refunded", "recovery": "300.00", "penalty_basis": "none",
        "penalty_multiple": "0", "penalty_amount": "0.00", "points": [], "referral": False, "decided_by": "his-h2",
    }  # fmt: skip
    assert body["history"][-1]["action"] == "refunded"
    published = await events(fraud_app, *DECIDING)
    assert [kind for kind, _ in published] == [Subject.CASE_DECIDED, Subject.FINDING_CONFIRMED]
    assert (
        published[0][1]["outcome"],
        published[0][1]["penalty_amount"],
        published[1][1]["amount_to_recover"],
    ) == (
        "refunded",
        "0.00",
        "300.00",
    )
    closed = await api.post(f"/cases/{case['case_id']}/close", json={})
    assert closed.json()["status"] == "closed"


async def test_an_overturned_appeal_dismisses_the_findings_and_recovers_nothing(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ids = await city(fraud_app)
    clock.set(NOTIFIED)
    case = await open_case(api, {ids["S3"]: None, ids["S6"]: None})
    path = f"/cases/{case['case_id']}"
    assert (await api.post(f"{path}/appeal", json={"statement": "病情需要"})).status_code == 200
    bad = await api.post(f"{path}/appeal-review", json={"outcome": "withdrawn", "note": "x"})
    assert (bad.status_code, bad.json()["code"]) == (422, "VALIDATION_ERROR")
    overturned = await api.post(f"{path}/appeal-review", json={"outcome": "overturned", "note": "申诉成立"})
    assert overturned.status_code == 200, overturned.text
    body = overturned.json()
    assert (
        body["status"],
        body["outcome"],
        body["recovery"],
        body["penalty_amount"],
        body["review_note"],
    ) == (
        "closed",
        "overturned",
        "0.00",
        None,
        "申诉成立",
    )
    assert [(f["finding_status"], f["recovery"]) for f in body["findings"]] == [("dismissed", "0.00")] * 2
    assert [h["action"] for h in body["history"]] == ["notified", "appealed", "appeal_overturned"]
    assert await events(fraud_app, *DECIDING) == []
    dismissed = await events(fraud_app, Subject.FINDING_DISMISSED)
    assert sorted(int(d["finding_id"]) for _, d in dismissed) == sorted([ids["S3"], ids["S6"]])


async def test_an_institution_sees_and_answers_only_its_own_cases(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ids = await city(fraud_app)
    clock.set(NOTIFIED)
    h1_case = await open_case(api, {ids["S3"]: None})
    h2_case = await open_case(api, {ids["S9"]: None})
    his = as_client(fraud_app, Principal(client_id="his-h2", role=Role.HIS, scope="H2"))
    async with his:
        own = await his.get("/cases")
        other_list = await his.get("/cases", params={"fixmedins_code": "H1"})
        other = await his.get(f"/cases/{h1_case['case_id']}")
        other_appeal = await his.post(f"/cases/{h1_case['case_id']}/appeal", json={"statement": "x"})
        other_refund = await his.post(f"/cases/{h1_case['case_id']}/refund", json={"statement": "x"})
        opening = await his.post("/cases", json={"findings": [{"finding_id": ids["S9"]}], "summary": "x"})
        own_appeal = await his.post(f"/cases/{h2_case['case_id']}/appeal", json={"statement": "不服"})
        reviewing = await his.post(f"/cases/{h2_case['case_id']}/appeal-review", json={"outcome": "upheld",
                                                                                        "note": "x"})  # fmt: skip
        deciding = await his.post(f"/cases/{h2_case['case_id']}/decide", json=DECISION)
        closing = await his.post(f"/cases/{h2_case['case_id']}/close", json={})
    assert [c["case_id"] for c in own.json()["items"]] == [h2_case["case_id"]]
    assert [(r.status_code, r.json()["code"]) for r in (other_list, other, other_appeal, other_refund)] == [
        (403, "SCOPE_FORBIDDEN")
    ] * 4
    assert [(r.status_code, r.json()["code"]) for r in (opening, reviewing, deciding, closing)] == [
        (403, "ROLE_FORBIDDEN")
    ] * 4
    assert (own_appeal.status_code, own_appeal.json()["appealed_by"]) == (200, "his-h2")
    # Staff may appeal on an institution's behalf.
    on_behalf = await api.post(f"/cases/{h1_case['case_id']}/appeal", json={"statement": "代为申诉"})
    assert (on_behalf.status_code, on_behalf.json()["appealed_by"]) == (200, "ops-test")


async def test_points_in_a_decision_go_to_the_practitioners_registry(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ids = await city(fraud_app)
    doctor = "D420100000001"
    registered = await api.post(
        "/practitioners", json={"prac_codg": doctor, "prac_type": "doctor", "fixmedins_code": "H1"}
    )
    assert registered.status_code == 201, registered.text
    clock.set(NOTIFIED)
    case = await open_case(api, {ids["S3"]: "100.00"})
    after_deadline(clock, case)
    path = f"/cases/{case['case_id']}/decide"
    points = [{"prac_codg": doctor, "points": 6, "reason": "分解住院"}]
    unknown = await api.post(path, json=DECISION | {"points": [{"prac_codg": "D420100000009", "points": 3,
                                                                  "reason": "x"}]})  # fmt: skip
    assert (unknown.status_code, unknown.json()["code"]) == (404, "PRACTITIONER_NOT_FOUND")
    twice = await api.post(path, json=DECISION | {"points": points + points})
    assert (twice.status_code, twice.json()["code"]) == (422, "DUPLICATE_PRACTITIONER")
    assert (await api.get(f"/cases/{case['case_id']}")).json()["status"] == "notified"
    decided = await api.post(path, json=DECISION | {"points": points})
    assert decided.status_code == 200, decided.text
    assert decided.json()["points"] == points
    detail = (await api.get(f"/practitioners/{doctor}")).json()
    assert [(e["points"], e["source"], e["source_id"], e["reason"]) for e in detail["entries"]] == [
        (6, "case", str(case["case_id"]), "分解住院")
    ]
    [(_, data)] = await events(fraud_app, Subject.CASE_DECIDED)
    assert data["points"] == points


async def test_the_helper_decides_a_finding_through_a_case(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ids = await city(fraud_app)
    clock.set(NOTIFIED)
    case = await decide_through_case(api, clock, {ids["S3"]: "1000.00"})
    assert (case["status"], case["recovery"], case["penalty_amount"]) == ("decided", "1000.00", "0.00")
    assert clock.now() == at_shanghai(2026, 3, 21, 9)


@pytest.mark.postgres_only
async def test_cases_racing_for_the_same_findings_take_each_once_and_decisions_race_to_one(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ids = await city(fraud_app)
    clock.set(NOTIFIED)
    orders = [[ids["S3"], ids["S6"]], [ids["S6"], ids["S3"]]] * 3
    opened = await asyncio.gather(
        *(api.post("/cases", json={"findings": [{"finding_id": i} for i in order], "summary": "x"})
          for order in orders)
    )  # fmt: skip
    assert (
        sorted((r.status_code, r.json().get("code")) for r in opened)
        == [(201, None)] + [(409, "FINDING_IN_CASE")] * 5
    )
    [case] = [r.json() for r in opened if r.status_code == 201]
    after_deadline(clock, case)
    decisions = await asyncio.gather(
        *(api.post(f"/cases/{case['case_id']}/decide", json=DECISION) for _ in range(4))
    )
    assert (
        sorted((r.status_code, r.json().get("code")) for r in decisions)
        == [(200, None)] + [(409, "CASE_NOT_DECIDABLE")] * 3
    )
    assert [kind for kind, _ in await events(fraud_app, *DECIDING)] == [
        Subject.CASE_DECIDED,
        Subject.FINDING_CONFIRMED,
        Subject.FINDING_CONFIRMED,
    ]
    assert await counts(fraud_app) == (1, 2, 2)
