"""The national envelope (入参/出参 公共报文), its failures, and national dates and times both ways."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.clock import SHANGHAI

SUCCESS, FAILURE = "0", "-1"
NATIONAL_DATETIME = "%Y-%m-%d %H:%M:%S"
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")

Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]


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

    infno: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{4}$")] = Field(
        description="交易编号 transaction number"
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
    input: dict[str, Any] = Field(default_factory=dict, description="交易输入 the transaction's nodes")


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
