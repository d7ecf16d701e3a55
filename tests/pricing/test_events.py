"""Pharmacies and pharmacy settlements arrive as settlement's events on a real JetStream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import nats
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.events.contracts import Subject
from common.events.envelope import EventEnvelope, new_event
from common.events.tables import inbox_event
from common.testing.apps import app_client, wait_for
from pricing.models import Observation, Pharmacy
from tests.pricing.conftest import put_drug, sale, upload

DRUG = "XC10AAA0001010101"


@pytest.fixture
async def live(pricing_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(pricing_app) as client:
        await wait_for(lambda: pricing_app.state.nats.connected, what="pricing connected to NATS")
        yield client


def institution(code: str, *, fixmedins_type: str = "pharmacy", admdvs: str = "420100") -> dict[str, Any]:
    return {
        "fixmedins_code": code,
        "fixmedins_name": f"药店{code}",
        "fixmedins_type": fixmedins_type,
        "hosp_lv": 2 if fixmedins_type == "hospital" else None,
        "admdvs": admdvs,
        "status": "active",
    }


def line(sn: str, code: str, pric: str, cnt: str) -> dict[str, Any]:
    return {
        "feedetl_sn": sn,
        "med_list_codg": code,
        "medins_list_codg": None,
        "chrgitm_lv": "01",
        "cnt": cnt,
        "pric": pric,
        "det_item_fee_sumamt": "0.00",
        "fulamt_ownpay_amt": "0.00",
        "overlmt_amt": "0.00",
        "preselfpay_amt": "0.00",
        "inscp_scp_amt": "0.00",
        "fee_ocur_time": "2026-03-02T09:30:00+08:00",
        "drug_trac_codg": ["81234567890123456789"],
    }


def settled(setl_id: str, code: str, med_type: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    zero = "0.00"
    return {
        "setl_id": setl_id,
        "medins_setl_id": f"M{setl_id}",
        "mdtrt_id": f"T{setl_id}",
        "psn_no": "P0000000000000000001",
        "insutype": "310",
        "med_type": med_type,
        "fixmedins_code": code,
        "fixmedins_type": "pharmacy",
        "hosp_lv": None,
        "admdvs": "420100",
        "begntime": "2026-03-02T09:30:00+08:00",
        "endtime": None,
        "dise_codg": None,
        "setl_time": "2026-03-02T09:31:00+08:00",
        "business_date": date(2026, 3, 2).isoformat(),
        "policy_version": 0,
        **{
            name: zero
            for name in (
                "medfee_sumamt",
                "fulamt_ownpay_amt",
                "overlmt_selfpay",
                "preselfpay_amt",
                "inscp_scp_amt",
                "act_pay_dedc",
                "hifp_pay",
                "hifmi_pay",
                "hifob_pay",
                "maf_pay",
                "fund_pay_sumamt",
                "psn_part_amt",
                "acct_pay",
                "acct_mulaid_pay",
                "psn_cash_pay",
                "balc",
            )
        },
        "mulaid_psn_no": None,
        "review": "disabled",
        "incentive_raise_used": False,
        "setldetail": [],
        "feedetail": lines,
    }


async def publish(nats_url: str, events: list[EventEnvelope]) -> None:
    """Publish as settlement's outbox relay does: JetStream, Nats-Msg-Id = event id."""
    publisher = await nats.connect(nats_url)
    try:
        js = publisher.jetstream()
        for event in events:
            await js.publish(event.type, event.to_bytes(), headers={"Nats-Msg-Id": str(event.id)})
    finally:
        await publisher.close()


async def count(app: FastAPI, query: Any) -> int:
    async with app.state.db.transaction(readonly=True) as session:
        return int(await session.scalar(query) or 0)


async def test_pharmacies_and_pharmacy_settlements_on_jetstream_feed_the_monitoring_once_each(
    live: httpx.AsyncClient, pricing_app: FastAPI, nats_url: str, clock: FrozenClock
) -> None:
    await put_drug(live, DRUG)
    event_clock = FrozenClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))

    def event(kind: str, subject: str, data: dict[str, Any]) -> EventEnvelope:
        return new_event(type=kind, source="settlement", subject=subject, data=data, clock=event_clock)

    pharmacies = [
        event(Subject.INSTITUTION_CHANGED, code, institution(code)) for code in ("P001", "P002", "P003")
    ] + [event(Subject.INSTITUTION_CHANGED, "H001", institution("H001", fixmedins_type="hospital"))]
    settlements = [
        event(
            Subject.SETTLED,
            "S1",
            settled("S1", "P001", "41", [line("1", DRUG, "10.00", "2"), line("2", "NOPE", "1", "1")]),
        ),
        event(Subject.SETTLED, "S2", settled("S2", "P002", "41", [line("1", DRUG, "10.00", "1")])),
        event(Subject.SETTLED, "S3", settled("S3", "H001", "11", [line("1", DRUG, "99.00", "1")])),
    ]
    await publish(nats_url, pharmacies + settlements + [settlements[0]])
    await wait_for(
        lambda: count(pricing_app, sa.select(sa.func.count()).select_from(inbox_event)),
        what="events consumed",
    )
    await wait_for(
        lambda: _equals(count(pricing_app, sa.select(sa.func.count()).select_from(inbox_event)), 6),
        what="the six events pricing acts on consumed",
    )
    # The hospital settlement is no price observation: acked unread, with no inbox row.
    hospital_row = sa.select(sa.func.count()).where(inbox_event.c.event_id == str(settlements[2].id))
    assert await count(pricing_app, hospital_row) == 0
    assert await count(pricing_app, sa.select(sa.func.count()).select_from(Pharmacy)) == 3
    assert await count(pricing_app, sa.select(sa.func.count()).select_from(Observation)) == 2
    assert (
        await count(
            pricing_app,
            sa.select(sa.func.sum(Observation.amount_fen)).where(Observation.source == "settlement"),
        )
        == 3000
    )
    reference = (await live.get("/reference-prices", params={"med_list_codg": DRUG})).json()
    assert [(r["admdvs"], r["reference_pric"], r["basis"], r["pharmacies"]) for r in reference] == [
        ("420100", "10.00", "mode", 2)
    ]
    # The projected pharmacy can upload; its price is measured against the settled ones.
    answer = await upload(live, "P003", sale("c1", DRUG, "11.60"))
    assert [(r["light"], r["diff_ratio"]) for r in answer["results"]] == [("yellow", "0.1600")]


async def _equals(value: Any, expected: int) -> bool:
    return bool(await value == expected)


def reversed_(orig_setl_id: str, code: str, med_type: str = "41") -> dict[str, Any]:
    zero = "0.00"
    return {
        "setl_id": f"R{orig_setl_id}",
        "orig_setl_id": orig_setl_id,
        "medins_setl_id": f"M{orig_setl_id}",
        "mdtrt_id": f"T{orig_setl_id}",
        "psn_no": "P0000000000000000001",
        "insutype": "310",
        "med_type": med_type,
        "fixmedins_code": code,
        "setl_time": "2026-03-02T11:00:00+08:00",
        "business_date": "2026-03-02",
        "orig_setl_time": "2026-03-02T09:31:00+08:00",
        "orig_business_date": "2026-03-02",
        "reason": "退货",
        **dict.fromkeys(
            (
                "medfee_sumamt",
                "fund_pay_sumamt",
                "hifp_pay",
                "hifmi_pay",
                "hifob_pay",
                "maf_pay",
                "acct_pay",
                "acct_mulaid_pay",
                "psn_cash_pay",
                "balc",
            ),
            zero,
        ),
    }


async def test_a_reversed_pharmacy_settlement_is_no_longer_a_price_and_the_reference_forgets_it(
    live: httpx.AsyncClient, pricing_app: FastAPI, nats_url: str, clock: FrozenClock
) -> None:
    await put_drug(live, DRUG)
    event_clock = FrozenClock(datetime(2026, 3, 2, 1, 0, tzinfo=UTC))

    def event(kind: str, subject: str, data: dict[str, Any]) -> EventEnvelope:
        return new_event(type=kind, source="settlement", subject=subject, data=data, clock=event_clock)

    setup = [
        event(Subject.INSTITUTION_CHANGED, code, institution(code)) for code in ("P001", "P002", "P003")
    ] + [
        event(Subject.SETTLED, "S1", settled("S1", "P001", "41", [line("1", DRUG, "10.00", "1")])),
        event(Subject.SETTLED, "S2", settled("S2", "P002", "41", [line("1", DRUG, "10.00", "1")])),
        event(Subject.SETTLED, "S3", settled("S3", "P003", "41", [line("1", DRUG, "12.00", "1")])),
    ]
    await publish(nats_url, setup)
    await wait_for(
        lambda: _equals(count(pricing_app, sa.select(sa.func.count()).select_from(inbox_event)), 6),
        what="the setup consumed",
    )
    # P001 also sold it at the counter earlier that morning, at 11.00: its settlement at 09:30 is newer.
    await upload(live, "P001", sale("pos-1", DRUG, "11.00", at=datetime(2026, 3, 2, 0, 0, tzinfo=UTC)))

    async def reference() -> list[tuple[str, str, int]]:
        rows = (await live.get("/reference-prices", params={"med_list_codg": DRUG})).json()
        return [(r["reference_pric"], r["basis"], r["pharmacies"]) for r in rows]

    assert await reference() == [("10.00", "mode", 3)]  # 10.00 twice (P001, P002), 12.00 once
    reversal = event(Subject.REVERSED, "RS1", reversed_("S1", "P001"))
    hospital = event(Subject.REVERSED, "RS9", reversed_("S9", "H001", med_type="11"))
    await publish(nats_url, [reversal, hospital, reversal])
    await wait_for(
        # The pharmacy one; the hospital one (RS9) is acked unread, with no inbox row.
        lambda: _equals(count(pricing_app, sa.select(sa.func.count()).select_from(inbox_event)), 7),
        what="the reversals consumed",
    )
    # S1 never was a sale: P001's latest price is its counter sale again (11.00), no price repeats now
    # (10.00, 11.00, 12.00), so the reference is the median.
    assert await reference() == [("11.00", "median", 3)]
    remaining = await count(
        pricing_app,
        sa.select(sa.func.count()).select_from(Observation).where(Observation.fixmedins_code == "P001"),
    )
    assert remaining == 1
