"""Fund KPIs (基金运行): one fund's month, the money read from the ledger, counts and the ratio from settlements.

Every money figure comes from the journal legs on the fund's account (`fund:<fund_pay_type>`, debit-normal
for expenditure), by the journal's business date:
- income: contributions credited to the fund in the month (journals of kind "contribution", negated);
- expenditure: the fund pay of the month's settlement journals less that of its reversal journals — a
  reversal lands in the month it was made, whatever the month of the settlement it cancels;
- accumulated balance: minus the sum of every leg on the account through the month's last day (any kind of
  journal, so later kinds that move the fund — deductions, transfers — count there without being income or
  expenditure);
- months payable: the accumulated balance ÷ the average monthly expenditure over the 12 months ending with
  this one, where only months in which the ledger has any journal at all count (a young ledger is not
  averaged over months before it existed; a month the system ran with no pay from this fund counts as 0).
Counts and the inpatient ratio come from the settlement table (see FundKpisOut).
"""

from __future__ import annotations

from common.money import fen_to_yuan
from common.national import Benefit, med_types_of
from settlement.domain.fund_kpis import WINDOW_MONTHS, Month, fund_flows, months_payable, ratio
from settlement.domain.ledger import CONTRIBUTION_FUND, fund_account
from settlement.schemas.reports import FundInsutype, FundKpisOut
from settlement.service.claims import SETTLED
from settlement.uow import SettlementUnitOfWork

# The in-policy ratio is an inpatient figure: the med_types the default table pays as admissions.
INPATIENT_MED_TYPES = med_types_of(Benefit.INPATIENT)
# The settlement's insutype (the basic scheme a claim is settled under) for each fund.
BASIC_INSUTYPE = {"310": "310", "330": "310", "390": "390", "392": "390"}
# The settlement amount that is this fund's pay.
FUND_PAY_COLUMN = {
    "310": "hifp_pay_fen",
    "330": "hifob_pay_fen",
    "390": "hifp_pay_fen",
    "392": "hifmi_pay_fen",
}


async def fund_kpis(*, uow: SettlementUnitOfWork, insutype: FundInsutype, month: str) -> FundKpisOut:
    """基金运行 of one fund (310, 330, 390, 392) in one month (YYYY-MM)."""
    wanted = Month.parse(month)
    fund_pay_type = CONTRIBUTION_FUND[insutype.value]
    account = fund_account(fund_pay_type)
    window_start, end = wanted.shifted(1 - WINDOW_MONTHS).first_day, wanted.last_day
    flows = fund_flows(
        wanted,
        await uow.reports.journal_days(window_start, end),
        await uow.reports.leg_sums(account, window_start, end),
    )
    income, expenditure = flows.income_fen, flows.expenditure_fen
    balance = -await uow.reports.account_sum(account, end)
    basic = BASIC_INSUTYPE[insutype.value]
    in_month = (wanted.first_day, wanted.last_day)
    inpatient = await uow.reports.inpatient_sums(
        insutype=basic,
        fund_pay_column=FUND_PAY_COLUMN[insutype.value],
        med_types=INPATIENT_MED_TYPES,
        status=SETTLED,
        first=in_month[0],
        last=in_month[1],
    )
    return FundKpisOut(
        insutype=insutype.value,
        month=str(wanted),
        fund_pay_type=fund_pay_type,
        income=fen_to_yuan(income),
        expenditure=fen_to_yuan(expenditure),
        current_surplus=fen_to_yuan(income - expenditure),
        accumulated_balance=fen_to_yuan(balance),
        months_payable=months_payable(balance, flows.expenditure_by_month),
        months_averaged=len(flows.expenditure_by_month),
        inpatient_inscp_amt=fen_to_yuan(inpatient.inscp_fen),
        inpatient_fund_pay=fen_to_yuan(inpatient.fund_pay_fen),
        inpatient_reimbursement_ratio=ratio(inpatient.fund_pay_fen, inpatient.inscp_fen),
        settlement_count=await uow.reports.settlement_count(basic, *in_month),
        reversal_count=await uow.reports.reversal_count(basic, *in_month),
    )
