"""Registering persons: one record per certno, validated, masked in lists."""

from __future__ import annotations

import logging
from datetime import date

import httpx
import pytest

from tests.enrollment.conftest import certno, register

ZHANG = certno(date(1990, 3, 7), seq=123)  # odd sequence: a man


async def test_a_person_is_registered_with_gender_and_birth_date_from_the_certno(
    api: httpx.AsyncClient,
) -> None:
    person = await register(api, tel="13812345678")
    assert person["psn_no"].startswith("P") and len(person["psn_no"]) == 20
    assert (person["certno"], person["gend"], person["brdy"], person["admdvs"]) == (
        ZHANG,
        "1",
        "1990-03-07",
        "420100",
    )
    fetched = await api.get(f"/persons/{person['psn_no']}")
    assert fetched.json() == person


async def test_registering_a_certno_again_is_a_conflict_naming_the_existing_person(
    api: httpx.AsyncClient,
) -> None:
    first = await register(api)
    again = await api.post("/persons", json={"certno": ZHANG.lower(), "psn_name": "张三", "admdvs": "420100"})
    assert again.status_code == 409
    assert (again.json()["code"], again.json()["psn_no"]) == ("PERSON_EXISTS", first["psn_no"])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"certno": ZHANG[:17] + ("0" if ZHANG[17] != "0" else "1")}, "INVALID_CERTNO"),
        ({"certno": "42010219900307"}, "INVALID_CERTNO"),
        ({"gend": "2"}, "CERTNO_MISMATCH"),
        ({"brdy": "1990-03-08"}, "CERTNO_MISMATCH"),
        ({"gend": "3"}, "VALIDATION_ERROR"),
        ({"admdvs": "42010"}, "VALIDATION_ERROR"),
        ({"tel": "12345"}, "VALIDATION_ERROR"),
        ({"psn_name": "   "}, "VALIDATION_ERROR"),
        ({"nickname": "zhang"}, "VALIDATION_ERROR"),
        ({"brdy": "1990-02-30"}, "VALIDATION_ERROR"),
    ],
)
async def test_bad_registrations_are_refused_and_write_nothing(
    api: httpx.AsyncClient, change: dict[str, str], code: str
) -> None:
    body = {"certno": ZHANG, "psn_name": "张三", "admdvs": "420100", **change}
    response = await api.post("/persons", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert (await api.get("/stats/enrollment")).json()["persons"] == 0


async def test_lists_mask_certno_and_phone_and_page_newest_first(api: httpx.AsyncClient, clock) -> None:  # type: ignore[no-untyped-def]
    people = []
    for seq in (101, 102, 103):
        people.append(await register(api, seq=seq, tel="13812345678"))
        clock.advance(seconds=1)
    page = await api.get("/persons", params={"limit": 2})
    assert [p["psn_no"] for p in page.json()["items"]] == [people[2]["psn_no"], people[1]["psn_no"]]
    assert (
        page.json()["items"][0]["certno"] == people[2]["certno"][:6] + "********" + people[2]["certno"][-4:]
    )
    assert page.json()["items"][0]["tel"] == "138****5678"
    rest = await api.get("/persons", params={"limit": 2, "cursor": page.json()["next_cursor"]})
    assert [p["psn_no"] for p in rest.json()["items"]] == [people[0]["psn_no"]]
    assert rest.json()["next_cursor"] is None
    by_certno = await api.get("/persons", params={"certno": people[1]["certno"]})
    assert [p["psn_no"] for p in by_certno.json()["items"]] == [people[1]["psn_no"]]
    bad = await api.get("/persons", params={"cursor": "not-a-cursor"})
    assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_CURSOR")


async def test_a_bulk_load_registers_the_new_and_reports_the_rest(api: httpx.AsyncClient) -> None:
    existing = await register(api, seq=111)
    fresh = [certno(date(1980 + i, 1, 1), seq=201 + i) for i in range(3)]
    body = {
        "persons": [
            {"certno": fresh[0], "psn_name": "甲", "admdvs": "420100"},
            {"certno": "420102199003071230", "psn_name": "乙", "admdvs": "420100"},
            {"certno": existing["certno"], "psn_name": "丙", "admdvs": "420100"},
            {"certno": fresh[1], "psn_name": "丁", "admdvs": "420100"},
            {"certno": fresh[1], "psn_name": "戊", "admdvs": "420100"},
            {"certno": fresh[2], "psn_name": "己", "admdvs": "420100", "gend": "2"},
        ]
    }
    response = await api.post("/persons:bulk", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["created"] == 2
    assert len(result["registered"]) == 2
    assert result["existing"] == [{"index": 2, "psn_no": existing["psn_no"]}]
    assert [(r["index"], r["code"]) for r in result["rejected"]] == [
        (1, "INVALID_CERTNO"),
        (4, "DUPLICATE_IN_REQUEST"),
        (5, "CERTNO_MISMATCH"),
    ]
    assert (await api.get("/stats/enrollment")).json()["persons"] == 3


async def test_no_certno_name_or_phone_reaches_the_logs(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        person = await register(api, name="李四", tel="13912345678")
        await api.get("/persons", params={"certno": person["certno"]})
        await api.post("/persons", json={"certno": person["certno"], "psn_name": "李四", "admdvs": "420100"})
        await api.get("/eligibility", params={"certno": person["certno"]})
    text = caplog.text
    assert person["certno"] not in text and "13912345678" not in text and "李四" not in text
