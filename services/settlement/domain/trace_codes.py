"""依码结算: where the policy requires it for the institution's type, a drug line the catalogue flags as
needing a traceability code must carry one."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from settlement.domain.claims import Refusal
from settlement.domain.split import CatalogEntry

FIXMEDINS_TYPES = ("hospital", "pharmacy")


class CodedLine(Protocol):
    @property
    def feedetl_sn(self) -> str: ...

    @property
    def med_list_codg(self) -> str: ...

    @property
    def drug_trac_codg(self) -> Sequence[str]: ...


def trace_code_refusal(
    lines: Sequence[CodedLine],
    catalog: Mapping[str, CatalogEntry],
    *,
    fixmedins_type: str,
    required_for: Collection[str],
) -> Refusal | None:
    """422 TRACE_CODE_REQUIRED naming the first line (in the order sent) whose item needs a code and that
    carries none, when the policy requires codes of the institution's type; else None."""
    if fixmedins_type not in required_for:
        return None
    missing = [
        line
        for line in lines
        if not line.drug_trac_codg
        and (entry := catalog.get(line.med_list_codg)) is not None
        and entry.trac_codg_required
    ]
    if not missing:
        return None
    first = missing[0]
    more = len(missing) - 1
    others = f" ({more} more line{'s' if more > 1 else ''} likewise)" if more else ""
    return Refusal(
        f"依码结算: line {first.feedetl_sn} ({first.med_list_codg}) carries no traceability code "
        f"(drug_trac_codg), which the policy requires of a {fixmedins_type}'s drug lines{others}.",
        code="TRACE_CODE_REQUIRED",
        extra={
            "feedetl_sn": first.feedetl_sn,
            "med_list_codg": first.med_list_codg,
            "lines": [line.feedetl_sn for line in missing],
        },
    )
