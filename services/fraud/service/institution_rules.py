"""Institution-level rules (诱导住院, 机构指标异常, 高套) run per institution and month after the fact, their
backtest, and the case groups they read (settlement.case.grouped).

A run raises one finding per rule, institution and month (per metric for institution_outlier), with no
settlement and no person: the finding key names the institution and the month, so running a month again
raises nothing twice.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from common.clock import Clock, business_date
from common.errors import Conflict, Unprocessable
from common.events.settlement import CaseGrouped
from common.money import fen_to_yuan
from fraud.domain.families import INSTITUTION
from fraud.domain.institutions import Admission, InstitutionFigures, InstitutionMonth
from fraud.domain.params import CodeList, ParamValue
from fraud.schemas.institutions import RuleRunOut, RunOut
from fraud.schemas.rules import BacktestHit, BacktestIn, BacktestOut
from fraud.service.findings import raise_finding
from fraud.service.rules import ActiveRule, load_active_rules
from fraud.uow import FraudUnitOfWork

MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
SAMPLE_SIZE = 20


# --- months ---------------------------------------------------------------------------------------------


def month_bounds(month: str) -> tuple[date, date]:
    """The first and last day of a month YYYY-MM; 422 INVALID_MONTH otherwise."""
    if not re.fullmatch(MONTH_PATTERN, month):
        raise Unprocessable(
            f"month must be YYYY-MM (2000-01 to 2099-12), got {month!r}.", code="INVALID_MONTH", field="month"
        )
    year, number = int(month[:4]), int(month[5:])
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def ensure_month_over(month: str, clock: Clock) -> tuple[date, date]:
    """The month's bounds; 409 MONTH_NOT_OVER while its last day (Asia/Shanghai) has not ended."""
    first, last = month_bounds(month)
    if business_date(clock.now()) <= last:
        raise Conflict(
            f"{month} is not over yet: a month is judged once its last day has ended (Asia/Shanghai).",
            code="MONTH_NOT_OVER",
            month=month,
        )
    return first, last


def months_between(first: date, last: date) -> list[str]:
    """Every month YYYY-MM that [first, last] touches, in order."""
    months: list[str] = []
    year, number = first.year, first.month
    while (year, number) <= (last.year, last.month):
        months.append(f"{year:04d}-{number:02d}")
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return months


# --- the month's facts ----------------------------------------------------------------------------------


@dataclass
class MonthBook:
    """A month of the projection read once, shared by every rule that judges it."""

    month: str
    first: date
    last: date
    _figures: list[Any] | None = None
    _admissions: dict[str, tuple[Admission, ...]] | None = None
    _drugs: dict[CodeList, dict[str, int]] = field(default_factory=dict)
    _groups: dict[CodeList, dict[str, tuple[int, int]]] = field(default_factory=dict)

    async def figures(
        self, uow: FraudUnitOfWork, *, drug_prefixes: CodeList = (), severities: CodeList = ()
    ) -> dict[str, InstitutionFigures]:
        """Each institution with settlements in the month, in figures (drug lines and severities as asked)."""
        if self._figures is None:
            self._figures = list(await uow.institution_months.figures(self.first, self.last))
        if drug_prefixes not in self._drugs:
            self._drugs[drug_prefixes] = await uow.institution_months.drug_amounts(
                self.first, self.last, drug_prefixes
            )
        if severities not in self._groups:
            self._groups[severities] = await uow.institution_months.grouped_cases(
                self.first, self.last, severities
            )
        drugs, groups = self._drugs[drug_prefixes], self._groups[severities]
        return {
            code: InstitutionFigures(
                fixmedins_code=code,
                hosp_lv=hosp_lv,
                settlements=int(settlements),
                medfee_fen=int(medfee),
                fund_pay_fen=int(fund_pay),
                drug_fen=drugs.get(code, 0),
                admissions=int(admissions),
                inpatient_medfee_fen=int(inpatient_medfee),
                inpatients=int(inpatients),
                grouped_cases=groups.get(code, (0, 0))[0],
                high_severity_cases=groups.get(code, (0, 0))[1],
            )
            for code, hosp_lv, settlements, medfee, fund_pay, admissions, inpatient_medfee, inpatients in (
                self._figures
            )
        }

    async def admissions(self, uow: FraudUnitOfWork) -> dict[str, tuple[Admission, ...]]:
        if self._admissions is None:
            found: dict[str, list[Admission]] = {}
            for code, *values in await uow.institution_months.admissions(self.first, self.last):
                found.setdefault(code, []).append(Admission(*values))
            self._admissions = {code: tuple(rows) for code, rows in found.items()}
        return self._admissions

    async def institutions(
        self, uow: FraudUnitOfWork, params: dict[str, ParamValue]
    ) -> list[InstitutionMonth]:
        """Each institution's month for a rule with these params: its figures, admissions and same-level peers."""
        figures = await self.figures(
            uow, drug_prefixes=_codes(params, "drug_prefixes"), severities=_codes(params, "severities")
        )
        admissions = await self.admissions(uow)
        return [
            InstitutionMonth(
                month=self.month,
                own=own,
                admissions=admissions.get(code, ()),
                peers=tuple(
                    peer
                    for other, peer in figures.items()
                    if other != code and own.hosp_lv is not None and peer.hosp_lv == own.hosp_lv
                ),
            )
            for code, own in figures.items()
        ]


def _codes(params: dict[str, ParamValue], name: str) -> CodeList:
    value = params.get(name, ())
    return value if isinstance(value, tuple) else ()


# --- running a month ------------------------------------------------------------------------------------


async def institution_rules(uow: FraudUnitOfWork) -> list[ActiveRule]:
    """The enabled institution-level rule instances, whatever their scope, in id order."""
    rules = await load_active_rules(uow=uow, scopes=("pre", "in", "post"))
    return [rule for rule in rules if rule.family.level == INSTITUTION]


async def run_month(*, uow: FraudUnitOfWork, month: str, clock: Clock) -> RunOut:
    """Every enabled institution-level rule over every institution's month; a finding per new hit."""
    first, last = ensure_month_over(month, clock)
    book = MonthBook(month, first, last)
    outcomes: list[RuleRunOut] = []
    raised: list[int] = []
    for rule in await institution_rules(uow):
        check = rule.family.month_check
        assert check is not None
        hits = new = 0
        for facts in await book.institutions(uow, rule.params):
            for hit in check(facts, rule.params):
                hits += 1
                finding_id = await _raise(uow, rule, facts, hit.key, hit.message, hit.vola_fen, clock)
                if finding_id is not None:
                    new += 1
                    raised.append(finding_id)
        outcomes.append(
            RuleRunOut(
                rule_id=rule.rule_id, version=rule.version, family=rule.family.name, hits=hits, raised=new
            )
        )
    return RunOut(
        month=month,
        institutions=len(await book.figures(uow)),
        settlements=await uow.institution_months.settled_count(first, last),
        rules=outcomes,
        finding_ids=raised,
    )


async def _raise(
    uow: FraudUnitOfWork,
    rule: ActiveRule,
    facts: InstitutionMonth,
    key: str,
    message: str,
    vola_fen: int | None,
    clock: Clock,
) -> int | None:
    """A finding about an institution's month: no settlement, no person; the most that can be recovered is
    what the fund paid the institution over the month."""
    return await raise_finding(
        uow=uow,
        rule=rule,
        key=key,
        message=message,
        setl_id=None,
        psn_no=None,
        fixmedins_code=facts.own.fixmedins_code,
        feedetl_sn=None,
        vola_fen=vola_fen,
        fund_pay_fen=facts.own.fund_pay_fen,
        clock=clock,
    )


# --- backtest -------------------------------------------------------------------------------------------


async def backtest_months(
    *, uow: FraudUnitOfWork, rule: ActiveRule, stored: dict[str, Any], body: BacktestIn
) -> BacktestOut:
    """An institution-level rule over each whole month that [from, to] touches; nothing written."""
    check = rule.family.month_check
    assert check is not None
    examined = hits = vola = 0
    keys: set[str] = set()
    sample: list[BacktestHit] = []
    for month in months_between(body.from_date, body.to_date):
        first, last = month_bounds(month)
        book = MonthBook(month, first, last)
        examined += await uow.institution_months.settled_count(first, last)
        for facts in await book.institutions(uow, rule.params):
            for hit in check(facts, rule.params):
                hits += 1
                vola += hit.vola_fen or 0
                keys.add(hit.key)
                if len(sample) < SAMPLE_SIZE:
                    sample.append(
                        BacktestHit(
                            setl_id=None,
                            psn_no=None,
                            fixmedins_code=facts.own.fixmedins_code,
                            setl_date=None,
                            month=month,
                            message=hit.message,
                            feedetl_sn=None,
                            vola_amt=fen_to_yuan(hit.vola_fen) if hit.vola_fen is not None else None,
                        )
                    )
    return BacktestOut(
        rule_id=rule.rule_id,
        family=rule.family.name,
        params=stored,
        from_date=body.from_date,
        to_date=body.to_date,
        settlements_examined=examined,
        settlements_flagged=0,
        hits=hits,
        findings_it_would_raise=len(keys),
        vola_amt=fen_to_yuan(vola),
        truncated=False,
        sample=sample,
    )


# --- the projection of case groups ----------------------------------------------------------------------


async def apply_case_grouped(*, uow: FraudUnitOfWork, data: CaseGrouped) -> bool:
    """Keep a points case's group and severity (a later revision of its settlement list replaces it)."""
    return await uow.institution_months.keep_grouping(
        {
            "setl_id": data.setl_id,
            "fixmedins_code": data.fixmedins_code,
            "year": data.year,
            "insutype": data.insutype,
            "method": data.method,
            "group_code": data.group_code,
            "severity": data.severity,
            "base_points": data.base_points,
            "points": data.points,
            "deviation": data.deviation,
            "revision": data.revision,
            "grouped_at": data.grouped_at,
        }
    )
