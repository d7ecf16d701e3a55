"""Monthly warnings (每月推送预警): built per institution, sent through the outbox, versioned only when they
change, read by ops and by each institution for itself only."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.enrollment import PersonDeceased
from common.events.tables import outbox_event
from common.principal import Principal, Role
from common.testing.apps import app_client
from fraud.models import Finding, InstitutionWarning
from fraud.uow import FraudUnitOfWork
from tests.fraud.conftest import apply, settled, settled_line

FEB = date(2026, 2, 1)
DRUG = "XA10BAE054A001010104195"


def admitted(setl_id: str, code: str, medfee: str, *, drug: str = "0.00") -> Any:
    rest = f"{float(medfee) - float(drug):.2f}"
    lines = [settled_line("1", "A01", amount=rest, day=FEB)]
    if drug != "0.00":
        lines.append(settled_line("2", DRUG, amount=drug, day=FEB))
    return settled(
        setl_id,
        psn_no=f"P-{setl_id}",
        begin=FEB,
        end=FEB + timedelta(days=3),
        code=code,
        dise="I63.900",
        medfee=medfee,
        fund=f"{float(medfee) * 0.6:.2f}",
        lines=lines,
    )


async def february(app: FastAPI, api: httpx.AsyncClient) -> None:
    """H1, H2, H3 (level 2) in February; H1's cost per case and H2's drug share stand out; a late death
    makes an after_death finding at H1; pharmacy P1 had 3 of 4 drug lines scanned."""
    outlier = next(r for r in (await api.get("/rules")).json() if r["family"] == "institution_outlier")
    await api.put(f"/rules/{outlier['rule_id']}", json={"params": {"min_peers": 2, "min_cases": 1}})
    await apply(
        app,
        admitted("A1", "H1", "2000.00", drug="500.00"),
        admitted("A2", "H1", "2000.00"),
        admitted("B1", "H2", "1000.00", drug="250.00"),
        admitted("C1", "H3", "500.00"),
        PersonDeceased(psn_no="P-A1", death_date=date(2026, 1, 31)),
    )
    async with FraudUnitOfWork(app.state.db) as uow:
        await uow.tracecodes.count("P1", "2026-02", needing=4, scanned=3, now=app.state.clock.now())
    run = await api.post("/institution-rules/run", json={"month": "2026-02"})
    assert run.status_code == 200, run.text


def deviation(
    metric: str, value: str | None, mean: str | None, ratio: str | None, above: bool, peers: int = 2
) -> dict[str, Any]:
    return {
        "metric": metric,
        "value": value,
        "peers_mean": mean,
        "peers": peers,
        "ratio": ratio,
        "above": above,
    }


H1_WARNING = {
    "fixmedins_code": "H1",
    "month": "2026-02",
    "version": 1,
    "open_findings": {
        "count": 2,
        "vola_amt": "1200.00",
        "by_family": [
            {"family": "after_death", "count": 1, "vola_amt": "1200.00"},
            {"family": "institution_outlier", "count": 1, "vola_amt": "0.00"},
        ],
    },
    "deviations": [
        deviation("cost_per_case", "2000.0000", "750.0000", "2.67", True),
        deviation("admissions_per_person", "1.0000", "1.0000", "1.00", False),
        deviation("drug_share", "0.1250", "0.1250", "1.00", False),
    ],
    "scan_rate": None,
    "published_by": "ops-test",
}


async def warnings_sent(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (
            await session.execute(
                sa.select(outbox_event.c.type, outbox_event.c.payload).order_by(outbox_event.c.seq)
            )
        ).all()
    return [json.loads(payload)["data"] for kind, payload in rows if kind == Subject.WARNING_PUBLISHED]


def without_ids(warning: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in warning.items() if k not in ("warning_id", "published_at")}


async def test_each_institution_gets_its_findings_deviations_and_scan_rate_sent_once(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await february(fraud_app, api)
    published = await api.post("/warnings/publish", json={"month": "2026-02"})
    assert published.status_code == 200, published.text
    assert (published.json()["month"], len(published.json()["published"]), published.json()["unchanged"]) == (
        "2026-02",
        4,
        0,
    )
    listed = (await api.get("/warnings", params={"month": "2026-02"})).json()["items"]
    by_code = {w["fixmedins_code"]: w for w in listed}
    assert sorted(by_code) == ["H1", "H2", "H3", "P1"]
    assert without_ids(by_code["H1"]) == H1_WARNING
    assert by_code["H2"]["open_findings"]["by_family"] == [
        {"family": "institution_outlier", "count": 1, "vola_amt": "0.00"}
    ]
    assert by_code["H2"]["deviations"][2] == deviation("drug_share", "0.2500", "0.0625", "4.00", True)
    assert by_code["H3"]["deviations"][0] == deviation(
        "cost_per_case", "500.0000", "1500.0000", "0.33", False
    )
    assert (by_code["P1"]["scan_rate"], by_code["P1"]["open_findings"]["count"]) == (
        {"lines_needing": 4, "lines_scanned": 3, "rate": "0.7500"},
        0,
    )
    assert by_code["P1"]["deviations"][0] == deviation("cost_per_case", None, None, None, False, peers=0)

    sent = await warnings_sent(fraud_app)
    assert [(e["fixmedins_code"], e["version"]) for e in sent] == [("H1", 1), ("H2", 1), ("H3", 1), ("P1", 1)]
    h1_event = sent[0]
    assert h1_event["warning_id"] == str(by_code["H1"]["warning_id"])
    assert {k: h1_event[k] for k in ("open_findings", "deviations", "scan_rate")} == {
        k: H1_WARNING[k] for k in ("open_findings", "deviations", "scan_rate")
    }


async def test_publishing_again_sends_only_what_changed_as_a_new_version(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await february(fraud_app, api)
    first = (await api.post("/warnings/publish", json={"month": "2026-02"})).json()
    again = (await api.post("/warnings/publish", json={"month": "2026-02"})).json()
    assert (again["published"], again["unchanged"]) == ([], 4)
    assert len(await warnings_sent(fraud_app)) == 4

    async with fraud_app.state.db.transaction(readonly=True) as session:
        h2_finding = await session.scalar(sa.select(Finding.finding_id).where(Finding.fixmedins_code == "H2"))
    dismissed = await api.post(f"/findings/{h2_finding}/dismiss", json={"note": "药占比经核实合理"})
    assert dismissed.status_code == 200, dismissed.text
    third = (await api.post("/warnings/publish", json={"month": "2026-02"})).json()
    assert (len(third["published"]), third["unchanged"]) == (1, 3)
    newest = (await api.get(f"/warnings/{third['published'][0]}")).json()
    assert (newest["fixmedins_code"], newest["version"], newest["open_findings"]) == (
        "H2",
        2,
        {"count": 0, "vola_amt": "0.00", "by_family": []},
    )
    listed = (await api.get("/warnings", params={"fixmedins_code": "H2"})).json()["items"]
    assert [(w["warning_id"], w["version"]) for w in listed] == [(third["published"][0], 2)]
    earlier = first["published"][1]
    assert (await api.get(f"/warnings/{earlier}")).json()["version"] == 1
    assert [(e["fixmedins_code"], e["version"]) for e in await warnings_sent(fraud_app)][-1] == ("H2", 2)


async def test_an_institution_reads_its_own_warnings_only(fraud_app: FastAPI, api: httpx.AsyncClient) -> None:
    await february(fraud_app, api)
    assert (await api.post("/warnings/publish", json={"month": "2026-02"})).status_code == 200
    listed = (await api.get("/warnings", params={"month": "2026-02"})).json()["items"]
    ids = {w["fixmedins_code"]: w["warning_id"] for w in listed}
    async with app_client(fraud_app, principal=Principal("his-h1", Role.HIS, "H1")) as his:
        own = (await his.get("/warnings")).json()["items"]
        assert [w["fixmedins_code"] for w in own] == ["H1"]
        assert (await his.get(f"/warnings/{ids['H1']}")).status_code == 200
        refused = [
            await his.get("/warnings", params={"fixmedins_code": "H2"}),
            await his.get(f"/warnings/{ids['H2']}"),
        ]
        assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "SCOPE_FORBIDDEN")] * 2
        publish = await his.post("/warnings/publish", json={"month": "2026-02"})
        assert (publish.status_code, publish.json()["code"]) == (403, "ROLE_FORBIDDEN")
    async with app_client(fraud_app, principal=Principal("pos-p1", Role.POS, "P1")) as pos:
        assert [w["fixmedins_code"] for w in (await pos.get("/warnings")).json()["items"]] == ["P1"]


async def test_bad_months_and_unknown_warnings_are_refused_and_write_nothing(
    fraud_app: FastAPI, api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await february(fraud_app, api)
    refused = {
        "no zero": await api.post("/warnings/publish", json={"month": "2026-2"}),
        "extra": await api.post("/warnings/publish", json={"month": "2026-02", "force": True}),
        "not over": await api.post("/warnings/publish", json={"month": "2026-03"}),
        "bad filter": await api.get("/warnings", params={"month": "02-2026"}),
        "unknown": await api.get("/warnings/999"),
    }
    assert {name: (r.status_code, r.json()["code"]) for name, r in refused.items()} == {
        "no zero": (422, "VALIDATION_ERROR"),
        "extra": (422, "VALIDATION_ERROR"),
        "not over": (409, "MONTH_NOT_OVER"),
        "bad filter": (422, "VALIDATION_ERROR"),
        "unknown": (404, "WARNING_NOT_FOUND"),
    }
    async with fraud_app.state.db.transaction(readonly=True) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(InstitutionWarning)) == 0
    assert await warnings_sent(fraud_app) == []


async def test_two_publications_at_once_make_each_warning_once(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    await february(fraud_app, api)
    first, second = await asyncio.gather(
        api.post("/warnings/publish", json={"month": "2026-02"}),
        api.post("/warnings/publish", json={"month": "2026-02"}),
    )
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert sorted(len(r.json()["published"]) for r in (first, second)) == [0, 4]
    async with fraud_app.state.db.transaction(readonly=True) as session:
        versions = (
            await session.execute(sa.select(InstitutionWarning.fixmedins_code, InstitutionWarning.version))
        ).all()
    assert sorted(versions) == [("H1", 1), ("H2", 1), ("H3", 1), ("P1", 1)]
    assert len(await warnings_sent(fraud_app)) == 4
