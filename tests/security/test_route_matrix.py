"""Every route of the merged OpenAPI against every role: who must not reach it gets 401/403 problem+json.

The expectation is read from the code, not written by hand: each service route's `require_principal(...)`
roles (an empty list admits any signed caller), the gateway's own dependencies (`ops_caller`, the overview's
ops check, `caller`), and the gateway's rule that the public reaches only PUBLIC_ROUTES. A route with none
of these and not in DECLARED_OPEN is a failure: someone added a route without saying who may call it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from common.principal import Role
from gateway.api import admin, overview
from gateway.api.proxy import PUBLIC_ROUTES
from gateway.national.api import PATH as NATIONAL_PATH
from tests.security.conftest import Platform, bearer

ALL_ROLES = frozenset(Role)
# Routes that need no principal at the service, on purpose: the probes an orchestrator calls. Through the
# gateway they still need a key, like everything else.
DECLARED_OPEN = frozenset({"/healthz", "/readyz"})
# The gateway's own dependencies that decide the role.
GATEWAY_RULES: dict[Callable[..., Any], frozenset[Role]] = {
    admin.caller: ALL_ROLES,
    admin.ops_caller: frozenset({Role.OPS}),
    overview._ops: frozenset({Role.OPS}),
}


def _rule_of(call: Callable[..., Any]) -> frozenset[Role] | None:
    if call in GATEWAY_RULES:
        return GATEWAY_RULES[call]
    if getattr(call, "__qualname__", "").startswith("require_principal.<locals>."):
        allowed: frozenset[Role] = inspect.getclosurevars(call).nonlocals["allowed"]
        return allowed or ALL_ROLES
    return None


def declared_roles(dependant: Dependant) -> frozenset[Role] | None:
    """The roles a route admits, from the dependencies that check the principal; None if nothing checks."""
    rules = []
    for dependency in dependant.dependencies:
        if dependency.call is not None and (rule := _rule_of(dependency.call)) is not None:
            rules.append(rule)
        elif (nested := declared_roles(dependency)) is not None:
            rules.append(nested)
    if not rules:
        return None
    admitted = ALL_ROLES
    for rule in rules:
        admitted &= rule
    return admitted


def _dependant(app: FastAPI, method: str, path: str) -> Dependant:
    for route in iter_route_contexts(app.routes):
        if route.path == path and method in (route.methods or ()) and isinstance(route.dependant, Dependant):
            return route.dependant
    raise AssertionError(f"{method} {path} is in the merged OpenAPI but not a route of its app")


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "put", "post", "delete", "patch")
    ]


def expected_roles(platform: Platform, method: str, path: str) -> frozenset[Role] | str:
    """Who may reach `method path` through the gateway: "national" for the envelope interface (refusals
    are answers in the envelope), "open" for the gateway's own probes (no key needed)."""
    if path == NATIONAL_PATH:
        return "national"
    service, _, rest = path.lstrip("/").partition("/")
    if service not in platform.services:
        roles = declared_roles(_dependant(platform.gateway.app, method, path))
        if roles is None:
            assert path in DECLARED_OPEN, f"{method} {path}: the gateway route declares no role"
            return "open"
        return roles
    route_path = f"/{rest}"
    roles = declared_roles(_dependant(platform.services[service].app, method, route_path))
    if roles is None:
        assert route_path in DECLARED_OPEN, f"{method} {path}: the route declares no role and is not a probe"
        roles = ALL_ROLES
    public = any(
        method == m and service == s and (rest == root or rest.startswith(root + "/"))
        for m, s, root in PUBLIC_ROUTES
    )
    return roles if public else roles - {Role.PUBLIC}


def concrete(path: str, operation: dict[str, Any]) -> str:
    """The path with each parameter filled (the role is checked before any parameter is)."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path":
            path = path.replace("{" + parameter["name"] + "}", "1")
    return path


async def call(client: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return await client.request(method, path, headers=headers, json=body)


def refusal(response: httpx.Response, national: bool) -> tuple[int, str]:
    """(status, code) of a refusal; the national interface answers 200 with `[CODE] message` in err_msg."""
    if national:
        body = response.json()
        assert (response.status_code, body["infcode"]) == (200, "-1"), response.text
        return 200, body["err_msg"].split("]", 1)[0].lstrip("[")
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.status_code, response.json()["code"]


async def test_every_role_is_refused_where_the_code_says_it_may_not_go(platform: Platform) -> None:
    document = (await platform.client.get("/openapi.json")).json()
    assert not document["x-unavailable-services"]
    table = {(m, p): expected_roles(platform, m, p) for m, p, _ in operations(document)}
    assert len(table) > 100
    refused, admitted = [], []
    for method, path, operation in operations(document):
        expected = table[(method, path)]
        if expected == "open":
            continue
        national = expected == "national"
        allowed = frozenset({Role.OPS, Role.HIS, Role.POS}) if national else expected
        assert isinstance(allowed, frozenset)
        url = concrete(path, operation)
        for role in Role:
            response = await call(platform.client, method, url, bearer(platform.keys[role.value]))
            if role in allowed:
                outcome = (
                    refusal(response, national) if national or response.status_code >= 400 else (200, "")
                )
                assert outcome[1] != "ROLE_FORBIDDEN" and response.status_code != 401, (role, method, url)
                admitted.append((role, method, path))
            else:
                assert refusal(response, national) in ((403, "ROLE_FORBIDDEN"), (200, "ROLE_FORBIDDEN")), (
                    role,
                    method,
                    url,
                    response.text[:300],
                )
                refused.append((role, method, path))
    # The table is not vacuous: ops reaches everything, every other role is refused somewhere, all admitted somewhere.
    assert {role for role, _, _ in refused} == {Role.HIS, Role.POS, Role.PUBLIC}
    assert {role for role, _, _ in admitted} == set(Role)
    print(
        f"route matrix: {len(table)} operations x {len(Role)} roles: {len(refused)} refused, {len(admitted)} admitted"
    )


async def test_without_a_valid_key_every_route_is_401(platform: Platform) -> None:
    document = (await platform.client.get("/openapi.json")).json()
    ops_key = platform.keys["ops"]
    prefix = ops_key.rsplit("_", 1)[0]
    wrong_secret = prefix + "_" + ("A" * 32 if not ops_key.endswith("A" * 32) else "B" * 32)
    revoked = await platform.client.post(
        f"/admin/clients/{platform.client_ids['pos']}/revoke", headers=bearer(ops_key)
    )
    assert revoked.status_code == 200, revoked.text
    # Refused before any route is chosen, by one check: each of these on every route.
    cheap = {
        "no key": ({}, "API_KEY_MISSING"),
        "not a bearer": ({"Authorization": f"Basic {ops_key}"}, "API_KEY_MISSING"),
        "garbage": (bearer("ybj_nothing"), "API_KEY_INVALID"),
    }
    # These cost a hash of the secret each (the point of the hash): on one route of each service and of
    # each of the gateway's own areas, which is where the check could differ.
    hashed = {
        "revoked key": (bearer(platform.keys["pos"]), "API_KEY_INVALID"),
        "right prefix, wrong secret": (bearer(wrong_secret), "API_KEY_INVALID"),
    }
    areas: set[str] = set()
    for method, path, operation in operations(document):
        if path in DECLARED_OPEN:
            assert (await platform.client.request(method, path)).status_code == 200, (
                path
            )  # the gateway's probes
            continue
        national = path == NATIONAL_PATH
        url = concrete(path, operation)
        area = path.lstrip("/").split("/", 1)[0]
        credentials = cheap | (hashed if area not in areas else {})
        areas.add(area)
        for name, (headers, code) in credentials.items():
            response = await call(platform.client, method, url, headers)
            assert refusal(response, national) == ((200, code) if national else (401, code)), (
                name,
                method,
                url,
            )
            if not national:
                assert response.headers["www-authenticate"].startswith("Bearer"), (name, method, url)
    assert {"enrollment", "settlement", "pricing", "fraud", "admin"} <= areas, areas


@pytest.mark.parametrize("role", [Role.HIS, Role.POS])
async def test_an_institution_key_is_held_to_its_own_institution(platform: Platform, role: Role) -> None:
    """Within an admitted role, the scope: another institution's data is 403 SCOPE_FORBIDDEN."""
    headers = bearer(platform.keys[role.value])
    for path in ("/settlement/institutions/H42010000002", "/settlement/institutions/H42010000002/activity"):
        response = await platform.client.get(path, headers=headers)
        assert refusal(response, False) == (403, "SCOPE_FORBIDDEN"), path
