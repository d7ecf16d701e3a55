"""The fund ledger's journals: balanced legs in integer fen (positive debits, negative credits).

Accounts:
- `fund:<fund_pay_type>` — a fund (310100 职工统筹, 390100 居民统筹, 330200, 390200, 610100): debited by what it
  pays, credited by contributions, so its balance is expenditure minus income (negative while in surplus).
- `psn_acct:<psn_no>` — a personal account (个人账户): a liability to the person, credit-normal, so the balance
  is minus the ledger balance.
- `inst_payable:<fixmedins_code>` — what the bureau owes the institution (fund and account parts).
- `inst_cash:<fixmedins_code>` / `patient_cash:<fixmedins_code>` — the cash the patient paid at the counter
  (a memo pair, so that medfee = payable + cash is derivable from the journal).
- `bank:fund` — the fund's bank account (contributions in, disbursements out).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from settlement.domain.split import (
    FUND_EMPLOYEE_LARGE,
    FUND_EMPLOYEE_POOL,
    FUND_RESIDENT_CRITICAL,
    FUND_RESIDENT_POOL,
    SettlementSplit,
)

# The fund a contribution of each insutype feeds (what its settlements draw on), so KPIs by insutype add up.
CONTRIBUTION_FUND = {
    "310": FUND_EMPLOYEE_POOL,
    "330": FUND_EMPLOYEE_LARGE,
    "390": FUND_RESIDENT_POOL,
    "392": FUND_RESIDENT_CRITICAL,
}


@dataclass(frozen=True, slots=True)
class Leg:
    account: str
    amount_fen: int


class UnbalancedJournal(AssertionError):
    """Legs that do not sum to zero: a bug, never stored."""


def fund_account(fund_pay_type: str) -> str:
    return f"fund:{fund_pay_type}"


def personal_account(psn_no: str) -> str:
    return f"psn_acct:{psn_no}"


def payable_account(fixmedins_code: str) -> str:
    return f"inst_payable:{fixmedins_code}"


BANK = "bank:fund"


def balanced(legs: Iterable[Leg]) -> list[Leg]:
    """The non-zero legs, checked to sum to zero."""
    kept = [leg for leg in legs if leg.amount_fen != 0]
    if sum(leg.amount_fen for leg in kept) != 0:
        raise UnbalancedJournal(f"legs sum to {sum(leg.amount_fen for leg in kept)}: {kept}")
    return kept


def settlement_legs(
    split: SettlementSplit, *, psn_no: str, fixmedins_code: str, family_holder: str | None
) -> list[Leg]:
    """A settlement: the funds and accounts pay, the institution is owed, the patient paid the cash."""
    legs = [Leg(fund_account(f.fund_pay_type), f.amount_fen) for f in split.funds]
    legs.append(Leg(personal_account(psn_no), split.acct_pay_fen))
    if family_holder is not None:
        legs.append(Leg(personal_account(family_holder), split.acct_mulaid_pay_fen))
    legs.append(
        Leg(
            payable_account(fixmedins_code),
            -(split.fund_pay_fen + split.acct_pay_fen + split.acct_mulaid_pay_fen),
        )
    )
    legs.append(Leg(f"patient_cash:{fixmedins_code}", split.psn_cash_pay_fen))
    legs.append(Leg(f"inst_cash:{fixmedins_code}", -split.psn_cash_pay_fen))
    return balanced(legs)


def reversal_legs(original: Iterable[Leg]) -> list[Leg]:
    """A reversal: the original journal's legs, opposite."""
    return balanced(Leg(leg.account, -leg.amount_fen) for leg in original)


def contribution_legs(*, psn_no: str, insutype: str, amount_fen: int, acct_amount_fen: int) -> list[Leg]:
    """A contribution: money in the bank, the pool's part credited to the fund, the rest to the account."""
    pool = CONTRIBUTION_FUND.get(insutype, f"{insutype}100")
    return balanced(
        [
            Leg(BANK, amount_fen),
            Leg(fund_account(pool), -(amount_fen - acct_amount_fen)),
            Leg(personal_account(psn_no), -acct_amount_fen),
        ]
    )
