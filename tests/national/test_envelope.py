"""The national envelope as HIS clients really send it (numbers, string input, GBK) and the TIF signature headers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from common.clock import FrozenClock
from common.db import Database
from common.testing.databases import Databases
from gateway.app import create_app as create_gateway
from gateway.models import NationalMessage, NationalSignIn
from gateway.national.envelope import Envelope
from tests.gateway.conftest import bearer, gateway_client, gateway_settings
from tests.settlement.seed import count

PATH = "/fsi/api/rsfComIfsService/callService"
HOSPITAL = "440606000123"  # an all-digit institution code, so that it may come as a JSON number too
OTHER_HOSPITAL = "440606000999"
MSGID = "4406060001232026030210000001"
MALFORMED_BODY = (
    "[MALFORMED_ENVELOPE] The body is not valid JSON / unknown encoding (send UTF-8, GBK or GB18030)."
)


@dataclass
class Gateway:
    client: httpx.AsyncClient
    db: Database
    clock: FrozenClock
    ops_key: str
    his: dict[str, Any]  # the answer of POST /admin/clients: api_key, paas_id, pass_token...

    @property
    def now(self) -> int:
        return int(self.clock.now().timestamp())

    async def issue(self, name: str, role: str, scope: str | None = None) -> dict[str, Any]:
        body = {"name": name, "role": role} | ({"scope": scope} if scope else {})
        issued = await self.client.post("/admin/clients", headers=bearer(self.ops_key), json=body)
        assert issued.status_code == 201, issued.text
        answer: dict[str, Any] = issued.json()
        return answer

    async def send(
        self,
        body: dict[str, Any] | bytes,
        *,
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        """One national message (a dict is sent as UTF-8 JSON); the answer is HTTP 200 whatever it says."""
        content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        sent = {"content-type": content_type or "application/json"}
        sent |= bearer(self.his["api_key"]) if headers is None else headers
        response = await self.client.post(PATH, content=content, headers=sent)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def written(self) -> tuple[int, int]:
        """(messages remembered, sign-ins stored)."""
        return await count(self.db, NationalMessage), await count(self.db, NationalSignIn)


@pytest.fixture
async def gateway(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[Gateway]:
    """The gateway alone: a 9001 sign-in touches only its own database."""
    app = create_gateway(gateway_settings(databases, nats_url, tmp_path), clock=clock)
    async with gateway_client(app, tmp_path) as (client, ops_key):
        issued = await client.post(
            "/admin/clients",
            headers=bearer(ops_key),
            json={"name": "顺德医院 HIS", "role": "his", "scope": HOSPITAL},
        )
        assert issued.status_code == 201, issued.text
        yield Gateway(client, app.state.db, clock, ops_key, issued.json())


def sign_in(**overrides: Any) -> dict[str, Any]:
    """A 9001 envelope whose number-like fields are all written as the decimal text of a number."""
    return {
        "infno": "9001",
        "msgid": MSGID,
        "mdtrtarea_admvs": "440606",
        "insuplc_admdvs": "440606",
        "recer_sys_code": "1",
        "dev_no": "7",
        "dev_safe_info": "8",
        "cainfo": "9",
        "signtype": "3",
        "infver": "1.0",
        "opter_type": "1",
        "opter": "1001",
        "opter_name": "张收费",
        "inf_time": "2026-03-02 10:00:00",
        "fixmedins_code": HOSPITAL,
        "fixmedins_name": "顺德区测试医院",
        "sign_no": "0",
        "input": {"signIn": {"opter_no": "1001", "mac": "00-1A-2B-3C-4D-5E", "ip": "10.0.0.8"}},
    } | overrides


def as_numbers(envelope: dict[str, Any]) -> dict[str, Any]:
    """The same envelope as a client that types its fields as numbers sends it."""
    numbers: dict[str, Any] = {
        key: int(value) if isinstance(value, str) and value.isdigit() else value
        for key, value in envelope.items()
    }
    return numbers | {"infver": 1.0}


def failure(answer: dict[str, Any]) -> str:
    assert (answer["infcode"], answer["output"]) == ("-1", {}), answer
    return str(answer["err_msg"])


def tif(
    issued: dict[str, Any], *, at: int, nonce: str, token: str | None = None, upper: bool = False
) -> dict[str, str]:
    """The TIF headers: x-tif-signature = hex SHA-256 of timestamp + passToken + nonce + timestamp."""
    stamp = str(at)
    digest = hashlib.sha256(f"{stamp}{token or issued['pass_token']}{nonce}{stamp}".encode()).hexdigest()
    return {
        "x-tif-paasid": issued["paas_id"],
        "x-tif-timestamp": stamp,
        "x-tif-nonce": nonce,
        "x-tif-signature": digest.upper() if upper else digest,
    }


# --- the envelope's fields ------------------------------------------------------------------------------

TEXT_FIELDS = [name for name in Envelope.model_fields if name != "input"]
REQUIRED = {"infno": "9001", "msgid": "M1", "fixmedins_code": HOSPITAL}


@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_every_envelope_field_may_be_a_number_and_is_read_as_its_decimal_text(field: str) -> None:
    as_int = Envelope.model_validate(REQUIRED | {field: 9001 if field == "infno" else 440606})
    assert getattr(as_int, field) == ("9001" if field == "infno" else "440606")
    if field not in ("infno", "fixmedins_code"):  # their patterns have no decimal point
        as_decimal = Envelope.model_validate(REQUIRED | {field: Decimal("1.50")})
        assert getattr(as_decimal, field) == "1.50"


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize(("value", "kind"), [(True, "a boolean"), ({"a": 1}, "an object"), ([1], "a list")])
def test_a_boolean_object_or_list_in_an_envelope_field_is_refused(field: str, value: Any, kind: str) -> None:
    with pytest.raises(ValueError, match=f"expected a string or a number, got {kind}"):
        Envelope.model_validate(REQUIRED | {field: value})


async def test_a_sign_in_with_every_field_a_number_is_answered_and_stored_as_text(gateway: Gateway) -> None:
    answer = await gateway.send(as_numbers(sign_in()))
    assert (answer["infcode"], answer["err_msg"]) == ("0", None), answer
    assert answer["output"]["signinoutb"]["sign_time"] == "2026-03-02 10:00:00"
    sign_no = answer["output"]["signinoutb"]["sign_no"]
    async with gateway.db.transaction(readonly=True) as session:
        stored = await session.get(NationalSignIn, sign_no)
        message = await session.get(NationalMessage, (gateway.his["client_id"], MSGID))
    assert stored is not None and message is not None
    assert (stored.fixmedins_code, stored.opter_no, stored.mac, stored.ip) == (
        HOSPITAL,
        "1001",
        "00-1A-2B-3C-4D-5E",
        "10.0.0.8",
    )
    assert (message.msgid, message.infno) == (MSGID, "9001")


async def test_input_may_be_a_json_string_holding_the_object(gateway: Gateway) -> None:
    nodes = {"signIn": {"opter_no": "1001", "mac": "AA-BB", "ip": "10.0.0.9"}}
    answer = await gateway.send(sign_in(input=json.dumps(nodes)))
    assert answer["infcode"] == "0", answer
    async with gateway.db.transaction(readonly=True) as session:
        stored = await session.get(NationalSignIn, answer["output"]["signinoutb"]["sign_no"])
    assert stored is not None
    assert (stored.opter_no, stored.mac, stored.ip) == ("1001", "AA-BB", "10.0.0.9")


async def test_unknown_envelope_fields_are_ignored(gateway: Gateway) -> None:
    answer = await gateway.send(
        sign_in(recer_admdvs="440110", vendor_extension={"build": 7}, input_ext=[1, 2])
    )
    assert (answer["infcode"], answer["err_msg"]) == ("0", None), answer


# --- encodings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "content_type"),
    [
        ("gbk", "application/json; charset=GBK"),
        ("gbk", "application/json;charset=gb2312"),
        ("gbk", "application/json"),  # no charset: not UTF-8, so GB18030
        ("gbk", "text/plain"),
        ("gb18030", 'application/json; charset="gb18030"'),
        ("utf-8-sig", "application/json"),  # a BOM, as Windows tools write it
        ("utf-8-sig", "application/json; charset=utf-8"),
        ("utf-8", "application/json; charset=iso-8859-1"),  # a charset we do not read: detected
    ],
)
async def test_a_body_in_gbk_gb18030_or_utf8_with_bom_is_the_same_message_as_in_utf8(
    gateway: Gateway, encoding: str, content_type: str
) -> None:
    envelope = sign_in()
    first = await gateway.send(envelope)
    assert first["infcode"] == "0", first
    again = await gateway.send(
        json.dumps(envelope, ensure_ascii=False).encode(encoding), content_type=content_type
    )
    assert again == first  # the stored answer: the same message, read the same
    assert await gateway.written() == (1, 1)


async def test_a_name_only_gb18030_can_write_is_read_from_a_gb18030_body(gateway: Gateway) -> None:
    envelope = sign_in(opter_name="𠀀收费")  # U+20000: four bytes in GB18030, not in GBK at all
    first = await gateway.send(envelope)
    body = json.dumps(envelope, ensure_ascii=False).encode("gb18030")
    assert await gateway.send(body, content_type="application/json; charset=GB18030") == first
    assert await gateway.send(body) == first  # and without a charset
    changed = json.dumps(sign_in(opter_name="?收费"), ensure_ascii=False).encode("gb18030")
    assert failure(await gateway.send(changed)).startswith("[MSGID_CONFLICT] ")


# --- idempotency across shapes ----------------------------------------------------------------------------


async def test_the_same_message_as_numbers_then_as_strings_gets_the_stored_answer(gateway: Gateway) -> None:
    first = await gateway.send(as_numbers(sign_in()))
    assert first["infcode"] == "0", first
    assert await gateway.send(sign_in()) == first
    assert await gateway.send(sign_in(input=json.dumps(sign_in()["input"]))) == first
    assert await gateway.send(sign_in(inf_time="2026-03-02 10:00:05")) == first  # a retry is stamped anew
    assert await gateway.written() == (1, 1)
    other = await gateway.send(sign_in(opter_type="2"))
    assert failure(other) == (
        f"[MSGID_CONFLICT] msgid {MSGID} was used already for another message; send a new msgid."
    )
    assert await gateway.written() == (1, 1)


# --- refusals -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "err_msg"),
    [
        ({"input": 5}, "input: expected an object or a JSON string holding one, got a number"),
        ({"input": [{"signIn": {}}]}, "input: expected an object or a JSON string holding one, got a list"),
        ({"input": None}, "input: expected an object or a JSON string holding one, got null"),
        (
            {"input": "{signIn: 1}"},
            "input: a string input must hold a JSON object, and this one is not valid JSON",
        ),
        ({"input": ""}, "input: a string input must hold a JSON object, and this one is not valid JSON"),
        ({"input": "[1, 2]"}, "input: a string input must hold a JSON object, not a list"),
        ({"input": "9001"}, "input: a string input must hold a JSON object, not a number"),
        ({"opter_type": True}, "opter_type: expected a string or a number, got a boolean"),
        ({"infno": False}, "infno: expected a string or a number, got a boolean"),
        (
            {"fixmedins_code": {"code": HOSPITAL}},
            "fixmedins_code: expected a string or a number, got an object",
        ),
        ({"mdtrtarea_admvs": [440606]}, "mdtrtarea_admvs: expected a string or a number, got a list"),
        ({"infno": 90011}, "infno: String should match pattern '^[0-9]{4}[A-Z]?$'"),
    ],
)
async def test_a_malformed_envelope_is_refused_and_writes_nothing(
    gateway: Gateway, changes: dict[str, Any], err_msg: str
) -> None:
    answer = await gateway.send(sign_in(**changes))
    assert failure(answer) == f"[MALFORMED_ENVELOPE] {err_msg}"
    assert await gateway.written() == (0, 0)


async def test_a_number_that_is_not_finite_is_refused(gateway: Gateway) -> None:
    body = json.dumps(sign_in()).replace('"opter_type": "1"', '"opter_type": NaN').encode()
    assert failure(await gateway.send(body)) == (
        "[MALFORMED_ENVELOPE] opter_type: expected a string or a finite number, got NaN"
    )


@pytest.mark.parametrize(
    ("body", "content_type", "err_msg"),
    [
        (b'{"infno": "9001", "opter_name": "\xff\xfe"}', "application/json", MALFORMED_BODY),
        (b'{"infno": "9001", "opter_name": "\x80"}', "application/json; charset=whatever", MALFORMED_BODY),
        (
            json.dumps(sign_in(), ensure_ascii=False).encode("gbk"),
            "application/json; charset=utf-8",
            "[MALFORMED_ENVELOPE] The body is not valid utf-8 text, as its Content-Type declares.",
        ),
        (
            b'{"opter_name": "\xff"}',
            "application/json; charset=gbk",
            "[MALFORMED_ENVELOPE] The body is not valid gbk text, as its Content-Type declares.",
        ),
        (b"{infno: 9001}", "application/json", "[MALFORMED_ENVELOPE] The body is not valid JSON."),
    ],
)
async def test_a_body_in_no_known_encoding_is_refused(
    gateway: Gateway, body: bytes, content_type: str, err_msg: str
) -> None:
    assert failure(await gateway.send(body, content_type=content_type)) == err_msg
    assert await gateway.written() == (0, 0)


# --- the TIF signature headers -------------------------------------------------------------------------------


async def test_issuing_a_client_shows_its_paasid_and_pass_token_once(gateway: Gateway) -> None:
    his = gateway.his
    assert his["paas_id"] == his["client_id"]
    assert len(his["pass_token"]) == 32 and int(his["pass_token"], 16) >= 0
    listed = await gateway.client.get("/admin/clients", headers=bearer(gateway.ops_key))
    assert his["pass_token"] not in listed.text
    assert all("pass_token" not in client for client in listed.json())
    other = await gateway.issue("另一家医院 HIS", "his", OTHER_HOSPITAL)
    assert other["pass_token"] != his["pass_token"]


async def test_a_signed_call_acts_with_the_clients_role_and_scope(gateway: Gateway) -> None:
    now = gateway.now
    lower = await gateway.send(sign_in(), headers=tif(gateway.his, at=now, nonce="n-1"))
    assert (lower["infcode"], lower["err_msg"]) == ("0", None), lower
    upper = await gateway.send(sign_in(msgid="M2"), headers=tif(gateway.his, at=now, nonce="n-2", upper=True))
    assert upper["infcode"] == "0", upper
    edge = await gateway.send(sign_in(msgid="M3"), headers=tif(gateway.his, at=now - 300, nonce="n-3"))
    assert edge["infcode"] == "0", edge  # 300 s is still inside the window
    elsewhere = await gateway.send(
        sign_in(msgid="M4", fixmedins_code=OTHER_HOSPITAL), headers=tif(gateway.his, at=now, nonce="n-4")
    )
    assert (
        failure(elsewhere) == f"[SCOPE_FORBIDDEN] This API key may not act for institution {OTHER_HOSPITAL}."
    )
    assert await gateway.written() == (3, 3)
    # The msgid space is the client's, whichever way it authenticates: the key replays the signed answer.
    assert await gateway.send(sign_in()) == lower

    # On the proxied routes too, with the same role rules as the key.
    admin = await gateway.client.get("/admin/clients", headers=tif(gateway.his, at=now, nonce="n-5"))
    assert (admin.status_code, admin.json()["code"]) == (403, "ROLE_FORBIDDEN")
    ops = await gateway.issue("经办 ops", "ops")
    listed = await gateway.client.get("/admin/clients", headers=tif(ops, at=now, nonce="n-1"))
    assert listed.status_code == 200  # a nonce is the client's own: another client may use the same one
    assert len(listed.json()) == 3


async def test_a_bearer_key_wins_over_signature_headers(gateway: Gateway) -> None:
    headers = bearer(gateway.his["api_key"]) | {"x-tif-paasid": "cli_0000000000000000"}
    answer = await gateway.send(sign_in(), headers=headers)
    assert answer["infcode"] == "0", answer


@pytest.mark.parametrize(
    ("headers", "err_msg"),
    [
        (
            lambda g: tif(g.his, at=g.now, nonce="n", token="0" * 32),
            "[SIGNATURE_INVALID] x-tif-signature is not the SHA-256 of timestamp + passToken + nonce + timestamp.",
        ),
        (
            lambda g: tif(g.his, at=g.now, nonce="n") | {"x-tif-nonce": "m"},  # signed for another nonce
            "[SIGNATURE_INVALID] x-tif-signature is not the SHA-256 of timestamp + passToken + nonce + timestamp.",
        ),
        (
            lambda g: tif(g.his, at=g.now - 301, nonce="n"),
            "[TIMESTAMP_OUT_OF_WINDOW] x-tif-timestamp must be unix seconds within 300 s of the platform's time "
            "(1772416800).",
        ),
        (
            lambda g: tif(g.his, at=g.now + 301, nonce="n"),
            "[TIMESTAMP_OUT_OF_WINDOW] x-tif-timestamp must be unix seconds within 300 s of the platform's time "
            "(1772416800).",
        ),
        (
            lambda g: tif(g.his, at=g.now * 1000, nonce="n"),  # milliseconds
            "[TIMESTAMP_OUT_OF_WINDOW] x-tif-timestamp must be unix seconds within 300 s of the platform's time "
            "(1772416800).",
        ),
        (
            lambda g: tif(g.his, at=g.now, nonce="n") | {"x-tif-paasid": "cli_0123456789abcdef"},
            "[API_KEY_INVALID] The x-tif-paasid is not a valid API client or has been revoked.",
        ),
        (
            lambda g: tif(g.his, at=g.now, nonce="n") | {"x-tif-paasid": "test_hosp"},
            "[API_KEY_INVALID] The x-tif-paasid is not a valid API client or has been revoked.",
        ),
        (
            lambda g: {k: v for k, v in tif(g.his, at=g.now, nonce="n").items() if k != "x-tif-nonce"},
            "[SIGNATURE_HEADER_MISSING] A signed request carries all of x-tif-paasid, x-tif-timestamp, "
            "x-tif-nonce, x-tif-signature; missing: x-tif-nonce.",
        ),
        (
            lambda g: {"x-tif-signature": "abc"},
            "[SIGNATURE_HEADER_MISSING] A signed request carries all of x-tif-paasid, x-tif-timestamp, "
            "x-tif-nonce, x-tif-signature; missing: x-tif-paasid, x-tif-timestamp, x-tif-nonce.",
        ),
        (
            lambda g: tif(g.his, at=g.now, nonce="n" * 129),
            "[SIGNATURE_INVALID] x-tif-nonce may be at most 128 characters.",
        ),
    ],
)
async def test_a_bad_signature_is_refused_with_its_code_and_writes_nothing(
    gateway: Gateway, headers: Any, err_msg: str
) -> None:
    assert gateway.now == 1772416800
    sent = headers(gateway)
    assert failure(await gateway.send(sign_in(), headers=sent)) == err_msg
    assert await gateway.written() == (0, 0)
    proxied = await gateway.client.get("/enrollment/persons", headers=sent)
    code, _, detail = err_msg[1:].partition("] ")
    assert (proxied.status_code, proxied.headers["content-type"]) == (401, "application/problem+json")
    assert (proxied.json()["code"], proxied.json()["detail"]) == (code, detail)
    assert proxied.headers["www-authenticate"] == "x-tif-signature"


async def test_a_nonce_is_refused_again_while_its_timestamp_is_in_the_window(gateway: Gateway) -> None:
    now = gateway.now
    first = await gateway.send(sign_in(), headers=tif(gateway.his, at=now, nonce="once"))
    assert first["infcode"] == "0", first
    replayed = await gateway.send(sign_in(msgid="M2"), headers=tif(gateway.his, at=now, nonce="once"))
    restamped = await gateway.send(sign_in(msgid="M2"), headers=tif(gateway.his, at=now + 1, nonce="once"))
    for answer in (replayed, restamped):
        assert failure(answer) == (
            "[NONCE_REUSED] This x-tif-nonce was used already within the last 300 s; send a fresh one."
        )
    assert await gateway.written() == (1, 1)
    # A bad signature neither uses up a nonce nor is let through by a fresh one.
    forged = await gateway.send(
        sign_in(msgid="M2"), headers=tif(gateway.his, at=now, nonce="fresh", token="x")
    )
    assert failure(forged).startswith("[SIGNATURE_INVALID] ")
    fresh = await gateway.send(sign_in(msgid="M2"), headers=tif(gateway.his, at=now, nonce="fresh"))
    assert fresh["infcode"] == "0", fresh
    # Once the first timestamp has left the window, its nonce is forgotten (and the old stamp is refused).
    gateway.clock.advance(seconds=302)
    later = await gateway.send(sign_in(msgid="M3"), headers=tif(gateway.his, at=gateway.now, nonce="once"))
    assert later["infcode"] == "0", later
    assert await gateway.written() == (3, 3)


async def test_a_revoked_client_cannot_sign(gateway: Gateway) -> None:
    now = gateway.now
    assert (await gateway.send(sign_in(), headers=tif(gateway.his, at=now, nonce="a")))["infcode"] == "0"
    revoked = await gateway.client.post(
        f"/admin/clients/{gateway.his['client_id']}/revoke", headers=bearer(gateway.ops_key)
    )
    assert revoked.status_code == 200
    refused = await gateway.send(sign_in(msgid="M2"), headers=tif(gateway.his, at=now, nonce="b"))
    assert (
        failure(refused)
        == "[API_KEY_INVALID] The x-tif-paasid is not a valid API client or has been revoked."
    )
    assert await gateway.written() == (1, 1)
