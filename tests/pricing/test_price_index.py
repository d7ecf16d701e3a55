"""The volume-price comparison index on a hand-computed basket, and the ranking of a region."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from common.clock import FrozenClock
from tests.pricing.conftest import as_client, at_shanghai, pos, put_drug, sale, seed_pharmacies, upload

MARCH = at_shanghai(2026, 3, 10)


async def test_the_index_of_a_basket_and_the_ranking_with_the_pharmacies_to_interview(
    api: httpx.AsyncClient, pricing_app: FastAPI, clock: FrozenClock
) -> None:
    clock.set(at_shanghai(2026, 4, 2))
    await seed_pharmacies(pricing_app.state.db, "P001", "P002", "P003", "P004")
    await seed_pharmacies(pricing_app.state.db, "P900", admdvs="429006")
    for code in ("A", "B", "C"):
        await put_drug(api, code)
    for pharmacy in ("P001", "P002"):
        await upload(
            api,
            pharmacy,
            sale(f"{pharmacy}-a", "A", "10.00", at=MARCH),
            sale(f"{pharmacy}-b", "B", "5.00", at=MARCH),
            sale(f"{pharmacy}-c", "C", "20.00", at=MARCH),
        )
    # P003: 2 x 11.00 + 3 x 5.50 + 1 x 20.00 = 58.50 against 2 x 10.00 + 3 x 5.00 + 1 x 20.00 = 55.00
    basket = await upload(
        api,
        "P003",
        sale("s1", "A", "11.00", cnt="2", at=MARCH),
        sale("s2", "B", "5.50", cnt="3", at=MARCH),
        sale("s3", "C", "20.00", cnt="1", at=MARCH),
        # 00:30 on 1 April in Shanghai (still 31 March in UTC): April's, not March's
        sale("s4", "A", "50.00", cnt="1", at=at_shanghai(2026, 4, 1, 0, 30)),
    )
    assert [r["reference_pric"] for r in basket["results"][:3]] == ["10.00", "5.00", "20.00"]
    await upload(api, "P004", sale("t1", "A", "13.00", at=MARCH))  # 13.00 / 10.00
    await upload(api, "P900", sale("u1", "A", "99.00", at=MARCH))  # another region

    index = (await api.get("/pharmacies/P003/price-index", params={"month": "2026-03"})).json()
    assert index == {
        "fixmedins_code": "P003",
        "fixmedins_name": "药店P003",
        "admdvs": "420100",
        "month": "2026-03",
        "lines": 3,
        "sales_amount": "58.50",
        "reference_amount": "55.00",
        "price_index": "1.0636",
        "warning_line": "1.10",
        "above_warning_line": False,
    }
    ranking = (await api.get("/price-index/ranking", params={"month": "2026-03", "admdvs": "420100"})).json()
    assert [(i["fixmedins_code"], i["price_index"], i["above_warning_line"]) for i in ranking["items"]] == [
        ("P004", "1.3000", True),
        ("P003", "1.0636", False),
        ("P001", "1.0000", False),
        ("P002", "1.0000", False),
    ]
    assert ranking["listed"] == ["P004"]
    empty = (await api.get("/pharmacies/P001/price-index", params={"month": "2026-02"})).json()
    assert (empty["lines"], empty["price_index"], empty["sales_amount"]) == (0, None, "0.00")
    bad = await api.get("/pharmacies/P001/price-index", params={"month": "2026-13"})
    assert (bad.status_code, bad.json()["code"]) == (422, "VALIDATION_ERROR")
    async with as_client(pricing_app, pos("P003")) as client:
        own = await client.get("/pharmacies/P003/price-index", params={"month": "2026-03"})
        other = await client.get("/pharmacies/P004/price-index", params={"month": "2026-03"})
        ranking_refused = await client.get("/price-index/ranking", params={"month": "2026-03"})
    assert own.json()["price_index"] == "1.0636"
    assert (other.status_code, other.json()["code"]) == (403, "SCOPE_FORBIDDEN")
    assert ranking_refused.status_code == 403
