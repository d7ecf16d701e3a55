"""The national envelope (入参/出参 公共报文), its failures, and national dates and times both ways."""

from __future__ import annotations

import json
import re
import secrets
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from common.clock import SHANGHAI

SUCCESS, FAILURE = "0", "-1"
NATIONAL_DATETIME = "%Y-%m-%d %H:%M:%S"
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
# Declared charsets we honour. GB2312 and GBK are subsets of GB18030, and an HIS that says "gb2312" often
# sends GBK (a rare character in a name), so all three are read as GB18030.
_CHARSETS = {
    "utf-8": "utf-8-sig",
    "utf8": "utf-8-sig",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
    "cp936": "gb18030",
}


class NationalError(Exception):
    """A failure answered as infcode -1 with err_msg "[CODE] message"."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def err_msg(self) -> str:
        return f"[{self.code}] {self.message}"


class Envelope(BaseModel):
    """入参 the common message every national transaction comes in (fields we do not use are accepted)."""

    model_config = ConfigDict(extra="ignore")

    infno: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{4}[A-Z]?$")] = Field(
        description="交易编号 transaction number (four digits, a letter after some: 4101A)"
    )
    msgid: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_.:-]+$"),
    ] = Field(description="发送方报文ID the sender's unique message id (idempotency key)")
    mdtrtarea_admvs: Short | None = Field(default=None, description="就医地医保区划")
    insuplc_admdvs: Short | None = Field(default=None, description="参保地医保区划")
    recer_sys_code: Short | None = Field(default=None, description="接收方系统代码")
    dev_no: Short | None = Field(default=None, description="设备编号")
    dev_safe_info: Short | None = Field(default=None, description="设备安全信息")
    cainfo: str | None = Field(default=None, description="数字签名信息")
    signtype: Short | None = Field(default=None, description="签名类型")
    infver: Short | None = Field(default=None, description="接口版本号")
    opter_type: Short | None = Field(default=None, description="经办人类别")
    opter: Short | None = Field(default=None, description="经办人")
    opter_name: Short | None = Field(default=None, description="经办人姓名")
    inf_time: Short | None = Field(default=None, description="交易时间 yyyy-MM-dd HH:mm:ss")
    fixmedins_code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30, pattern=r"^[0-9A-Za-z]+$")
    ] = Field(description="定点医药机构编号")
    fixmedins_name: Short | None = Field(default=None, description="定点医药机构名称")
    sign_no: Short | None = Field(default=None, description="交易签到流水号 (from 9001)")
    input: dict[str, Any] = Field(
        default_factory=dict,
        description="交易输入 the transaction's nodes: an object, or a JSON string holding one",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _as_his_clients_send_it(cls, value: Any, info: ValidationInfo) -> Any:
        # HIS clients type some envelope fields as numbers (an `int opter_type`, an admvs or infno kept as a
        # number) and send `input` serialised into a string: each is read as the text or object it stands for.
        if info.field_name == "input":
            return _input_object(value)
        return _text(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    return type(value).__name__


def _text(value: Any) -> Any:
    """A string as is; a JSON number as its decimal text; anything else a validation error."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):  # a bool is an int to Python, not to JSON
        return str(value)
    if isinstance(value, float):  # only NaN and Infinity come as floats: the body is read with Decimal
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        if value.is_finite():
            return format(value, "f")
        raise PydanticCustomError(
            "national_text", "expected a string or a finite number, got {value}", {"value": str(value)}
        )
    raise PydanticCustomError(
        "national_text", "expected a string or a number, got {kind}", {"kind": _kind(value)}
    )


def _input_object(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value, parse_float=Decimal)
        except ValueError as exc:
            raise PydanticCustomError(
                "national_input", "a string input must hold a JSON object, and this one is not valid JSON"
            ) from exc
        if not isinstance(value, dict):
            raise PydanticCustomError(
                "national_input", "a string input must hold a JSON object, not {kind}", {"kind": _kind(value)}
            )
        return value
    if isinstance(value, dict):
        return value
    raise PydanticCustomError(
        "national_input",
        "expected an object or a JSON string holding one, got {kind}",
        {"kind": _kind(value)},
    )


def decode_body(body: bytes, content_type: str | None) -> str:
    """The body as text: in its declared charset, else UTF-8 (with or without a BOM), else GB18030."""
    declared = _charset(content_type)
    if declared in _CHARSETS:
        try:
            return body.decode(_CHARSETS[declared])
        except UnicodeDecodeError as exc:
            raise NationalError(
                "MALFORMED_ENVELOPE", f"The body is not valid {declared} text, as its Content-Type declares."
            ) from exc
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise NationalError(
        "MALFORMED_ENVELOPE", "The body is not valid JSON / unknown encoding (send UTF-8, GBK or GB18030)."
    )


def _charset(content_type: str | None) -> str | None:
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower() or None
    return None


def ref_msgid(admdvs: str | None, now: datetime) -> str:
    """接收方报文ID: region, time and a random tail, unique enough to quote in a support call."""
    region = admdvs if admdvs and admdvs.isdigit() and len(admdvs) == 6 else "000000"
    return f"{region}{now.astimezone(SHANGHAI):%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"


def msg_time(moment: datetime) -> str:
    """refmsg_time / respond_time as the national platform writes them: yyyyMMddHHmmssSSS, Beijing time."""
    local = moment.astimezone(SHANGHAI)
    return f"{local:%Y%m%d%H%M%S}{local.microsecond // 1000:03d}"


def answer(
    *,
    infcode: str,
    refmsgid: str,
    received: datetime,
    responded: datetime,
    output: dict[str, Any] | None = None,
    err_msg: str | None = None,
) -> dict[str, Any]:
    return {
        "infcode": infcode,
        "inf_refmsgid": refmsgid,
        "refmsg_time": msg_time(received),
        "respond_time": msg_time(responded),
        "err_msg": err_msg,
        "output": output or {},
    }


def to_iso(value: str, *, field: str) -> str:
    """A national "yyyy-MM-dd HH:mm:ss" (Beijing time) as ISO 8601 with offset; ISO with offset passes."""
    value = value.strip()
    if _DATETIME.fullmatch(value):
        try:
            parsed = datetime.strptime(value, NATIONAL_DATETIME).replace(tzinfo=SHANGHAI)
        except ValueError as exc:
            raise NationalError("INVALID_INPUT", f"{field}: not a valid time: {value!r}") from exc
        return parsed.isoformat()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise NationalError("INVALID_INPUT", f"{field}: expected yyyy-MM-dd HH:mm:ss, got {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=SHANGHAI)
    return parsed.isoformat()


def to_national(value: str | None) -> str | None:
    """An ISO 8601 time from a service as "yyyy-MM-dd HH:mm:ss" in Beijing time."""
    if value is None:
        return None
    return datetime.fromisoformat(value).astimezone(SHANGHAI).strftime(NATIONAL_DATETIME)


def to_date(value: str, *, field: str) -> str:
    """A national date ("yyyy-MM-dd", or a time whose day is meant) as yyyy-MM-dd."""
    match = _DATE.match(value.strip())
    if not match:
        raise NationalError("INVALID_INPUT", f"{field}: expected yyyy-MM-dd, got {value!r}")
    try:
        return date.fromisoformat(match[0]).isoformat()
    except ValueError as exc:
        raise NationalError("INVALID_INPUT", f"{field}: not a valid date: {value!r}") from exc
