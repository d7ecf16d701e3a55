"""A catalogue of hostile and broken input, each through the gateway against the live services: a 4xx
problem+json with its stable code, and not one row of any table of any service's database changed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest

from common.principal import Principal, Role, sign_principal
from enrollment.domain.certno import check_char
from tests.security.conftest import HOSPITAL, PHARMACY, Platform, bearer, snapshot_all

# Every test here proves it changes nothing, so the module shares one platform (and its event loop).
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture
def platform(module_platform: Platform) -> Platform:
    return module_platform


FIRST17 = f"420102{date(1980, 5, 1):%Y%m%d}123"
GOOD_CERTNO = FIRST17 + check_char(FIRST17)
BAD_CHECKSUM = FIRST17 + ("0" if check_char(FIRST17) != "0" else "1")


def claim(**changes: Any) -> dict[str, Any]:
    """A valid settlement of HOSPITAL for the seeded person; `changes` replace top-level fields, `line` the
    fee line's."""
    line = {
        "feedetl_sn": "1",
        "med_list_codg": "A01",
        "cnt": "1",
        "pric": "20",
        "det_item_fee_sumamt": "20.00",
        "fee_ocur_time": "2026-03-02T09:40:00+08:00",
        **changes.pop("line", {}),
    }
    return {
        "fixmedins_code": HOSPITAL,
        "medins_setl_id": "BAD-1",
        "psn_no": "P1",
        "insutype": "310",
        "med_type": "11",
        "begntime": "2026-03-02T09:30:00+08:00",
        "acct_used_flag": 1,
        "feedetail": [line],
        **changes,
    }


def sale(**changes: Any) -> dict[str, Any]:
    return {
        "fixmedins_code": PHARMACY,
        "sales": [
            {
                "sale_id": "S-1",
                "med_list_codg": "XA01",
                "finl_trns_pric": "12.50",
                "cnt": "1",
                "sel_time": "2026-03-02T09:00:00+08:00",
                "drug_trac_codg": [],
                **changes,
            }
        ],
    }


def person(**changes: Any) -> dict[str, Any]:
    return {"certno": GOOD_CERTNO, "psn_name": "张三", "admdvs": "420100", **changes}


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@dataclass(frozen=True)
class Bad:
    name: str
    method: str
    path: str
    status: int
    code: str
    body: Any = None
    raw: bytes | None = None
    role: str = "ops"
    headers: dict[str, str] = field(default_factory=dict)


CATALOGUE = [
    # identity numbers
    Bad("certno checksum", "POST", "/enrollment/persons", 422, "INVALID_CERTNO", person(certno=BAD_CHECKSUM)),
    Bad("certno too short", "POST", "/enrollment/persons", 422, "INVALID_CERTNO", person(certno=FIRST17)),
    Bad(
        "certno born in the future",
        "POST",
        "/enrollment/persons",
        422,
        "INVALID_CERTNO",
        person(certno="42010220990101123" + check_char("42010220990101123")),
    ),
    # quantities and prices
    Bad(
        "negative quantity",
        "POST",
        "/settlement/settlements",
        422,
        "VALIDATION_ERROR",
        claim(line={"cnt": "-1"}),
        role="his",
    ),
    Bad(
        "zero quantity",
        "POST",
        "/settlement/settlements",
        422,
        "VALIDATION_ERROR",
        claim(line={"cnt": "0"}),
        role="his",
    ),
    Bad(
        "negative price",
        "POST",
        "/settlement/settlements",
        422,
        "VALIDATION_ERROR",
        claim(line={"pric": "-20"}),
        role="his",
    ),
    Bad(
        "absurd quantity",
        "POST",
        "/settlement/settlements",
        422,
        "VALIDATION_ERROR",
        claim(line={"cnt": "1000000000000", "det_item_fee_sumamt": "20000000000000.00"}),
        role="his",
    ),
    Bad(
        "absurd price",
        "POST",
        "/settlement/settlements",
        422,
        "VALIDATION_ERROR",
        claim(line={"pric": "1000000000000", "det_item_fee_sumamt": "1000000000000.00"}),
        role="his",
    ),
    Bad(
        "three decimals",
        "POST",
        "/settlement/settlements",
        422,
        "VALIDATION_ERROR",
        claim(line={"det_item_fee_sumamt": "20.001"}),
        role="his",
    ),
    Bad(
        "amounts that do not add up",
        "POST",
        "/settlement/settlements",
        422,
        "AMOUNT_MISMATCH",
        claim(line={"cnt": "2", "det_item_fee_sumamt": "20.00"}),
        role="his",
    ),
    Bad(
        "negative sale price",
        "POST",
        "/pricing/sales",
        422,
        "VALIDATION_ERROR",
        sale(finl_trns_pric="-1"),
        role="pos",
    ),
    Bad(
        "sale price with seven decimals",
        "POST",
        "/pricing/sales",
        422,
        "VALIDATION_ERROR",
        sale(finl_trns_pric="1.0000001"),
        role="pos",
    ),
    Bad(
        "prepayment with three decimals",
        "POST",
        "/settlement/prepayments",
        422,
        "VALIDATION_ERROR",
        {"fixmedins_code": HOSPITAL, "amount": "100.001", "paid_date": "2026-03-01"},
    ),
    Bad(
        "negative prepayment",
        "POST",
        "/settlement/prepayments",
        422,
        "VALIDATION_ERROR",
        {"fixmedins_code": HOSPITAL, "amount": "-100.00", "paid_date": "2026-03-01"},
    ),
    # unknown codes
    Bad("unknown catalogue item", "GET", "/settlement/catalog/ZZ404", 404, "CATALOG_ITEM_NOT_FOUND"),
    Bad(
        "unknown institution",
        "POST",
        "/settlement/settlements",
        404,
        "INSTITUTION_NOT_FOUND",
        claim(fixmedins_code="H99999999999"),
    ),
    Bad(
        "unknown person",
        "POST",
        "/settlement/settlements",
        404,
        "PERSON_NOT_FOUND",
        claim(psn_no="PNOBODY"),
        role="his",
    ),
    Bad(
        "unknown insurance type",
        "POST",
        "/settlement/settlements",
        422,
        "VALIDATION_ERROR",
        claim(insutype="999"),
        role="his",
    ),
    Bad("unknown drug", "GET", "/pricing/drugs/NODRUG", 404, "DRUG_NOT_FOUND", role="public"),
    Bad(
        "unknown rule family",
        "POST",
        "/fraud/rules",
        422,
        "UNKNOWN_RULE_FAMILY",
        {"family": "no_such_family", "name": "x", "params": {}},
    ),
    Bad("unknown region", "POST", "/enrollment/persons", 422, "VALIDATION_ERROR", person(admdvs="ABCDEF")),
    # dates
    Bad(
        "a fee before the visit began",
        "POST",
        "/settlement/settlements",
        422,
        "DATES_OUT_OF_ORDER",
        claim(line={"fee_ocur_time": "2026-03-01T09:40:00+08:00"}),
        role="his",
    ),
    Bad(
        "a visit in the future",
        "POST",
        "/settlement/settlements",
        422,
        "FUTURE_TIME",
        claim(begntime="2026-03-09T09:30:00+08:00", line={"fee_ocur_time": "2026-03-09T09:40:00+08:00"}),
        role="his",
    ),
    Bad(
        "reconciliation period backwards",
        "POST",
        "/settlement/reconciliations/totals",
        422,
        "DATES_OUT_OF_ORDER",
        {
            "fixmedins_code": HOSPITAL,
            "begndate": "2026-03-02",
            "enddate": "2026-03-01",
            "medfee_sumamt": "0.00",
            "fund_pay_sumamt": "0.00",
            "acct_pay": "0.00",
            "fixmedins_setl_cnt": 0,
        },
        role="his",
    ),
    Bad(
        "prepayment paid in the future",
        "POST",
        "/settlement/prepayments",
        422,
        "PAID_DATE_IN_FUTURE",
        {"fixmedins_code": HOSPITAL, "amount": "100.00", "paid_date": "2027-01-01"},
    ),
    Bad("impossible date", "GET", "/settlement/daily-statements?date=2026-02-30", 422, "VALIDATION_ERROR"),
    # bodies
    Bad("not JSON", "POST", "/enrollment/persons", 422, "MALFORMED_JSON", raw=b"{not json"),
    Bad("deeply nested JSON", "POST", "/enrollment/persons", 400, "BAD_REQUEST", raw=nested(10_000)),
    Bad(
        "nested JSON in a bulk load",
        "POST",
        "/settlement/institutions/bulk",
        422,
        "MALFORMED_JSON",
        raw=nested(10_000),
    ),
    Bad(
        "body over the gateway's limit",
        "POST",
        "/enrollment/persons",
        413,
        "PAYLOAD_TOO_LARGE",
        raw=b" " * (5 << 20),
    ),
    Bad(
        "a string of 200,000 characters",
        "POST",
        "/enrollment/persons",
        422,
        "VALIDATION_ERROR",
        person(psn_name="张" * 200_000),
    ),
    # Regression: a NUL in a JSON string was stored on SQLite and a 500 on PostgreSQL.
    Bad(
        "a NUL in a name",
        "POST",
        "/enrollment/persons",
        400,
        "INVALID_CHARACTERS",
        person(psn_name="张\x00三"),
    ),
    Bad(
        "a NUL in a bulk load",
        "POST",
        "/settlement/institutions/bulk",
        400,
        "INVALID_CHARACTERS",
        raw=b'{"institutions": [{"fixmedins_code": "H\\u0000"}]}',
    ),
    Bad(
        "a NUL in a CSV load",
        "POST",
        "/settlement/institutions/bulk",
        422,
        "MALFORMED_CSV",
        raw="fixmedins_code,fixmedins_name,fixmedins_type,admdvs,status\nP1,药\x00房,pharmacy,429006,active\n".encode(),
        headers={"Content-Type": "text/csv"},
    ),
    # payment by points (DRG/DIP) and the year clearing
    Bad(
        "a payment year with no budget",
        "PUT",
        "/settlement/payment-years/2026/390",
        422,
        "VALIDATION_ERROR",
        {"method": "dip", "budget": "0"},
    ),
    Bad(
        "a payment year of an unknown method",
        "PUT",
        "/settlement/payment-years/2026/390",
        422,
        "VALIDATION_ERROR",
        {"method": "fee-for-service", "budget": "1000.00"},
    ),
    Bad(
        "a payment year of a supplementary insutype",
        "PUT",
        "/settlement/payment-years/2026/392",
        422,
        "VALIDATION_ERROR",
        {"method": "dip", "budget": "1000.00"},
    ),
    Bad(
        "low ratio above the high one",
        "PUT",
        "/settlement/payment-years/2026/310",
        422,
        "INVALID_PARAMETERS",
        {"method": "drg", "budget": "1000.00", "low_ratio": "2.5", "high_ratio": "2.0"},
    ),
    Bad(
        "a quality score above 1",
        "PUT",
        f"/settlement/quality-scores/2026/390/{HOSPITAL}",
        422,
        "VALIDATION_ERROR",
        {"score": "1.2"},
    ),
    Bad(
        "a quality score for a hospital not paid by points",
        "PUT",
        f"/settlement/quality-scores/2026/390/{HOSPITAL}",
        422,
        "NOT_POINTS_INSTITUTION",
        {"score": "0.9"},
    ),
    Bad(
        "a group with negative points",
        "PUT",
        "/settlement/points/2026/groups/G1",
        422,
        "VALIDATION_ERROR",
        {"group_name": "组", "points": "-1", "avg_cost": "100.00"},
    ),
    Bad(
        "a group loaded twice in one file",
        "POST",
        "/settlement/points/2026/groups/bulk",
        422,
        "BULK_INVALID",
        {"groups": [{"group_code": "G1", "group_name": "组", "points": "1", "avg_cost": "1.00"}] * 2},
    ),
    Bad(
        "an ADRG with no diagnosis",
        "PUT",
        "/settlement/points/2026/drg-adrgs/HC2",
        422,
        "VALIDATION_ERROR",
        {"dise_prefixes": [], "priority": 1},
    ),
    Bad(
        "a complication of an unknown level",
        "PUT",
        "/settlement/points/2026/drg-complications/J96",
        422,
        "VALIDATION_ERROR",
        {"level": "severe"},
    ),
    Bad(
        "a settlement list of an unknown settlement",
        "PUT",
        "/settlement/settlements/S0/settlement-list",
        404,
        "SETTLEMENT_NOT_FOUND",
        {"diagnoses": [{"dise_codg": "K80.1", "main": True}]},
    ),
    Bad(
        "a settlement list with no diagnosis",
        "PUT",
        "/settlement/settlements/S0/settlement-list",
        422,
        "VALIDATION_ERROR",
        {"diagnoses": []},
    ),
    Bad(
        "a clearing of a year without a payment year",
        "POST",
        "/settlement/annual-clearings",
        404,
        "PAYMENT_YEAR_NOT_FOUND",
        {"year": 2026, "insutype": "390"},
    ),
    Bad(
        "a clearing of year 1999",
        "POST",
        "/settlement/annual-clearings",
        422,
        "VALIDATION_ERROR",
        {"year": 1999, "insutype": "390"},
    ),
    Bad(
        "confirming a clearing never computed",
        "POST",
        "/settlement/annual-clearings/2026/390/confirm",
        404,
        "CLEARING_NOT_FOUND",
    ),
    Bad(
        "budget execution without a payment year",
        "GET",
        "/settlement/budget-execution?year=2026&insutype=390",
        404,
        "PAYMENT_YEAR_NOT_FOUND",
    ),
    Bad(
        "special points by a hospital",
        "PUT",
        "/settlement/settlements/S0/special-points",
        403,
        "ROLE_FORBIDDEN",
        {"points": "1", "reason": "x"},
        role="his",
    ),
    # cases (案件)
    Bad(
        "a case on no finding",
        "POST",
        "/fraud/cases",
        404,
        "FINDING_NOT_FOUND",
        {"findings": [{"finding_id": 424242}], "summary": "x"},
    ),
    Bad(
        "a case opened by a hospital",
        "POST",
        "/fraud/cases",
        403,
        "ROLE_FORBIDDEN",
        {"findings": [{"finding_id": 1}], "summary": "x"},
        role="his",
    ),
    Bad(
        "an appeal without a statement",
        "POST",
        "/fraud/cases/1/appeal",
        422,
        "VALIDATION_ERROR",
        {"statement": "  "},
        role="his",
    ),
    Bad(
        "a decision on no case",
        "POST",
        "/fraud/cases/424242/decide",
        404,
        "CASE_NOT_FOUND",
        {"penalty_basis": "none", "penalty_multiple": "0", "note": "x"},
    ),
    Bad(
        "a penalty multiple with three places",
        "POST",
        "/fraud/cases/1/decide",
        422,
        "VALIDATION_ERROR",
        {"penalty_basis": "fraud", "penalty_multiple": "2.125", "note": "x"},
    ),
    # institution-level rules and monthly warnings (每月推送预警)
    Bad(
        "warnings of a thirteenth month",
        "POST",
        "/fraud/warnings/publish",
        422,
        "VALIDATION_ERROR",
        {"month": "2026-13"},
    ),
    Bad(
        "a month run given a day",
        "POST",
        "/fraud/institution-rules/run",
        422,
        "VALIDATION_ERROR",
        {"month": "2026-02-01"},
    ),
    Bad(
        "warnings published by a hospital",
        "POST",
        "/fraud/warnings/publish",
        403,
        "ROLE_FORBIDDEN",
        {"month": "2026-02"},
        role="his",
    ),
    Bad(
        "another institution's warnings",
        "GET",
        "/fraud/warnings?fixmedins_code=H99999999999",
        403,
        "SCOPE_FORBIDDEN",
        role="his",
    ),
    Bad("no such warning", "GET", "/fraud/warnings/424242", 404, "WARNING_NOT_FOUND"),
    # Regression (schemathesis, the long run): a cursor beyond 64 bits overflowed inside the driver (500).
    Bad("alert cursor beyond 64 bits", "GET", f"/pricing/alerts?cursor={2**127}", 422, "VALIDATION_ERROR"),
    Bad("control characters in the path", "GET", "/enrollment/persons/P%00%07", 400, "INVALID_CHARACTERS"),
    Bad("SQL in a path parameter", "GET", "/enrollment/persons/1'%20OR%20'1'='1", 404, "PERSON_NOT_FOUND"),
]


async def send(platform: Platform, bad: Bad) -> httpx.Response:
    headers = {**bearer(platform.keys[bad.role]), **bad.headers}
    if bad.raw is not None:
        headers.setdefault("Content-Type", "application/json")
        return await platform.client.request(bad.method, bad.path, headers=headers, content=bad.raw)
    return await platform.client.request(bad.method, bad.path, headers=headers, json=bad.body)


async def settled(platform: Platform) -> dict[str, tuple[int, str]]:
    """A snapshot taken once background work (the outbox relay, the consumers) has stopped changing rows."""
    previous = await snapshot_all(platform)
    for _ in range(50):
        await asyncio.sleep(0.2)
        current = await snapshot_all(platform)
        if current == previous:
            return current  # type: ignore[return-value]
        previous = current
    raise AssertionError("the databases never stopped changing")


@pytest.mark.parametrize("bad", CATALOGUE, ids=[bad.name for bad in CATALOGUE])
async def test_bad_input_is_a_4xx_with_its_code_and_changes_nothing(platform: Platform, bad: Bad) -> None:
    before = await settled(platform)
    response = await send(platform, bad)
    assert (response.status_code, response.headers["content-type"]) == (
        bad.status,
        "application/problem+json",
    ), response.text[:500]
    assert response.json()["code"] == bad.code
    assert await snapshot_all(platform) == before


async def test_a_sale_of_an_unknown_drug_is_rejected_line_by_line_and_stores_nothing(
    platform: Platform,
) -> None:
    before = await settled(platform)
    response = await platform.client.post(
        "/pricing/sales", headers=bearer(platform.keys["pos"]), json=sale(med_list_codg="NODRUG")
    )
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["rejected"]) == (0, 1)
    assert response.json()["results"][0]["reason"] == "DRUG_NOT_FOUND"
    assert await snapshot_all(platform) == before


async def test_a_body_over_the_services_own_limit_is_413_even_past_the_gateway(platform: Platform) -> None:
    """Called directly (with a genuine principal), a service refuses a body over its limit by itself."""
    server = platform.services["enrollment"]
    settings = server.app.state.settings
    before = await settled(platform)
    headers = sign_principal(
        Principal(client_id="ops", role=Role.OPS),
        secret=settings.internal_secret,
        method="POST",
        path="/persons",
        now=server.app.state.clock.now(),
    )
    declared = await platform.client.post(
        f"{server.url}/persons", headers=headers, content=b" " * (settings.max_body_bytes + 1)
    )

    async def chunks() -> Any:
        for _ in range(5):
            yield b" " * (settings.max_body_bytes // 4)

    streamed = await platform.client.post(f"{server.url}/persons", headers=headers, content=chunks())
    for response in (declared, streamed):
        assert (response.status_code, response.headers["content-type"], response.json()["code"]) == (
            413,
            "application/problem+json",
            "PAYLOAD_TOO_LARGE",
        )
    assert await snapshot_all(platform) == before


async def test_bulk_loads_keep_their_own_larger_limit(platform: Platform) -> None:
    """A bulk load over the ordinary limit is read and judged (422 BULK_INVALID), not refused for its size."""
    server = platform.services["settlement"]
    settings = server.app.state.settings
    row = {"fixmedins_code": "H1", "fixmedins_name": "x" * 200, "fixmedins_type": "nowhere", "admdvs": "1"}
    rows = [row] * (settings.max_body_bytes // len(json.dumps(row)) + 100)
    body = json.dumps({"institutions": rows}).encode()
    assert len(body) > settings.max_body_bytes
    headers = {
        **sign_principal(
            Principal(client_id="ops", role=Role.OPS),
            secret=settings.internal_secret,
            method="POST",
            path="/institutions/bulk",
            now=server.app.state.clock.now(),
        ),
        "Content-Type": "application/json",
    }
    response = await platform.client.post(f"{server.url}/institutions/bulk", headers=headers, content=body)
    assert (response.status_code, response.json()["code"]) == (422, "BULK_INVALID")


async def test_the_gateway_forwards_a_body_over_one_mebibyte_whole(platform: Platform) -> None:
    """Regression (schemathesis): a body over aiohttp's 1 MiB raw-bytes threshold made the gateway answer 500."""
    row = {"fixmedins_code": "H1", "fixmedins_name": "x" * 200, "fixmedins_type": "nowhere", "admdvs": "1"}
    body = json.dumps({"institutions": [row] * 6000}).encode()
    assert (1 << 20) < len(body) < (4 << 20)
    response = await platform.client.post(
        "/settlement/institutions/bulk",
        headers={**bearer(platform.keys["ops"]), "Content-Type": "application/json"},
        content=body,
    )
    assert (response.status_code, response.json()["code"]) == (422, "BULK_INVALID")
    assert response.json()["error_count"] > 0


async def test_a_header_outside_ascii_reaches_the_service_instead_of_failing_the_gateway(
    platform: Platform,
) -> None:
    """Regression (schemathesis): a latin-1 Idempotency-Key made the gateway's forwarding raise (500)."""
    before = await settled(platform)
    response = await platform.client.post(
        "/settlement/prepayments",
        headers={**bearer(platform.keys["ops"]), "Idempotency-Key": "clé".encode("latin-1")},  # type: ignore[dict-item]
        json={"fixmedins_code": HOSPITAL, "amount": "-1.00", "paid_date": "2026-03-01"},
    )
    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_ERROR")
    assert await snapshot_all(platform) == before


async def test_a_nul_in_the_national_envelope_is_a_refusal_in_the_envelope(platform: Platform) -> None:
    before = await settled(platform)
    response = await platform.client.post(
        "/fsi/api/rsfComIfsService/callService",
        headers={**bearer(platform.keys["his"]), "Content-Type": "application/json"},
        content=b'{"infno": "\\u0000"}',
    )
    assert (response.status_code, response.json()["infcode"]) == (200, "-1")
    assert response.json()["err_msg"].startswith("[INVALID_CHARACTERS]")
    assert await snapshot_all(platform) == before


async def test_a_name_sent_in_a_path_never_reaches_the_access_log(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression (schemathesis, the long run, caught by the session's personal-data guard): a name sent where
    an id belongs was logged with the path by the gateway and the service."""
    with caplog.at_level(logging.INFO, logger="access"):
        response = await platform.client.get("/enrollment/persons/张三", headers=bearer(platform.keys["ops"]))
        plain = await platform.client.get("/enrollment/persons/PNOBODY", headers=bearer(platform.keys["ops"]))
    assert (response.status_code, plain.status_code) == (404, 404)
    lines = [record.getMessage() for record in caplog.records if record.name == "access"]
    assert "GET /enrollment/{path:path} (path withheld) 404" in lines  # the gateway's line
    assert "GET /persons/{psn_no} (path withheld) 404" in lines  # the service's line
    assert {"GET /enrollment/persons/PNOBODY 404", "GET /persons/PNOBODY 404"} <= set(lines)  # ids stay
    assert not any("张三" in line for line in lines)
