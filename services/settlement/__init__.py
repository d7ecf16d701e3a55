"""The settlement service: visits, fee details, the reimbursement split, personal accounts, the fund
ledger, day close (日结算), month reconciliation (月核算), reconciliation with institutions, fund KPIs.
"""
