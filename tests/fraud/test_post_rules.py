"""Post rules on settled, reversed and deceased events: findings raised once, whatever is redelivered."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.app import running
from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.enrollment import PersonDeceased, PersonRegistered
from common.events.tables import outbox_event
from common.testing.apps import wait_for
from fraud.models import ClaimLine, ClaimRecord, Finding, PersonFact, TraceCodeUse
from fraud.service.projection import SettlementNotYetProjected
from tests.fraud.conftest import apply, consumed, envelope, publish, reversed_, settled, settled_line


@pytest.fixture
async def app(fraud_app: FastAPI) -> Any:
    async with running(fraud_app):
        yield fraud_app


async def findings(app: FastAPI) -> list[tuple[str, str, str | None, str, int, str]]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (await session.scalars(sa.select(Finding).order_by(Finding.finding_id))).all()
    return [(r.family, r.finding_key, r.setl_id, r.status, r.fund_pay_fen, r.category) for r in rows]


async def events(app: FastAPI, kind: str) -> list[dict[str, Any]]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (await session.execute(sa.select(outbox_event.c.type, outbox_event.c.payload))).all()
    return [json.loads(payload)["data"] for type_, payload in rows if type_ == kind]


async def test_three_admissions_in_a_year_raise_one_admission_frequency_finding(app: FastAPI) -> None:
    first = settled("S1", begin=date(2026, 1, 5), end=date(2026, 1, 10))
    second = settled("S2", begin=date(2026, 5, 5), end=date(2026, 5, 12), dise="J18.000")
    third = settled("S3", begin=date(2026, 11, 1), end=date(2026, 11, 3), dise="K35.800")
    await apply(app, first, second)
    assert await findings(app) == []
    await apply(app, third, third)  # the same settlement twice: projected and judged once
    assert await findings(app) == [("admission_frequency", "P1:S1", "S3", "open", 60_000, "fraud")]
    raised = await events(app, Subject.FINDING_RAISED)
    assert [(e["family"], e["rule_id"], e["rule_version"], e["setl_id"], e["vola_amt"]) for e in raised] == [
        ("admission_frequency", "1", 1, "S3", "600.00")
    ]


async def test_a_readmission_within_fifteen_days_is_a_split_admission(app: FastAPI) -> None:
    await apply(
        app,
        settled("S1", begin=date(2026, 3, 1), end=date(2026, 3, 10)),
        settled("S2", begin=date(2026, 3, 25), end=date(2026, 3, 28), dise="I63.500"),
        settled("S3", begin=date(2026, 4, 13), end=date(2026, 4, 20), dise="I63.500"),  # 16 days after S2
    )
    assert await findings(app) == [
        ("split_admission", "S2", "S2", "open", 60_000, "fraud"),
        ("admission_frequency", "P1:S1", "S3", "open", 60_000, "fraud"),
    ]


async def test_a_death_recorded_late_flags_the_care_settled_after_it_and_only_that(app: FastAPI) -> None:
    await apply(
        app,
        PersonRegistered(
            psn_no="P1", certno="420102196003100011", gend="1", brdy=date(1960, 3, 10), admdvs="420100"
        ),
        settled("S1", med_type="11", begin=date(2026, 3, 1), hosp_lv=1),
        settled("S2", med_type="11", begin=date(2026, 3, 5), hosp_lv=1, fund="30.00"),
        settled("S3", med_type="11", begin=date(2026, 3, 6), hosp_lv=1, fund="20.00"),
    )
    await apply(app, reversed_(settled("S3", med_type="11", begin=date(2026, 3, 6)), on=date(2026, 3, 7)))
    death = PersonDeceased(psn_no="P1", death_date=date(2026, 3, 2))
    await apply(app, death, death)
    assert await findings(app) == [("after_death", "S2", "S2", "open", 3_000, "fraud")]
    # Care settled after the death was recorded is flagged on arrival.
    await apply(app, settled("S4", med_type="11", begin=date(2026, 3, 9), hosp_lv=1, fund="10.00"))
    assert (await findings(app))[-1] == ("after_death", "S4", "S4", "open", 1_000, "fraud")
    async with app.state.db.transaction(readonly=True) as session:
        person = await session.get(PersonFact, "P1")
    assert person is not None and (person.gend, person.death_date) == ("1", date(2026, 3, 2))


async def test_a_reversal_frees_trace_codes_and_dismisses_the_open_findings_of_the_settlement(
    app: FastAPI,
) -> None:
    day = date(2026, 3, 2)
    first = settled("S1", begin=date(2026, 1, 5), end=date(2026, 1, 6))
    second = settled("S2", begin=date(2026, 2, 5), end=date(2026, 2, 6))
    third = settled(
        "S3",
        begin=day,
        end=day,
        lines=[settled_line("1", cnt="2", amount="60.00", day=day, codes=["T1", "T2"])],
    )
    await apply(app, first, second, third)
    assert [f[0] for f in await findings(app)] == ["admission_frequency"]
    await apply(app, reversed_(third, on=date(2026, 3, 3)))
    await apply(app, reversed_(third, on=date(2026, 3, 3)))
    assert await findings(app) == [("admission_frequency", "P1:S1", "S3", "dismissed", 60_000, "fraud")]
    dismissed = await events(app, Subject.FINDING_DISMISSED)
    assert [(e["setl_id"], e["dismissed_by"]) for e in dismissed] == [("S3", "fraud-service")]
    async with app.state.db.transaction(readonly=True) as session:
        claim = await session.get(ClaimRecord, "S3")
        codes = (await session.execute(sa.select(TraceCodeUse.trac_codg, TraceCodeUse.reversed))).all()
        lines = (
            await session.execute(
                sa.select(ClaimLine.setl_id, ClaimLine.reversed).where(ClaimLine.setl_id == "S3")
            )
        ).all()
    assert claim is not None and claim.reversed is True
    assert sorted(codes) == [("T1", True), ("T2", True)]
    assert lines == [("S3", True)]


async def test_the_high_burden_monitor_reports_to_assistance_once_a_year(app: FastAPI) -> None:
    await apply(
        app,
        settled("S1", begin=date(2026, 2, 1), end=date(2026, 2, 20), medfee="90000.00", fund="50000.00"),
        settled(
            "S2", begin=date(2026, 6, 1), end=date(2026, 6, 3), dise="J18.000", medfee="10000.01", fund="0.00"
        ),
        settled(
            "S3", begin=date(2026, 7, 1), end=date(2026, 7, 1), dise="K35.000", medfee="100.00", fund="0.00"
        ),
    )
    assert [f for f in await findings(app) if f[0] == "high_burden"] == [
        ("high_burden", "P1:2026", "S2", "open", 0, "assistance")
    ]


async def test_events_through_real_nats_are_applied_once_even_when_published_twice(
    app: FastAPI, nats_url: str, clock: FrozenClock
) -> None:
    events_ = [
        envelope(settled("S1", begin=date(2026, 1, 5), end=date(2026, 1, 6)), clock),
        envelope(settled("S2", begin=date(2026, 2, 5), end=date(2026, 2, 6)), clock),
        envelope(settled("S3", begin=date(2026, 3, 5), end=date(2026, 3, 6)), clock),
        envelope(PersonDeceased(psn_no="P1", death_date=date(2026, 3, 1)), clock),
    ]
    await publish(app, nats_url, *events_)

    async def all_in() -> bool:
        return await consumed(app) == 4

    await wait_for(all_in, timeout=15, what="the four events consumed")
    # The relay publishing the same event again (a retry after a lost ack): applied once all the same.
    await publish(app, nats_url, events_[2].model_copy())
    assert sorted((f[0], f[1]) for f in await findings(app)) == [
        ("admission_frequency", "P1:S1"),
        ("after_death", "S3"),
    ]


async def test_every_inpatient_med_type_is_a_peer_of_a_stay_for_the_cost_outlier(app: FastAPI) -> None:
    # 30 stays of 1,000.00 with the same diagnosis category and level: 普通住院, 急诊转住院, 生育住院, 日间手术.
    peers = [
        settled(f"S{n}", psn_no=f"P{n}", med_type=("21", "24", "52", "28")[n % 4], begin=date(2026, 3, 1))
        for n in range(30)
    ]
    outpatient = settled("S90", psn_no="P90", med_type="13", begin=date(2026, 3, 1), medfee="9000.00")
    await apply(app, *peers, outpatient)
    assert await findings(app) == []
    await apply(app, settled("S99", psn_no="P99", med_type="28", begin=date(2026, 3, 2), medfee="3000.01"))
    assert await findings(app) == [("cost_outlier", "S99", "S99", "open", 60_000, "fraud")]


async def test_a_reversal_before_its_settlement_is_refused_until_the_settlement_is_projected(
    app: FastAPI,
) -> None:
    first = settled("S1", begin=date(2026, 1, 5), end=date(2026, 1, 6))
    with pytest.raises(
        SettlementNotYetProjected, match="settlement S1 is reversed by R-S1 but not projected"
    ):
        await apply(app, reversed_(first, on=date(2026, 1, 7)))
    async with app.state.db.transaction(readonly=True) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(ClaimRecord)) == 0
    await apply(app, first, reversed_(first, on=date(2026, 1, 7)), reversed_(first, on=date(2026, 1, 7)))
    async with app.state.db.transaction(readonly=True) as session:
        assert (await session.scalars(sa.select(ClaimRecord.reversed))).all() == [True]


async def test_a_reversal_delivered_before_its_settlement_is_applied_once_the_settlement_is(
    app: FastAPI, nats_url: str, clock: FrozenClock
) -> None:
    # Two consumer processes (replicas) may take a reversal before its settlement: it is retried, not lost.
    first = settled("S1", begin=date(2026, 1, 5), end=date(2026, 1, 6))
    reversal, settlement = envelope(reversed_(first, on=date(2026, 1, 7)), clock), envelope(first, clock)
    await publish(app, nats_url, reversal, settlement)

    async def both_in() -> bool:
        return await consumed(app) == 2

    await wait_for(both_in, timeout=15, what="the reversal applied after its settlement")
    async with app.state.db.transaction(readonly=True) as session:
        assert (await session.execute(sa.select(ClaimRecord.setl_id, ClaimRecord.reversed))).all() == [
            ("S1", True)
        ]
        assert (await session.scalars(sa.select(ClaimLine.reversed).distinct())).all() == [True]
