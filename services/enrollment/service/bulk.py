"""What a bulk load did with each of its items: created, found (a retry) or refused, by index."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Rejected:
    """An item that was refused, with the code and detail one call would give."""

    index: int
    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class Created:
    """An item created (or found, for a retry): its person and the id of the row."""

    index: int
    psn_no: str
    id: int


@dataclass
class BulkItems:
    """The items of a bulk load that were created, found as they were, and refused."""

    created: list[Created] = field(default_factory=list)
    existing: list[Created] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
