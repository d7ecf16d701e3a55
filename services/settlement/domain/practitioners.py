"""Lines of suspended practitioners (医保支付资格暂停/终止): the fund pays nothing they order or dispense.

A line is refused when its 开单医生 (bilg_dr_codg) or its 药师 (phar_prac_codg) is suspended on the line's fee
date (Asia/Shanghai): suspended_from ≤ date ≤ suspended_until, and before the day the period was lifted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from common.clock import business_date
from settlement.domain.claims import Refusal

ROLES = (("bilg_dr_codg", "开单医生"), ("phar_prac_codg", "药师"))


class PractitionerLine(Protocol):
    feedetl_sn: str
    fee_ocur_time: datetime
    bilg_dr_codg: str | None
    phar_prac_codg: str | None


@dataclass(frozen=True, slots=True)
class Suspension:
    prac_codg: str
    level: str  # suspended | terminated
    suspended_from: date
    suspended_until: date
    lifted_on: date | None = None

    def covers(self, day: date) -> bool:
        return self.suspended_from <= day <= self.suspended_until and (
            self.lifted_on is None or day < self.lifted_on
        )


def practitioner_codes(lines: Sequence[PractitionerLine]) -> set[str]:
    """Every practitioner code the lines carry."""
    return {code for line in lines for field, _ in ROLES if (code := getattr(line, field)) is not None}


def fee_dates(lines: Sequence[PractitionerLine]) -> tuple[date, date]:
    """The first and last fee date of the lines."""
    days = [business_date(line.fee_ocur_time) for line in lines]
    return min(days), max(days)


def suspended_line_refusal(
    lines: Sequence[PractitionerLine], suspensions: Sequence[Suspension]
) -> Refusal | None:
    """422 PRACTITIONER_SUSPENDED for the first line ordered or dispensed by a suspended practitioner."""
    if not suspensions:
        return None
    by_code: dict[str, list[Suspension]] = {}
    for suspension in suspensions:
        by_code.setdefault(suspension.prac_codg, []).append(suspension)
    for line in lines:
        day = business_date(line.fee_ocur_time)
        for field, role in ROLES:
            code = getattr(line, field)
            for suspension in by_code.get(code, []) if code else []:
                if suspension.covers(day):
                    kind = "terminated (终止)" if suspension.level == "terminated" else "suspended (暂停)"
                    return Refusal(
                        f"Line {line.feedetl_sn}: the {role} {code}'s payment qualification is {kind} from "
                        f"{suspension.suspended_from} to {suspension.suspended_until}; the fund does not pay "
                        f"for care they order or dispense on {day}.",
                        code="PRACTITIONER_SUSPENDED",
                        extra={
                            "feedetl_sn": line.feedetl_sn,
                            "prac_codg": code,
                            "role": field,
                            "level": suspension.level,
                            "suspended_from": suspension.suspended_from.isoformat(),
                            "suspended_until": suspension.suspended_until.isoformat(),
                        },
                    )
    return None
