"""Trace codes end to end over real NATS: a code sold at a pharmacy's POS (pricing) reaches fraud through the
outbox, so a hospital settling the same code is blocked by the review naming the sale; a refund frees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.config import AppEnv
from common.testing.apps import app_client, wait_for
from common.testing.databases import Databases
from fraud.app import create_app as create_fraud
from fraud.config import Settings as FraudSettings
from fraud.models import CatalogLimit, ClaimRecord, TraceCodeUse
from pricing.app import create_app as create_pricing
from pricing.config import Settings as PricingSettings
from pricing.models import Pharmacy
from settlement.app import create_app as create_settlement
from settlement.config import Settings as SettlementSettings
from tests.settlement.conftest import at_shanghai
from tests.settlement.seed import seed_person

H1, Y1 = "H1", "Y1"
CODE = "81000000000000000077"
Apps = tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient, httpx.AsyncClient]


@pytest.fixture
async def apps(databases: Databases, nats_url: str, clock: FrozenClock) -> AsyncIterator[Apps]:
    """Fraud, settlement (asking fraud.review) and pricing on one NATS; a hospital, a pharmacy, and D01, a
    drug whose lines need a traceability code."""
    clock.set(at_shanghai(2026, 3, 1, 9))
    fraud = create_fraud(
        FraudSettings(database_url=databases.url("fraud"), nats_url=nats_url, app_env=AppEnv.TEST),
        clock=clock,
    )
    settlement = create_settlement(
        SettlementSettings(
            database_url=databases.url("settlement"),
            nats_url=nats_url,
            app_env=AppEnv.TEST,
            review_enabled=True,
            review_timeout_ms=1000,
        ),
        clock=clock,
    )
    pricing = create_pricing(
        PricingSettings(database_url=databases.url("pricing"), nats_url=nats_url, app_env=AppEnv.TEST),
        clock=clock,
    )
    async with (
        app_client(fraud) as fraud_api,
        app_client(settlement) as settle_api,
        app_client(pricing) as pricing_api,
    ):
        await wait_for(
            lambda: (
                fraud.state.nats.connected
                and settlement.state.nats.connected
                and pricing.state.nats.connected
            ),
            what="NATS",
        )
        for code, body in (
            (H1, {"fixmedins_name": "市第一医院", "fixmedins_type": "hospital", "hosp_lv": 3, "admdvs": "420100",
                  "status": "active"}),
            (Y1, {"fixmedins_name": "大药房", "fixmedins_type": "pharmacy", "admdvs": "420100", "status": "active"}),
        ):  # fmt: skip
            assert (await settle_api.put(f"/institutions/{code}", json=body)).status_code == 201
        drug = {"name": "阿托伐他汀钙片", "chrgitm_lv": "01", "trac_codg_required": True}
        assert (await settle_api.put("/catalog/D01", json=drug)).status_code == 201
        assert (
            await pricing_api.put("/drugs/D01", json={"generic_name": "阿托伐他汀钙片"})
        ).status_code == 201
        await seed_person(settlement.state.db, "P1", coverage_id=1)

        async def reference_data_projected() -> bool:
            async with fraud.state.db.transaction(readonly=True) as session:
                limit = await session.get(CatalogLimit, "D01")
            async with pricing.state.db.transaction(readonly=True) as session:
                pharmacy = await session.get(Pharmacy, Y1)
            return limit is not None and limit.trac_codg_required and pharmacy is not None

        await wait_for(
            reference_data_projected, timeout=15, what="fraud and pricing to project reference data"
        )
        yield fraud, fraud_api, settle_api, pricing_api


def hospital_claim(medins_setl_id: str, day: date) -> dict[str, Any]:
    return {
        "fixmedins_code": H1, "medins_setl_id": medins_setl_id, "psn_no": "P1", "insutype": "310",
        "med_type": "11", "begntime": f"{day}T09:30:00+08:00", "acct_used_flag": 0,
        "feedetail": [{"feedetl_sn": "1", "med_list_codg": "D01", "cnt": "1", "pric": "45.00",
                       "det_item_fee_sumamt": "45.00", "fee_ocur_time": f"{day}T09:31:00+08:00",
                       "drug_trac_codg": [CODE]}],
    }  # fmt: skip


async def code_uses(fraud: FastAPI) -> list[tuple[str, str, str, bool]]:
    async with fraud.state.db.transaction(readonly=True) as session:
        rows = await session.execute(
            sa.select(
                TraceCodeUse.source, TraceCodeUse.fixmedins_code, TraceCodeUse.use_id, TraceCodeUse.reversed
            ).where(TraceCodeUse.trac_codg == CODE)
        )
        return sorted((source, code, use_id, freed) for source, code, use_id, freed in rows)


async def test_a_code_sold_at_a_pharmacy_then_settled_at_a_hospital_is_blocked_naming_the_sale(
    apps: Apps, clock: FrozenClock
) -> None:
    fraud, fraud_api, settle_api, pricing_api = apps
    sold = await pricing_api.post(
        "/sales",
        json={"fixmedins_code": Y1, "sales": [
            {"sale_id": "S-0001", "med_list_codg": "D01", "finl_trns_pric": "45.00", "cnt": "1",
             "sel_time": "2026-03-01T08:30:00+08:00", "drug_trac_codg": [CODE]}]},
    )  # fmt: skip
    assert sold.status_code == 200 and sold.json()["accepted"] == 1, sold.text

    async def sale_known() -> bool:
        return await code_uses(fraud) == [("sale", Y1, "S-0001", False)]

    await wait_for(sale_known, timeout=15, what="fraud to project the sale's traceability code")
    clock.set(at_shanghai(2026, 3, 2, 11))
    blocked = await settle_api.post("/settlements", json=hospital_claim("MZ-1", date(2026, 3, 2)))
    assert blocked.status_code == 422, blocked.text
    assert blocked.json()["code"] == "REVIEW_BLOCKED"
    assert [(h["family"], h["severity"], h["feedetl_sn"], h["message"]) for h in blocked.json()["hits"]] == [
        ("trace_code_reuse", "block", "1",
         f"traceability code {CODE} already sold at pharmacy {Y1} (sale S-0001) on 2026-03-01")
    ]  # fmt: skip
    rates = (await fraud_api.get("/trace-codes/scan-rates", params={"month": "2026-03"})).json()
    assert rates["items"] == [
        {
            "fixmedins_code": Y1,
            "month": "2026-03",
            "lines_needing": 1,
            "lines_scanned": 1,
            "scan_rate": "1.0000",
        }
    ]

    refunded = await pricing_api.post(
        "/sales/refunds",
        json={
            "fixmedins_code": Y1,
            "refunds": [{"sale_id": "S-0001", "refund_time": "2026-03-02T10:00:00+08:00"}],
        },
    )
    assert (refunded.status_code, refunded.json()["refunded"]) == (200, 1), refunded.text

    async def code_freed() -> bool:
        return await code_uses(fraud) == [("sale", Y1, "S-0001", True)]

    await wait_for(code_freed, timeout=15, what="fraud to free the refunded sale's code")
    settled = await settle_api.post("/settlements", json=hospital_claim("MZ-2", date(2026, 3, 2)))
    assert settled.status_code == 201, settled.text
    assert settled.json()["review"]["status"] == "passed"
    setl_id = settled.json()["setlinfo"]["setl_id"]

    async def settlement_projected() -> bool:
        async with fraud.state.db.transaction(readonly=True) as session:
            return await session.get(ClaimRecord, setl_id) is not None

    await wait_for(settlement_projected, timeout=15, what="fraud to project the settlement")
    rates = (await fraud_api.get("/trace-codes/scan-rates", params={"month": "2026-03"})).json()
    assert [
        (i["fixmedins_code"], i["lines_needing"], i["lines_scanned"], i["scan_rate"]) for i in rates["items"]
    ] == [
        (H1, 1, 1, "1.0000"),
        (Y1, 0, 0, None),
    ]
