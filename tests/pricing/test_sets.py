"""The set-based statements: many rows in one statement, exactly as row-by-row writes would leave them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.db import table_of
from pricing.models import LatestPrice, Observation, PriceCount
from pricing.repository.sets import among, delete_rows, insert_rows, update_rows, upsert_rows

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
KEY = ("med_list_codg", "admdvs", "price_micro")


def _count(drug: str, price: int, pharmacies: int) -> dict[str, object]:
    return {"med_list_codg": drug, "admdvs": "420100", "price_micro": price, "pharmacies": pharmacies}


async def _counts(app: FastAPI) -> set[tuple[str, int, int]]:
    pc = table_of(PriceCount)
    async with app.state.db.transaction(readonly=True) as session:
        rows = await session.execute(sa.select(pc.c.med_list_codg, pc.c.price_micro, pc.c.pharmacies))
        return {(drug, price, n) for drug, price, n in rows}


async def test_rows_are_inserted_upserted_updated_and_deleted_by_key(
    api: httpx.AsyncClient, pricing_app: FastAPI
) -> None:
    pc = table_of(PriceCount)
    async with pricing_app.state.db.transaction() as session:
        await insert_rows(session, pc, [_count("D1", 100, 1), _count("D1", 200, 2), _count("D2", 100, 3)])
        await insert_rows(session, pc, [])  # nothing to do is no statement
    assert await _counts(pricing_app) == {("D1", 100, 1), ("D1", 200, 2), ("D2", 100, 3)}
    async with pricing_app.state.db.transaction() as session:
        await upsert_rows(session, pc, KEY, [_count("D1", 200, 5), _count("D3", 300, 1)])
        await update_rows(session, pc, KEY, [_count("D2", 100, 4), _count("D9", 900, 9)])  # D9: no row
        await delete_rows(session, pc, KEY, [_count("D1", 100, 0)])
    assert await _counts(pricing_app) == {("D1", 200, 5), ("D2", 100, 4), ("D3", 300, 1)}
    async with pricing_app.state.db.transaction(readonly=True) as session:
        found = await session.execute(
            sa.select(pc.c.med_list_codg).where(among(session, pc.c.med_list_codg, ["D2", "D3", "D7"]))
        )
        assert sorted(found.scalars()) == ["D2", "D3"]


async def test_moments_and_json_travel_exactly_and_a_naive_moment_is_refused(
    api: httpx.AsyncClient, pricing_app: FastAPI
) -> None:
    lp, obs = table_of(LatestPrice), table_of(Observation)
    elsewhere = datetime(
        2026, 3, 1, 16, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8))
    )  # = T0 + 123456 µs
    row = {
        "med_list_codg": "D1",
        "admdvs": "420100",
        "fixmedins_code": "P1",
        "price_micro": 1,
        "observed_at": T0,
    }
    observation = {
        "fixmedins_code": "P1",
        "sale_id": "s1",
        "source": "pos",
        "fingerprint": "f" * 64,
        "med_list_codg": "D1",
        "admdvs": "420100",
        "price_micro": 10_000_000,
        "cnt": "1.5",
        "sel_time": elsewhere,
        "month": "2026-03",
        "amount_fen": 1500,
        "reference_micro": 10_000_000,
        "reference_amount_fen": 1500,
        "diff_ratio": "0.0000",
        "light": "green",
        "over_procurement": False,
        "drug_trac_codg": ["81234567890123456789", "中文"],
        "recorded_at": T0,
    }
    async with pricing_app.state.db.transaction() as session:
        await insert_rows(session, lp, [row])
        await update_rows(
            session, lp, ("med_list_codg", "admdvs", "fixmedins_code"), [row | {"observed_at": elsewhere}]
        )
        await insert_rows(session, obs, [observation])
    async with pricing_app.state.db.transaction(readonly=True) as session:
        assert await session.scalar(sa.select(lp.c.observed_at)) == T0 + timedelta(microseconds=123456)
        stored = (await session.execute(sa.select(obs.c.sel_time, obs.c.drug_trac_codg))).one()
        assert tuple(stored) == (T0 + timedelta(microseconds=123456), ["81234567890123456789", "中文"])
    with pytest.raises((ValueError, sa.exc.StatementError), match="naive"):  # SQLite: wrapped by SQLAlchemy
        async with pricing_app.state.db.transaction() as session:
            await insert_rows(
                session, lp, [row | {"fixmedins_code": "P2", "observed_at": datetime(2026, 3, 1)}]
            )
