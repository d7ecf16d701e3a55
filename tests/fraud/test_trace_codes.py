"""Trace codes end to end in fraud: POS sales and refunds projected beside settlements, reuse named by its first
use (a finding for a sale, a review hit for a claim), codes freed by reversal or refund, and scan rates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import SHANGHAI
from common.events.contracts import Subject
from common.events.envelope import EventEnvelope, new_event
from common.events.pricing import RefundedLine, SaleRecorded, SaleRefunded, SoldLine
from common.principal import Principal, Role
from common.testing.apps import wait_for
from fraud.events import on_pricing_event
from fraud.models import Finding, SaleLine, ScanCount, TraceCodeUse
from fraud.service.tracecodes import SaleNotYetProjected, ScanRate, scan_rate
from fraud.uow import FraudUnitOfWork
from tests.fraud.conftest import apply, catalog, consumed, publish, reversed_, settled, settled_line
from tests.fraud.test_post_rules import events
from tests.settlement.conftest import as_client

CODE, OTHER = "81000000000000000001", "81000000000000000002"


def at(day: int, hour: int = 10, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def sold(
    sale_id: str, *codes: str, item: str = "D01", when: datetime | None = None, pric: str = "45.00"
) -> SoldLine:
    return SoldLine(
        sale_id=sale_id,
        med_list_codg=item,
        cnt=Decimal(1),
        pric=Decimal(pric),
        sel_time=when or at(1),
        drug_trac_codg=list(codes),
    )


def recorded(pharmacy: str, *lines: SoldLine) -> EventEnvelope:
    data = SaleRecorded(fixmedins_code=pharmacy, lines=list(lines))
    return _event(Subject.SALE_RECORDED, pharmacy, data.model_dump(mode="json"))


def refunded(pharmacy: str, *lines: SoldLine, when: datetime | None = None) -> EventEnvelope:
    data = SaleRefunded(
        fixmedins_code=pharmacy,
        refunds=[
            RefundedLine(
                sale_id=line.sale_id,
                med_list_codg=line.med_list_codg,
                cnt=line.cnt,
                sel_time=line.sel_time,
                drug_trac_codg=line.drug_trac_codg,
                refund_time=when or at(5),
            )
            for line in lines
        ],
    )
    return _event(Subject.SALE_REFUNDED, pharmacy, data.model_dump(mode="json"))


def _event(kind: str, subject: str, data: dict[str, Any]) -> EventEnvelope:
    return new_event(type=kind, source="pricing", subject=subject, data=data, clock=_CLOCK)


class _Clock:
    def now(self) -> datetime:
        return at(1, 1)


_CLOCK: Any = _Clock()


async def feed(app: FastAPI, *items: Any) -> None:
    """Apply settlement, catalogue and pricing events one by one, each in its own transaction."""
    for item in items:
        if isinstance(item, EventEnvelope) and item.type.startswith("pricing."):
            async with app.state.db.transaction() as session:
                await on_pricing_event(session, item, clock=app.state.clock)
        else:
            await apply(app, item)


async def sale_findings(
    app: FastAPI,
) -> list[tuple[str, str, str | None, str | None, str, str, int | None, int]]:
    async with app.state.db.transaction(readonly=True) as session:
        rows = (await session.scalars(sa.select(Finding).order_by(Finding.finding_id))).all()
    return [
        (
            r.family,
            r.finding_key,
            r.setl_id,
            r.psn_no,
            r.fixmedins_code,
            r.message,
            r.vola_fen,
            r.fund_pay_fen,
        )
        for r in rows
    ]


async def rate(app: FastAPI, code: str, month: str = "2026-03") -> ScanRate:
    async with FraudUnitOfWork(app.state.db, readonly=True) as uow:
        return await scan_rate(uow=uow, fixmedins_code=code, month=month)


@pytest.fixture
async def app(fraud_app: FastAPI, api: httpx.AsyncClient) -> FastAPI:
    """The app running (its consumers too), with D01 needing a traceability code and A01 not."""
    await feed(fraud_app, catalog("D01", trac_codg_required=True), catalog("A01"))
    return fraud_app


def hospital_claim(setl_id: str, *codes: str, day: int = 3, item: str = "D01") -> Any:
    return settled(
        setl_id,
        med_type="11",
        begin=date(2026, 3, day),
        code="H1",
        lines=[settled_line("1", item, amount="45.00", day=date(2026, 3, day), codes=list(codes))],
    )


# --- reuse -----------------------------------------------------------------------------------------------


async def test_a_code_sold_again_at_another_pharmacy_is_a_finding_naming_the_first_sale(app: FastAPI) -> None:
    await feed(app, recorded("P1", sold("s1", CODE)), recorded("P2", sold("s9", CODE, when=at(2, 9))))
    assert await sale_findings(app) == [
        ("trace_code_reuse", "sale:P2:s9", None, None, "P2",
         f"traceability code {CODE} sold at P2 in sale s9 on 2026-03-02 already sold at pharmacy P1 (sale s1) "
         "on 2026-03-01", 4500, 0)
    ]  # fmt: skip
    raised = await events(app, Subject.FINDING_RAISED)
    assert [(e["family"], e["setl_id"], e["fixmedins_code"], e["vola_amt"]) for e in raised] == [
        ("trace_code_reuse", None, "P2", "45.00")
    ]


async def test_a_code_settled_then_sold_is_a_finding_naming_the_settlement(app: FastAPI) -> None:
    await feed(app, hospital_claim("S1", CODE), recorded("P1", sold("s1", CODE, when=at(4))))
    assert [(f[1], f[5]) for f in await sale_findings(app)] == [
        ("sale:P1:s1", f"traceability code {CODE} sold at P1 in sale s1 on 2026-03-04 already settled in S1 "
         "at H1 on 2026-03-03")
    ]  # fmt: skip


async def test_the_review_of_a_claim_names_a_sale_as_the_first_use_and_blocks(
    app: FastAPI, api: httpx.AsyncClient
) -> None:
    await feed(app, recorded("P1", sold("s1", CODE)))
    body = {
        "psn_no": "P9", "gend": "1", "brdy": "1960-03-10", "insutype": "310", "med_type": "11",
        "fixmedins_code": "H1", "fixmedins_type": "hospital", "hosp_lv": 2, "admdvs": "420100",
        "begntime": "2026-03-10T09:30:00+08:00", "medfee_sumamt": "45.00",
        "lines": [{"feedetl_sn": "7", "med_list_codg": "D01", "cnt": "1", "pric": "45.00",
                   "det_item_fee_sumamt": "45.00", "fee_ocur_time": "2026-03-10T09:31:00+08:00",
                   "drug_trac_codg": [CODE]}],
    }  # fmt: skip
    response = await api.post("/reviews", json=body)
    assert response.json() == {
        "status": "blocked",
        "hits": [
            {"rule_id": 4, "rule_version": 1, "family": "trace_code_reuse", "severity": "block",
             "message": f"traceability code {CODE} already sold at pharmacy P1 (sale s1) on 2026-03-01",
             "feedetl_sn": "7", "vola_amt": "45.00"}
        ],
    }  # fmt: skip
    await feed(app, refunded("P1", sold("s1", CODE)))
    again = await api.post("/reviews", json=body)
    assert again.json() == {"status": "passed", "hits": []}


async def test_a_refunded_sale_frees_its_code_for_the_next_sale(app: FastAPI) -> None:
    first = sold("s1", CODE)
    await feed(
        app, recorded("P1", first), refunded("P1", first), recorded("P2", sold("s2", CODE, when=at(6)))
    )
    assert await sale_findings(app) == []
    async with app.state.db.transaction(readonly=True) as session:
        uses = (
            await session.execute(
                sa.select(TraceCodeUse.fixmedins_code, TraceCodeUse.use_id, TraceCodeUse.reversed).order_by(
                    TraceCodeUse.use_id
                )
            )
        ).all()
        sale = await session.get(SaleLine, ("P1", "s1"))
    assert uses == [("P1", "s1", True), ("P2", "s2", False)]
    assert sale is not None and (sale.refunded, sale.refunded_at) == (True, at(5))


async def test_a_reversed_settlement_frees_its_code_for_a_sale(app: FastAPI) -> None:
    claim = hospital_claim("S1", CODE)
    await feed(
        app, claim, reversed_(claim, on=date(2026, 3, 4)), recorded("P1", sold("s1", CODE, when=at(5)))
    )
    assert await sale_findings(app) == []


async def test_a_sale_event_delivered_again_is_applied_once(app: FastAPI) -> None:
    upload = recorded("P1", sold("s1", CODE), sold("s2", item="D01"))
    again = recorded("P1", sold("s1", CODE), sold("s2", item="D01"))  # the same lines, another event id
    await feed(app, upload, upload, again)
    async with app.state.db.transaction(readonly=True) as session:
        sales = await session.scalar(sa.select(sa.func.count()).select_from(SaleLine))
        uses = await session.scalar(sa.select(sa.func.count()).select_from(TraceCodeUse))
    assert (sales, uses, await sale_findings(app)) == (2, 1, [])
    assert await rate(app, "P1") == ScanRate(2, 1, Decimal("0.5000"))
    await feed(app, refunded("P1", sold("s1", CODE)), refunded("P1", sold("s1", CODE)))
    assert await rate(app, "P1") == ScanRate(1, 0, Decimal("0.0000"))


async def test_a_refund_before_its_sale_is_retried_until_the_sale_is_projected(app: FastAPI) -> None:
    with pytest.raises(SaleNotYetProjected):
        await feed(app, refunded("P1", sold("s1", CODE)))


async def test_the_pricing_consumer_takes_sales_from_the_stream_once(app: FastAPI, nats_url: str) -> None:
    upload = recorded("P1", sold("s1", CODE), sold("s2", OTHER))
    before = await consumed(app)
    await publish(app, nats_url, upload, upload, recorded("P2", sold("s3", CODE, when=at(2))))

    async def both() -> bool:
        return await consumed(app) >= before + 2

    await wait_for(both, timeout=15, what="the sales consumed")
    assert [f[1] for f in await sale_findings(app)] == ["sale:P2:s3"]
    assert await rate(app, "P1") == ScanRate(2, 2, Decimal("1.0000"))


# --- scan rates ------------------------------------------------------------------------------------------


async def test_scan_rates_count_lines_needing_a_code_by_month_and_take_back_reversals_and_refunds(
    app: FastAPI,
) -> None:
    claim = settled(
        "S1",
        med_type="11",
        begin=date(2026, 3, 3),
        code="H1",
        lines=[
            settled_line("1", "D01", day=date(2026, 3, 3), codes=[CODE]),
            settled_line("2", "D01", day=date(2026, 3, 3)),
            settled_line("3", "A01", day=date(2026, 3, 3), codes=[OTHER]),  # needs none: not counted
        ],
    )
    # 23:30 on 31 March and 00:30 on 1 April in Shanghai: March's and April's
    lines = [
        sold("p1", "81000000000000000011", when=at(31, 23, 30)),
        sold("p2", when=at(31, 9)),
        sold("p3", "81000000000000000013", when=at(1, 0, 30, month=4)),
        sold("p4", item="A01"),
    ]
    await feed(app, claim, recorded("P1", *lines))
    assert await rate(app, "H1") == ScanRate(2, 1, Decimal("0.5000"))
    assert await rate(app, "P1") == ScanRate(2, 1, Decimal("0.5000"))
    assert await rate(app, "P1", "2026-04") == ScanRate(1, 1, Decimal("1.0000"))
    assert await rate(app, "P2") == ScanRate(0, 0, None)
    await feed(app, recorded("P1", sold("p5", "81000000000000000015", when=at(30))))
    assert await rate(app, "P1") == ScanRate(3, 2, Decimal("0.6667"))

    await feed(app, reversed_(claim, on=date(2026, 4, 2)), refunded("P1", lines[0], when=at(2, month=4)))
    assert await rate(app, "H1") == ScanRate(0, 0, None)
    assert await rate(app, "P1") == ScanRate(2, 1, Decimal("0.5000"))
    async with app.state.db.transaction(readonly=True) as session:
        counts = (
            await session.execute(
                sa.select(ScanCount.fixmedins_code, ScanCount.month, ScanCount.lines_needing).order_by(
                    ScanCount.fixmedins_code, ScanCount.month
                )
            )
        ).all()
    assert counts == [("H1", "2026-03", 0), ("P1", "2026-03", 2), ("P1", "2026-04", 1)]


async def test_the_scan_rates_endpoint_shows_staff_every_institution_and_an_institution_its_own(
    app: FastAPI, api: httpx.AsyncClient
) -> None:
    await feed(
        app,
        hospital_claim("S1", CODE),
        recorded("P1", sold("p1", OTHER), sold("p2"), sold("p3")),
    )
    every = await api.get("/trace-codes/scan-rates", params={"month": "2026-03"})
    assert every.status_code == 200, every.text
    assert every.json() == {
        "month": "2026-03",
        "items": [
            {"fixmedins_code": "H1", "month": "2026-03", "lines_needing": 1, "lines_scanned": 1,
             "scan_rate": "1.0000"},
            {"fixmedins_code": "P1", "month": "2026-03", "lines_needing": 3, "lines_scanned": 1,
             "scan_rate": "0.3333"},
        ],
    }  # fmt: skip
    none = await api.get("/trace-codes/scan-rates", params={"month": "2026-02", "fixmedins_code": "P1"})
    assert none.json()["items"] == [
        {
            "fixmedins_code": "P1",
            "month": "2026-02",
            "lines_needing": 0,
            "lines_scanned": 0,
            "scan_rate": None,
        }
    ]
    async with as_client(app, Principal(client_id="pos-p1", role=Role.POS, scope="P1")) as pharmacy:
        own = await pharmacy.get("/trace-codes/scan-rates", params={"month": "2026-03"})
        other = await pharmacy.get(
            "/trace-codes/scan-rates", params={"month": "2026-03", "fixmedins_code": "H1"}
        )
    assert [i["fixmedins_code"] for i in own.json()["items"]] == ["P1"]
    assert (other.status_code, other.json()["code"]) == (403, "SCOPE_FORBIDDEN")
    for bad in ("2026-13", "2026-3", "march"):
        response = await api.get("/trace-codes/scan-rates", params={"month": bad})
        assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_ERROR")
    missing = await api.get("/trace-codes/scan-rates")
    assert (missing.status_code, missing.json()["code"]) == (422, "VALIDATION_ERROR")
