"""A platform with something on every console page: a year of contributions, two days of settlements (the
first closed), inpatient cases paid by points, price alerts, findings and cases.

Used by tests/gateway/test_console.py and by bench/console_screenshots.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from common.clock import FrozenClock
from common.testing.apps import wait_for
from enrollment.domain.certno import check_char
from fraud.models import Case, CaseFinding, Finding, Rule
from pricing.models import PriceAlert
from settlement.domain.ledger import Leg, balanced, contribution_legs, fund_account, payable_account
from settlement.repository.journal import JournalRepository
from tests.pricing.conftest import seed_pharmacies
from tests.security.conftest import HOSPITAL, OTHER_HOSPITAL, PHARMACY, Platform, _running_platform, bearer

# The frozen clock of the platform: 2026-03-02 10:00 Asia/Shanghai; the seed moves it to the next day.
STARTS_AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CLOSED_DAY, TODAY = date(2026, 3, 2), date(2026, 3, 3)
OTHER_PHARMACIES = ("P42010000002", "P42010000003")
QUIET_PHARMACY = "P42010000004"
CERTNO17 = "42010219800501123"


@asynccontextmanager
async def console_platform(
    urls: dict[str, str], nats_url: str, var_dir: Path
) -> AsyncIterator[tuple[Platform, Seeded]]:
    """The whole platform behind the gateway on real ports, seeded for the console."""
    clock = FrozenClock(STARTS_AT)
    async with _running_platform(urls, nats_url, clock, var_dir) as platform:
        yield platform, await seed_console(platform, clock)


def _claim(
    psn_no: str, code: str, setl_id: str, day: date, *, fee: str, inpatient: bool = False
) -> dict[str, Any]:
    begin = f"{day.isoformat()}T09:30:00+08:00"
    claim: dict[str, Any] = {
        "fixmedins_code": code,
        "medins_setl_id": setl_id,
        "psn_no": psn_no,
        "insutype": "310",
        "med_type": "21" if inpatient else "11",
        "begntime": begin,
        "acct_used_flag": 0,
        "feedetail": [
            {
                "feedetl_sn": "1",
                "med_list_codg": "A01",
                "cnt": "1",
                "pric": fee,
                "det_item_fee_sumamt": fee,
                "fee_ocur_time": f"{day.isoformat()}T09:40:00+08:00",
            }
        ],
    }
    if inpatient:
        claim |= {
            "begntime": f"{(day - timedelta(days=3)).isoformat()}T09:30:00+08:00",
            "endtime": f"{day.isoformat()}T09:00:00+08:00",
            "dise_codg": "K80.100",
        }
    return claim


async def _ok(response: httpx.Response, *codes: int) -> Any:
    assert response.status_code in (codes or (200, 201)), f"{response.request.url}: {response.text}"
    return response.json()


@dataclass
class Seeded:
    psn_no: str
    finding_id: int


async def _register_person(client: httpx.AsyncClient, ops: dict[str, str]) -> str:
    """A person enrolled through enrollment, known to settlement once the events have flowed."""
    person = await _ok(
        await client.post(
            "/enrollment/persons",
            headers=ops,
            json={"certno": CERTNO17 + check_char(CERTNO17), "psn_name": "张三", "admdvs": "420100"},
        )
    )
    psn_no: str = person["psn_no"]
    await _ok(
        await client.post(
            f"/enrollment/persons/{psn_no}/coverages",
            headers=ops,
            json={
                "insutype": "310",
                "begndate": "2020-01-01",
                "enrolled_on": "2020-01-01",
                "emp_code": "91420100MA4K123456",
                "psn_type": "employed",
            },
        )
    )
    return psn_no


async def seed_console(platform: Platform, clock: FrozenClock) -> Seeded:
    client = platform.client
    ops, his = bearer(platform.keys["ops"]), bearer(platform.keys["his"])
    psn_no = await _register_person(client, ops)
    other = await _ok(
        await client.post(
            "/admin/clients", headers=ops, json={"name": "his-other", "role": "his", "scope": OTHER_HOSPITAL}
        )
    )
    his_other = bearer(other["api_key"])

    # A year of the two pools' ledger: the balance carried forward, contributions each month, and the pay of
    # the months before the platform's own settlements (the residents' pool spends more than it takes in).
    settlement_db = platform.services["settlement"].app.state.db
    async with settlement_db.transaction() as session:
        journal = JournalRepository(session)
        for insutype, opening in (("310", 6_800_000_00), ("390", 1_500_000_00)):
            await journal.post(
                kind="contribution",
                ref=f"console-seed:{insutype}:opening",
                business_date=date(2025, 3, 31),
                legs=contribution_legs(psn_no="P1", insutype=insutype, amount_fen=opening, acct_amount_fen=0),
                now=clock.now(),
            )
        for n in range(12):
            year, month = (2025, n + 4) if n < 9 else (2026, n - 8)
            for insutype, income, spent in (
                ("310", 1_200_000_00 + n * 15_000_00, 1_020_000_00 + (n % 4) * 60_000_00),
                ("390", 450_000_00 + n * 5_000_00, 430_000_00 + (n % 3) * 45_000_00),
            ):
                await journal.post(
                    kind="contribution",
                    ref=f"console-seed:{insutype}:{year}-{month:02d}",
                    business_date=date(year, month, 5),
                    legs=contribution_legs(
                        psn_no="P1", insutype=insutype, amount_fen=income, acct_amount_fen=0
                    ),
                    now=clock.now(),
                )
                if (year, month) == (2026, 3):
                    continue  # this month's pay is the platform's own settlements below
                await journal.post(
                    kind="settlement",
                    ref=f"console-seed:{insutype}:{year}-{month:02d}",
                    business_date=date(year, month, 28),
                    legs=balanced(
                        [Leg(fund_account(f"{insutype}100"), spent), Leg(payable_account(HOSPITAL), -spent)]
                    ),
                    now=clock.now(),
                )

    # Payment by points: both hospitals, the employees' pool under DIP this year.
    await _ok(
        await client.put(
            "/settlement/payment-years/2026/310", headers=ops, json={"method": "dip", "budget": "300000.00"}
        )
    )
    for code in (HOSPITAL, OTHER_HOSPITAL):
        institution = await _ok(await client.get(f"/settlement/institutions/{code}", headers=ops))
        fields = ("fixmedins_name", "fixmedins_type", "hosp_lv", "admdvs", "status")
        await _ok(
            await client.put(
                f"/settlement/institutions/{code}",
                headers=ops,
                json={**{key: institution[key] for key in fields}, "points_payment": True},
            )
        )

    # Two days of settlements; the first is closed (statements, disbursements due the next day).
    async def settled_once_known(claim: dict[str, Any], headers: dict[str, str]) -> None:
        """The first claim waits for settlement to learn of the person and the coverage (events)."""

        async def made() -> bool:
            answer = await client.post("/settlement/settlements", headers=headers, json=claim)
            assert answer.status_code in (201, 403, 404, 409, 422), answer.text
            return answer.status_code == 201

        await wait_for(made, timeout=30, interval=0.2, what="settlement to know the person's coverage")

    await settled_once_known(_claim(psn_no, HOSPITAL, "D0-A", CLOSED_DAY, fee="12.00"), his)

    async def settle(day: date, tag: str) -> None:
        for n, fee in enumerate(("120.00", "86.50", "240.00", "35.20")):
            await _ok(
                await client.post(
                    "/settlement/settlements",
                    headers=his,
                    json=_claim(psn_no, HOSPITAL, f"{tag}-A{n}", day, fee=fee),
                )
            )
        for n, fee in enumerate(("66.00", "180.00")):
            await _ok(
                await client.post(
                    "/settlement/settlements",
                    headers=his_other,
                    json=_claim(psn_no, OTHER_HOSPITAL, f"{tag}-B{n}", day, fee=fee),
                )
            )
        await _ok(
            await client.post(
                "/settlement/settlements",
                headers=his,
                json=_claim(psn_no, HOSPITAL, f"{tag}-IA", day, fee="6800.00", inpatient=True),
            )
        )
        await _ok(
            await client.post(
                "/settlement/settlements",
                headers=his_other,
                json=_claim(psn_no, OTHER_HOSPITAL, f"{tag}-IB", day, fee="9200.00", inpatient=True),
            )
        )

    await settle(CLOSED_DAY, "D1")
    clock.set(datetime(2026, 3, 3, 2, 0, tzinfo=UTC))
    await _ok(await client.post("/settlement/day-closes", headers=ops, json={"date": CLOSED_DAY.isoformat()}))
    await settle(TODAY, "D2")

    # Prices: the region's pharmacies sell at about the procurement price (what the reference prices are made
    # of), then one sells well above the others (its volume-price index over the warning line), one a little
    # above, and one above 1.5 times the procurement price; a fourth has open alerts of its own.
    pricing_db = platform.services["pricing"].app.state.db
    await seed_pharmacies(pricing_db, *OTHER_PHARMACIES, QUIET_PHARMACY)
    drugs = {"XA01": Decimal("10.00"), "XA02": Decimal("4.68"), "XA03": Decimal("25.80")}
    for code, price in drugs.items():
        await _ok(
            await client.put(
                f"/pricing/drugs/{code}",
                headers=ops,
                json={"generic_name": f"药品{code}", "spec": "10mg*10片", "procurement_price": str(price)},
            )
        )
    pos = {PHARMACY: bearer(platform.keys["pos"])}
    for code in OTHER_PHARMACIES:
        issued = await _ok(
            await client.post(
                "/admin/clients", headers=ops, json={"name": f"pos-{code}", "role": "pos", "scope": code}
            )
        )
        pos[code] = bearer(issued["api_key"])

    async def sell(pharmacy: str, tag: str, factor: str, cnt: str, hour: int) -> None:
        lines = [
            {
                "sale_id": f"{tag}-{code}",
                "med_list_codg": code,
                "finl_trns_pric": str((price * Decimal(factor)).quantize(Decimal("0.01"))),
                "cnt": cnt,
                "sel_time": f"{TODAY.isoformat()}T{hour:02d}:{10 + n:02d}:00+08:00",
                "drug_trac_codg": [],
            }
            for n, (code, price) in enumerate(drugs.items())
        ]
        await _ok(
            await client.post(
                "/pricing/sales", headers=pos[pharmacy], json={"fixmedins_code": pharmacy, "sales": lines}
            )
        )

    for pharmacy in (PHARMACY, *OTHER_PHARMACIES):
        await sell(pharmacy, f"BASE-{pharmacy}", "1.00", "2", 8)
    await sell(OTHER_PHARMACIES[1], "HIGH", "1.45", "20", 9)
    await sell(OTHER_PHARMACIES[0], "ABOVE", "1.15", "4", 9)
    await sell(PHARMACY, "OVER", "1.80", "1", 9)
    now = clock.now()
    async with pricing_db.transaction() as session:
        for n, (pharmacy, drug, light) in enumerate(
            [
                (QUIET_PHARMACY, "XA01", "red"),
                (QUIET_PHARMACY, "XA02", "yellow"),
                (QUIET_PHARMACY, "XA03", "yellow"),
            ]
        ):
            session.add(
                PriceAlert(
                    open_key=f"{pharmacy}|{drug}|{light}",
                    fixmedins_code=pharmacy,
                    med_list_codg=drug,
                    admdvs="420100",
                    light=light,
                    status="open",
                    price_micro=20_000_000 + n,
                    reference_micro=10_000_000,
                    diff_ratio="1.0000" if light == "red" else "0.3000",
                    over_procurement=light == "red",
                    sale_id=f"SEED-{n}",
                    occurrences=n + 1,
                    raised_at=now,
                    last_seen_at=now,
                )
            )

    # Supervision: findings of three rules in each state, and cases at several stages.
    fraud_db = platform.services["fraud"].app.state.db
    async with fraud_db.transaction() as session:
        rules = list((await session.execute(Rule.__table__.select().order_by(Rule.rule_id).limit(3))).all())
        assert rules, "the fraud service seeds its built-in rules at start"
        findings = []
        for n in range(12):
            rule = rules[n % len(rules)]
            status = ("open", "open", "confirmed", "dismissed")[n % 4]
            finding = Finding(
                rule_id=rule.rule_id,
                rule_version=rule.version,
                family=rule.family,
                category="fraud",
                severity=rule.severity,
                finding_key=f"console-seed-{n}",
                status=status,
                setl_id=None,
                psn_no=psn_no,
                fixmedins_code=(HOSPITAL, OTHER_HOSPITAL)[n % 2],
                message=f"{rule.name}：疑似违规 #{n}",
                feedetl_sn=None,
                vola_fen=10_000 + n * 1_000,
                fund_pay_fen=50_000,
                raised_at=now - timedelta(hours=n),
                amount_to_recover_fen=10_000 if status == "confirmed" else None,
                note=None,
                decided_by="ops-seed" if status != "open" else None,
                decided_at=now if status != "open" else None,
            )
            session.add(finding)
            findings.append(finding)
        await session.flush()
        for n, status in enumerate(("notified", "appealed", "decided")):
            case = Case(
                fixmedins_code=HOSPITAL,
                status=status,
                outcome="decided" if status == "decided" else None,
                summary=f"案件 {n}",
                proposed_fen=10_000,
                notified_on=CLOSED_DAY,
                appeal_deadline=CLOSED_DAY + timedelta(days=15),
                created_at=now,
                created_by="ops-seed",
                updated_at=now,
            )
            session.add(case)
            await session.flush()
            confirmed = [f for f in findings if f.status == "confirmed"]
            session.add(
                CaseFinding(case_id=case.case_id, finding_id=confirmed[n].finding_id, proposed_fen=10_000)
            )
    return Seeded(psn_no=psn_no, finding_id=findings[0].finding_id)
