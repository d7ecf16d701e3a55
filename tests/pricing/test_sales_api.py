"""Sales uploads: lights at once, reference prices kept up to date, idempotency, rejected lines, alerts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.tables import outbox_event
from pricing.api.sales import sales_answer
from pricing.models import Observation
from pricing.schemas.monitoring import SaleResult, SalesOut
from pricing.service.observations import LineOutcome
from tests.pricing.conftest import as_client, at_shanghai, pos, put_drug, sale, seed_pharmacies, upload

DRUG = "XC10AAA0001010101"
OTHER_DRUG = "XC10AAA0001010202"
PHARMACIES = ("P001", "P002", "P003", "P004", "P005")


@pytest.fixture
async def market(api: httpx.AsyncClient, pricing_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Five pharmacies in Wuhan; the drug's reference is 10.00 (two pharmacies ask it)."""
    await seed_pharmacies(pricing_app.state.db, *PHARMACIES)
    await seed_pharmacies(pricing_app.state.db, "P900", admdvs="429006")
    await put_drug(api, DRUG, procurement_price="9.00")  # red above 13.50
    await upload(api, "P001", sale("a1", DRUG, "10.00"))
    await upload(api, "P002", sale("b1", DRUG, "10.00"))
    yield api


async def reference(api: httpx.AsyncClient, admdvs: str = "420100") -> tuple[str, str, int] | None:
    found = (await api.get("/reference-prices", params={"med_list_codg": DRUG, "admdvs": admdvs})).json()
    return (found[0]["reference_pric"], found[0]["basis"], found[0]["pharmacies"]) if found else None


async def outbox(app: FastAPI, prefix: str = "pricing.alert.") -> list[tuple[str, dict[str, object]]]:
    """The events written to the outbox whose type starts with `prefix` (the alerts' by default)."""
    async with app.state.db.transaction(readonly=True) as session:
        rows = await session.execute(
            sa.select(outbox_event.c.type, outbox_event.c.payload).order_by(outbox_event.c.seq)
        )
        return [(kind, json.loads(payload)["data"]) for kind, payload in rows if kind.startswith(prefix)]


async def test_each_line_gets_its_light_at_once_at_the_exact_boundaries(market: httpx.AsyncClient) -> None:
    answer = await upload(
        market,
        "P003",
        sale("c1", DRUG, "11.50", at=at_shanghai(2026, 3, 2, 9, 1)),  # exactly 15 %: green
        sale("c2", DRUG, "11.501", at=at_shanghai(2026, 3, 2, 9, 2)),  # 15.01 %: yellow
        sale("c3", DRUG, "13.00", at=at_shanghai(2026, 3, 2, 9, 3)),  # exactly 30 %: yellow
        sale("c4", DRUG, "13.001", at=at_shanghai(2026, 3, 2, 9, 4)),  # 30.01 %: red
    )
    assert [(r["light"], r["diff_ratio"], r["reference_pric"]) for r in answer["results"]] == [
        ("green", "0.1500", "10.00"),
        ("yellow", "0.1501", "10.00"),
        ("yellow", "0.3000", "10.00"),
        ("red", "0.3001", "10.00"),
    ]
    assert (answer["accepted"], answer["rejected"]) == (4, 0)


async def test_above_one_and_a_half_times_the_procurement_price_is_red(market: httpx.AsyncClient) -> None:
    await put_drug(market, DRUG, procurement_price="7.00")  # 1.5 x 7.00 = 10.50
    answer = await upload(market, "P003", sale("c1", DRUG, "10.50"), sale("c2", DRUG, "10.51"))
    assert [(r["light"], r["over_procurement"]) for r in answer["results"]] == [
        ("green", False),
        ("red", True),
    ]


async def test_the_reference_follows_each_pharmacys_latest_price(market: httpx.AsyncClient) -> None:
    assert await reference(market) == ("10.00", "mode", 2)
    # P001 moves to 12.00: no price repeats any more (10.00, 12.00): the median, 11.00
    await upload(market, "P001", sale("a2", DRUG, "12.00", at=at_shanghai(2026, 3, 2, 9, 30)))
    assert await reference(market) == ("11.00", "median", 2)
    # An older sale of P001 arriving late does not replace its latest price.
    await upload(market, "P001", sale("a0", DRUG, "10.00", at=at_shanghai(2026, 3, 1, 9)))
    assert await reference(market) == ("11.00", "median", 2)
    # 12.00 twice and 10.00 once: 12.00 is the mode.
    await upload(market, "P003", sale("c1", DRUG, "12.00"))
    assert await reference(market) == ("12.00", "mode", 3)
    # 12.00 twice and 9.00 twice: two modes, the lower one.
    await upload(market, "P004", sale("d1", DRUG, "9.00"))
    await upload(market, "P005", sale("e1", DRUG, "9.00"))
    assert await reference(market) == ("9.00", "mode", 5)
    # Another region has its own reference.
    await upload(market, "P900", sale("z1", DRUG, "20.00"))
    assert await reference(market, "429006") == ("20.00", "median", 1)


async def test_the_window_keeps_a_price_30_days_old_and_drops_one_31_days_old(
    market: httpx.AsyncClient, clock: FrozenClock
) -> None:
    now = clock.now()
    await upload(market, "P003", sale("c1", DRUG, "20.00", at=now - timedelta(days=30)))
    await upload(market, "P004", sale("d1", DRUG, "20.00", at=now - timedelta(days=31)))
    # 10.00 twice, 20.00 once (P003 at exactly 30 days), P004 outside: the mode 10.00 of 3 pharmacies
    assert await reference(market) == ("10.00", "mode", 3)
    # A day later P003's price is 31 days old: a sale of the drug takes it out of the table at once.
    clock.advance(days=1)
    await upload(market, "P005", sale("e1", DRUG, "10.00", at=clock.now()))
    assert await reference(market) == ("10.00", "mode", 3)  # P001, P002, P005
    # The recompute takes out what aged for drugs nobody sold: 29 days on, P001 and P002 (sold an hour
    # before the start) are 30 days and an hour old, P005 29 days.
    clock.advance(days=29)
    assert (await market.post("/reference-prices/recompute")).json() | {"seconds": 0} == {
        "aged_out": 2,
        "references": 1,
        "previous_references": 1,
        "seconds": 0,
    }
    assert await reference(market) == ("10.00", "median", 1)
    clock.advance(days=1)  # P005's sale is exactly 30 days old: still in
    await market.post("/reference-prices/recompute")
    assert await reference(market) == ("10.00", "median", 1)
    clock.advance(seconds=1)  # and now out
    await market.post("/reference-prices/recompute")
    assert await reference(market) is None


async def test_a_retried_line_gets_its_original_answer_and_a_changed_one_is_a_conflict(
    market: httpx.AsyncClient, pricing_app: FastAPI
) -> None:
    first = await upload(market, "P003", sale("c1", DRUG, "12.00"))
    again = await upload(market, "P003", sale("c1", DRUG, "12.00"), sale("c1", DRUG, "12.00"))
    assert again["results"][0] == first["results"][0] | {"replay": True}
    assert again["results"][1] == first["results"][0] | {"replay": True}
    changed = await upload(market, "P003", sale("c1", DRUG, "12.01"), sale("c2", DRUG, "9.00"))
    assert [(r["status"], r["reason"]) for r in changed["results"]] == [
        ("rejected", "SALE_ID_CONFLICT"),
        ("accepted", None),
    ]
    within = await upload(market, "P003", sale("c9", DRUG, "9.00"), sale("c9", DRUG, "9.50"))
    assert [(r["status"], r["reason"]) for r in within["results"]] == [
        ("accepted", None),
        ("rejected", "SALE_ID_CONFLICT"),
    ]
    async with pricing_app.state.db.transaction(readonly=True) as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(Observation)) == 5


@pytest.mark.postgres_only
async def test_the_same_sale_racing_itself_is_recorded_once(
    market: httpx.AsyncClient, pricing_app: FastAPI
) -> None:
    """A POS retrying before its first answer arrived: the copies race; one records, the others replay."""
    same = [sale("r1", DRUG, "12.00"), sale("r2", DRUG, "11.00")]
    answers = await asyncio.gather(*(upload(market, "P004", *same) for _ in range(8)))
    outcomes = sorted(tuple((r["status"], r["replay"]) for r in answer["results"]) for answer in answers)
    assert (
        outcomes
        == [(("accepted", False), ("accepted", False))] + [(("accepted", True), ("accepted", True))] * 7
    )
    # The same sale_id for two drugs: the two writers lock different reference rows, so nothing else
    # serialises them and the unique key decides.
    await put_drug(market, OTHER_DRUG, procurement_price="9.00")
    changed = [sale("r3", DRUG, "12.00")], [sale("r3", OTHER_DRUG, "13.00")]
    raced = await asyncio.gather(*(upload(market, "P004", *lines) for lines in changed * 4))
    # Whichever drug's copy commits first is the sale; its three copies replay, the other four conflict.
    statuses = sorted((r["status"], r["reason"], r["replay"]) for answer in raced for r in answer["results"])
    assert (
        statuses
        == [("accepted", None, False)]
        + [("accepted", None, True)] * 3
        + [("rejected", "SALE_ID_CONFLICT", False)] * 4
    )
    async with pricing_app.state.db.transaction(readonly=True) as session:
        stored = (
            await session.execute(
                sa.select(Observation.sale_id, sa.func.count())
                .where(Observation.fixmedins_code == "P004")
                .group_by(Observation.sale_id)
                .order_by(Observation.sale_id)
            )
        ).all()
    assert [tuple(row) for row in stored] == [("r1", 1), ("r2", 1), ("r3", 1)]


async def test_unknown_drug_or_pharmacy_rejects_the_line_and_the_rest_is_recorded(
    market: httpx.AsyncClient, clock: FrozenClock
) -> None:
    answer = await upload(
        market,
        "P003",
        sale("c1", "NOSUCHDRUG", "1.00"),
        sale("c2", DRUG, "10.00"),
        sale("c3", DRUG, "10.00", at=clock.now() + timedelta(hours=1)),
    )
    assert [(r["status"], r["reason"], r["light"]) for r in answer["results"]] == [
        ("rejected", "DRUG_NOT_FOUND", None),
        ("accepted", None, "green"),
        ("rejected", "SEL_TIME_IN_FUTURE", None),
    ]
    unknown = await upload(market, "P404", sale("x1", DRUG, "10.00"))
    assert [(r["status"], r["reason"]) for r in unknown["results"]] == [("rejected", "PHARMACY_NOT_FOUND")]


async def test_bad_uploads_are_problems_and_write_nothing(
    market: httpx.AsyncClient, pricing_app: FastAPI
) -> None:
    for body in (
        {"fixmedins_code": "P003", "sales": []},
        {"fixmedins_code": "P003", "sales": [sale("c1", DRUG, "10.001")]},  # fine: 6 places allowed
        {"fixmedins_code": "P003", "sales": [sale("c1", DRUG, "0")]},
        {"fixmedins_code": "P003", "sales": [sale("c1", DRUG, "1.0000001")]},
        {"fixmedins_code": "P003", "sales": [sale("c1", DRUG, "1.00", cnt="0")]},
        {"fixmedins_code": "P003", "sales": [sale("c1", DRUG, "1.00") | {"sel_time": "2026-03-02T09:00:00"}]},
    ):
        response = await market.post("/sales", json=body)
        if body["sales"] and body["sales"][0]["finl_trns_pric"] == "10.001":
            continue
        assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_ERROR"), body
    malformed = await market.post("/sales", content=b"{", headers={"content-type": "application/json"})
    assert (malformed.status_code, malformed.json()["code"]) == (422, "MALFORMED_JSON")


async def test_a_pos_uploads_for_its_own_pharmacy_only(
    market: httpx.AsyncClient, pricing_app: FastAPI
) -> None:
    async with as_client(pricing_app, pos("P003")) as client:
        own = await client.post(
            "/sales", json={"fixmedins_code": "P003", "sales": [sale("c1", DRUG, "10.00")]}
        )
        other = await client.post(
            "/sales", json={"fixmedins_code": "P004", "sales": [sale("d1", DRUG, "10.00")]}
        )
        alerts = await client.get("/alerts", params={"fixmedins_code": "P004"})
    assert own.status_code == 200
    assert (other.status_code, other.json()["code"]) == (403, "SCOPE_FORBIDDEN")
    assert (alerts.status_code, alerts.json()["code"]) == (403, "SCOPE_FORBIDDEN")


async def test_an_alert_is_raised_once_per_pharmacy_drug_and_light_until_resolved(
    market: httpx.AsyncClient, pricing_app: FastAPI
) -> None:
    await upload(
        market, "P003", sale("c1", DRUG, "12.00"), sale("c2", DRUG, "12.50"), sale("c3", DRUG, "14.00")
    )
    alerts = (await market.get("/alerts")).json()["items"]
    assert [(a["light"], a["pric"], a["occurrences"], a["status"]) for a in alerts] == [
        ("red", "14.00", 1, "open"),
        ("yellow", "12.00", 2, "open"),
    ]
    yellow = alerts[1]["alert_id"]
    resolved = await market.post(f"/alerts/{yellow}/resolve", json={"note": "已约谈药店"})
    assert (resolved.json()["status"], resolved.json()["note"]) == ("resolved", "已约谈药店")
    twice = await market.post(f"/alerts/{yellow}/resolve", json={"note": "again"})
    assert (twice.status_code, twice.json()["code"]) == (409, "ALERT_ALREADY_RESOLVED")
    missing = await market.post("/alerts/999/resolve", json={"note": "x"})
    assert (missing.status_code, missing.json()["code"]) == (404, "ALERT_NOT_FOUND")
    empty_note = await market.post(f"/alerts/{yellow}/resolve", json={"note": " "})
    assert empty_note.status_code == 422
    await upload(market, "P003", sale("c4", DRUG, "12.40"))  # yellow again: a new alert
    filtered = (await market.get("/alerts", params={"light": "yellow", "status": "open"})).json()["items"]
    assert [(a["pric"], a["sale_id"]) for a in filtered] == [("12.40", "c4")]
    events = await outbox(pricing_app)
    assert [(kind, data["alert_id"], data["light"]) for kind, data in events] == [
        ("pricing.alert.raised", 1, "yellow"),
        ("pricing.alert.raised", 2, "red"),
        ("pricing.alert.resolved", 1, "yellow"),
        ("pricing.alert.raised", 3, "yellow"),
    ]
    assert events[0][1] | {"raised_at": None} == {
        "alert_id": 1,
        "fixmedins_code": "P003",
        "med_list_codg": DRUG,
        "admdvs": "420100",
        "light": "yellow",
        "pric": "12.00",
        "reference_pric": "10.00",
        "diff_ratio": "0.2000",
        "over_procurement": False,
        "sale_id": "c1",
        "raised_at": None,
    }


async def test_ops_change_the_thresholds_and_the_window(market: httpx.AsyncClient) -> None:
    assert (await market.get("/settings")).json() | {"updated_at": None} == {
        "yellow_threshold": "0.15",
        "red_threshold": "0.30",
        "procurement_factor": "1.5",
        "window_days": 30,
        "index_warning_line": "1.10",
        "updated_by": None,
        "updated_at": None,
    }
    body = {
        "yellow_threshold": "0.05",
        "red_threshold": "0.10",
        "procurement_factor": "2",
        "window_days": 7,
        "index_warning_line": "1.05",
    }
    assert (await market.put("/settings", json=body)).status_code == 200
    answer = await upload(market, "P003", sale("c1", DRUG, "10.60"), sale("c2", DRUG, "11.01"))
    assert [r["light"] for r in answer["results"]] == ["yellow", "red"]
    inverted = await market.put("/settings", json=body | {"red_threshold": "0.05"})
    assert (inverted.status_code, inverted.json()["code"]) == (422, "INVALID_THRESHOLDS")


async def test_the_public_compares_a_drugs_prices_cheapest_first(
    market: httpx.AsyncClient, pricing_app: FastAPI, clock: FrozenClock
) -> None:
    from tests.pricing.conftest import PUBLIC

    await upload(market, "P003", sale("c1", DRUG, "14.00"))
    await upload(market, "P004", sale("d1", DRUG, "9.50"))
    await upload(market, "P005", sale("e1", DRUG, "30.00", at=clock.now() - timedelta(days=31)))  # stale
    async with as_client(pricing_app, PUBLIC) as public:
        found = await public.get("/compare", params={"med_list_codg": DRUG, "admdvs": "420100"})
        unknown = await public.get("/compare", params={"med_list_codg": "NOPE", "admdvs": "420100"})
        bad = await public.get("/compare", params={"med_list_codg": DRUG, "admdvs": "42"})
    body = found.json()
    assert body["reference_pric"] == "10.00"
    assert [(p["fixmedins_code"], p["pric"], p["light"]) for p in body["pharmacies"]] == [
        ("P004", "9.50", "green"),
        ("P001", "10.00", "green"),
        ("P002", "10.00", "green"),
        ("P003", "14.00", "red"),
    ]
    assert (unknown.status_code, unknown.json()["code"]) == (404, "DRUG_NOT_FOUND")
    assert (bad.status_code, bad.json()["code"]) == (422, "VALIDATION_ERROR")


def test_the_answer_is_serialised_once_exactly_as_the_response_model_would() -> None:
    outcomes = [
        LineOutcome("s1", True, "green", Decimal("10.00"), Decimal("10.00"), "0.0000", False),
        LineOutcome("s2", True, "red", Decimal("12.345678"), Decimal("9.5"), "0.2995", True, replay=True),
        LineOutcome("s3", False, reason="DRUG_NOT_FOUND", message="No drug X in the reference data."),
    ]
    validated = SalesOut(
        fixmedins_code="P001",
        accepted=2,
        rejected=1,
        results=[
            SaleResult(
                sale_id=o.sale_id,
                status="accepted" if o.accepted else "rejected",
                light=o.light,
                pric=o.price,
                reference_pric=o.reference,
                diff_ratio=o.diff_ratio,
                over_procurement=o.over_procurement,
                replay=o.replay,
                reason=o.reason,
                message=o.message,
            )
            for o in outcomes
        ],
    )
    assert json.loads(sales_answer("P001", outcomes)) == validated.model_dump(mode="json")


async def test_sightings_of_an_open_alert_are_counted_on_it_and_new_keys_raise_one_each(
    market: httpx.AsyncClient, pricing_app: FastAPI
) -> None:
    await upload(market, "P003", sale("d1", DRUG, "12.00"))
    await upload(
        market,
        "P003",
        sale("d2", DRUG, "12.10"),  # yellow again: counted on the open one
        sale("d3", DRUG, "14.00"),  # red: raised
        sale("d4", DRUG, "12.20"),
        sale("d5", DRUG, "14.10"),
    )
    alerts = (await market.get("/alerts")).json()["items"]
    assert [(a["light"], a["pric"], a["sale_id"], a["occurrences"]) for a in alerts] == [
        ("red", "14.00", "d3", 2),
        ("yellow", "12.00", "d1", 3),
    ]
    assert [kind for kind, _ in await outbox(pricing_app)] == ["pricing.alert.raised"] * 2
