"""The monthly warning (每月推送预警) through the gateway: an institution's key reads its own, never another's."""

from __future__ import annotations

from datetime import date

from tests.fraud.conftest import apply, settled
from tests.gateway.conftest import HOSPITAL_A, HOSPITAL_B, Platform, bearer, gateway_client


async def test_an_institution_key_reads_its_own_warning_and_is_refused_another_institutions(
    platform: Platform,
) -> None:
    await apply(
        platform.fraud.app,
        settled("SA", psn_no="P1", begin=date(2026, 2, 3), end=date(2026, 2, 6), code=HOSPITAL_A),
        settled("SB", psn_no="P2", begin=date(2026, 2, 4), end=date(2026, 2, 7), code=HOSPITAL_B),
    )
    async with gateway_client(platform.gateway, platform.var_dir) as (client, ops_key):
        keys = {}
        for name, scope in (("his-a", HOSPITAL_A), ("his-b", HOSPITAL_B)):
            issued = await client.post(
                "/admin/clients", headers=bearer(ops_key), json={"name": name, "role": "his", "scope": scope}
            )
            assert issued.status_code == 201, issued.text
            keys[name] = issued.json()["api_key"]
        published = await client.post(
            "/fraud/warnings/publish", headers=bearer(ops_key), json={"month": "2026-02"}
        )
        assert published.status_code == 200, published.text
        every = (await client.get("/fraud/warnings", headers=bearer(ops_key))).json()["items"]
        ids = {w["fixmedins_code"]: w["warning_id"] for w in every}
        assert sorted(ids) == [HOSPITAL_A, HOSPITAL_B]

        as_a = bearer(keys["his-a"])
        own = (await client.get("/fraud/warnings", headers=as_a, params={"month": "2026-02"})).json()["items"]
        assert [(w["fixmedins_code"], w["month"], w["version"]) for w in own] == [(HOSPITAL_A, "2026-02", 1)]
        one = await client.get(f"/fraud/warnings/{ids[HOSPITAL_A]}", headers=as_a)
        assert (one.status_code, one.json()["deviations"][0]["metric"]) == (200, "cost_per_case")
        refused = {
            "another's warning": await client.get(f"/fraud/warnings/{ids[HOSPITAL_B]}", headers=as_a),
            "another's list": await client.get(
                "/fraud/warnings", headers=as_a, params={"fixmedins_code": HOSPITAL_B}
            ),
        }
        assert {name: (r.status_code, r.json()["code"]) for name, r in refused.items()} == {
            name: (403, "SCOPE_FORBIDDEN") for name in refused
        }
        publish = await client.post("/fraud/warnings/publish", headers=as_a, json={"month": "2026-02"})
        assert (publish.status_code, publish.json()["code"]) == (403, "ROLE_FORBIDDEN")
