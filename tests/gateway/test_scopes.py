"""Scopes end to end through the gateway: each role tried on what it must not reach, against live services."""

from __future__ import annotations

from tests.gateway.conftest import HOSPITAL_A, PHARMACY, Clients, bearer, claim


async def test_a_hospital_settles_and_sees_only_as_itself(clients: Clients) -> None:
    client, keys = clients.client, clients.keys
    made = await client.post(
        "/settlement/settlements", headers=bearer(keys["his-a"]), json=claim(HOSPITAL_A, "A-1")
    )
    assert made.status_code == 201, made.text
    setl_id = made.json()["setlinfo"]["setl_id"]
    mdtrt_id = made.json()["setlinfo"]["mdtrt_id"]
    as_b = bearer(keys["his-b"])
    forbidden = {
        "settle as another": await client.post(
            "/settlement/settlements", headers=as_b, json=claim(HOSPITAL_A, "B-1")
        ),
        "another's settlement": await client.get(f"/settlement/settlements/{setl_id}", headers=as_b),
        "another's visit": await client.get(f"/settlement/visits/{mdtrt_id}", headers=as_b),
        "another's reversal": await client.post(
            f"/settlement/settlements/{setl_id}/reversal", headers=as_b, json={"reason": "x"}
        ),
        "another's settlement list": await client.get(
            "/settlement/settlements", headers=as_b, params={"fixmedins_code": HOSPITAL_A}
        ),
        "another's statements": await client.get(
            "/settlement/daily-statements", headers=as_b, params={"fixmedins_code": HOSPITAL_A}
        ),
        "another's disbursements": await client.get(
            "/settlement/disbursements", headers=as_b, params={"fixmedins_code": HOSPITAL_A}
        ),
        "another's institution": await client.get(f"/settlement/institutions/{HOSPITAL_A}", headers=as_b),
        "another's day": await client.get(f"/settlement/institutions/{HOSPITAL_A}/activity", headers=as_b),
        "another's totals": await client.post(
            "/settlement/reconciliations/totals",
            headers=as_b,
            json={
                "fixmedins_code": HOSPITAL_A,
                "begndate": "2026-03-01",
                "enddate": "2026-03-02",
                "medfee_sumamt": "20.00",
                "fund_pay_sumamt": "0.00",
                "acct_pay": "20.00",
                "fixmedins_setl_cnt": 1,
            },
        ),
        "another's details": await client.post(
            "/settlement/reconciliations/details",
            headers=as_b,
            json={
                "fixmedins_code": HOSPITAL_A,
                "begndate": "2026-03-01",
                "enddate": "2026-03-02",
                "items": [
                    {
                        "setl_id": setl_id,
                        "medfee_sumamt": "20.00",
                        "fund_pay_sumamt": "0.00",
                        "acct_pay": "20.00",
                    }
                ],
            },
        ),
    }
    assert {name: (r.status_code, r.json()["code"]) for name, r in forbidden.items()} == {
        name: (403, "SCOPE_FORBIDDEN") for name in forbidden
    }
    own = await client.get(f"/settlement/settlements/{setl_id}", headers=bearer(keys["his-a"]))
    assert own.status_code == 200
    listed = await client.get("/settlement/settlements", headers=as_b)
    assert listed.json()["items"] == []


async def test_institution_clients_cannot_do_the_bureaus_work(clients: Clients) -> None:
    client, keys = clients.client, clients.keys
    for name in ("his-a", "pos"):
        headers = bearer(keys[name])
        refused = {
            "list persons": await client.get("/enrollment/persons", headers=headers),
            "ledger check": await client.get("/settlement/ledger/check", headers=headers),
            "close a day": await client.post(
                "/settlement/day-closes", headers=headers, json={"date": "2026-03-01"}
            ),
            "change the catalogue": await client.put(
                "/settlement/catalog/A01", headers=headers, json={"name": "x", "chrgitm_lv": "03"}
            ),
            "add a policy": await client.post("/settlement/policies", headers=headers, json={}),
        }
        assert {what: r.status_code for what, r in refused.items()} == {what: 403 for what in refused}, name


async def test_a_pharmacy_settles_only_for_itself_and_the_public_reaches_no_claims(clients: Clients) -> None:
    client, keys = clients.client, clients.keys
    pos = bearer(keys["pos"])
    sold = await client.post(
        "/settlement/settlements", headers=pos, json=claim(PHARMACY, "POS-1", med_type="41")
    )
    assert sold.status_code == 201, sold.text
    as_hospital = await client.post("/settlement/settlements", headers=pos, json=claim(HOSPITAL_A, "POS-2"))
    assert (as_hospital.status_code, as_hospital.json()["code"]) == (403, "SCOPE_FORBIDDEN")
    public = bearer(keys["public"])
    for method, path in (
        ("GET", "/settlement/settlements"),
        ("POST", "/settlement/settlements"),
        ("GET", "/enrollment/persons/P1"),
    ):
        response = await client.request(method, path, headers=public, json={} if method == "POST" else None)
        assert response.status_code == 403, (method, path)
    assert (await client.get("/settlement/ledger/check", headers=bearer(keys["ops"]))).json()[
        "balanced"
    ] is True
