"""The path a finding takes to a deduction now: a case opened on it, its appeal window let pass, a decision."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from common.clock import FrozenClock
from tests.fraud.conftest import at_shanghai


async def open_case(
    api: httpx.AsyncClient, amounts: dict[int, str | None], *, summary: str = "疑点核查，拟追回统筹基金"
) -> dict[str, Any]:
    """Open a case on findings (finding_id → amount notified, None for the default); the answer."""
    findings = [
        {"finding_id": finding_id} | ({} if amount is None else {"amount": amount})
        for finding_id, amount in amounts.items()
    ]
    opened = await api.post("/cases", json={"findings": findings, "summary": summary})
    assert opened.status_code == 201, opened.text
    case: dict[str, Any] = opened.json()
    return case


def after_deadline(clock: FrozenClock, case: dict[str, Any], *, hour: int = 9) -> None:
    """Move the clock to the first day after the case's appeal window (Asia/Shanghai)."""
    day = date.fromisoformat(case["appeal_deadline"]) + timedelta(days=1)
    clock.set(at_shanghai(day.year, day.month, day.day, hour))


async def decide_through_case(
    api: httpx.AsyncClient,
    clock: FrozenClock,
    amounts: dict[int, str | None],
    *,
    penalty_basis: str = "none",
    penalty_multiple: str = "0",
    note: str = "核实违规，责令退回",
) -> dict[str, Any]:
    """Open a case on the findings, let the appeal window pass unanswered, decide it; the decided case.

    The clock is left on the day after the window (a decision's date picks its month in settlement).
    """
    case = await open_case(api, amounts)
    after_deadline(clock, case)
    decided = await api.post(
        f"/cases/{case['case_id']}/decide",
        json={"penalty_basis": penalty_basis, "penalty_multiple": penalty_multiple, "note": note},
    )
    assert decided.status_code == 200, decided.text
    answer: dict[str, Any] = decided.json()
    return answer
