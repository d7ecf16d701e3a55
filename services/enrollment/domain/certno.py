"""The resident identity number (GB 11643-1999): checksum, birth date and gender."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")
EARLIEST_BIRTH = date(1900, 1, 1)

MALE = "1"  # national dictionary `gend`: 1 男, 2 女
FEMALE = "2"


class CertnoError(ValueError):
    """A certno that is not a valid resident identity number; the message says why."""


@dataclass(frozen=True, slots=True)
class Certno:
    value: str
    birth_date: date
    gend: str
    admdvs: str  # the region where it was issued (first 6 digits)


def check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    return _CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def parse_certno(raw: str, *, today: date) -> Certno:
    """Validate an 18-character certno and derive its birth date and gender."""
    value = raw.strip().upper()
    if not _SHAPE.match(value):
        raise CertnoError("certno must be 18 characters: 17 digits and a digit or X")
    if check_char(value[:17]) != value[17]:
        raise CertnoError("certno checksum (GB 11643) does not match")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise CertnoError("certno carries an impossible birth date") from exc
    if not EARLIEST_BIRTH <= birth <= today:
        raise CertnoError("certno carries a birth date out of range")
    return Certno(
        value=value, birth_date=birth, gend=MALE if int(value[16]) % 2 else FEMALE, admdvs=value[:6]
    )


def mask_certno(certno: str) -> str:
    """420102********1234: region and last four kept."""
    return certno[:6] + "*" * (len(certno) - 10) + certno[-4:] if len(certno) > 10 else "*" * len(certno)


def mask_tel(tel: str | None) -> str | None:
    """138****5678."""
    if not tel:
        return tel
    return tel[:3] + "*" * max(0, len(tel) - 7) + tel[-4:] if len(tel) > 7 else "*" * len(tel)
