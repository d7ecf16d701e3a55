"""The rule library over HTTP: families documented, defaults shipped, parameters validated, edits versioned."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from common.clock import FrozenClock
from common.principal import Principal, Role
from common.testing.apps import app_client
from common.testing.databases import Databases
from fraud.app import create_app
from fraud.models import Rule, RuleVersion
from tests.fraud.conftest import fraud_settings
from tests.settlement.conftest import as_client


async def test_every_family_is_documented_with_its_parameters(api: httpx.AsyncClient) -> None:
    response = await api.get("/rule-families")
    assert response.status_code == 200
    families = {f["family"]: f for f in response.json()}
    assert len(families) == 14
    assert families["cost_outlier"]["params"] == [
        {"name": "multiple", "type": "decimal", "default": "3", "minimum": "1", "maximum": "100",
         "description": "k: multiple of the mean 倍数"},
        {"name": "min_peers", "type": "integer", "default": 30, "minimum": 1, "maximum": 1000000,
         "description": "m: fewest peers to compare 最少同类病例数"},
    ]  # fmt: skip
    assert (families["high_burden"]["category"], families["trace_code_reuse"]["default_severity"]) == (
        "assistance",
        "block",
    )


async def test_the_defaults_ship_enabled_once_however_often_the_service_starts(
    fraud_app: FastAPI, api: httpx.AsyncClient, databases: Databases, nats_url: str, clock: FrozenClock
) -> None:
    rules = (await api.get("/rules")).json()
    assert [
        (r["family"], r["version"], r["enabled"], r["scope"], r["severity"], r["params"]) for r in rules
    ] == [
        ("admission_frequency", 1, True, "post", "warn", {"min_admissions": 3, "window_days": 365}),
        ("cost_outlier", 1, True, "post", "warn", {"multiple": "3", "min_peers": 30}),
        ("split_admission", 1, True, "post", "warn", {"max_days": 15}),
        ("trace_code_reuse", 1, True, "in", "block", {}),
        ("after_death", 1, True, "post", "warn", {}),
        ("duplicate_billing", 1, True, "in", "warn", {}),
        ("over_quantity", 1, True, "in", "warn", {"window_days": 30}),
        ("gender_age_limit", 1, True, "in", "block", {}),
        ("visit_frequency", 1, True, "post", "warn", {"max_visits": 20, "window_days": 30}),
        ("high_burden", 1, True, "post", "info", {"threshold_yuan": "50000", "thresholds_by_category": {}}),
        ("bed_hold", 1, True, "post", "warn", {"min_days": 2, "care_prefixes": ["1109", "12", "001109", "0012"]}),
        ("induced_admission", 1, True, "post", "warn", {
            "max_days": 3, "max_cost_yuan": "3000", "max_share": "0.2", "min_count": 5,
            "mild_diagnoses": ["J00", "J02", "J03", "J06", "J20", "A09", "K29", "K52", "I10", "E11.9", "M54",
                               "R42", "R51", "I67.8"],
        }),
        ("institution_outlier", 1, True, "post", "warn",
         {"multiple": "2", "min_peers": 5, "min_cases": 10, "drug_prefixes": ["X", "Z", "T"]}),
        ("upcoding", 1, True, "post", "warn",
         {"multiple": "1.5", "min_peers": 5, "min_cases": 20, "severities": ["MCC", "CC"]}),
    ]  # fmt: skip
    again = create_app(fraud_settings(databases, nats_url), clock=clock)
    async with app_client(again) as second:
        assert len((await second.get("/rules")).json()) == 14


async def test_an_edit_makes_a_new_version_and_keeps_the_old(api: httpx.AsyncClient) -> None:
    rule = next(r for r in (await api.get("/rules")).json() if r["family"] == "admission_frequency")
    edited = await api.put(
        f"/rules/{rule['rule_id']}", json={"params": {"min_admissions": 4}, "note": "阈值调整"}
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["version"], edited.json()["params"]) == (
        2,
        {"min_admissions": 4, "window_days": 365},
    )
    versions = (await api.get(f"/rules/{rule['rule_id']}/versions")).json()
    assert [(v["version"], v["params"]["min_admissions"], v["note"], v["created_by"]) for v in versions] == [
        (2, 4, "阈值调整", "ops-test"),
        (1, 3, "shipped default 系统默认规则", "fraud-service"),
    ]
    disabled = await api.put(f"/rules/{rule['rule_id']}", json={"enabled": False})
    assert (disabled.json()["version"], disabled.json()["enabled"]) == (3, False)


async def test_a_new_instance_gets_the_family_defaults_for_what_it_omits(api: httpx.AsyncClient) -> None:
    created = await api.post(
        "/rules",
        json={
            "family": "visit_frequency",
            "name": "一周内就诊8次",
            "params": {"max_visits": 7, "window_days": 7},
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (
        body["name"],
        body["version"],
        body["params"],
        body["scope"],
        body["severity"],
        body["builtin"],
    ) == (
        "一周内就诊8次",
        1,
        {"max_visits": 7, "window_days": 7},
        "post",
        "warn",
        False,
    )


async def test_bad_parameters_and_unknown_families_are_422_and_write_nothing(
    fraud_app: FastAPI, api: httpx.AsyncClient
) -> None:
    rule_id = next(r["rule_id"] for r in (await api.get("/rules")).json() if r["family"] == "split_admission")
    cases = [
        (
            await api.post("/rules", json={"family": "split_admission", "params": {"max_days": -1}}),
            "INVALID_RULE_PARAMS",
        ),
        (
            await api.post("/rules", json={"family": "split_admission", "params": {"days": 3}}),
            "INVALID_RULE_PARAMS",
        ),
        (await api.post("/rules", json={"family": "no_such_family"}), "UNKNOWN_RULE_FAMILY"),
        (
            await api.post("/rules", json={"family": "split_admission", "severity": "fatal"}),
            "VALIDATION_ERROR",
        ),
        (await api.put(f"/rules/{rule_id}", json={"params": {"max_days": "x"}}), "INVALID_RULE_PARAMS"),
        (
            await api.post("/rules", content=b"{", headers={"content-type": "application/json"}),
            "MALFORMED_JSON",
        ),
    ]
    assert [(r.status_code, r.json()["code"]) for r, _ in cases] == [
        (422, "INVALID_RULE_PARAMS"),
        (422, "INVALID_RULE_PARAMS"),
        (422, "UNKNOWN_RULE_FAMILY"),
        (422, "VALIDATION_ERROR"),
        (422, "INVALID_RULE_PARAMS"),
        (422, "MALFORMED_JSON"),
    ]
    assert cases[0][0].json()["problems"] == ["max_days must be between 0 and 365, got -1"]
    assert cases[0][0].headers["content-type"] == "application/problem+json"
    assert (await api.get("/rules/999")).json()["code"] == "RULE_NOT_FOUND"
    async with fraud_app.state.db.transaction(readonly=True) as session:
        counts = (
            await session.scalar(sa.select(sa.func.count()).select_from(Rule)),
            await session.scalar(sa.select(sa.func.count()).select_from(RuleVersion)),
        )
    assert counts == (14, 14)


async def test_only_ops_manage_rules(fraud_app: FastAPI, api: httpx.AsyncClient) -> None:
    his = as_client(fraud_app, Principal(client_id="his-1", role=Role.HIS, scope="H1"))
    async with his:
        refused = await his.post("/rules", json={"family": "split_admission"})
    assert (refused.status_code, refused.json()["code"]) == (403, "ROLE_FORBIDDEN")
