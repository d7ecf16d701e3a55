"""Parameter schemas of the rule families, and their validation (a bad parameter is refused, never guessed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

ParamValue = int | Decimal


class InvalidParams(ValueError):
    """Parameters that do not fit the family's schema; `problems` says what is wrong with each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of a family: its type, bounds and default."""

    name: str
    kind: Literal["integer", "decimal"]
    default: ParamValue
    minimum: ParamValue
    maximum: ParamValue
    description: str

    def parse(self, raw: object) -> ParamValue:
        if isinstance(raw, bool):
            raise ValueError(f"{self.name} must be a number")
        if self.kind == "integer":
            if isinstance(raw, int):
                value: ParamValue = raw
            elif isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
                value = int(raw.strip())
            else:
                raise ValueError(f"{self.name} must be a whole number")
        else:
            if not isinstance(raw, int | str | float | Decimal):
                raise ValueError(f"{self.name} must be a decimal number")
            try:
                value = Decimal(repr(raw) if isinstance(raw, float) else str(raw).strip())
            except InvalidOperation as exc:
                raise ValueError(f"{self.name} must be a decimal number") from exc
            if not value.is_finite():
                raise ValueError(f"{self.name} must be a finite number")
            exponent = value.as_tuple().exponent
            if isinstance(exponent, int) and exponent < -4:
                raise ValueError(f"{self.name} has more than 4 decimal places")
        if value < self.minimum or value > self.maximum:
            raise ValueError(f"{self.name} must be between {self.minimum} and {self.maximum}, got {value}")
        return value


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


def params_to_json(values: Mapping[str, ParamValue]) -> dict[str, int | str]:
    """Parameters as stored and shown: integers as numbers, decimals as exact strings."""
    return {name: value if isinstance(value, int) else format(value, "f") for name, value in values.items()}
