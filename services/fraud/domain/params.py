"""Parameter schemas of the rule families, and their validation (a bad parameter is refused, never guessed)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

CodeList = tuple[str, ...]
"""A list of catalogue-code or diagnosis prefixes (e.g. 1109 床位费, J06 上呼吸道感染), or of names."""
YuanByKey = Mapping[str, Decimal]
"""Yuan amounts by a key from a fixed set (e.g. a threshold per assistance category)."""
ParamValue = int | Decimal | CodeList | YuanByKey
Kind = Literal["integer", "decimal", "codes", "yuan_map"]

_CODE = re.compile(r"^[0-9A-Za-z.]{1,30}$")


class InvalidParams(ValueError):
    """Parameters that do not fit the family's schema; `problems` says what is wrong with each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _decimal(name: str, raw: object) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | str | float | Decimal):
        raise ValueError(f"{name} must be a decimal number")
    try:
        value = Decimal(repr(raw) if isinstance(raw, float) else str(raw).strip())
    except InvalidOperation as exc:
        raise ValueError(f"{name} must be a decimal number") from exc
    if not value.is_finite():
        raise ValueError(f"{name} must be a finite number")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        raise ValueError(f"{name} has more than 4 decimal places")
    return value


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of a family: its type, bounds and default.

    `integer` and `decimal` are bounded by minimum and maximum. `codes` is a list of distinct codes (letters,
    digits and dots, at most 30 characters each; upper-cased), minimum and maximum bounding how many.
    `yuan_map` maps keys from `keys` to decimal yuan, each bounded by minimum and maximum.
    """

    name: str
    kind: Kind
    default: ParamValue
    minimum: int | Decimal
    maximum: int | Decimal
    description: str
    keys: tuple[str, ...] = ()

    def parse(self, raw: object) -> ParamValue:
        if self.kind == "codes":
            return self._codes(raw)
        if self.kind == "yuan_map":
            return self._yuan_map(raw)
        if isinstance(raw, bool):
            raise ValueError(f"{self.name} must be a number")
        if self.kind == "integer":
            if isinstance(raw, int):
                value: int | Decimal = raw
            elif isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
                value = int(raw.strip())
            else:
                raise ValueError(f"{self.name} must be a whole number")
        else:
            value = _decimal(self.name, raw)
        if value < self.minimum or value > self.maximum:
            raise ValueError(f"{self.name} must be between {self.minimum} and {self.maximum}, got {value}")
        return value

    def _codes(self, raw: object) -> CodeList:
        if isinstance(raw, str) or not isinstance(raw, list | tuple):
            raise ValueError(f"{self.name} must be a list of codes")
        codes: list[str] = []
        for item in raw:
            if not isinstance(item, str) or not _CODE.match(item.strip()):
                raise ValueError(
                    f"{self.name}: {item!r} is not a code (letters, digits and dots, 1 to 30 characters)"
                )
            code = item.strip().upper()
            if code in codes:
                raise ValueError(f"{self.name}: {code} is listed twice")
            codes.append(code)
        if not self.minimum <= len(codes) <= self.maximum:
            raise ValueError(
                f"{self.name} must list between {self.minimum} and {self.maximum} codes, got {len(codes)}"
            )
        return tuple(codes)

    def _yuan_map(self, raw: object) -> YuanByKey:
        if not isinstance(raw, Mapping):
            raise ValueError(f"{self.name} must be an object of amounts by {', '.join(self.keys)}")
        values: dict[str, Decimal] = {}
        for key, amount in raw.items():
            if key not in self.keys:
                raise ValueError(f"{self.name}: unknown key {key!r} (one of {', '.join(self.keys)})")
            value = _decimal(f"{self.name}.{key}", amount)
            if value < self.minimum or value > self.maximum:
                raise ValueError(
                    f"{self.name}.{key} must be between {self.minimum} and {self.maximum}, got {value}"
                )
            values[key] = value
        return {key: values[key] for key in self.keys if key in values}


def validate_params(
    specs: tuple[ParamSpec, ...], raw: Mapping[str, object], *, base: Mapping[str, ParamValue] | None = None
) -> dict[str, ParamValue]:
    """The full parameter set: `raw` over `base` (or the defaults); unknown or bad values raise InvalidParams."""
    known = {spec.name: spec for spec in specs}
    problems = [f"unknown parameter {name!r}" for name in raw if name not in known]
    values: dict[str, ParamValue] = {spec.name: spec.default for spec in specs}
    if base:
        values.update({name: value for name, value in base.items() if name in known})
    for name, value in raw.items():
        spec = known.get(name)
        if spec is None:
            continue
        try:
            values[name] = spec.parse(value)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise InvalidParams(problems)
    return values


JsonParam = int | str | list[str] | dict[str, str]


def param_to_json(value: ParamValue) -> JsonParam:
    """One parameter as stored and shown: integers as numbers, decimals as exact strings, codes as a list."""
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, tuple):
        return list(value)
    return {key: format(amount, "f") for key, amount in value.items()}


def params_to_json(values: Mapping[str, ParamValue]) -> dict[str, JsonParam]:
    """Parameters as stored and shown: integers as numbers, decimals as exact strings, codes as lists."""
    return {name: param_to_json(value) for name, value in values.items()}
