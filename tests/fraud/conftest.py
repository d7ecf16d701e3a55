"""Fraud's app on a migrated database and a real NATS, with builders of the events it consumes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import nats
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import SHANGHAI, FrozenClock
from common.config import AppEnv
from common.events.contracts import Subject
from common.events.enrollment import PersonDeceased, PersonRegistered
from common.events.envelope import EventEnvelope, new_event
from common.events.settlement import CatalogChanged, SettledLine, SettlementReversed, SettlementSettled
from common.events.tables import inbox_event
from common.testing.apps import app_client, wait_for
from common.testing.databases import Databases
from fraud.app import create_app
from fraud.config import Settings
from fraud.events import on_enrollment_event, on_settlement_event


def at_shanghai(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A moment given in Asia/Shanghai wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def fraud_settings(databases: Databases, nats_url: str, **overrides: Any) -> Settings:
    return Settings(database_url=databases.url("fraud"), nats_url=nats_url, app_env=AppEnv.TEST, **overrides)


@pytest.fixture
def fraud_app(databases: Databases, nats_url: str, clock: FrozenClock) -> FastAPI:
    return create_app(fraud_settings(databases, nats_url), clock=clock)


@pytest.fixture
async def api(fraud_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(fraud_app) as client:
        yield client


def settled_line(
    sn: str,
    item: str = "A01",
    *,
    cnt: str = "1",
    amount: str = "100.00",
    day: date,
    codes: list[str] | None = None,
) -> SettledLine:
    fee = Decimal(amount)
    return SettledLine(
        feedetl_sn=sn,
        med_list_codg=item,
        medins_list_codg=None,
        chrgitm_lv="01",
        cnt=Decimal(cnt),
        pric=(fee / Decimal(cnt)).quantize(Decimal("0.000001")),
        det_item_fee_sumamt=fee,
        fulamt_ownpay_amt=Decimal(0),
        overlmt_amt=Decimal(0),
        preselfpay_amt=Decimal(0),
        inscp_scp_amt=fee,
        fee_ocur_time=datetime(day.year, day.month, day.day, 9, tzinfo=SHANGHAI),
        drug_trac_codg=codes or [],
    )


def settled(
    setl_id: str,
    *,
    psn_no: str = "P1",
    med_type: str = "21",
    begin: date,
    end: date | None = None,
    code: str = "H1",
    hosp_lv: int | None = 2,
    dise: str | None = "I63.900",
    medfee: str = "1000.00",
    fund: str = "600.00",
    lines: list[SettledLine] | None = None,
) -> SettlementSettled:
    fee, pool = Decimal(medfee), Decimal(fund)
    settled_on = end or begin
    zero = Decimal(0)
    return SettlementSettled(
        setl_id=setl_id,
        medins_setl_id=f"M-{setl_id}",
        mdtrt_id=f"T-{setl_id}",
        psn_no=psn_no,
        insutype="310",
        med_type=med_type,
        fixmedins_code=code,
        fixmedins_type="hospital" if hosp_lv else "pharmacy",
        hosp_lv=hosp_lv,
        admdvs="420100",
        begntime=datetime(begin.year, begin.month, begin.day, 8, tzinfo=SHANGHAI),
        endtime=datetime(end.year, end.month, end.day, 16, tzinfo=SHANGHAI) if end else None,
        dise_codg=dise,
        setl_time=datetime(settled_on.year, settled_on.month, settled_on.day, 17, tzinfo=SHANGHAI),
        business_date=settled_on,
        policy_version=1,
        medfee_sumamt=fee,
        fulamt_ownpay_amt=zero,
        overlmt_selfpay=zero,
        preselfpay_amt=zero,
        inscp_scp_amt=fee,
        act_pay_dedc=zero,
        hifp_pay=pool,
        hifmi_pay=zero,
        hifob_pay=zero,
        maf_pay=zero,
        fund_pay_sumamt=pool,
        psn_part_amt=fee - pool,
        acct_pay=zero,
        acct_mulaid_pay=zero,
        psn_cash_pay=fee - pool,
        balc=zero,
        mulaid_psn_no=None,
        review="passed",
        incentive_raise_used=False,
        setldetail=[],
        feedetail=lines if lines is not None else [settled_line("1", amount=medfee, day=begin)],
    )


def reversed_(data: SettlementSettled, *, on: date) -> SettlementReversed:
    return SettlementReversed(
        setl_id=f"R-{data.setl_id}",
        orig_setl_id=data.setl_id,
        medins_setl_id=data.medins_setl_id,
        mdtrt_id=data.mdtrt_id,
        psn_no=data.psn_no,
        insutype=data.insutype,
        med_type=data.med_type,
        fixmedins_code=data.fixmedins_code,
        setl_time=datetime(on.year, on.month, on.day, 12, tzinfo=SHANGHAI),
        business_date=on,
        orig_setl_time=data.setl_time,
        orig_business_date=data.business_date,
        reason="退费",
        medfee_sumamt=data.medfee_sumamt,
        fund_pay_sumamt=data.fund_pay_sumamt,
        hifp_pay=data.hifp_pay,
        hifmi_pay=data.hifmi_pay,
        hifob_pay=data.hifob_pay,
        maf_pay=data.maf_pay,
        acct_pay=data.acct_pay,
        acct_mulaid_pay=data.acct_mulaid_pay,
        psn_cash_pay=data.psn_cash_pay,
        balc=data.balc,
    )


def catalog(item: str, **limits: Any) -> CatalogChanged:
    values: dict[str, Any] = {
        "gend_lmt": None,
        "age_min": None,
        "age_max": None,
        "max_cnt_per_visit": None,
        **limits,
    }
    return CatalogChanged(
        med_list_codg=item,
        name=f"项目{item}",
        chrgitm_lv="01",
        selfpay_prop=None,
        pric_uplmt_amt=None,
        **values,
    )


SUBJECTS = {
    SettlementSettled: Subject.SETTLED,
    SettlementReversed: Subject.REVERSED,
    CatalogChanged: Subject.CATALOG_CHANGED,
    PersonRegistered: Subject.PERSON_REGISTERED,
    PersonDeceased: Subject.PERSON_DECEASED,
}


def envelope(data: Any, clock: FrozenClock) -> EventEnvelope:
    kind = SUBJECTS[type(data)]
    return new_event(
        type=kind,
        source=kind.split(".")[0],
        subject=str(getattr(data, "setl_id", None) or getattr(data, "psn_no", None) or data.med_list_codg),
        data=data.model_dump(mode="json"),
        clock=clock,
    )


async def apply(app: FastAPI, *events: Any) -> None:
    """Apply events' data one by one, each in a transaction of its own, as the consumers would."""
    clock = app.state.clock
    for data in events:
        event = data if isinstance(data, EventEnvelope) else envelope(data, clock)
        async with app.state.db.transaction() as session:
            if event.type.startswith("settlement."):
                await on_settlement_event(session, event, clock=clock)
            else:
                await on_enrollment_event(session, event, clock=clock)


async def publish(app: FastAPI, nats_url: str, *events: EventEnvelope) -> None:
    """Publish to JetStream as the owners' relays would (Nats-Msg-Id = event id)."""
    await wait_for(lambda: app.state.nats.connected, what="fraud connected to NATS")
    publisher = await nats.connect(nats_url)
    try:
        js = publisher.jetstream()
        for event in events:
            await js.publish(event.type, event.to_bytes(), headers={"Nats-Msg-Id": str(event.id)})
    finally:
        await publisher.close()


async def consumed(app: FastAPI) -> int:
    async with app.state.db.transaction(readonly=True) as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(inbox_event)) or 0)
