"""The rules of a price observation, without a database: what each sale line is, and what it is worth.

A line of an upload is one of: a replay of a line stored before (same sale_id, same content), a conflict
(same sale_id, other content), a repeat of an earlier line of the same upload, a line refused (unknown drug,
sold in the future), or a fresh sale to record. A fresh sale gets its light against the reference price.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from json.encoder import encode_basestring_ascii as _json_string

from pricing.domain.light import Thresholds, Verdict, light_of
from pricing.domain.money import price_to_micro

# A POS clock a little ahead of ours is a clock, not a sale from the future.
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class SaleLine:
    """One sold line as a POS or a pharmacy settlement reports it."""

    sale_id: str
    med_list_codg: str
    price: Decimal
    cnt: Decimal
    sel_time: datetime
    drug_trac_codg: Sequence[str] = ()

    def fingerprint(self) -> str:
        """What a retry must repeat exactly: the same sale_id with anything else different is a conflict."""
        return fingerprint_of(
            self.med_list_codg,
            price_to_micro(self.price),
            format(self.cnt.normalize(), "f"),
            self.sel_time.astimezone(UTC).isoformat(),
            self.drug_trac_codg,
        )


def fingerprint_of(
    med_list_codg: str, price_micro: int, cnt_text: str, utc_time: str, drug_trac_codg: Sequence[str]
) -> str:
    """SHA-256 of the canonical JSON `[med_list_codg, price_micro, cnt, sel_time in UTC, [trace codes]]`.

    The very text `json.dumps([...], separators=(",", ":"))` writes (each string by the same ASCII escaper
    json uses), assembled without walking a list through the encoder: stored fingerprints stay valid.
    """
    codes = ",".join([_json_string(code) for code in drug_trac_codg])
    canonical = (
        f"[{_json_string(med_list_codg)},{price_micro},{_json_string(cnt_text)},"
        f"{_json_string(utc_time)},[{codes}]]"
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class Kind(StrEnum):
    REPLAY = "replay"  # stored before with the same content: answered as it was
    REPEAT = "repeat"  # the same as an earlier line of this upload: answered like it once it is recorded
    REJECTED = "rejected"
    FRESH = "fresh"  # to record


@dataclass(frozen=True, slots=True)
class LineKind:
    """What one line of an upload is; `first` is the position of the line a repeat repeats."""

    kind: Kind
    reason: str | None = None
    message: str | None = None
    first: int | None = None


@dataclass(frozen=True, slots=True)
class FreshLine:
    """A sale to record: its position in the upload, the line, and its fingerprint."""

    position: int
    line: SaleLine
    fingerprint: str


@dataclass
class Classified:
    """Each line's kind (in upload order) and the fresh sales to record."""

    kinds: list[LineKind] = field(default_factory=list)
    fresh: list[FreshLine] = field(default_factory=list)


def _rejected(reason: str, message: str) -> LineKind:
    return LineKind(Kind.REJECTED, reason=reason, message=message)


def classify(
    lines: Sequence[SaleLine],
    *,
    stored: Mapping[str, str],
    known_drugs: Collection[str],
    now: datetime,
    fingerprints: Sequence[str] | None = None,
) -> Classified:
    """Sort an upload's lines: `stored` maps a sale_id recorded before to its fingerprint.

    `fingerprints` are the lines' own, when the caller computed them already (before taking its locks).
    """
    found = Classified()
    first_seen: dict[str, tuple[str, int]] = {}  # sale_id -> (fingerprint, position)
    for position, line in enumerate(lines):
        fingerprint = fingerprints[position] if fingerprints is not None else line.fingerprint()
        previous = stored.get(line.sale_id)
        if previous is not None:
            if previous == fingerprint:
                found.kinds.append(LineKind(Kind.REPLAY))
            else:
                found.kinds.append(
                    _rejected(
                        "SALE_ID_CONFLICT",
                        "This sale_id was recorded with different content; a new sale needs a new sale_id.",
                    )
                )
            continue
        if line.sale_id in first_seen:
            first_fingerprint, first_position = first_seen[line.sale_id]
            if first_fingerprint == fingerprint:
                found.kinds.append(LineKind(Kind.REPEAT, first=first_position))
            else:
                found.kinds.append(
                    _rejected(
                        "SALE_ID_CONFLICT",
                        f"This sale_id is also on line {first_position + 1} with different content.",
                    )
                )
            continue
        if line.med_list_codg not in known_drugs:
            found.kinds.append(
                _rejected("DRUG_NOT_FOUND", f"No drug {line.med_list_codg} in the reference data.")
            )
            continue
        if line.sel_time > now + FUTURE_TOLERANCE:
            found.kinds.append(_rejected("SEL_TIME_IN_FUTURE", "sel_time lies in the future."))
            continue
        first_seen[line.sale_id] = (fingerprint, position)
        found.kinds.append(LineKind(Kind.FRESH))
        found.fresh.append(FreshLine(position, line, fingerprint))
    return found


def newest_prices(fresh: Sequence[FreshLine]) -> dict[str, tuple[int, datetime]]:
    """Each drug's price (millionths) and sel_time in the newest of the fresh sales."""
    latest: dict[str, tuple[int, datetime]] = {}
    for item in sorted(fresh, key=lambda item: item.line.sel_time):
        latest[item.line.med_list_codg] = (price_to_micro(item.line.price), item.line.sel_time)
    return latest


@dataclass(frozen=True, slots=True)
class Observed:
    """A fresh sale's price, the reference it is measured against, and its light."""

    price_micro: int
    reference_micro: int
    verdict: Verdict


def observe(
    line: SaleLine, *, reference_micro: int | None, procurement_micro: int | None, thresholds: Thresholds
) -> Observed:
    """A sale's light; only a sale older than the window finds no reference: it is measured against itself."""
    price = price_to_micro(line.price)
    reference = reference_micro if reference_micro is not None else price
    return Observed(price, reference, light_of(price, reference, procurement_micro, thresholds))
