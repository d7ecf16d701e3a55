"""An upload is worked set-based (every line's facts read and written together): each line must still get
exactly the answer it gets when uploaded alone, and a fingerprint stays what it was when first stored."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.events.tables import outbox_event
from pricing.domain.money import price_to_micro
from pricing.domain.observations import SaleLine
from pricing.models import Drug, PriceAlert
from tests.pricing.conftest import SEEDED_AT, at_shanghai, sale, seed_pharmacies, upload

DRUGS = [f"XC{n:015d}" for n in range(150)]
BATCH_REGION, ALONE_REGION = "420100", "429006"  # one pharmacy uploads in a batch, its twin line by line


def _price(n: int) -> str:
    """Around the reference of 10.00: green, yellow, red, and red above 1.5 x the procurement price."""
    return ("9.00", "10.00", "11.50", "12.00", "13.10", "16.00")[n % 6]


async def _seed_drugs(app: FastAPI) -> None:
    async with app.state.db.transaction() as session:
        await session.execute(
            sa.insert(Drug),
            [
                {
                    "med_list_codg": code,
                    "generic_name": f"药品{code}",
                    "procurement_price_micro": 10_000_000 if n % 4 == 0 else None,
                    "updated_at": SEEDED_AT,
                }
                for n, code in enumerate(DRUGS)
            ],
        )


def _upload_lines(prefix: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the pharmacy uploaded before (150 lines), and a 500-line upload mixing fresh lines (one per
    drug, so no line moves another's reference), replays and conflicts of the earlier lines, unknown drugs,
    and sale_ids repeated within the upload, the same and changed."""
    rng = random.Random(20261207)  # noqa: S311 - a reproducible shuffle, not a secret
    earlier = [
        sale(
            f"{prefix}E{n:03d}",
            code,
            _price(n + 1),
            cnt=str(1 + n % 3),
            at=at_shanghai(2026, 3, 1, 9, n % 60),
        )
        for n, code in enumerate(DRUGS)
    ]
    fresh = [
        sale(
            f"{prefix}F{n:03d}",
            code,
            _price(n),
            cnt=("1", "2", "0.5")[n % 3],
            at=at_shanghai(2026, 3, 2, 9, n % 60),
        )
        for n, code in enumerate(DRUGS)
    ]
    replays = [dict(line) for line in earlier[:120]]
    conflicts = [dict(line, finl_trns_pric="99.00") for line in earlier[120:150]]
    unknown = [sale(f"{prefix}U{n:03d}", f"NOPE{n:03d}", "10.00") for n in range(50)]
    repeats = [dict(line) for line in fresh[:80]]
    changed = [dict(line, cnt="7") for line in fresh[80:150]]
    lines = fresh + replays + conflicts + unknown
    rng.shuffle(lines)
    # A repeat or a changed repeat comes after its first: appended, then mixed among themselves.
    later = repeats + changed
    rng.shuffle(later)
    return earlier, lines + later


def _same(result: dict[str, Any]) -> dict[str, Any]:
    """An answer without the sale_id prefix of its pharmacy, and without the message of a conflict (it
    names the line of the upload when the sale_id is repeated within it)."""
    return result | {"sale_id": result["sale_id"][1:], "message": None}


async def test_a_500_line_upload_answers_each_line_as_uploading_it_alone_would(
    api: httpx.AsyncClient, pricing_app: FastAPI
) -> None:
    await _seed_drugs(pricing_app)
    await seed_pharmacies(pricing_app.state.db, "PB1", "PB2", "PB3", admdvs=BATCH_REGION)
    await seed_pharmacies(pricing_app.state.db, "PA1", "PA2", "PA3", admdvs=ALONE_REGION)
    # Both regions' references are 10.00 for every drug (two other pharmacies ask it).
    for code in ("PB1", "PB2", "PA1", "PA2"):
        await upload(api, code, *(sale(f"{code}{n}", drug, "10.00") for n, drug in enumerate(DRUGS)))
    batch_earlier, batch_lines = _upload_lines("B")
    alone_earlier, alone_lines = _upload_lines("A")
    await upload(api, "PB3", *batch_earlier)
    await upload(api, "PA3", *alone_earlier)

    batch = await upload(api, "PB3", *batch_lines)
    alone = [(await upload(api, "PA3", line))["results"][0] for line in alone_lines]

    assert len(batch["results"]) == len(alone) == 500
    assert [_same(result) for result in batch["results"]] == [_same(result) for result in alone]
    assert batch["accepted"] == sum(1 for result in alone if result["status"] == "accepted") == 350
    kinds = {(r["status"], r["replay"], r["reason"]) for r in batch["results"]}
    assert kinds == {
        ("accepted", False, None),
        ("accepted", True, None),
        ("rejected", False, "SALE_ID_CONFLICT"),
        ("rejected", False, "DRUG_NOT_FOUND"),
    }
    assert {r["light"] for r in batch["results"] if r["status"] == "accepted"} == {"green", "yellow", "red"}
    # The messages too, but for a sale_id repeated with other content within the upload (it names the line).
    for mine, single, line in zip(batch["results"], alone, batch_lines, strict=True):
        if mine["reason"] != "SALE_ID_CONFLICT" or not line["sale_id"].startswith("BF"):
            assert mine["message"] == single["message"]
        else:
            assert mine["message"].startswith("This sale_id is also on line ")

    # The same alerts, counting the same sightings; and the same fresh lines sent to fraud.
    async with pricing_app.state.db.transaction(readonly=True) as session:
        alerts = (
            await session.execute(
                sa.select(
                    PriceAlert.fixmedins_code,
                    PriceAlert.med_list_codg,
                    PriceAlert.light,
                    PriceAlert.occurrences,
                )
            )
        ).all()
        events = (
            await session.execute(
                sa.select(outbox_event.c.payload).where(outbox_event.c.type == "pricing.sale.recorded")
            )
        ).scalars()
        recorded = [json.loads(payload)["data"] for payload in events]
    assert sorted((drug, light, n) for code, drug, light, n in alerts if code == "PB3") == sorted(
        (drug, light, n) for code, drug, light, n in alerts if code == "PA3"
    )
    sent = {
        code: sorted(
            (line["sale_id"][1:], line["med_list_codg"], line["pric"], line["cnt"], line["sel_time"])
            for data in recorded
            if data["fixmedins_code"] == code
            for line in data["lines"]
        )
        for code in ("PB3", "PA3")
    }
    assert sent["PB3"] == sent["PA3"]
    assert len(sent["PB3"]) == 150 + 150  # the earlier upload's lines and the fresh ones, each once


def test_a_fingerprint_is_the_digest_of_the_canonical_json_it_always_was() -> None:
    """Fingerprints are stored: the text hashed must stay byte for byte what json.dumps wrote."""

    def as_before(line: SaleLine) -> str:
        canonical = json.dumps(
            [
                line.med_list_codg,
                price_to_micro(line.price),
                format(line.cnt.normalize(), "f"),
                line.sel_time.astimezone(UTC).isoformat(),
                list(line.drug_trac_codg),
            ],
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    rng = random.Random(7)  # noqa: S311 - reproducible cases, not a secret
    for _ in range(2000):
        line = SaleLine(
            sale_id="S1",
            med_list_codg=rng.choice(["XC10AAA0001010101", '药品"x\\y', "a\u2028b", "D1\n\t"]),
            price=Decimal(rng.choice(["1", "12.345678", "0.5", "100.00", "7E+1"])),
            cnt=Decimal(rng.choice(["1", "2.0", "10", "0.0001", "1E+1"])),
            sel_time=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=rng.randint(-5, 8))))
            + timedelta(microseconds=rng.randrange(10**11)),
            drug_trac_codg=tuple(
                rng.choice(["81234567890123456789", "é", "", '"']) for _ in range(rng.randint(0, 3))
            ),
        )
        assert line.fingerprint() == as_before(line)
