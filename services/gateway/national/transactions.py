"""The transaction table: each supported infno, its handler, and what the docs show of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gateway.national import persons, points, settling, supervision, visits
from gateway.national.calls import Context

Output = dict[str, Any]
Handler = Callable[[Context, dict[str, Any]], Awaitable[Output]]


@dataclass(frozen=True)
class Transaction:
    name: str
    handle: Handler


TRANSACTIONS: dict[str, Transaction] = {
    "9001": Transaction("签到 sign-in", persons.sign_in),
    "9002": Transaction("签退 sign-out", persons.sign_out),
    "1101": Transaction("人员信息获取 person info", persons.person_info),
    "2001": Transaction("人员待遇享受检查 benefit check", persons.benefit_check),
    "2102": Transaction("药店结算 pharmacy settlement in one message", settling.pharmacy_settlement),
    "2103": Transaction("药店结算撤销 pharmacy settlement reversal", settling.pharmacy_reversal),
    "2201": Transaction("门诊挂号 outpatient registration", visits.outpatient_registration),
    "2202": Transaction("门诊挂号撤销 registration cancellation", visits.registration_cancellation),
    "2203": Transaction("门诊就诊信息上传 visit info (may amend the diagnosis)", visits.visit_info),
    "2204": Transaction("门诊费用明细上传 fee-detail upload", visits.fee_upload),
    "2205": Transaction("门诊费用明细撤销 fee-detail withdrawal by charge batch", visits.batch_withdrawal),
    "2206": Transaction("门诊预结算 pre-settlement", settling.pre_settlement),
    "2207": Transaction("门诊结算 settlement", settling.settlement),
    "2208": Transaction("门诊结算撤销 reversal", settling.reversal),
    "2301": Transaction("住院费用明细上传 fee-detail upload", visits.fee_upload),
    "2302": Transaction("住院费用明细撤销 fee-detail withdrawal", visits.line_withdrawal),
    "2303": Transaction("住院预结算 pre-settlement", settling.pre_settlement),
    "2304": Transaction("住院结算 settlement", settling.settlement),
    "2305": Transaction("住院结算撤销 reversal", settling.reversal),
    "2401": Transaction("入院办理 admission", visits.admission),
    "2402": Transaction("出院办理 discharge", visits.discharge),
    "2403": Transaction("入院信息变更 admission change", visits.admission_change),
    "2404": Transaction("入院撤销 admission cancellation", visits.registration_cancellation),
    "2405": Transaction("出院撤销 discharge cancellation", visits.discharge_cancellation),
    "2601": Transaction("冲正交易 correction (undo a message by its msgid)", settling.correction),
    "3101": Transaction("明细审核事前分析 pre-event review", supervision.review("pre")),
    "3102": Transaction("明细审核事中分析 in-event review", supervision.review("in")),
    "3201": Transaction("医药机构费用结算对总账 totals reconciliation", supervision.totals_reconciliation),
    "3202": Transaction("医药机构费用结算对明细账 detail reconciliation", supervision.details_reconciliation),
    "3505": Transaction("商品销售 pharmacy sale upload", supervision.sale_upload),
    "4101A": Transaction("医保结算清单信息上传 settlement list upload", points.settlement_list),
    "5201": Transaction("就诊信息查询 visits of a person", visits.visit_query),
    "5203": Transaction("结算信息查询 settlement look-up", settling.settlement_query),
    "5204": Transaction("费用明细查询 fee-detail look-up", visits.fee_query),
    "5206": Transaction("人员累计信息查询 yearly accumulations", persons.accumulations),
}
