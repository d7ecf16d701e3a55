"""The ledger check's arithmetic: every stored balance and total against what the journal derives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from common.money import fen_to_str

YearKey = tuple[str, str, int]


def totals_key(account: str) -> str:
    """Funds and the bank are reported each; per-person and per-institution accounts by kind."""
    kind = account.split(":", 1)[0]
    return account if kind in ("fund", "bank") else kind


def totals(by_account: Mapping[str, int]) -> dict[str, int]:
    """The ledger's balances summed by `totals_key`, in key order."""
    summed: dict[str, int] = {}
    for account, total in by_account.items():
        key = totals_key(account)
        summed[key] = summed.get(key, 0) + total
    return dict(sorted(summed.items()))


def account_differences(
    stored: Mapping[str, int], by_account: Mapping[str, int], *, limit: int
) -> list[dict[str, str]]:
    """Personal accounts whose stored balance is not minus their ledger balance (a liability to the person)."""
    from_journal = {
        account.removeprefix("psn_acct:"): -total
        for account, total in by_account.items()
        if account.startswith("psn_acct:")
    }
    return [
        {
            "psn_no": psn_no,
            "stored": fen_to_str(stored.get(psn_no, 0)),
            "journal": fen_to_str(from_journal.get(psn_no, 0)),
        }
        for psn_no in sorted(set(stored) | set(from_journal))
        if stored.get(psn_no, 0) != from_journal.get(psn_no, 0)
    ][:limit]


def accumulator_differences(
    kept: Mapping[YearKey, tuple[int, ...]],
    recomputed: Mapping[YearKey, tuple[int, ...]],
    *,
    fields: Sequence[str],
    limit: int,
) -> list[dict[str, Any]]:
    """Each person's yearly totals against the sum of their settlements that stand."""
    zero = (0,) * len(fields)
    differences: list[dict[str, Any]] = []
    for key in sorted(set(recomputed) | set(kept)):
        if recomputed.get(key, zero) != kept.get(key, zero):
            differences.append(
                {
                    "psn_no": key[0],
                    "insutype": key[1],
                    "year": key[2],
                    "stored": dict(zip(fields, kept.get(key, zero), strict=True)),
                    "from_settlements": dict(zip(fields, recomputed.get(key, zero), strict=True)),
                }
            )
            if len(differences) >= limit:
                break
    return differences


def reserve_differences(
    kept: Mapping[str, int], by_account: Mapping[str, int], *, limit: int
) -> list[dict[str, str]]:
    """质量保证金 held per institution (withheld by confirmed months, less what confirmed clearings gave back)
    against its `inst_reserve:` account, a liability (credit-normal)."""
    from_journal = {
        account.removeprefix("inst_reserve:"): -total
        for account, total in by_account.items()
        if account.startswith("inst_reserve:")
    }
    return [
        {
            "fixmedins_code": code,
            "stored": fen_to_str(kept.get(code, 0)),
            "journal": fen_to_str(from_journal.get(code, 0)),
        }
        for code in sorted(set(kept) | set(from_journal))
        if kept.get(code, 0) != from_journal.get(code, 0)
    ][:limit]
