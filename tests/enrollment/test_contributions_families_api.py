"""Contributions (idempotent per period, the personal-account share) and family mutual aid."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from common.principal import Principal, Role
from tests.enrollment.conftest import as_client, enroll, register

EMPLOYEE = {"insutype": "310", "begndate": "2026-01-01", "emp_code": "91420100MA4K123456"}
PAID = "2026-01-15T10:00:00+08:00"


async def test_an_employee_contribution_credits_a_fifth_to_the_account_rounded_half_up(
    api: httpx.AsyncClient,
) -> None:
    person = await register(api)
    await enroll(api, person["psn_no"], **EMPLOYEE)
    body = {"insutype": "310", "period": "2026-01", "amount": "800.03", "paid_at": PAID}
    first = await api.post(f"/persons/{person['psn_no']}/contributions", json=body)
    assert first.status_code == 201
    # 80,003 fen x 2 / 10 = 16,000.6 fen -> 16,001 fen.
    assert (first.json()["amount"], first.json()["acct_amount"], first.json()["back_payment"]) == (
        "800.03",
        "160.01",
        False,
    )
    again = await api.post(f"/persons/{person['psn_no']}/contributions", json=body)
    assert (again.status_code, again.json()) == (200, first.json())
    different = await api.post(
        f"/persons/{person['psn_no']}/contributions", json={**body, "amount": "900.00"}
    )
    assert (different.status_code, different.json()["code"]) == (409, "CONTRIBUTION_EXISTS")
    explicit = await api.post(
        f"/persons/{person['psn_no']}/contributions",
        json={**body, "period": "2026-02", "acct_amount": "100.00"},
    )
    assert explicit.json()["acct_amount"] == "100.00"
    listed = await api.get(f"/persons/{person['psn_no']}/contributions")
    assert [c["period"] for c in listed.json()] == ["2026-01", "2026-02"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"insutype": "310", "period": "2026", "amount": "800.00", "paid_at": PAID}, 422, "INVALID_PERIOD"),
        (
            {"insutype": "310", "period": "2026-13", "amount": "800.00", "paid_at": PAID},
            422,
            "INVALID_PERIOD",
        ),
        ({"insutype": "310", "period": "2026-01", "amount": "0", "paid_at": PAID}, 422, "INVALID_AMOUNT"),
        ({"insutype": "310", "period": "2026-01", "amount": "-5", "paid_at": PAID}, 422, "INVALID_AMOUNT"),
        (
            {
                "insutype": "310",
                "period": "2026-01",
                "amount": "800.00",
                "acct_amount": "900.00",
                "paid_at": PAID,
            },
            422,
            "INVALID_AMOUNT",
        ),
        (
            {"insutype": "310", "period": "2026-01", "amount": "800.001", "paid_at": PAID},
            422,
            "VALIDATION_ERROR",
        ),
        (
            {
                "insutype": "310",
                "period": "2026-01",
                "amount": "800.00",
                "paid_at": "2026-03-03T10:00:00+08:00",
            },
            422,
            "INVALID_DATE",
        ),
        (
            {"insutype": "310", "period": "2026-01", "amount": "800.00", "paid_at": "2026-01-15T10:00:00"},
            422,
            "VALIDATION_ERROR",
        ),
        ({"insutype": "390", "period": "2026", "amount": "400.00", "paid_at": PAID}, 409, "NO_COVERAGE"),
    ],
)
async def test_bad_contributions_are_refused_and_write_nothing(
    api: httpx.AsyncClient, body: dict[str, str], status: int, code: str
) -> None:
    person = await register(api)
    await enroll(api, person["psn_no"], **EMPLOYEE)
    response = await api.post(f"/persons/{person['psn_no']}/contributions", json=body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert (await api.get(f"/persons/{person['psn_no']}/contributions")).json() == []


async def test_a_resident_contribution_credits_no_account(api: httpx.AsyncClient) -> None:
    person = await register(api)
    await enroll(api, person["psn_no"], insutype="390", begndate="2026-01-01", enrolled_on="2025-10-01")
    body = {"insutype": "390", "period": "2026", "amount": "400.00", "paid_at": "2025-10-01T09:00:00+08:00"}
    paid = await api.post(f"/persons/{person['psn_no']}/contributions", json=body)
    assert (paid.json()["acct_amount"], paid.json()["back_payment"]) == ("0.00", False)
    refused = await api.post(
        f"/persons/{person['psn_no']}/contributions", json={**body, "period": "2027", "acct_amount": "10.00"}
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "INVALID_AMOUNT")


async def test_only_an_employee_with_active_310_can_share_an_account(api: httpx.AsyncClient) -> None:
    holder, spouse, child, stranger = [await register(api, seq=s) for s in (11, 12, 13, 15)]
    not_yet = await api.post(
        "/families", json={"holder_psn_no": holder["psn_no"], "member_psn_nos": [spouse["psn_no"]]}
    )
    assert (not_yet.status_code, not_yet.json()["code"]) == (422, "HOLDER_NOT_ELIGIBLE")
    await enroll(api, stranger["psn_no"], insutype="390", begndate="2026-01-01")
    resident = await api.post(
        "/families", json={"holder_psn_no": stranger["psn_no"], "member_psn_nos": [spouse["psn_no"]]}
    )
    assert (resident.status_code, resident.json()["code"]) == (422, "HOLDER_NOT_ELIGIBLE")

    await enroll(api, holder["psn_no"], **EMPLOYEE)
    bound = await api.post(
        "/families", json={"holder_psn_no": holder["psn_no"], "member_psn_nos": [spouse["psn_no"]]}
    )
    assert bound.json() == {"holder_psn_no": holder["psn_no"], "member_psn_nos": [spouse["psn_no"]]}
    more = await api.post(
        "/families",
        json={"holder_psn_no": holder["psn_no"], "member_psn_nos": [child["psn_no"], spouse["psn_no"]]},
    )
    assert more.json()["member_psn_nos"] == sorted([spouse["psn_no"], child["psn_no"]])
    assert (await api.get(f"/families/{holder['psn_no']}")).json() == more.json()


@pytest.mark.parametrize(
    ("members", "status", "code"),
    [
        (["PNOSUCHPERSON00000"], 422, "MEMBER_NOT_FOUND"),
        (["HOLDER"], 422, "INVALID_FAMILY"),
        (["SPOUSE", "SPOUSE"], 422, "INVALID_FAMILY"),
        ([], 422, "VALIDATION_ERROR"),
    ],
)
async def test_bad_family_bindings_are_refused(
    api: httpx.AsyncClient, members: list[str], status: int, code: str
) -> None:
    holder, spouse = await register(api, seq=11), await register(api, seq=12)
    await enroll(api, holder["psn_no"], **EMPLOYEE)
    names = {"HOLDER": holder["psn_no"], "SPOUSE": spouse["psn_no"]}
    response = await api.post(
        "/families",
        json={"holder_psn_no": holder["psn_no"], "member_psn_nos": [names.get(m, m) for m in members]},
    )
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert (await api.get(f"/families/{holder['psn_no']}")).json()["member_psn_nos"] == []


async def test_a_member_belongs_to_one_family_only(api: httpx.AsyncClient) -> None:
    first, second, child = [await register(api, seq=s) for s in (21, 23, 24)]
    for holder in (first, second):
        await enroll(api, holder["psn_no"], **EMPLOYEE)
    await api.post("/families", json={"holder_psn_no": first["psn_no"], "member_psn_nos": [child["psn_no"]]})
    taken = await api.post(
        "/families", json={"holder_psn_no": second["psn_no"], "member_psn_nos": [child["psn_no"]]}
    )
    assert (taken.status_code, taken.json()["code"], taken.json()["psn_nos"]) == (
        409,
        "MEMBER_ALREADY_BOUND",
        [child["psn_no"]],
    )


async def test_hospitals_look_people_up_one_at_a_time_and_change_nothing(
    enrollment_app: FastAPI, api: httpx.AsyncClient
) -> None:
    person = await register(api)
    await enroll(api, person["psn_no"], **EMPLOYEE)
    async with await as_client(enrollment_app, Principal("his-1", Role.HIS, "H42010200001")) as his:
        assert (await his.get(f"/persons/{person['psn_no']}")).status_code == 200
        assert (await his.get("/eligibility", params={"psn_no": person["psn_no"]})).json()["eligible"] is True
        for method, path, body in [
            ("GET", "/persons", None),
            ("GET", "/stats/enrollment", None),
            ("POST", "/persons", {"certno": "x", "psn_name": "x", "admdvs": "420100"}),
            ("POST", f"/persons/{person['psn_no']}/death", {"death_date": "2026-03-01"}),
            ("GET", f"/persons/{person['psn_no']}/contributions", None),
        ]:
            response = await his.request(method, path, json=body)
            assert (response.status_code, response.json()["code"]) == (403, "ROLE_FORBIDDEN"), path
    async with await as_client(enrollment_app, Principal("anon", Role.PUBLIC)) as public:
        response = await public.get("/eligibility", params={"psn_no": person["psn_no"]})
        assert response.status_code == 403
    assert (await api.get(f"/persons/{person['psn_no']}")).json()["death_date"] is None


async def test_a_newborn_registered_today_can_be_enrolled_the_same_day(api: httpx.AsyncClient) -> None:
    baby = await register(api, date(2026, 3, 2), seq=4, name="新生儿")
    coverage = await enroll(api, baby["psn_no"], insutype="390", begndate="2026-03-02")
    assert coverage["waiting_months"] == 0
