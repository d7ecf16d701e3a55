"""POS sales reach fraud (pricing.sale.recorded, once per upload, never for a replay) and refunds (退货):
the sale stops counting as a price, and pricing.sale.refunded frees its traceability codes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.pricing import SaleRecorded, SaleRefunded
from common.events.tables import outbox_event
from pricing.models import Observation
from tests.pricing.conftest import as_client, at_shanghai, pos, put_drug, sale, seed_pharmacies, upload
from tests.pricing.test_reversal_order import handle, settlement

DRUG = "XC10AAA0001010101"
MARCH = at_shanghai(2026, 3, 2, 9)


async def sale_events(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, subject, data) of the sale events in the outbox, in order."""
    async with app.state.db.transaction(readonly=True) as session:
        rows = await session.execute(
            sa.select(outbox_event.c.type, outbox_event.c.subject, outbox_event.c.payload)
            .where(outbox_event.c.type.like("pricing.sale.%"))
            .order_by(outbox_event.c.seq)
        )
        return [(kind, subject, json.loads(payload)["data"]) for kind, subject, payload in rows]


def coded(sale_id: str, price: str, *codes: str, cnt: str = "1", at: Any = MARCH) -> dict[str, Any]:
    return sale(sale_id, DRUG, price, cnt=cnt, at=at) | {"drug_trac_codg": list(codes)}


@pytest.fixture
async def shop(api: httpx.AsyncClient, pricing_app: FastAPI) -> httpx.AsyncClient:
    """Three pharmacies of Wuhan and one drug."""
    await seed_pharmacies(pricing_app.state.db, "P001", "P002", "P003")
    await put_drug(api, DRUG)
    return api


async def refund(
    api: httpx.AsyncClient, pharmacy: str, *refunds: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    response = await api.post("/sales/refunds", json={"fixmedins_code": pharmacy, "refunds": list(refunds)})
    return response.status_code, response.json()


def refund_of(sale_id: str, hour: int = 15, note: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"sale_id": sale_id, "refund_time": at_shanghai(2026, 3, 2, hour).isoformat()}
    return body | ({"note": note} if note is not None else {})


async def test_an_upload_sends_its_new_lines_to_fraud_in_one_event_and_a_replay_sends_nothing(
    shop: httpx.AsyncClient, pricing_app: FastAPI
) -> None:
    first = await upload(
        shop,
        "P001",
        coded("s1", "10.00", "81000000000000000001", "81000000000000000002", cnt="2"),
        coded("s2", "10.50"),
        sale("s3", "NO-SUCH-DRUG", "1.00"),  # rejected: not in the event
    )
    assert (first["accepted"], first["rejected"]) == (2, 1)
    again = await upload(
        shop, "P001", coded("s1", "10.00", "81000000000000000001", "81000000000000000002", cnt="2")
    )
    assert again["results"][0]["replay"] is True
    mixed = await upload(shop, "P001", coded("s2", "10.50"), coded("s4", "11.00", "81000000000000000003"))
    assert [r["replay"] for r in mixed["results"]] == [True, False]

    events = await sale_events(pricing_app)
    assert [(kind, subject) for kind, subject, _ in events] == [
        ("pricing.sale.recorded", "P001"),
        ("pricing.sale.recorded", "P001"),
    ]
    assert events[0][2] == {
        "fixmedins_code": "P001",
        "lines": [
            {"sale_id": "s1", "med_list_codg": DRUG, "cnt": "2", "pric": "10.00",
             "sel_time": "2026-03-02T09:00:00+08:00",
             "drug_trac_codg": ["81000000000000000001", "81000000000000000002"]},
            {"sale_id": "s2", "med_list_codg": DRUG, "cnt": "1", "pric": "10.50",
             "sel_time": "2026-03-02T09:00:00+08:00", "drug_trac_codg": []},
        ],
    }  # fmt: skip
    assert [line.sale_id for line in SaleRecorded.model_validate(events[1][2]).lines] == ["s4"]


async def test_a_refund_takes_the_sale_out_of_the_index_and_the_latest_price_and_frees_its_codes(
    shop: httpx.AsyncClient, pricing_app: FastAPI, clock: FrozenClock
) -> None:
    clock.set(at_shanghai(2026, 3, 2, 18))
    await upload(shop, "P001", coded("a1", "10.00", at=at_shanghai(2026, 3, 2, 8)))
    await upload(shop, "P002", coded("b1", "10.00"))
    # P001's newer price 12.00 makes the reference the median of 12.00 and 10.00: 11.00
    await upload(shop, "P001", coded("a2", "12.00", "81000000000000000009", at=at_shanghai(2026, 3, 2, 10)))
    reference = await shop.get("/reference-prices", params={"med_list_codg": DRUG, "admdvs": "420100"})
    assert (reference.json()[0]["reference_pric"], reference.json()[0]["basis"]) == ("11.00", "median")
    index = (await shop.get("/pharmacies/P001/price-index", params={"month": "2026-03"})).json()
    assert (index["lines"], index["sales_amount"]) == (2, "22.00")

    status, body = await refund(shop, "P001", refund_of("a2", note="顾客退货"))
    assert status == 200, body
    assert body == {
        "fixmedins_code": "P001",
        "refunded": 1,
        "rejected": 0,
        "results": [
            {"sale_id": "a2", "status": "refunded", "refund_time": "2026-03-02T07:00:00Z", "replay": False,
             "reason": None, "message": None}
        ],
    }  # fmt: skip
    # P001's latest price is 10.00 again: two pharmacies ask 10.00, the mode
    reference = await shop.get("/reference-prices", params={"med_list_codg": DRUG, "admdvs": "420100"})
    assert (reference.json()[0]["reference_pric"], reference.json()[0]["basis"]) == ("10.00", "mode")
    index = (await shop.get("/pharmacies/P001/price-index", params={"month": "2026-03"})).json()
    assert (index["lines"], index["sales_amount"], index["reference_amount"]) == (1, "10.00", "10.00")
    async with pricing_app.state.db.transaction(readonly=True) as session:
        row = await session.scalar(sa.select(Observation).where(Observation.sale_id == "a2"))
    assert row is not None and (row.refund_time, row.refund_note) == (at_shanghai(2026, 3, 2, 15), "顾客退货")

    refunded = [data for kind, _, data in await sale_events(pricing_app) if kind == "pricing.sale.refunded"]
    assert refunded == [
        {
            "fixmedins_code": "P001",
            "refunds": [
                {"sale_id": "a2", "med_list_codg": DRUG, "cnt": "1", "sel_time": "2026-03-02T02:00:00+00:00",
                 "drug_trac_codg": ["81000000000000000009"], "refund_time": "2026-03-02T15:00:00+08:00"}
            ],
        }
    ]  # fmt: skip
    assert SaleRefunded.model_validate(refunded[0]).refunds[0].refund_time == at_shanghai(2026, 3, 2, 15)

    # The same refund again: answered as it was, nothing sent again; the sale itself is still a replay.
    status, again = await refund(shop, "P001", refund_of("a2", note="顾客退货"))
    assert (status, again["results"][0]["replay"], again["refunded"]) == (200, True, 1)
    replayed = await upload(
        shop, "P001", coded("a2", "12.00", "81000000000000000009", at=at_shanghai(2026, 3, 2, 10))
    )
    assert replayed["results"][0]["replay"] is True
    kinds = [kind for kind, _, _ in await sale_events(pricing_app)]
    assert kinds.count("pricing.sale.refunded") == 1


async def test_bad_refunds_are_rejected_each_with_its_code_and_change_nothing(
    shop: httpx.AsyncClient, pricing_app: FastAPI, clock: FrozenClock
) -> None:
    clock.set(at_shanghai(2026, 3, 2, 18))
    await upload(shop, "P001", coded("a1", "10.00"), coded("a2", "10.00"))
    await handle(pricing_app, settlement("SETL1"))  # a pharmacy settlement's line: "SETL1:1"
    status, body = await refund(
        shop,
        "P001",
        refund_of("a1"),
        refund_of("a1", hour=16),  # the same sale again, at another time
        refund_of("zz"),
        refund_of("a2", hour=8),  # before the sale (09:00)
        {"sale_id": "a2", "refund_time": at_shanghai(2026, 3, 3, 18).isoformat()},  # tomorrow
        refund_of("SETL1:1"),
    )
    assert status == 200, body
    assert [(r["sale_id"], r["status"], r["reason"]) for r in body["results"]] == [
        ("a1", "refunded", None),
        ("a1", "rejected", "REFUND_CONFLICT"),
        ("zz", "rejected", "SALE_NOT_FOUND"),
        ("a2", "rejected", "REFUND_BEFORE_SALE"),
        ("a2", "rejected", "REFUND_TIME_IN_FUTURE"),
        ("SETL1:1", "rejected", "SALE_NOT_REFUNDABLE"),
    ]
    assert (body["refunded"], body["rejected"]) == (1, 5)
    status, later = await refund(shop, "P001", refund_of("a1", hour=17))
    assert (status, later["results"][0]["reason"]) == (200, "REFUND_CONFLICT")
    refunded = [data for kind, _, data in await sale_events(pricing_app) if kind == "pricing.sale.refunded"]
    assert [[r["sale_id"] for r in data["refunds"]] for data in refunded] == [["a1"]]

    empty = await shop.post("/sales/refunds", json={"fixmedins_code": "P001", "refunds": []})
    naive = await shop.post(
        "/sales/refunds",
        json={"fixmedins_code": "P001", "refunds": [{"sale_id": "a2", "refund_time": "2026-03-02T15:00:00"}]},
    )
    assert [(r.status_code, r.json()["code"]) for r in (empty, naive)] == [
        (422, "VALIDATION_ERROR"),
        (422, "VALIDATION_ERROR"),
    ]
    async with as_client(pricing_app, pos("P002")) as other:
        refused = await other.post(
            "/sales/refunds", json={"fixmedins_code": "P001", "refunds": [refund_of("a2")]}
        )
    assert (refused.status_code, refused.json()["code"]) == (403, "SCOPE_FORBIDDEN")
    async with pricing_app.state.db.transaction(readonly=True) as session:
        standing = await session.scalars(
            sa.select(Observation.sale_id)
            .where(Observation.refund_time.is_(None))
            .order_by(Observation.sale_id)
        )
        assert list(standing) == ["SETL1:1", "a2"]
