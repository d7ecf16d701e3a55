"""The platform of the fault tests: service processes, their databases seen from the test, reference data,
claims, a settlement load that records every answer, and the counts the tests compare."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import sqlalchemy as sa

from common.clock import SHANGHAI, SystemClock
from common.db import Database
from common.embedded_nats import EmbeddedNats, free_port
from common.errors import PROBLEM_MEDIA_TYPE
from common.events.consumer import Wants
from common.events.contracts import Subject
from common.events.envelope import EventEnvelope
from common.events.tables import inbox_event, outbox_event
from common.principal import Principal, Role
from common.testing.apps import PrincipalAuth, wait_for
from common.testing.databases import Databases
from common.testing.processes import ServiceProcess, service_env
from fraud.models import ClaimRecord
from pricing.models import Observation
from settlement.models import PersonalAccount, Settlement, YearAccumulator
from settlement.service.day_close import close_day
from settlement.uow import SettlementUnitOfWork
from tests.settlement.seed import credit_account, seed_person

SECRET = "faults-internal-secret-0123456789abcdef"  # a throwaway secret for the test's processes
OPS = Principal(client_id="ops-faults", role=Role.OPS)
HOSPITALS = ("H4201000001", "H4201000002")
PHARMACIES = ("Y4201000001", "Y4201000002")
ITEMS = ("A01", "A02")  # hospital items: 甲类, 乙类
DRUGS = ("XD0000000001", "XD0000000002")  # known to pricing: a pharmacy's line of them is an observation
PERSONS = tuple(f"P{n:04d}" for n in range(1, 9))
ACCOUNT_FEN = 200_000  # 2,000.00 in each person's account
FRAUD_CONSUMER, PRICING_CONSUMER = "fraud-settlement", "pricing-settlement"


class Platform:
    """Service processes on the run's test databases and a NATS the test may kill; stopped at the end."""

    def __init__(self, databases: Databases, nats_server: EmbeddedNats, root: Path) -> None:
        self.databases = databases
        self.nats = nats_server
        self.root = root
        self.services: dict[str, ServiceProcess] = {}
        self._dbs: dict[str, Database] = {}
        self._clients: list[httpx.AsyncClient] = []

    @property
    def backend(self) -> str:
        return self.databases.backend

    def add(
        self, service: str, *, name: str | None = None, database_url: str | None = None, **settings: Any
    ) -> ServiceProcess:
        """A process of `service`, known by `name` (the service's by default; settlement-2 for a second
        replica on the same database): its own port and log file."""
        name = name or service
        port = free_port()
        env = service_env(
            service,
            port=port,
            database_url=database_url or self.databases.url(service),
            nats_url=self.nats.url,
            secret=SECRET,
            var_dir=self.root,
            **settings,
        )
        process = ServiceProcess(service, port=port, env=env, log_file=self.root / f"{name}.log")
        self.services[name] = process
        return process

    async def start(self, *names: str) -> None:
        for name in names:
            self.services[name].start()
        await asyncio.gather(*(self.services[name].wait_ready() for name in names))

    def db(self, service: str) -> Database:
        """The service's database, opened by the test (as a second process would)."""
        if service not in self._dbs:
            self._dbs[service] = Database.from_url(self.databases.url(service), pool_size=2)
        return self._dbs[service]

    def client(self, name: str, *, timeout: float = 30.0) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            base_url=self.services[name].url,
            auth=PrincipalAuth(OPS, secret=SECRET, clock=SystemClock()),
            timeout=timeout,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )
        self._clients.append(client)
        return client

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()
        for process in self.services.values():
            process.stop()
        for db in self._dbs.values():
            await db.dispose()


# --- reference data ------------------------------------------------------------------------------------


async def seed_world(platform: Platform, *, pricing: bool = True) -> None:
    """Institutions and catalogue through settlement's API (their events reach fraud and pricing), drugs
    through pricing's, and the persons with their accounts straight into settlement's projection."""
    settle = platform.client("settlement")
    for code in HOSPITALS:
        body = {"fixmedins_name": f"医院{code}", "fixmedins_type": "hospital", "hosp_lv": 2, "admdvs": "420100",
                "status": "active"}  # fmt: skip
        assert (await settle.put(f"/institutions/{code}", json=body)).status_code == 201
    for code in PHARMACIES:
        body = {"fixmedins_name": f"药店{code}", "fixmedins_type": "pharmacy", "admdvs": "420100",
                "status": "active"}  # fmt: skip
        assert (await settle.put(f"/institutions/{code}", json=body)).status_code == 201
    for code, level in ((ITEMS[0], "01"), (ITEMS[1], "02"), (DRUGS[0], "01"), (DRUGS[1], "02")):
        answer = await settle.put(f"/catalog/{code}", json={"name": f"项目{code}", "chrgitm_lv": level})
        assert answer.status_code == 201, answer.text
    if pricing:
        market = platform.client("pricing")
        for code in DRUGS:
            answer = await market.put(
                f"/drugs/{code}", json={"generic_name": f"药品{code}", "spec": "10mg*10片"}
            )
            assert answer.status_code in (200, 201), answer.text
    db = platform.db("settlement")
    for n, psn_no in enumerate(PERSONS, start=1):
        await seed_person(db, psn_no, coverage_id=n)
        await credit_account(db, psn_no, ACCOUNT_FEN)


def claim(n: int, *, psn_no: str | None = None, at: datetime | None = None) -> dict[str, Any]:
    """Claim number n: every third one a pharmacy purchase of two drugs (with fresh traceability codes), the
    others a two-line outpatient visit; persons and institutions taken in turn."""
    moment = (at or datetime.now(UTC) - timedelta(minutes=10)).astimezone(SHANGHAI).replace(microsecond=0)
    pharmacy = n % 3 == 0
    code = PHARMACIES[n % 2] if pharmacy else HOSPITALS[n % 2]
    items = DRUGS if pharmacy else ITEMS
    lines = [
        {
            "feedetl_sn": str(sn),
            "med_list_codg": item,
            "cnt": "2",
            "pric": f"{10 + (n + sn) % 7}.50",
            "det_item_fee_sumamt": f"{2 * (10 + (n + sn) % 7) + 1}.00",
            "fee_ocur_time": moment.isoformat(),
            "drug_trac_codg": [f"8{n:012d}{sn:07d}"] if pharmacy else [],
        }
        for sn, item in enumerate(items, start=1)
    ]
    return {
        "fixmedins_code": code,
        "medins_setl_id": f"F-{n:07d}",
        "psn_no": psn_no or PERSONS[n % len(PERSONS)],
        "insutype": "310",
        "med_type": "41" if pharmacy else "11",
        "begntime": moment.isoformat(),
        "acct_used_flag": 1,
        "feedetail": lines,
    }


# --- load ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    n: int
    phase: str
    status: int
    code: str | None  # the problem's code, for a 4xx or 5xx


@dataclass
class SettlementLoad:
    """Workers posting one-call settlements until stopped; every answer is kept with the phase it came in,
    and the body of every claim not answered 201, so that it can be retried exactly as sent."""

    client: httpx.AsyncClient
    workers: int = 4
    phase: str = "before"
    answers: list[Answer] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # no HTTP answer at all, or an error not problem+json
    unanswered: dict[int, dict[str, Any]] = field(default_factory=dict)  # n -> body, for every non-201
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _stopping: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    async def stop(self) -> None:
        self._stopping = True
        await asyncio.gather(*self._tasks)

    def count(self, phase: str, status: int | None = None) -> int:
        return sum(1 for a in self.answers if a.phase == phase and (status is None or a.status == status))

    def statuses(self) -> Counter[tuple[str, int, str | None]]:
        return Counter((a.phase, a.status, a.code) for a in self.answers)

    async def _work(self) -> None:
        while not self._stopping:
            n = next(self._numbers)
            body = claim(n)
            try:
                response = await self.client.post("/settlements", json=body)
            except httpx.HTTPError as exc:
                self.failures.append(f"claim {n} ({self.phase}): {type(exc).__name__}")
                self.unanswered[n] = body
                continue
            phase, code = self.phase, None  # the phase the answer came in
            if response.status_code >= 400:
                if response.headers.get("content-type") != PROBLEM_MEDIA_TYPE:
                    self.failures.append(f"claim {n} ({phase}): {response.status_code} without problem+json")
                code = response.json().get("code")
            if response.status_code != 201:
                self.unanswered[n] = body
            self.answers.append(Answer(n, phase, response.status_code, code))
            if "retry-after" in response.headers:  # as a well-behaved client does (at most a second)
                await asyncio.sleep(min(1.0, float(response.headers["retry-after"])))


# --- counts --------------------------------------------------------------------------------------------


async def scalar(db: Database, query: Any) -> int:
    async with db.transaction(readonly=True) as session:
        return int(await session.scalar(query) or 0)


async def column(db: Database, query: Any) -> list[Any]:
    async with db.transaction(readonly=True) as session:
        return list((await session.scalars(query)).all())


async def settled_event_ids(db: Database, wants: Wants | None = None) -> list[str]:
    """The ids of the settlement.settled events settlement's outbox holds (one per settlement); with `wants`
    (a consumer's filter), only those that consumer acts on."""
    query = sa.select(outbox_event.c.event_id, outbox_event.c.payload).where(
        outbox_event.c.type == Subject.SETTLED
    )
    async with db.transaction(readonly=True) as session:
        rows = (await session.execute(query)).all()
    return [
        event_id
        for event_id, payload in rows
        if wants is None or wants(EventEnvelope.from_bytes(bytes(payload)))
    ]


async def unpublished(db: Database) -> int:
    query = sa.select(sa.func.count()).select_from(outbox_event).where(outbox_event.c.published_at.is_(None))
    return await scalar(db, query)


async def inbox_settled(db: Database, consumer: str) -> list[str]:
    """The settlement.settled event ids a consumer recorded as applied."""
    return await column(
        db,
        sa.select(inbox_event.c.event_id).where(
            inbox_event.c.consumer == consumer, inbox_event.c.type == Subject.SETTLED
        ),
    )


async def settlements(db: Database) -> list[tuple[str, str]]:
    """(setl_id, med_type) of every settlement settlement committed."""
    async with db.transaction(readonly=True) as session:
        rows = await session.execute(sa.select(Settlement.setl_id, Settlement.med_type))
        return [(row.setl_id, row.med_type) for row in rows]


async def fraud_claims(db: Database) -> list[str]:
    return await column(db, sa.select(ClaimRecord.setl_id))


async def pricing_observations(db: Database) -> list[str]:
    return await column(db, sa.select(Observation.sale_id).where(Observation.source == "settlement"))


def expected_observations(committed: list[tuple[str, str]]) -> list[str]:
    """Each pharmacy settlement's two drug lines, as pricing names them (setl_id:feedetl_sn)."""
    return sorted(
        f"{setl_id}:{sn}" for setl_id, med_type in committed if med_type == "41" for sn in ("1", "2")
    )


async def stream_settled_messages(nats_url: str) -> int:
    """How many settlement.settled messages the SETTLEMENT stream holds (duplicates included)."""
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        info = await js.stream_info("SETTLEMENT", subjects_filter=Subject.SETTLED)
        return int((info.state.subjects or {}).get(Subject.SETTLED, 0))
    finally:
        with contextlib.suppress(Exception):
            await client.close()


async def consumer_redeliveries(nats_url: str, durable: str) -> int:
    """How many deliveries of the durable consumer were second (or later) ones: its delivery count less the
    number of messages of its subjects in the stream."""
    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        info = await js.consumer_info("SETTLEMENT", durable)
        subjects = set(info.config.filter_subjects or [info.config.filter_subject])
        counts = (await js.stream_info("SETTLEMENT", subjects_filter=">")).state.subjects or {}
        return int(info.delivered.consumer_seq or 0) - sum(
            n for subject, n in counts.items() if subject in subjects
        )
    finally:
        with contextlib.suppress(Exception):
            await client.close()


async def duplicates_dropped(url: str, consumer: str) -> int:
    """What the process's inbox turned away since it started (events_consumed_total outcome=duplicate)."""
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"{url}/metrics")).text
    total = 0.0
    for line in text.splitlines():
        ours = line.startswith("events_consumed_total{") and f'consumer="{consumer}"' in line
        if ours and 'outcome="duplicate"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


async def assert_books_consistent(platform: Platform) -> dict[str, int]:
    """Settlement's books agree with themselves: the journal balances (/ledger/check), each person's year
    holds exactly what their standing settlements added, and each account is its credit less exactly what
    the standing settlements took. Returns the counts, for the report."""
    check = (await platform.client("settlement").get("/ledger/check")).json()
    assert check["balanced"] is True, check
    standing = Settlement.status == "settled"
    async with platform.db("settlement").transaction(readonly=True) as session:
        sums = (
            await session.execute(
                sa.select(
                    Settlement.psn_no,
                    Settlement.insutype,
                    Settlement.year,
                    sa.func.sum(Settlement.outpatient_dedc_fen),
                    sa.func.sum(Settlement.outpatient_pool_fen),
                    sa.func.sum(Settlement.hifp_pay_fen),
                    sa.func.sum(Settlement.pool_self_fen),
                    sa.func.sum(Settlement.hifmi_pay_fen + Settlement.hifob_pay_fen),
                    sa.func.sum(Settlement.maf_pay_fen),
                    sa.func.count(),
                )
                .where(standing)
                .group_by(Settlement.psn_no, Settlement.insutype, Settlement.year)
            )
        ).all()
        years = (
            await session.execute(
                sa.select(
                    YearAccumulator.psn_no,
                    YearAccumulator.insutype,
                    YearAccumulator.year,
                    YearAccumulator.outpatient_dedc_fen,
                    YearAccumulator.outpatient_pool_fen,
                    YearAccumulator.pool_fen,
                    YearAccumulator.pool_self_fen,
                    YearAccumulator.supp_fen,
                    YearAccumulator.maf_fen,
                    YearAccumulator.settlement_count,
                )
            )
        ).all()
        spent = dict(
            (
                await session.execute(
                    sa.select(Settlement.psn_no, sa.func.sum(Settlement.acct_pay_fen))
                    .where(standing)
                    .group_by(Settlement.psn_no)
                )
            ).all()
        )
        balances = dict(
            (await session.execute(sa.select(PersonalAccount.psn_no, PersonalAccount.balc_fen))).all()
        )
        counts = {
            status: n
            for status, n in (
                await session.execute(
                    sa.select(Settlement.status, sa.func.count()).group_by(Settlement.status)
                )
            ).all()
        }
    expected = {tuple(row[:3]): tuple(int(v) for v in row[3:]) for row in sums}
    held = {tuple(row[:3]): tuple(int(v) for v in row[3:]) for row in years}
    # A person whose every settlement was reversed keeps a year row of zeros.
    assert {key: value for key, value in held.items() if any(value)} == expected
    assert balances == {psn_no: ACCOUNT_FEN - int(spent.get(psn_no, 0)) for psn_no in PERSONS}
    assert all(balance >= 0 for balance in balances.values())
    return {"settled": counts.get("settled", 0), "reversed": counts.get("reversed", 0)}


@dataclass
class Traffic:
    """What settle_reverse_and_close did: each settlement as answered, the reversed ones, the answers to
    each reversal sent twice at once, and how many settlements the close made midway counted."""

    answered: dict[str, dict[str, Any]]
    reversed_ids: set[str]
    reversal_pairs: list[tuple[tuple[int, str | None], ...]]
    closed_first: int


async def settle_reverse_and_close(
    client: httpx.AsyncClient,
    db: Database,
    *,
    claims: int,
    body_of: Callable[[int], dict[str, Any]],
    reversed_if: Callable[[int], bool],
    settlers: int,
    reversers: int,
    day: date,
    half_timeout_s: float,
) -> Traffic:
    """Settlements 1..claims from `settlers` concurrent clients; each one `reversed_if` picks sent for
    reversal twice at once by `reversers` more; and, once half are answered, the close of `day` run in this
    process (the API closes only a day that is over) while the rest go on."""
    numbers = iter(range(1, claims + 1))
    traffic = Traffic(answered={}, reversed_ids=set(), reversal_pairs=[], closed_first=0)
    to_reverse: asyncio.Queue[str | None] = asyncio.Queue()

    async def settle() -> None:
        for n in numbers:
            response = await client.post("/settlements", json=body_of(n))
            assert response.status_code == 201, response.text
            info = response.json()["setlinfo"]
            traffic.answered[info["setl_id"]] = info
            if reversed_if(n):
                traffic.reversed_ids.add(info["setl_id"])
                await to_reverse.put(info["setl_id"])

    async def reverse() -> None:
        while (setl_id := await to_reverse.get()) is not None:
            url = f"/settlements/{setl_id}/reversal"
            pair = await asyncio.gather(*(client.post(url, json={"reason": "冲正"}) for _ in range(2)))
            traffic.reversal_pairs.append(
                tuple(
                    sorted(
                        (r.status_code, r.json().get("code") if r.status_code != 201 else None) for r in pair
                    )
                )
            )

    async def close_meanwhile() -> int:
        await wait_for(
            lambda: len(traffic.answered) >= claims // 2, timeout=half_timeout_s, what="half the claims"
        )
        async with SettlementUnitOfWork(db) as uow:
            outcome = await close_day(
                uow=uow, day=day, closed_by="faults", clock=SystemClock(), allow_today=True
            )
        return outcome.day_close.settlement_count

    reversing = [asyncio.create_task(reverse()) for _ in range(reversers)]
    closing = asyncio.create_task(close_meanwhile())
    await asyncio.gather(*(settle() for _ in range(settlers)))
    for _ in reversing:
        await to_reverse.put(None)
    await asyncio.gather(*reversing)
    traffic.closed_first = await closing
    return traffic
