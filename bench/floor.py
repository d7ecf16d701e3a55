"""The floor of the settle path: a one-call settlement's own work, and nothing else, on bare asyncpg.

    python bench/floor.py --dsn postgresql://... --port 8099

One process, one raw ASGI callable under uvicorn, one asyncpg pool, against a database of its own with the
settlement service's schema (migrated by `common.migrations.upgrade("settlement", url)`) and a copy of the
reference rows the bench loaded into the settlement service's database (`prepare`). POST /settlements (also
/settlement/settlements, the gateway's path, so the bench's load generator drives it unchanged) takes the
body of settlement's one-call settlement and does:

1. parse and validate it: header fields, 1 to 40 lines, amounts as Decimal, cnt x pric = the line's sum,
   no feedetl_sn twice, times as ISO datetimes;
2. the idempotency check (fixmedins_code, medins_setl_id): a retry gets the stored answer (200), the id
   reused for another request 409;
3. read what the split needs: the institution, the person, the coverage, the catalogue items of the lines,
   in one round trip each;
4. one transaction: upsert-and-lock the person's year accumulator, lock the personal account, split, insert
   the visit, the settlement (with its JSON answer), the fee lines, the journal and its legs, move the year
   and the account, and insert one settlement.settled outbox row; answer 201 with the settlement.

What it omits (so the ratio measures them, besides the gateway, the review and the event consumers):
API keys and scopes (no gateway), the real-time review, the policy book (fixed parameters instead: a 200
yuan outpatient deductible, the fund paying 70% of the rest for 310 and 50% for 390, up to 2,000 yuan a
year; no inpatient, serious-illness, civil-assistance or family-account rules), max_cnt_per_visit, the
day-close lock and counting day, suspensions, death dates and waiting periods, the time-window checks, and
the relay (its outbox rows stay unpublished: no NATS).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

REFERENCE_TABLES = (
    "institution",
    "catalog_item",
    "policy_version",
    "insured_person",
    "coverage_projection",
    "family_binding",
    "personal_account",
    "year_accumulator",
)
DEDUCTIBLE_FEN = 20_000
POOL_CAP_FEN = 200_000
POOL_RATIO = {"310": Decimal("0.70"), "390": Decimal("0.50")}
CLASS_B_SELFPAY = Decimal("0.10")
FEN = Decimal("0.01")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL (postgresql+asyncpg://...) as asyncpg takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


# --- the database: the settlement schema and a copy of the city's reference rows ---------------------------


async def _copy_reference(source_dsn: str, target_dsn: str) -> dict[str, int]:
    source = await asyncpg.connect(source_dsn)
    target = await asyncpg.connect(target_dsn)
    copied = {}
    try:
        for table in REFERENCE_TABLES:
            columns = [
                row["column_name"]
                for row in await source.fetch(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = $1 "
                    "ORDER BY ordinal_position",
                    table,
                )
            ]
            records = await source.fetch(f"SELECT {', '.join(columns)} FROM {table}")  # noqa: S608 - names
            await target.execute(f"TRUNCATE {table}")
            if records:
                await target.copy_records_to_table(table, records=records, columns=columns)
            copied[table] = len(records)
        await target.execute("ANALYZE")
    finally:
        await source.close()
        await target.close()
    return copied


def prepare(admin_url: str, name: str, settlement_url: str) -> tuple[str, dict[str, int]]:
    """A fresh database `name`, migrated as settlement's, with the reference rows of settlement's own."""
    from common import pgdev
    from common.migrations import upgrade

    admin = pgdev.admin_url(admin_url)
    admin_dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)

    async def recreate() -> None:
        connection = await asyncpg.connect(admin_dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(recreate())
    try:
        url = admin.set(database=name).render_as_string(hide_password=False)
        upgrade("settlement", url)
        dsn = asyncpg_dsn(url)
        copied = asyncio.run(_copy_reference(asyncpg_dsn(settlement_url), dsn))
    except BaseException:
        drop(admin_url, name)  # a half-made floor is not left on the server
        raise
    return dsn, copied


def drop(admin_url: str, name: str) -> None:
    from common import pgdev

    admin_dsn = pgdev.admin_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def go() -> None:
        connection = await asyncpg.connect(admin_dsn)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(go())


class FloorProcess:
    """`bench/floor.py` as a process of its own, ready when it answers GET /health."""

    def __init__(self, dsn: str, port: int) -> None:
        self.port = port
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, str(Path(__file__)), "--dsn", dsn, "--port", str(port)],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 60
        import httpx

        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the floor exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("the floor did not start in 60 s")
            time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- the request ------------------------------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _decimal(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise Refused(422, "INVALID_AMOUNT", f"{field} is not a number.") from None
    if not number.is_finite() or number < 0:
        raise Refused(422, "INVALID_AMOUNT", f"{field} must be a non-negative number.")
    return number


def _time(value: Any, field: str) -> datetime:
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        raise Refused(422, "INVALID_TIME", f"{field} is not an ISO datetime.") from None
    if at.tzinfo is None:
        raise Refused(422, "INVALID_TIME", f"{field} has no offset.")
    return at


def _fen(yuan: Decimal) -> int:
    return int((yuan * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _yuan(fen: int) -> str:
    return str((Decimal(fen) / 100).quantize(FEN))


def parse(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise Refused(400, "INVALID_JSON", "The body is not JSON.") from None
    if not isinstance(data, dict):
        raise Refused(422, "INVALID_BODY", "The body must be an object.")
    for field in ("fixmedins_code", "medins_setl_id", "psn_no", "insutype", "med_type", "begntime"):
        if not isinstance(data.get(field), str) or not data[field]:
            raise Refused(422, "MISSING_FIELD", f"{field} is required.")
    if data["med_type"] not in ("11", "41"):
        raise Refused(422, "UNKNOWN_MED_TYPE", "The floor settles outpatient (11) and pharmacy (41) claims.")
    begntime = _time(data["begntime"], "begntime")
    lines_in = data.get("feedetail")
    if not isinstance(lines_in, list) or not 1 <= len(lines_in) <= 40:
        raise Refused(422, "INVALID_FEEDETAIL", "feedetail must hold 1 to 40 lines.")
    seen: set[str] = set()
    lines = []
    for raw in lines_in:
        sn, codg = raw.get("feedetl_sn"), raw.get("med_list_codg")
        if not isinstance(sn, str) or not isinstance(codg, str):
            raise Refused(422, "INVALID_LINE", "Each line needs feedetl_sn and med_list_codg.")
        if sn in seen:
            raise Refused(422, "DUPLICATE_FEEDETL_SN", f"feedetl_sn {sn} appears twice.")
        seen.add(sn)
        cnt, pric = _decimal(raw.get("cnt"), "cnt"), _decimal(raw.get("pric"), "pric")
        sumamt = _decimal(raw.get("det_item_fee_sumamt"), "det_item_fee_sumamt")
        if cnt == 0 or abs(cnt * pric - sumamt) > FEN:
            raise Refused(422, "LINE_AMOUNT_MISMATCH", f"Line {sn}: cnt x pric is not its sum.")
        trac = raw.get("drug_trac_codg") or []
        lines.append(
            {
                "feedetl_sn": sn,
                "med_list_codg": codg,
                "cnt": cnt,
                "pric": pric,
                "amount_fen": _fen(sumamt),
                "fee_ocur_time": _time(raw.get("fee_ocur_time"), "fee_ocur_time"),
                "drug_trac_codg": [str(code) for code in trac],
            }
        )
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {
        **{field: data[field] for field in ("fixmedins_code", "medins_setl_id", "psn_no", "insutype")},
        "med_type": data["med_type"],
        "begntime": begntime,
        "acct_used": data.get("acct_used_flag", 0) == 1,
        "lines": lines,
        "fingerprint": hashlib.sha256(canonical.encode()).hexdigest(),
    }


# --- the split: same shape as settlement's, simplified (see the module's docstring) -----------------------


def _age(brdy: date, on: date) -> int:
    return on.year - brdy.year - ((on.month, on.day) < (brdy.month, brdy.day))


def split(
    claim: dict[str, Any],
    person: asyncpg.Record,
    items: dict[str, asyncpg.Record],
    year: asyncpg.Record,
    balance: int,
    on: date,
) -> dict[str, Any]:
    age = _age(person["brdy"], on)
    results, fulamt, overlmt, preself, inscp = [], 0, 0, 0, 0
    for line in claim["lines"]:
        item, amount, notes = items.get(line["med_list_codg"]), line["amount_fen"], []
        line_full = line_over = line_pre = 0
        prop = Decimal(1)
        level = item["chrgitm_lv"] if item else None
        if item is None:
            line_full, notes = amount, ["NOT_IN_CATALOG"]
        elif level == "03":
            line_full, notes = amount, ["CLASS_C_SELF_PAY"]
        elif item["gend_lmt"] is not None and item["gend_lmt"] != person["gend"]:
            line_full, notes = amount, ["GENDER_LIMIT"]
        elif (item["age_min"] is not None and age < item["age_min"]) or (
            item["age_max"] is not None and age > item["age_max"]
        ):
            line_full, notes = amount, ["AGE_LIMIT"]
        else:
            if item["pric_uplmt_amt"] is not None and line["pric"] > Decimal(item["pric_uplmt_amt"]):
                line_over = min(amount, _fen(line["cnt"] * (line["pric"] - Decimal(item["pric_uplmt_amt"]))))
                notes.append("OVER_PRICE_CAP")
            prop = Decimal(0) if level == "01" else Decimal(item["selfpay_prop"] or CLASS_B_SELFPAY)
            line_pre = _fen(Decimal(amount - line_over) * prop / 100)
        line_inscp = amount - line_full - line_over - line_pre
        fulamt, overlmt, preself, inscp = (
            fulamt + line_full,
            overlmt + line_over,
            preself + line_pre,
            inscp + line_inscp,
        )
        results.append(
            {
                "feedetl_sn": line["feedetl_sn"],
                "med_list_codg": line["med_list_codg"],
                "det_item_fee_sumamt": _yuan(amount),
                "chrgitm_lv": level,
                "selfpay_prop": str(prop),
                "fulamt_ownpay_amt": _yuan(line_full),
                "overlmt_amt": _yuan(line_over),
                "preselfpay_amt": _yuan(line_pre),
                "inscp_scp_amt": _yuan(line_inscp),
                "notes": notes,
            }
        )
    medfee = sum(line["amount_fen"] for line in claim["lines"])
    dedc = min(inscp, max(0, DEDUCTIBLE_FEN - year["outpatient_dedc_fen"]))
    ratio = POOL_RATIO.get(claim["insutype"], Decimal("0.50"))
    hifp = min(_fen(Decimal(inscp - dedc) * ratio / 100), max(0, POOL_CAP_FEN - year["outpatient_pool_fen"]))
    psn_part = medfee - hifp
    acct = min(max(balance, 0), psn_part) if claim["acct_used"] else 0
    return {
        "medfee_fen": medfee,
        "fulamt_ownpay_fen": fulamt,
        "overlmt_selfpay_fen": overlmt,
        "preselfpay_fen": preself,
        "inscp_scp_fen": inscp,
        "act_pay_dedc_fen": dedc,
        "hifp_pay_fen": hifp,
        "fund_pay_fen": hifp,
        "psn_part_fen": psn_part,
        "acct_pay_fen": acct,
        "psn_cash_pay_fen": psn_part - acct,
        "pool_self_fen": inscp - dedc - hifp,
        "lines": results,
        "age": age,
    }


# --- the settlement ---------------------------------------------------------------------------------------

REPLAY = "SELECT request_hash, response FROM settlement WHERE fixmedins_code = $1 AND medins_setl_id = $2"
INSTITUTION = "SELECT fixmedins_type, status FROM institution WHERE fixmedins_code = $1"
PERSON = "SELECT gend, brdy, death_date FROM insured_person WHERE psn_no = $1"
COVERAGE = (
    "SELECT coverage_id, status, benefit_start_date FROM coverage_projection "
    "WHERE psn_no = $1 AND insutype = $2 AND begndate <= $3 AND (enddate IS NULL OR enddate >= $3) "
    "ORDER BY begndate DESC LIMIT 1"
)
ITEMS = (
    "SELECT med_list_codg, chrgitm_lv, selfpay_prop, pric_uplmt_amt, gend_lmt, age_min, age_max "
    "FROM catalog_item WHERE med_list_codg = ANY($1::varchar[])"
)
LOCK_YEAR = (
    "INSERT INTO year_accumulator (psn_no, insutype, year, outpatient_dedc_fen, outpatient_pool_fen, pool_fen, "
    "pool_self_fen, supp_fen, maf_fen, settlement_count) VALUES ($1, $2, $3, 0, 0, 0, 0, 0, 0, 0) "
    "ON CONFLICT (psn_no, insutype, year) DO UPDATE SET settlement_count = year_accumulator.settlement_count "
    "RETURNING outpatient_dedc_fen, outpatient_pool_fen"
)
LOCK_ACCOUNT = "SELECT balc_fen FROM personal_account WHERE psn_no = $1 FOR UPDATE"
INSERT_VISIT = (
    "INSERT INTO visit (mdtrt_id, fixmedins_code, psn_no, insutype, med_type, begntime, endtime, status, "
    "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'settled', $7)"
)
INSERT_SETTLEMENT = (
    "INSERT INTO settlement (setl_id, medins_setl_id, fixmedins_code, mdtrt_id, psn_no, insutype, med_type, "
    "setl_time, business_date, year, policy_version, medfee_fen, fulamt_ownpay_fen, overlmt_selfpay_fen, "
    "preselfpay_fen, inscp_scp_fen, act_pay_dedc_fen, hifp_pay_fen, hifmi_pay_fen, hifob_pay_fen, maf_pay_fen, "
    "fund_pay_fen, psn_part_fen, acct_pay_fen, acct_mulaid_pay_fen, psn_cash_pay_fen, outpatient_dedc_fen, "
    "outpatient_pool_fen, pool_self_fen, review, request_hash, response, status, created_at, day_close_date) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, $13, $14, $15, $16, $17, 0, 0, 0, $17, $18, "
    "$19, 0, $20, $16, $17, $21, 'passed', $22, $23::json, 'settled', $8, $9)"
)
INSERT_LINES = (
    "INSERT INTO fee_detail (mdtrt_id, feedetl_sn, med_list_codg, cnt, pric, amount_fen, fee_ocur_time, "
    "drug_trac_codg, status, created_at) SELECT $1, sn, codg, cnt, pric, amt, at, trac::json, 'settled', $2 "
    "FROM unnest($3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[], $7::bigint[], "
    "$8::timestamptz[], $9::text[]) AS l(sn, codg, cnt, pric, amt, at, trac)"
)
INSERT_JOURNAL = (
    "WITH j AS (INSERT INTO journal (kind, ref, business_date, created_at) VALUES ('settlement', $1, $2, $3) "
    "RETURNING journal_id) INSERT INTO journal_leg (journal_id, account, amount_fen) "
    "SELECT j.journal_id, a, f FROM j, unnest($4::varchar[], $5::bigint[]) AS l(a, f)"
)
MOVE_YEAR = (
    "UPDATE year_accumulator SET outpatient_dedc_fen = outpatient_dedc_fen + $4, "
    "outpatient_pool_fen = outpatient_pool_fen + $5, pool_self_fen = pool_self_fen + $6, "
    "settlement_count = settlement_count + 1 WHERE psn_no = $1 AND insutype = $2 AND year = $3"
)
MOVE_ACCOUNT = "UPDATE personal_account SET balc_fen = balc_fen - $2, updated_at = $3 WHERE psn_no = $1"
INSERT_OUTBOX = (
    "INSERT INTO outbox_event (event_id, type, subject, payload, created_at, attempts) "
    "VALUES ($1, 'settlement.settled', $2, $3, $4, 0)"
)


def _new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24].upper()


async def settle(pool: asyncpg.Pool, body: bytes) -> tuple[int, bytes]:
    claim = parse(body)
    now = datetime.now(UTC)
    on = now.astimezone(SHANGHAI).date()
    async with pool.acquire() as connection:
        stored = await connection.fetchrow(REPLAY, claim["fixmedins_code"], claim["medins_setl_id"])
        if stored is not None:
            if stored["request_hash"] != claim["fingerprint"]:
                raise Refused(409, "SETTLEMENT_CONFLICT", "medins_setl_id was used for another settlement.")
            return 200, stored["response"].encode()
        institution = await connection.fetchrow(INSTITUTION, claim["fixmedins_code"])
        if institution is None or institution["status"] != "active":
            raise Refused(422, "INSTITUTION_NOT_ACTIVE", "Unknown or inactive institution.")
        person = await connection.fetchrow(PERSON, claim["psn_no"])
        if person is None:
            raise Refused(422, "PERSON_NOT_FOUND", "Unknown person.")
        coverage = await connection.fetchrow(COVERAGE, claim["psn_no"], claim["insutype"], on)
        if coverage is None or coverage["status"] != "active" or coverage["benefit_start_date"] > on:
            raise Refused(422, "NOT_COVERED", "No coverage in force.")
        codes = sorted({line["med_list_codg"] for line in claim["lines"]})
        items = {row["med_list_codg"]: row for row in await connection.fetch(ITEMS, codes)}
        setl_id, mdtrt_id = _new_id("S"), _new_id("M")
        async with connection.transaction():
            year = await connection.fetchrow(LOCK_YEAR, claim["psn_no"], claim["insutype"], on.year)
            balance = await connection.fetchval(LOCK_ACCOUNT, claim["psn_no"]) or 0
            parts = split(claim, person, items, year, balance, on)
            answer = {
                "setlinfo": {
                    "setl_id": setl_id,
                    "mdtrt_id": mdtrt_id,
                    "medins_setl_id": claim["medins_setl_id"],
                    "psn_no": claim["psn_no"],
                    "gend": person["gend"],
                    "age": parts["age"],
                    "insutype": claim["insutype"],
                    "med_type": claim["med_type"],
                    "setl_time": now.isoformat(),
                    **{
                        name.removesuffix("_fen"): _yuan(value)
                        for name, value in parts.items()
                        if name.endswith("_fen")
                    },
                    "balc": _yuan(balance - parts["acct_pay_fen"]),
                },
                "setldetail": [
                    {"fund_pay_type": "310100", "fund_payamt": _yuan(parts["hifp_pay_fen"])},
                ],
                "result": parts["lines"],
                "warnings": [],
            }
            text = json.dumps(answer, ensure_ascii=False)
            lines = claim["lines"]
            await connection.execute(
                INSERT_VISIT,
                mdtrt_id,
                claim["fixmedins_code"],
                claim["psn_no"],
                claim["insutype"],
                claim["med_type"],
                claim["begntime"],
                now,
            )
            await connection.execute(
                INSERT_SETTLEMENT,
                setl_id,
                claim["medins_setl_id"],
                claim["fixmedins_code"],
                mdtrt_id,
                claim["psn_no"],
                claim["insutype"],
                claim["med_type"],
                now,
                on,
                on.year,
                parts["medfee_fen"],
                parts["fulamt_ownpay_fen"],
                parts["overlmt_selfpay_fen"],
                parts["preselfpay_fen"],
                parts["inscp_scp_fen"],
                parts["act_pay_dedc_fen"],
                parts["hifp_pay_fen"],
                parts["psn_part_fen"],
                parts["acct_pay_fen"],
                parts["psn_cash_pay_fen"],
                parts["pool_self_fen"],
                claim["fingerprint"],
                text,
            )
            await connection.execute(
                INSERT_LINES,
                mdtrt_id,
                now,
                [line["feedetl_sn"] for line in lines],
                [line["med_list_codg"] for line in lines],
                [str(line["cnt"]) for line in lines],
                [str(line["pric"]) for line in lines],
                [line["amount_fen"] for line in lines],
                [line["fee_ocur_time"] for line in lines],
                [json.dumps(line["drug_trac_codg"]) for line in lines],
            )
            legs = [
                ("institution:" + claim["fixmedins_code"], parts["medfee_fen"]),
                ("fund:hifp", -parts["hifp_pay_fen"]),
                ("account:" + claim["psn_no"], -parts["acct_pay_fen"]),
                ("cash:" + claim["psn_no"], -parts["psn_cash_pay_fen"]),
            ]
            legs = [leg for leg in legs if leg[1]]
            await connection.execute(
                INSERT_JOURNAL, setl_id, on, now, [leg[0] for leg in legs], [leg[1] for leg in legs]
            )
            await connection.execute(
                MOVE_YEAR,
                claim["psn_no"],
                claim["insutype"],
                on.year,
                parts["act_pay_dedc_fen"],
                parts["hifp_pay_fen"],
                parts["pool_self_fen"],
            )
            if parts["acct_pay_fen"]:
                await connection.execute(MOVE_ACCOUNT, claim["psn_no"], parts["acct_pay_fen"], now)
            event = {"setl_id": setl_id, "psn_no": claim["psn_no"], "settlement": answer["setlinfo"]}
            await connection.execute(
                INSERT_OUTBOX, str(uuid.uuid4()), setl_id, json.dumps(event).encode(), now
            )
    return 201, text.encode()


# --- the bare ASGI application ----------------------------------------------------------------------------


class Floor:
    def __init__(self, dsn: str, pool_size: int = 20) -> None:
        self.dsn, self.pool_size = dsn, pool_size
        self.pool: asyncpg.Pool | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.pool = await asyncpg.create_pool(self.dsn, min_size=2, max_size=self.pool_size)
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.pool is not None:
                        await self.pool.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if method == "GET" and path == "/health":
            await _answer(send, 200, b'{"status":"ok"}')
            return
        if method != "POST" or path not in ("/settlements", "/settlement/settlements"):
            await _answer(send, 404, b'{"code":"NOT_FOUND"}')
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        try:
            assert self.pool is not None
            status, payload = await settle(self.pool, b"".join(chunks))
        except Refused as refused:
            status = refused.status
            payload = json.dumps({"code": refused.code, "message": refused.message}).encode()
        except asyncpg.UniqueViolationError:  # the same medins_setl_id committed first by another request
            status, payload = 409, b'{"code":"SETTLEMENT_RACE"}'
        await _answer(send, status, payload)


async def _answer(send: Any, status: int, payload: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dsn", required=True, help="postgresql://... of a database with settlement's schema"
    )
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--pool", type=int, default=20, help="asyncpg pool size")
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(
        Floor(args.dsn, args.pool),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
