"""The merged API document reads well: groups in a fixed order, every operation described, every body shown."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from common.config import AppEnv
from enrollment.app import create_app as create_enrollment
from enrollment.config import Settings as EnrollmentSettings
from fraud.app import create_app as create_fraud
from fraud.config import Settings as FraudSettings
from gateway.app import create_app as create_gateway
from gateway.config import Settings as GatewaySettings
from gateway.openapi import merge
from pricing.app import create_app as create_pricing
from pricing.config import Settings as PricingSettings
from settlement.app import create_app as create_settlement
from settlement.config import Settings as SettlementSettings

METHODS = ("get", "put", "post", "delete", "patch")
GATEWAY_TAGS = ["national interface 国家接口", "API clients 接入方", "overview 概览"]
SERVICES = ["enrollment", "settlement", "pricing", "fraud"]


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What GET /openapi.json answers with all four services up, built from the apps' own documents.

    Building an app opens nothing (no I/O before its lifespan), so no service need run for its document.
    """
    url = "sqlite+aiosqlite:///:memory:"
    var_dir: Path = tmp_path_factory.mktemp("gateway")
    gateway = create_gateway(GatewaySettings(database_url=url, app_env=AppEnv.TEST, var_dir=var_dir))
    services = {
        "enrollment": create_enrollment(EnrollmentSettings(database_url=url, app_env=AppEnv.TEST)),
        "settlement": create_settlement(SettlementSettings(database_url=url, app_env=AppEnv.TEST)),
        "pricing": create_pricing(PricingSettings(database_url=url, app_env=AppEnv.TEST)),
        "fraud": create_fraud(FraudSettings(database_url=url, app_env=AppEnv.TEST)),
    }
    return merge(gateway.openapi(), {name: app.openapi() for name, app in services.items()})


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _has_example(document: dict[str, Any], media: dict[str, Any]) -> bool:
    """An example in the media type, in its schema, or in the schema it refers to (an optional body: anyOf)."""
    if media.get("example") is not None or media.get("examples"):
        return True
    schema = media.get("schema", {})
    candidates = [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]
    for candidate in candidates:
        if "$ref" in candidate:
            candidate = document["components"]["schemas"][candidate["$ref"].rsplit("/", 1)[1]]
        if candidate.get("examples") or candidate.get("example") is not None:
            return True
    return False


def test_the_gateways_groups_come_first_each_services_next_and_the_shared_ones_last(
    document: dict[str, Any],
) -> None:
    names = [tag["name"] for tag in document["tags"]]
    assert names[:3] == GATEWAY_TAGS
    assert names[-2:] == ["dead letters 死信", "health 健康检查"]
    services = [name.split(" · ")[0] for name in names[3:-2]]
    assert all(" · " in name for name in names[3:-2])
    assert services == sorted(services, key=SERVICES.index)  # each service's groups together, in order
    assert set(services) == set(SERVICES)
    assert len(names) == len(set(names))
    assert all(tag["description"] for tag in document["tags"])
    used = {tag for _, operation in _operations(document) for tag in operation["tags"]}
    assert used == set(names)  # no operation in a group the list leaves to the end


def test_dead_letters_and_probes_of_every_service_are_one_group_each(document: dict[str, Any]) -> None:
    by_tag: dict[str, list[str]] = {}
    for name, operation in _operations(document):
        for tag in operation["tags"]:
            by_tag.setdefault(tag, []).append(name)
    assert by_tag["dead letters 死信"] == [
        f"{method} /{service}/dead-letters{suffix}"
        for service in SERVICES
        for method, suffix in (("GET", ""), ("POST", "/{seq}/replay"))
    ]
    assert by_tag["health 健康检查"] == [
        f"GET {prefix}/{probe}"
        for prefix in ["", *(f"/{s}" for s in SERVICES)]
        for probe in ("healthz", "readyz")
    ]


def test_every_operation_has_a_description(document: dict[str, Any]) -> None:
    undescribed = [name for name, operation in _operations(document) if not operation.get("description")]
    assert undescribed == []


def test_every_request_body_has_an_example(document: dict[str, Any]) -> None:
    without = [
        name
        for name, operation in _operations(document)
        if "requestBody" in operation
        and not any(
            _has_example(document, media) for media in operation["requestBody"].get("content", {}).values()
        )
    ]
    assert without == []


SNAPSHOT = Path(__file__).with_name("openapi-snapshot.json")


def test_the_merged_document_is_the_reviewed_snapshot(document: dict[str, Any]) -> None:
    """Any change to the API shows here: refresh the snapshot on purpose (`make openapi-snapshot`) and let the
    review of its diff be the review of the API change."""
    current = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_OPENAPI_SNAPSHOT") == "1":
        SNAPSHOT.write_text(current, encoding="utf-8")
    assert SNAPSHOT.exists(), "no snapshot yet: run `make openapi-snapshot`"
    assert current == SNAPSHOT.read_text(encoding="utf-8"), (
        "the API changed: `make openapi-snapshot`, review the diff"
    )
