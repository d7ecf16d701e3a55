"""A HIS as the published clients are written, talking to the platform's national interface.

Message shapes follow real integrations, each cited where it is used:
- the envelope of a Foshan (顺德) C# HIS, liutao2019/IBORN_HIS_ALL,
  MEDICAL/顺德医保/佛山新医保接口/API.GZSI/Models/Request/RequestBase.cs: every field a string, empty strings
  for what it does not fill, `signtype` "SM3", `infver` "1.0.0", `recer_admdvs` beside `recer_sys_code`;
- its transaction models under .../Models/Request/RequestGzsiModel<infno>.cs: 2205 `data` {mdtrt_id,
  chrg_bchno ("0000" deletes every unsettled line), psn_no}; 2402 `dscginfo` {mdtrt_id, psn_no, insutype,
  endtime, dise_codg, dise_name, ..., dscg_dept_code, dscg_way} + `diseinfo` rows; 2601 `data` {psn_no,
  omsgid, oinfno}.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from common.clock import FrozenClock
from common.db import Database
from common.testing.apps import wait_for
from enrollment.domain.certno import check_char
from gateway.models import Base as GatewayBase
from settlement.models import Base as SettlementBase

HOSPITAL, OTHER_HOSPITAL, PHARMACY = "H42010000001", "H42010000002", "P42010000001"
PATH = "/fsi/api/rsfComIfsService/callService"
_people = itertools.count(1)
_messages = itertools.count(1)


def certno_for(serial: int, *, born: date = date(1980, 5, 1), male: bool = True) -> str:
    """A certno that passes its GB 11643 check, unique by serial (the 17th digit gives the gender)."""
    sequence = f"{serial % 100:02d}{(1 if male else 2) + 2 * (serial // 100 % 4)}"
    first17 = f"420102{born + timedelta(days=serial // 400):%Y%m%d}{sequence}"
    return first17 + check_char(first17)


# How a client puts a message on the wire: the body and its Content-Type.
Shape = Callable[[dict[str, Any]], tuple[bytes, str]]
_NUMERIC_ENVELOPE = ("infno", "opter_type", "mdtrtarea_admvs", "insuplc_admdvs", "recer_admdvs")
_NUMERIC_INPUT = (
    "medfee_sumamt",
    "acct_used_flag",
    "mid_setl_flag",
    "cnt",
    "pric",
    "det_item_fee_sumamt",
    "med_type",
)


def as_strings(message: dict[str, Any]) -> tuple[bytes, str]:
    """RequestBase.cs: every field a string, UTF-8 JSON."""
    return json.dumps(message, ensure_ascii=False).encode(), "application/json"


_NUMBER = "number:"


def _numbers(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: f"{_NUMBER}{value}"
            if key in _NUMERIC_INPUT and isinstance(value, str) and value
            else _numbers(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_numbers(item) for item in node]
    return node


def as_numbers(message: dict[str, Any]) -> tuple[bytes, str]:
    """C# request models with `int opter_type` and `decimal` amounts: JSON numbers written as the decimal
    text ("1000.00" goes on the wire as 1000.00, as a C# decimal serialises, not as a float's 1000.0)."""
    numeric = {key: int(value) if key in _NUMERIC_ENVELOPE else value for key, value in message.items()}
    numeric["input"] = _numbers(message["input"])
    text = re.sub(r'"number:([0-9.]+)"', r"\1", json.dumps(numeric, ensure_ascii=False))
    return text.encode(), "application/json"


def input_as_string(message: dict[str, Any]) -> tuple[bytes, str]:
    """`dynamic input` serialised on its own first: `input` arrives as a JSON string holding the object."""
    wrapped = {**message, "input": json.dumps(message["input"], ensure_ascii=False)}
    return json.dumps(wrapped, ensure_ascii=False).encode(), "application/json"


def as_gbk(message: dict[str, Any]) -> tuple[bytes, str]:
    """A Windows HIS posting in the system code page: GBK bytes, declared in the Content-Type."""
    return json.dumps(message, ensure_ascii=False).encode("gbk"), "application/json; charset=GBK"


SHAPES: dict[str, Shape] = {
    "strings": as_strings,
    "numbers": as_numbers,
    "input-as-string": input_as_string,
    "gbk": as_gbk,
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def failure(body: dict[str, Any]) -> tuple[str, str]:
    """(code, message) of a failed answer; asserts it is one (infcode -1, empty output)."""
    assert body["infcode"] == "-1", body
    assert body["output"] == {}, body
    message = str(body["err_msg"])
    code, _, rest = message.partition("] ")
    return code.lstrip("["), rest


@dataclass
class Person:
    psn_no: str
    certno: str
    name: str


@dataclass
class His:
    client: httpx.AsyncClient
    keys: dict[str, str]
    clock: FrozenClock
    gateway_db: Database
    settlement_db: Database
    sent: list[str] = field(default_factory=list)
    shape: Shape = as_strings

    @classmethod
    async def open(
        cls,
        client: httpx.AsyncClient,
        *,
        ops_key: str,
        clock: FrozenClock,
        gateway_db: Database,
        settlement_db: Database,
    ) -> His:
        keys = {"ops": ops_key}
        for name, role, scope in (
            ("his", "his", HOSPITAL),
            ("his2", "his", OTHER_HOSPITAL),
            ("pos", "pos", PHARMACY),
        ):
            issued = await client.post(
                "/admin/clients", headers=bearer(ops_key), json={"name": name, "role": role, "scope": scope}
            )
            assert issued.status_code == 201, issued.text
            keys[name] = issued.json()["api_key"]
        drug = await client.put(
            "/pricing/drugs/A01",
            headers=bearer(ops_key),
            json={
                "generic_name": "阿莫西林胶囊",
                "dosage_form": "胶囊剂",
                "spec": "0.25g*24粒",
                "listing_price": "15.00",
            },
        )
        assert drug.status_code in (200, 201), drug.text
        return cls(client, keys, clock, gateway_db, settlement_db)

    def envelope(self, infno: str, input_: Any, *, fixmedins_code: str, msgid: str | None) -> dict[str, Any]:
        """The message as RequestBase.cs fills it: strings everywhere, "" for what the HIS leaves empty."""
        return {
            "infno": infno,
            "msgid": msgid or f"{fixmedins_code}{self.clock.now():%Y%m%d%H%M%S}{next(_messages):06d}",
            "insuplc_admdvs": "420100",
            "mdtrtarea_admvs": "420100",
            "recer_admdvs": "420100",
            "dev_no": "",
            "dev_safe_info": "",
            "signtype": "SM3",
            "cainfo": "",
            "infver": "1.0.0",
            "opter_type": "1",
            "opter": "01",
            "opter_name": "张三",
            "inf_time": f"{self.clock.now():%Y-%m-%d %H:%M:%S}",
            "fixmedins_code": fixmedins_code,
            "sign_no": "",
            "recer_sys_code": "YBJ",
            "input": input_,
        }

    async def post(self, message: dict[str, Any], *, key: str = "his") -> dict[str, Any]:
        body, content_type = self.shape(message)
        response = await self.client.post(
            PATH, headers={**bearer(self.keys[key]), "Content-Type": content_type}, content=body
        )
        assert response.status_code == 200, response.text
        self.sent.append(message["msgid"])
        body: dict[str, Any] = response.json()
        return body

    async def call(
        self,
        infno: str,
        input_: Any,
        *,
        key: str = "his",
        fixmedins_code: str = HOSPITAL,
        msgid: str | None = None,
    ) -> dict[str, Any]:
        """One national message; the answer is HTTP 200 whatever infcode says."""
        return await self.post(
            self.envelope(infno, input_, fixmedins_code=fixmedins_code, msgid=msgid), key=key
        )

    async def ok(self, infno: str, input_: Any, **kwargs: Any) -> dict[str, Any]:
        body = await self.call(infno, input_, **kwargs)
        assert (body["infcode"], body["err_msg"]) == ("0", None), body
        output: dict[str, Any] = body["output"]
        return output

    async def refused(self, infno: str, input_: Any, **kwargs: Any) -> tuple[str, str]:
        """(code, message) of a refusal, after proving it wrote nothing anywhere."""
        before = await self.rows()
        body = await self.call(infno, input_, **kwargs)
        assert await self.rows() == before, f"{infno} refused but wrote: {body}"
        return failure(body)

    async def rows(self) -> dict[str, int]:
        """Rows of every table of settlement and the gateway (nothing may change on a refusal)."""
        counts: dict[str, int] = {}
        for prefix, db, metadata in (
            ("settlement", self.settlement_db, SettlementBase.metadata),
            ("gateway", self.gateway_db, GatewayBase.metadata),
        ):
            async with db.transaction(readonly=True) as session:
                for table in metadata.sorted_tables:
                    counts[f"{prefix}.{table.name}"] = int(
                        await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0
                    )
        return counts

    async def enrolled(self, *, name: str = "王五", male: bool = True) -> Person:
        """An employee (310) enrolled through the REST API with 800 contributed (160 to the account), once
        settlement has learned of them from the events (the contribution follows the coverage on the stream)."""
        ops = bearer(self.keys["ops"])
        certno = certno_for(next(_people), male=male)
        person = await self.client.post(
            "/enrollment/persons", headers=ops, json={"certno": certno, "psn_name": name, "admdvs": "420100"}
        )
        assert person.status_code == 201, person.text
        psn_no: str = person.json()["psn_no"]
        made = await self.client.post(
            f"/enrollment/persons/{psn_no}/coverages",
            headers=ops,
            json={"insutype": "310", "begndate": "2025-01-01", "psn_type": "employed", "emp_code": "E1"},
        )
        assert made.status_code == 201, made.text
        paid = await self.client.post(
            f"/enrollment/persons/{psn_no}/contributions",
            headers=ops,
            json={
                "insutype": "310",
                "period": "2026-01",
                "amount": "800.00",
                "paid_at": "2026-01-15T10:00:00+08:00",
            },
        )
        assert paid.status_code == 201, paid.text

        async def known() -> bool:
            account = await self.client.get(f"/settlement/accounts/{psn_no}", headers=ops)
            return account.status_code == 200 and account.json()["balc"] == "160.00"

        await wait_for(known, timeout=15, what="settlement to learn of the person")
        return Person(psn_no, certno, name)
