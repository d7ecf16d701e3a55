"""One OpenAPI document for the whole platform: each service's, under its prefix, with the auth scheme."""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.config import Settings

CACHE_SECONDS = 30.0
BEARER = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "API key issued by the bureau: `Authorization: Bearer <key>`",
    }
}
# The TIF signature headers provincial gateways use (gateway.signature), the other way to call: all four
# together. OpenAPI has no scheme for a computed signature, so each header is declared as an apiKey.
TIF = {
    "tifPaasid": {
        "type": "apiKey",
        "in": "header",
        "name": "x-tif-paasid",
        "description": "paas_id of the client",
    },
    "tifTimestamp": {
        "type": "apiKey",
        "in": "header",
        "name": "x-tif-timestamp",
        "description": "unix seconds",
    },
    "tifNonce": {
        "type": "apiKey",
        "in": "header",
        "name": "x-tif-nonce",
        "description": "fresh for each request",
    },
    "tifSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "x-tif-signature",
        "description": "hex SHA-256 of timestamp + pass_token + nonce + timestamp (pass_token shown once at issue)",
    },
}
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {name: [] for name in TIF}]
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
PROBLEM_MEDIA_TYPE = "application/problem+json"
# Every error of the platform, whichever service answers, is one shape (common.errors).
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details with a stable machine `code`; some codes add members "
    "(`errors` for validation, `checks` for readiness, ...).",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
    },
}
# What the gateway and the common layer may answer on any route, whatever the service declares.
ANY_ROUTE = {
    "400": "INVALID_CHARACTERS (control characters in the path or query), INVALID_PATH, INVALID_CURSOR, "
    "or another check of the request",
    "401": "API_KEY_MISSING, API_KEY_INVALID",
    "403": "ROLE_FORBIDDEN, SCOPE_FORBIDDEN",
    "413": "PAYLOAD_TOO_LARGE",
    "422": "VALIDATION_ERROR, MALFORMED_JSON",
    "429": "RATE_LIMITED (with Retry-After)",
    "503": "SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE (with Retry-After)",
    "504": "UPSTREAM_TIMEOUT",
}

# The order a reader meets the groups in Swagger UI and ReDoc (both follow the top-level `tags` list): the
# gateway's own first, then each service's, then what every service has alike, gathered once at the end so
# that five identical probe groups and four dead-letter groups do not sit between the business ones.
GATEWAY_TAGS = {
    "national interface 国家接口": "The national 定点医药机构接口规范 envelope that hospital (HIS) and pharmacy "
    "(POS) systems call: one POST, the transaction chosen by `infno`.",
    "API clients 接入方": "API keys of the callers (hospitals, pharmacies, bureau staff, the public site): "
    "issue, list, revoke. Bureau staff (ops) only.",
    "overview 概览": "One person or one institution at a glance, gathered from every service in one call.",
}
SHARED_TAGS = {
    "dead letters 死信": "Events a service's consumer gave up on, per service under `/<service>/dead-letters`: "
    "list them, replay one once its cause is fixed. Bureau staff (ops) only.",
    "health 健康检查": "Liveness and readiness probes of the gateway and of each service behind it, for "
    "the orchestrator and the on-call engineer.",
}
SERVICE_NAMES = {
    "enrollment": "参保登记 enrollment",
    "settlement": "结算 settlement",
    "pricing": "药品价格监测 pricing",
    "fraud": "智能监控 fraud monitoring",
}


def _tags_in_order(paths: dict[str, Any]) -> list[str]:
    """The tags of the operations, each once, in the order the document first uses them."""
    seen: dict[str, None] = {}
    for item in paths.values():
        for method, operation in item.items():
            if method in _METHODS:
                seen.update(dict.fromkeys(operation.get("tags", [])))
    return list(seen)


def _ordered_tags(
    gateway_tags: list[str], service_tags: dict[str, str], used: set[str]
) -> list[dict[str, Any]]:
    """The top-level tag list: the gateway's own, then the services' in their order, then the shared ones."""
    own = [tag for tag in GATEWAY_TAGS if tag in used]
    own += [tag for tag in gateway_tags if tag not in GATEWAY_TAGS and tag not in SHARED_TAGS]
    tags = [{"name": tag, "description": GATEWAY_TAGS.get(tag, "The gateway's own routes.")} for tag in own]
    tags += [{"name": tag, "description": text} for tag, text in service_tags.items()]
    tags += [{"name": tag, "description": text} for tag, text in SHARED_TAGS.items() if tag in used]
    return tags


def _problem_responses(operation: dict[str, Any]) -> None:
    """Declare the errors as they are sent: problem+json, on every route for the gateway's own answers."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    has_path_parameters = any(p.get("in") == "path" for p in operation.get("parameters", []))
    wanted = dict(ANY_ROUTE)
    if has_path_parameters:
        wanted.setdefault("404", "NOT_FOUND and the resource's own code")
    for status, codes in wanted.items():
        responses.setdefault(status, {"description": f"problem+json: {codes}"})
    content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for status, response in responses.items():
        if status[:1] in ("4", "5"):
            response["content"] = content


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            return {**node, "$ref": f"#/components/schemas/{renames.get(name, name)}"}
        return {key: _rename_refs(value, renames) for key, value in node.items()}
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    return node


def merge(gateway: dict[str, Any], services: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """The gateway's own document with every reachable service's paths under /<service>.

    Schemas are renamed <Service><Name> (two services may both have a `DeadLetter`), tags are prefixed with
    the service but for the shared ones (dead letters, health), operation ids stay unique; a service that did
    not answer is listed as unavailable.
    """
    merged = copy.deepcopy(gateway)
    paths: dict[str, Any] = merged.setdefault("paths", {})
    schemas: dict[str, Any] = merged.setdefault("components", {}).setdefault("schemas", {})
    gateway_tags = _tags_in_order(paths)
    service_tags: dict[str, str] = {}  # name: description, in order
    unavailable = []
    for service, spec in services.items():
        if spec is None:
            unavailable.append(service)
            continue
        prefix = service.capitalize()
        renames = {name: f"{prefix}{name}" for name in spec.get("components", {}).get("schemas", {})}
        spec = _rename_refs(spec, renames)
        for name, schema in spec.get("components", {}).get("schemas", {}).items():
            schemas[renames[name]] = schema
        for path, item in spec.get("paths", {}).items():
            for method, operation in item.items():
                if method not in _METHODS:
                    continue
                operation["tags"] = [
                    tag if tag in SHARED_TAGS else f"{service} · {tag}"
                    for tag in operation.get("tags", ["other"])
                ]
                if "operationId" in operation:
                    operation["operationId"] = f"{service}_{operation['operationId']}"
            paths[f"/{service}{path}"] = item
        # A service's own tag list (if it declares one) gives its order and descriptions; else its routes' order.
        declared = {f"{service} · {tag['name']}": tag.get("description") for tag in spec.get("tags", [])}
        default = f"{SERVICE_NAMES.get(service, service)}, under `/{service}/*`."
        for tag in [*declared, *_tags_in_order(spec.get("paths", {}))]:
            if tag not in SHARED_TAGS and tag not in service_tags:
                service_tags[tag] = declared.get(tag) or default
    merged["tags"] = _ordered_tags(gateway_tags, service_tags, used=set(_tags_in_order(paths)))
    for item in paths.values():
        for method, operation in item.items():
            if method in _METHODS:
                _problem_responses(operation)
    schemas["Problem"] = PROBLEM_SCHEMA
    merged["components"]["securitySchemes"] = {**BEARER, **TIF}
    merged["security"] = SECURITY
    merged["x-unavailable-services"] = unavailable
    if unavailable:
        merged["info"]["description"] = (
            merged["info"].get("description", "")
            + f"\n\n**Not shown now (did not answer):** {', '.join(unavailable)}."
        )
    return merged


class MergedOpenAPI:
    """Fetches the services' documents concurrently and keeps the merged result for a short while."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0
        self._lock = asyncio.Lock()

    async def document(self) -> dict[str, Any]:
        async with self._lock:
            fresh = time.monotonic() - self._cached_at < CACHE_SECONDS
            if self._cached is not None and fresh and not self._cached["x-unavailable-services"]:
                return self._cached
            settings: Settings = self.app.state.settings
            client: httpx.AsyncClient = self.app.state.upstream
            upstreams = settings.upstreams()
            fetched = await asyncio.gather(*(self._fetch(client, urls) for urls in upstreams.values()))
            self._cached = merge(self.app.openapi(), dict(zip(upstreams, fetched, strict=True)))
            self._cached_at = time.monotonic()
            return self._cached

    @staticmethod
    async def _fetch(client: httpx.AsyncClient, base_urls: tuple[str, ...]) -> dict[str, Any] | None:
        """The service's document from the first of its replicas that gives it (they all run one build)."""
        for base_url in base_urls:
            try:
                response = await client.get(f"{base_url}/openapi.json", timeout=3.0)
            except httpx.HTTPError:
                continue
            if response.status_code == 200:
                document: dict[str, Any] = response.json()
                return document
        return None


async def services_ready(app: FastAPI) -> dict[str, str]:
    """Readiness of each service behind the gateway, every replica asked concurrently.

    A service is `ok` when each of its replicas is ready, `degraded` when only some are (a request whose
    replica refuses the connection goes on to the next, but a replica that is up and not ready still gets
    its turn), and otherwise what its replicas say: `unavailable` when none answers, `not_ready` when one
    answers 503.
    """
    settings: Settings = app.state.settings
    client: httpx.AsyncClient = app.state.upstream

    async def ask(base_url: str) -> str:
        try:
            response = await client.get(f"{base_url}/readyz", timeout=2.0)
        except httpx.HTTPError:
            return "unavailable"
        return "ok" if response.status_code == 200 else "not_ready"

    upstreams = settings.upstreams()
    answers = await asyncio.gather(*(ask(url) for urls in upstreams.values() for url in urls))
    states: dict[str, str] = {}
    position = 0
    for service, urls in upstreams.items():
        replicas = set(answers[position : position + len(urls)])
        position += len(urls)
        if replicas == {"ok"}:
            states[service] = "ok"
        elif "ok" in replicas:
            states[service] = "degraded"
        else:
            states[service] = "not_ready" if "not_ready" in replicas else "unavailable"
    return states
