"""Benchmark of payment by points (DRG/DIP 点数法): grouping throughput and the year clearing (年清算).

    python bench/bench_points.py [--postgres ADMIN_URL] [--quick] [--cases 200000]
                                 [--clearing-cases 500000] [--hospitals 300] [--profile]

1. Grouping, in memory: a year book of a city's size built directly (a DIP catalogue of about 3,000 groups,
   one per matching row, over 1,500 main-diagnosis prefixes, about half of the rows with a procedure; a DRG
   one of 370 ADRGs (160 surgical, 210 medical), a CC/MCC list of 2,000 prefixes, groups with suffixes 1/3/5 or
   9) and --cases synthetic cases (a settlement list with a main and 0–4 secondary diagnoses and 0–3
   procedures for 80 % of them, the visit's diagnosis alone for the rest); `YearBook.evaluate_all` timed
   for DIP and for DRG.
2. The year clearing: a fresh database (dropped afterwards) migrated with the settlement migrations and
   filled by COPY on PostgreSQL, executemany on SQLite (setup, not measured): --hospitals hospitals paid by
   points, the 2025 DIP payment year of insutype 390 with a budget near the cases' hifp_pay, the DIP
   catalogue of 1., --clearing-cases inpatient settlements with their visits spread over 2025, settlement
   lists for 80 % of them, a few hundred 特例单议, quality scores, every day of 2025 closed and its twelve
   months confirmed, each statement with the quality reserve it withheld. Timed: `compute_clearing` in one
   unit of work committed as the API commits it, the recompute of the draft, and `budget_execution` of the
   whole year; then, apart, the cases query alone and the grouping alone. The answer is checked (cases,
   lines, Σ F = the hifp_pay loaded, Σ W = the reserves loaded, the recompute equal to the first run).

Targets (DESIGN §11): grouping >= 20,000 cases/s; the clearing of 500,000 inpatient cases at 300 hospitals
in <= 10 s (PostgreSQL). Without a PostgreSQL URL (--postgres, else TEST_POSTGRES_URL outside --quick) the
clearing runs at a reduced size on SQLite, labelled as such. --quick: small sizes, SQLite unless --postgres
(the smoke test). --profile: cProfile of an extra clearing run (the top functions printed, the .prof file
beside the results). Prints a table and writes var/bench/points.json. Measures, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import os
import pstats
import random
import re
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TextIO

import asyncpg
import sqlalchemy as sa

from common.clock import FrozenClock
from common.db import Database
from common.logs import configure_logging
from common.migrations import upgrade
from common.progress import ProgressBar
from settlement.domain.points import (
    Adrg,
    DipGrouper,
    DrgGrouper,
    Group,
    Method,
    YearParameters,
    coding_from_list,
    compact_coding,
)
from settlement.repository.points import CaseRow, PointsInstitution
from settlement.service.clearing import budget_execution, compute_clearing
from settlement.service.points import YearBook, coding_of, year_book
from settlement.uow import SettlementUnitOfWork

YEAR, INSUTYPE = 2025, "390"
NOW = datetime(2026, 1, 20, 2, 0, tzinfo=UTC)  # the clearing is computed after the year's last month
GROUPING_TARGET = 20_000  # cases/s
CLEARING_TARGET_S = 10.0
FULL_CLEARING = (500_000, 300)  # cases, hospitals: the size of the target
SQLITE_CLEARING = 100_000  # the reduced size on SQLite, at the same hospitals
QUICK = {"cases": 5_000, "clearing_cases": 5_000, "hospitals": 30}
FULL = {"cases": 200_000, "clearing_cases": FULL_CLEARING[0], "hospitals": FULL_CLEARING[1]}
LIST_SHARE = 0.8  # cases with a settlement list (医保结算清单); the rest group on the visit's diagnosis
SPECIAL_EVERY = 1_250  # one case in this many has 特例单议 points
Q = Decimal("0.05")  # the payment year's quality reserve ratio
PARAMETERS = {  # as the API stores them (decimal_text, 2 places)
    "quality_reserve_ratio": "0.05",
    "low_ratio": "0.40",
    "high_ratio": "2.00",
    "keep": "0.15",
    "share": "0.50",
    "band": "0.10",
    "yuan_per_point": "100.00",
    "coefficient_lv1": "0.80",
    "coefficient_lv2": "0.90",
    "coefficient_lv3": "1.00",
}
# ICD-10 categories (A00–T99, Z00–Z99) and ICD-9-CM-3 style procedure codes.
CATEGORIES = [f"{letter}{n:02d}" for letter in "ABCDEFGHIJKLMNOPQRSTZ" for n in range(100)]
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


# --- the catalogue: DIP rows and groups, DRG ADRGs, CC/MCC list and groups --------------------------------


@dataclass
class Prefix:
    """A DIP main-diagnosis prefix: its conservative group (None: none) and its procedure rows."""

    code: str
    conservative: str | None
    procedures: list[tuple[str, str]]  # (oprn_code, group_code)


@dataclass
class Catalogue:
    dip_groups: dict[str, Group]
    dip_rows: list[tuple[str, str | None, str]]  # (dise_prefix, oprn_code or None, group_code)
    prefixes: list[Prefix]
    prefix_weights: list[float]  # cumulative: a skewed case mix
    full_codes: dict[str, list[str]]  # the full diagnosis codes coders use under each prefix
    comorbidities: list[str]  # the common secondary diagnoses (hypertension, diabetes, ...)
    comorbidity_weights: list[float]  # cumulative, skewed
    unknown: list[str]  # categories no DIP row and no ADRG matches (ungrouped cases)
    procedures: list[str]
    adrgs: list[Adrg]
    complications: dict[str, str]
    drg_groups: dict[str, Group]


def _cumulative(values: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for value in values:
        total += value
        out.append(total)
    return out


def _full_code(rng: random.Random, prefix: str) -> str:
    """A full diagnosis code (e.g. K80.100) under a 3- or 5-character prefix."""
    if len(prefix) == 3:
        return f"{prefix}.{rng.randrange(10)}{rng.randrange(100):02d}"
    return f"{prefix}{rng.randrange(100):02d}"


def _cost_fen(rng: random.Random, median_yuan: float) -> int:
    return max(100_000, round(median_yuan * rng.lognormvariate(0, 0.5)) * 100)


def _group(code: str, name: str, avg_cost_fen: int, rng: random.Random) -> Group:
    # 1 point is about 100 yuan of the base year's cost (yuan_per_point 100), give or take the weighting.
    points = Decimal(avg_cost_fen * rng.uniform(0.9, 1.1) / 10_000).quantize(Decimal("0.0001"))
    return Group(code, name, points, avg_cost_fen)


def build_catalogue(rng: random.Random) -> Catalogue:
    """A year's DIP and DRG catalogues of a city's size (about 3,000 DIP groups, 370 ADRGs)."""
    procedures = sorted({f"{rng.randrange(1, 87):02d}.{rng.randrange(100):02d}{rng.choice('00000123')}0"
                         for _ in range(1_400)})  # fmt: skip
    chosen = rng.sample(CATEGORIES, 1_200)
    codes = chosen + [f"{category}.{rng.randrange(10)}" for category in rng.sample(chosen, 300)]
    codes = list(dict.fromkeys(codes))
    groups: dict[str, Group] = {}
    rows: list[tuple[str, str | None, str]] = []
    prefixes = []
    for code in codes:
        conservative = None
        if rng.random() < 0.93:
            conservative = f"D{len(groups):05d}"
            groups[conservative] = _group(conservative, f"{code} 保守治疗", _cost_fen(rng, 6_000), rng)
            rows.append((code, None, conservative))
        own = []
        for oprn in rng.sample(procedures, rng.choice((0, 0, 0, 1, 1, 1, 2, 3))):
            group_code = f"D{len(groups):05d}"
            groups[group_code] = _group(group_code, f"{code} 手术 {oprn}", _cost_fen(rng, 22_000), rng)
            rows.append((code, oprn, group_code))
            own.append((oprn, group_code))
        if conservative is None and not own:
            continue
        prefixes.append(Prefix(code, conservative, own))
    weights = _cumulative([rng.paretovariate(1.5) for _ in prefixes])
    full_codes = {
        p.code: sorted({_full_code(rng, p.code) for _ in range(rng.choice((1, 1, 2, 2, 3, 4, 6, 8)))})
        for p in prefixes
    }
    comorbidities = sorted({_full_code(rng, category) for category in rng.sample(CATEGORIES, 300)})
    matched = {code[:3] for code in codes}
    unknown = [category for category in CATEGORIES if category not in matched]

    # DRG: every prefix under one medical ADRG, surgical ADRGs over the prefixes with procedures; an ADRG
    # gathers diagnoses of similar cost, as a real one gathers similar diseases.
    mdcs = "ABCDEFGHJKLMNOPQRSTUVWXYZ"
    surgical_codes = rng.sample([f"{m}{t}{d}" for m in mdcs for t in "ABCDEFGHIJ" for d in range(1, 10)], 160)
    medical_codes = rng.sample([f"{m}{t}{d}" for m in mdcs for t in "RSTUVWXYZ" for d in range(1, 10)], 240)

    def medical_cost(p: Prefix) -> int:
        return groups[p.conservative or p.procedures[0][1]].avg_cost_fen

    by_cost = [p.code for p in sorted(prefixes, key=medical_cost)]
    size = -(-len(by_cost) // len(medical_codes))
    adrgs = [
        Adrg(adrg, tuple(by_cost[n * size : (n + 1) * size]), frozenset(), rng.randint(51, 99))
        for n, adrg in enumerate(medical_codes)
        if by_cost[n * size : (n + 1) * size]
    ]
    operated = sorted(
        (p for p in prefixes if p.procedures), key=lambda p: groups[p.procedures[0][1]].avg_cost_fen
    )
    for adrg in surgical_codes:
        width = rng.randint(3, 10)
        start = rng.randrange(len(operated) - width)
        picked = operated[start : start + width]
        oprns = {oprn for p in picked for oprn, _ in p.procedures}
        oprns |= set(rng.sample(procedures, rng.randint(1, 3)))
        adrgs.append(Adrg(adrg, tuple(p.code for p in picked), frozenset(oprns), rng.randint(1, 50)))
    # An ADRG's cost per case is about that of the DIP groups its cases fall in (the same case mix).
    cost = {p.code: p for p in prefixes}
    drg_groups: dict[str, Group] = {}
    for adrg in adrgs:
        costs = sorted(
            groups[code].avg_cost_fen
            for prefix in adrg.dise_prefixes
            for code in (
                [g for oprn, g in cost[prefix].procedures if oprn in adrg.oprn_codes]
                if adrg.surgical
                else [cost[prefix].conservative or cost[prefix].procedures[0][1]]
            )
        )
        base = costs[len(costs) // 2] if costs else _cost_fen(rng, 25_000 if adrg.surgical else 7_000)
        suffixes = rng.choices((("1", "3", "5"), ("3", "5"), ("5",), ("9",)), weights=(55, 25, 10, 10))[0]
        for suffix in suffixes:
            factor = {"1": 1.3, "3": 1.1, "5": 0.95, "9": 1.0}[suffix]
            code = adrg.adrg + suffix
            drg_groups[code] = _group(code, f"{adrg.adrg} {suffix}", round(base * factor), rng)
    complications = {
        prefix: ("mcc" if rng.random() < 0.25 else "cc")
        for prefix in rng.sample(CATEGORIES, 1_400)
        + [f"{category}.{rng.randrange(10)}" for category in rng.sample(CATEGORIES, 600)]
    }
    return Catalogue(
        dip_groups=groups,
        dip_rows=rows,
        prefixes=prefixes,
        prefix_weights=weights,
        full_codes=full_codes,
        comorbidities=comorbidities,
        comorbidity_weights=_cumulative([rng.paretovariate(1.2) for _ in comorbidities]),
        unknown=unknown,
        procedures=procedures,
        adrgs=adrgs,
        complications=complications,
        drg_groups=drg_groups,
    )


# --- cases ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Coding:
    """A synthetic case's coding as stored: the visit's diagnosis, its list (None: none) and its medfee."""

    dise_codg: str
    diagnoses: list[dict[str, Any]] | None
    procedures: list[dict[str, Any]] | None
    medfee_fen: int


def coding(rng: random.Random, catalogue: Catalogue, on: date) -> Coding:
    """One case: mostly a diagnosis and procedure the catalogue knows, some it does not (ungrouped)."""
    procedures: list[str] = []
    if rng.random() < 0.03:
        main = _full_code(rng, rng.choice(catalogue.unknown))
        cost = 800_000
    else:
        prefix = rng.choices(catalogue.prefixes, cum_weights=catalogue.prefix_weights)[0]
        main = rng.choice(catalogue.full_codes[prefix.code])
        if prefix.procedures and (prefix.conservative is None or rng.random() < 0.5):
            oprn, group_code = rng.choice(prefix.procedures)
            procedures = [oprn, *rng.sample(catalogue.procedures, rng.choice((0, 0, 1, 2)))]
        else:
            assert prefix.conservative is not None
            group_code = prefix.conservative
            if rng.random() < 0.05:  # a minor procedure the DIP rows of the prefix do not list
                procedures = [rng.choice(catalogue.procedures)]
        cost = catalogue.dip_groups[group_code].avg_cost_fen
    medfee = max(20_000, round(cost * rng.lognormvariate(-0.05, 0.45)))
    if rng.random() >= LIST_SHARE:
        return Coding(main, None, None, medfee)
    secondary = {
        rng.choices(catalogue.comorbidities, cum_weights=catalogue.comorbidity_weights)[0]
        if rng.random() < 0.85
        else _full_code(rng, rng.choice(CATEGORIES))
        for _ in range(rng.choice((0, 0, 1, 1, 2, 2, 3, 4)))
    }
    secondary.discard(main)
    diagnoses = [{"dise_codg": main, "dise_name": f"诊断{main}", "main": True}] + [
        {"dise_codg": code, "dise_name": f"诊断{code}", "main": False} for code in sorted(secondary)
    ]
    day = on.isoformat()
    oprns = [
        {"oprn_codg": code, "oprn_name": f"手术{code}", "main": n == 0, "oprn_date": day}
        for n, code in enumerate(dict.fromkeys(procedures))
    ]
    return Coding(main, diagnoses, oprns, medfee)


@dataclass(frozen=True)
class Hospital:
    code: str
    level: int
    coefficient: str | None
    weight: float


def hospitals(count: int, rng: random.Random) -> list[Hospital]:
    """Hospitals of levels 1–3 (a tenth carry their own coefficient); level 3 takes most cases."""
    found = []
    for n in range(count):
        level = rng.choices((1, 2, 3), weights=(40, 40, 20))[0]
        own = rng.choice(("0.95", "1.05")) if rng.random() < 0.1 else None
        found.append(Hospital(f"H42{n:05d}", level, own, {1: 1, 2: 3, 3: 10}[level] * rng.uniform(0.5, 1.5)))
    return found


FIRST_DAY, LAST_DAY = date(YEAR, 1, 1), date(YEAR, 12, 31)


def _day(n: int, count: int) -> date:
    """The n-th of `count` cases in time order over the year."""
    return FIRST_DAY + timedelta(days=n * ((LAST_DAY - FIRST_DAY).days + 1) // count)


def grouping_cases(
    count: int, catalogue: Catalogue, places: list[Hospital], rng: random.Random
) -> list[CaseRow]:
    cum = _cumulative([h.weight for h in places])
    bar = ProgressBar(count, label=f"generate {count:,} cases")
    rows = []
    for n in range(count):
        on = _day(n, count)
        place = places[n] if n < len(places) else rng.choices(places, cum_weights=cum)[0]
        case = coding(rng, catalogue, on)
        rows.append(
            CaseRow(
                f"S{n:019d}",
                f"M{n:019d}",
                place.code,
                INSUTYPE,
                on,
                case.medfee_fen,
                case.medfee_fen * 65 // 100,
                case.dise_codg,
                case.diagnoses,
                case.procedures,
                "85.5000" if n % SPECIAL_EVERY == 7 else None,
            )
        )
        if n % 10_000 == 9_999:
            bar.advance(10_000)
    bar.advance(count % 10_000)
    bar.close()
    return rows


def book_of(catalogue: Catalogue, method: Method, places: list[Hospital]) -> YearBook:
    """A YearBook built directly, as `year_book` builds it from the year's tables."""
    groups = catalogue.dip_groups if method is Method.DIP else catalogue.drg_groups
    grouper: DipGrouper | DrgGrouper
    if method is Method.DIP:
        grouper = DipGrouper(catalogue.dip_rows)
    else:
        grouper = DrgGrouper(catalogue.adrgs, catalogue.complications, groups)
    return YearBook(
        year=YEAR,
        insutype=INSUTYPE,
        method=method,
        budget_fen=10**12,
        parameters=YearParameters(),
        stored_parameters=dict(PARAMETERS),
        groups=dict(groups),
        grouper=grouper,
        institutions={h.code: PointsInstitution(h.code, h.level, h.coefficient) for h in places},
    )


def measure_grouping(count: int, *, seed: int = 20261207) -> dict[str, Any]:
    """(a): YearBook.evaluate_all over `count` cases in memory, DIP and DRG timed apart."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    catalogue = build_catalogue(rng)
    places = hospitals(FULL_CLEARING[1], rng)
    rows = grouping_cases(count, catalogue, places, rng)
    outcome: dict[str, Any] = {
        "cases": count,
        "dip_groups": len(catalogue.dip_groups),
        "dip_rows": len(catalogue.dip_rows),
        "dip_prefixes": len(catalogue.prefixes),
        "adrgs": len(catalogue.adrgs),
        "surgical_adrgs": sum(1 for a in catalogue.adrgs if a.surgical),
        "drg_groups": len(catalogue.drg_groups),
        "complications": len(catalogue.complications),
        "with_list": sum(1 for row in rows if row.diagnoses),
    }
    outcome["distinct_codings"] = len({coding_of(row) for row in rows})
    for method in (Method.DIP, Method.DRG):
        book = book_of(catalogue, method, places)  # a fresh book each pass: its grouping cache empty
        gc.collect()
        started = time.perf_counter()
        results = book.evaluate_all(rows)
        seconds = time.perf_counter() - started
        deviations = Counter(result.points.deviation.value for result in results)
        del results
        # The same pass with the cyclic garbage collector paused: what the collector's passes over the
        # cases' many small containers cost (for the diagnosis only; the figure above is the measure).
        book = book_of(catalogue, method, places)
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            book.evaluate_all(rows)
            paused = time.perf_counter() - started
        finally:
            gc.enable()
        outcome[method.value] = {
            "seconds": round(seconds, 3),
            "per_s": round(count / seconds),
            "gc_paused_per_s": round(count / paused),
            "deviations": dict(sorted(deviations.items())),
        }
        print(
            f"  {method.value.upper()} grouping: {count:,} cases in {seconds:.2f}s, {count / seconds:,.0f}/s "
            f"({', '.join(f'{k} {v:,}' for k, v in sorted(deviations.items()))}); "
            f"with the garbage collector paused {count / paused:,.0f}/s",
            file=sys.stderr,
        )
    return outcome


# --- the clearing's database -------------------------------------------------------------------------------

VISIT_COLUMNS = ["mdtrt_id", "fixmedins_code", "psn_no", "insutype", "med_type", "begntime", "endtime",
                 "dise_codg", "dise_name", "ipt_otp_no", "status", "created_at", "discharged_at",
                 "dscg_way"]  # fmt: skip
SETTLEMENT_COLUMNS = ["setl_id", "medins_setl_id", "fixmedins_code", "mdtrt_id", "psn_no", "insutype", "med_type",
                      "setl_time", "business_date", "year", "policy_version", "medfee_fen", "fulamt_ownpay_fen",
                      "overlmt_selfpay_fen", "preselfpay_fen", "inscp_scp_fen", "act_pay_dedc_fen", "hifp_pay_fen",
                      "hifmi_pay_fen", "hifob_pay_fen", "maf_pay_fen", "fund_pay_fen", "psn_part_fen",
                      "acct_pay_fen", "acct_mulaid_pay_fen", "psn_cash_pay_fen", "mulaid_holder_psn_no",
                      "outpatient_dedc_fen", "outpatient_pool_fen", "pool_self_fen", "review", "request_hash",
                      "response", "status", "created_at", "day_close_date"]  # fmt: skip
LIST_COLUMNS = ["setl_id", "fixmedins_code", "year", "diagnoses", "procedures", "main_dise_codg",
                "secondary_codes", "procedure_codes", "revision", "uploaded_at", "uploaded_by"]  # fmt: skip
SPECIAL_COLUMNS = ["setl_id", "points", "reason", "set_by", "set_at"]
INSTITUTION_COLUMNS = ["fixmedins_code", "fixmedins_name", "fixmedins_type", "hosp_lv", "admdvs", "status",
                       "updated_at", "points_payment", "points_coefficient"]  # fmt: skip
MONTH_COLUMNS = ["month", "status", "computed_at", "computed_by", "confirmed_at", "confirmed_by"]
STATEMENT_COLUMNS = ["month", "fixmedins_code", "statements", "settlements", "mismatches", "deductions_fen",
                     "deduction_ids", "prepayments_fen", "prepayment_ids", "net_adjustment_fen", "computed_at",
                     "quality_reserve_fen", "points"]  # fmt: skip
DAY_CLOSE_COLUMNS = ["business_date", "settlement_count", "reversal_count", "institution_count", "closed_at",
                     "closed_by"]  # fmt: skip
Rows = list[tuple[Any, ...]]
DEDUCTIBLE_FEN = {1: 40_000, 2: 80_000, 3: 120_000}  # 起付线 by hospital level
POOL_RATIO = {1: 0.80, 2: 0.70, 3: 0.60}  # the pool's share above it, by level


@dataclass
class Loaded:
    """What was written: the figures the clearing must give back."""

    cases: int = 0
    hospitals: int = 0
    hifp_fen: int = 0
    medfee_fen: int = 0
    lists: int = 0
    special: int = 0
    reserve_fen: int = 0
    budget_fen: int = 0
    month_hifp: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    month_cases: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    day_cases: dict[date, int] = field(default_factory=lambda: defaultdict(int))
    day_places: dict[date, set[str]] = field(default_factory=lambda: defaultdict(set))


def _moment(day: date, minutes: int) -> datetime:
    return datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC) + timedelta(minutes=minutes)


def settlement_chunks(
    *,
    count: int,
    places: list[Hospital],
    catalogue: Catalogue,
    rng: random.Random,
    loaded: Loaded,
    size: int = 20_000,
) -> Iterator[tuple[Rows, Rows, Rows, Rows]]:
    """(visits, settlements, settlement lists, 特例单议) of `count` inpatient cases in time order."""
    cum = _cumulative([h.weight for h in places])
    for offset in range(0, count, size):
        visits, settlements, lists, specials = [], [], [], []
        for n in range(offset, min(count, offset + size)):
            place = places[n] if n < len(places) else rng.choices(places, cum_weights=cum)[0]
            on = _day(n, count)
            setl_time = _moment(on, rng.randrange(600))
            admitted = setl_time - timedelta(days=rng.randint(2, 15), minutes=rng.randrange(600))
            case = coding(rng, catalogue, admitted.date())
            medfee = case.medfee_fen
            fulamt = round(medfee * rng.uniform(0, 0.06))
            inscp = medfee - fulamt
            preself = round(inscp * rng.uniform(0, 0.05))
            deductible = min(DEDUCTIBLE_FEN[place.level], inscp - preself)
            base = inscp - preself - deductible
            hifp = round(base * POOL_RATIO[place.level])
            hifmi = (base - hifp) // 2 if medfee > 5_000_000 else 0
            fund = hifp + hifmi
            mdtrt_id, setl_id, psn_no = f"M{YEAR}{n:015d}", f"S{YEAR}{n:015d}", f"P{rng.randrange(10**9):09d}"
            visits.append(
                (mdtrt_id, place.code, psn_no, INSUTYPE, "21", admitted, setl_time, case.dise_codg,
                 f"诊断{case.dise_codg}", f"ZY{n:010d}", "settled", admitted, setl_time, "1")
            )  # fmt: skip
            settlements.append(
                (setl_id, f"{place.code}-{n}", place.code, mdtrt_id, psn_no, INSUTYPE, "21", setl_time, on, YEAR,
                 1, medfee, fulamt, 0, preself, inscp, deductible, hifp, hifmi, 0, 0, fund, medfee - fund, 0, 0,
                 medfee - fund, None, 0, 0, base - hifp - hifmi, "passed", f"{n:064x}", "{}", "settled",
                 setl_time, on)
            )  # fmt: skip
            if case.diagnoses is not None:
                compact = compact_coding(coding_from_list(None, case.diagnoses, case.procedures))
                lists.append(
                    (setl_id, place.code, YEAR, json.dumps(case.diagnoses, ensure_ascii=False),
                     json.dumps(case.procedures, ensure_ascii=False), *compact, 1, setl_time + timedelta(days=1),
                     "bench")
                )  # fmt: skip
            if n % SPECIAL_EVERY == 7:
                points = f"{Decimal(medfee) / 10_000 * Decimal(rng.uniform(0.6, 1.0)):.4f}"
                specials.append((setl_id, points, "特例单议: bench", "ops-bench", NOW))
            month = on.strftime("%Y-%m")
            loaded.cases += 1
            loaded.hifp_fen += hifp
            loaded.medfee_fen += medfee
            loaded.month_hifp[(place.code, month)] += hifp
            loaded.month_cases[(place.code, month)] += 1
            loaded.day_cases[on] += 1
            loaded.day_places[on].add(place.code)
        loaded.lists += len(lists)
        loaded.special += len(specials)
        yield visits, settlements, lists, specials


def institution_rows(places: list[Hospital]) -> Rows:
    return [(h.code, f"医院{h.code}", "hospital", h.level, "420100", "active", NOW, True, h.coefficient)
            for h in places]  # fmt: skip


def year_rows(
    catalogue: Catalogue, places: list[Hospital], loaded: Loaded, rng: random.Random
) -> dict[str, tuple[list[str], Rows]]:
    """The payment year and its tables, the closed days and the confirmed months (with what each withheld),
    once the cases are written and summed in `loaded`."""
    loaded.hospitals = len(places)
    loaded.budget_fen = round(loaded.hifp_fen * 1.02, -6)  # near F, to the ten thousand yuan
    tables: dict[str, tuple[list[str], Rows]] = {}
    tables["payment_year"] = (
        ["year", "insutype", "method", "budget_fen", "parameters", "updated_at"],
        [(YEAR, INSUTYPE, "dip", loaded.budget_fen, json.dumps(PARAMETERS), NOW)],
    )
    tables["points_group"] = (
        ["year", "group_code", "group_name", "points", "avg_cost_fen", "updated_at"],
        [
            (YEAR, g.code, g.name, f"{g.points:.4f}", g.avg_cost_fen, NOW)
            for g in catalogue.dip_groups.values()
        ],
    )
    tables["dip_row"] = (
        ["year", "dise_prefix", "oprn_code", "group_code", "updated_at"],
        [(YEAR, prefix, oprn or "", group_code, NOW) for prefix, oprn, group_code in catalogue.dip_rows],
    )
    tables["quality_score"] = (
        ["year", "insutype", "fixmedins_code", "score", "updated_at"],
        [(YEAR, INSUTYPE, h.code, "1.0000" if rng.random() < 0.6 else f"{rng.uniform(0.8, 1):.4f}", NOW)
         for h in places],
    )  # fmt: skip
    tables["day_close"] = (
        DAY_CLOSE_COLUMNS,
        [
            (day, loaded.day_cases.get(day, 0), 0, len(loaded.day_places.get(day, ())),
             _moment(day + timedelta(days=1), 60), "bench")
            for day in (date(YEAR, 1, 1) + timedelta(days=n) for n in range(366 if YEAR % 4 == 0 else 365))
        ],
    )  # fmt: skip
    months = [f"{YEAR}-{m:02d}" for m in range(1, 13)]
    tables["monthly_reconciliation"] = (
        MONTH_COLUMNS,
        [(month, "confirmed", NOW, "bench", NOW, "bench") for month in months],
    )
    statements = []
    for month in months:
        for h in places:
            hifp = loaded.month_hifp.get((h.code, month), 0)
            reserve = int((Q * hifp).to_integral_value(rounding=ROUND_HALF_UP))
            loaded.reserve_fen += reserve
            entry = {
                "insutype": INSUTYPE,
                "year": YEAR,
                "method": "dip",
                "cases": loaded.month_cases.get((h.code, month), 0),
                "points": "0.0000",
                "hifp_pay_fen": hifp,
                "quality_reserve_fen": reserve,
                "provisional_point_value": None,
            }
            statements.append(
                (
                    month,
                    h.code,
                    "{}",
                    "{}",
                    "[]",
                    0,
                    "[]",
                    0,
                    "[]",
                    -reserve,
                    NOW,
                    reserve,
                    json.dumps([entry]),
                )
            )
    tables["monthly_statement"] = (STATEMENT_COLUMNS, statements)
    return tables


class Writer:
    """COPY on PostgreSQL (asyncpg), executemany in one transaction a call on SQLite."""

    async def write(self, table: str, columns: list[str], rows: Rows) -> None:
        raise NotImplementedError

    async def finish(self) -> None:
        raise NotImplementedError


class PostgresWriter(Writer):
    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def write(self, table: str, columns: list[str], rows: Rows) -> None:
        if rows:
            await self.connection.copy_records_to_table(table, records=rows, columns=columns)

    async def finish(self) -> None:
        # A table freshly COPYed has no hint bits nor visibility map yet: the first read would write them.
        for table in ("visit", "settlement", "settlement_list", "special_case", "institution"):
            await self.connection.execute(f"VACUUM ANALYZE {table}")
        await self.connection.close()


def _sqlite_value(value: Any) -> Any:
    """As SQLAlchemy stores it on SQLite: moments in UTC without offset, dates ISO, booleans 0/1."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


class SqliteWriter(Writer):
    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path)
        self.connection.execute("PRAGMA synchronous=OFF")

    async def write(self, table: str, columns: list[str], rows: Rows) -> None:
        if rows:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
            with self.connection:
                self.connection.executemany(sql, ([_sqlite_value(v) for v in row] for row in rows))

    async def finish(self) -> None:
        self.connection.execute("ANALYZE")
        self.connection.commit()
        self.connection.close()


async def fill(url: str, *, cases: int, hospital_count: int, seed: int = 20261208) -> Loaded:
    """(b)'s year, written straight into the migrated database (setup, not measured)."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    catalogue = build_catalogue(rng)
    places = hospitals(hospital_count, rng)
    writer: Writer
    if url.startswith("sqlite"):
        writer = SqliteWriter(Path(sa.make_url(url).database or ""))
    else:
        writer = PostgresWriter(await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://")))
    loaded = Loaded()
    bar = ProgressBar(cases, label=f"fill {cases:,} inpatient cases at {hospital_count} hospitals")
    try:
        await writer.write("institution", INSTITUTION_COLUMNS, institution_rows(places))
        for visits, settlements, lists, specials in settlement_chunks(
            count=cases, places=places, catalogue=catalogue, rng=rng, loaded=loaded
        ):
            await writer.write("visit", VISIT_COLUMNS, visits)
            await writer.write("settlement", SETTLEMENT_COLUMNS, settlements)
            await writer.write("settlement_list", LIST_COLUMNS, lists)
            await writer.write("special_case", SPECIAL_COLUMNS, specials)
            bar.advance(len(settlements))
        for table, (columns, rows) in year_rows(catalogue, places, loaded, rng).items():
            await writer.write(table, columns, rows)
    finally:
        bar.close()
        await writer.finish()
    return loaded


# --- fresh databases --------------------------------------------------------------------------------------


def _admin_dsn(admin_url: str) -> str:
    from common.pgdev import admin_url as parse

    return (
        parse(admin_url)
        .render_as_string(hide_password=False)
        .replace("postgresql+asyncpg://", "postgresql://")
    )


async def _admin(admin_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(_admin_dsn(admin_url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def fresh_postgres(admin_url: str, name: str) -> str:
    """A new, migrated settlement database `name` on the server (dropped first if it is there)."""
    from common.pgdev import admin_url as parse

    if not _NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    asyncio.run(
        _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    )
    url = parse(admin_url).set(database=name).render_as_string(hide_password=False)
    upgrade("settlement", url)
    return url


def drop_postgres(admin_url: str, name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fresh_sqlite(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{path}"
    upgrade("settlement", url)
    return url


def postgres_from_env() -> str | None:
    """TEST_POSTGRES_URL, the suite's PostgreSQL, when set."""
    return os.environ.get("TEST_POSTGRES_URL") or None


# --- (b) the year clearing, timed ---------------------------------------------------------------------------


UNSHOWN = {"recompute equal to the first run"}  # checked, too long to print


def _fen(yuan: Decimal) -> int:
    return int(yuan * 100)


async def time_clearing(url: str, loaded: Loaded, *, profile: Path | None = None) -> dict[str, Any]:
    """compute_clearing (then its recompute, then budget_execution), each in its own unit of work."""
    db = Database.from_url(url)
    clock = FrozenClock(NOW)
    try:
        async with db.transaction(readonly=True) as session:  # a warm pool, as a running service has
            await session.execute(sa.text("SELECT 1"))

        async def clear() -> Any:
            async with SettlementUnitOfWork(db) as uow:  # committed at the end, as the API commits
                return await compute_clearing(
                    uow=uow, year=YEAR, insutype=INSUTYPE, computed_by="bench", clock=clock
                )

        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        first = await clear()
        first_s, first_cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"  clearing computed in {first_s:.2f}s; recomputing the draft ...", file=sys.stderr)
        gc.collect()
        started = time.perf_counter()
        second = await clear()
        second_s = time.perf_counter() - started
        # The recompute once more with the cyclic garbage collector paused: for the diagnosis only.
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            await clear()
            paused_s = time.perf_counter() - started
        finally:
            gc.enable()
        started = time.perf_counter()
        async with SettlementUnitOfWork(db, readonly=True) as uow:  # a GET's unit of work
            execution = await budget_execution(
                uow=uow,
                year=YEAR,
                insutype=INSUTYPE,
                on=date(YEAR, 12, 31),
                fixmedins_code=None,
                clock=clock,
            )
        execution_s = time.perf_counter() - started
        # Where the time goes, apart: the year book, the cases query (with the rows' decoding), the grouping
        # and points of every case (YearBook.evaluate_all).
        split: dict[str, float] = {}
        async with SettlementUnitOfWork(db, readonly=True) as uow:
            mark = time.perf_counter()
            book = await year_book(uow, YEAR, INSUTYPE)
            split["year_book_s"] = time.perf_counter() - mark
            mark = time.perf_counter()
            rows = await uow.points.cases(insutype=INSUTYPE, first=FIRST_DAY, last=LAST_DAY)
            split["cases_query_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        results = book.evaluate_all(rows)
        split["grouping_s"] = time.perf_counter() - mark
        del rows, results
        profiled = None
        if profile is not None:
            profiler = cProfile.Profile()
            profiler.enable()
            started = time.perf_counter()
            await clear()
            profiled_s = time.perf_counter() - started
            profiler.disable()
            profiler.dump_stats(profile)
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(40)
            profiled = {"seconds": round(profiled_s, 2), "file": str(profile), "top": text.getvalue()}
    finally:
        await db.dispose()
    clearing = first.clearing
    lines = clearing.lines
    checks = {
        "cases": (clearing.cases, loaded.cases),
        "lines": (len(lines), loaded.hospitals),
        "sum of the lines' F (fen)": (sum(_fen(line.f) for line in lines), loaded.hifp_fen),
        "pool F (fen)": (_fen(clearing.f), loaded.hifp_fen),
        "pool N (fen)": (_fen(clearing.n), loaded.medfee_fen - loaded.hifp_fen),
        "sum of the lines' W (fen)": (sum(_fen(line.withheld) for line in lines), loaded.reserve_fen),
        "special cases": (sum(line.special_cases for line in lines), loaded.special),
        "created, then recomputed": ((first.created, second.created), (True, False)),
        "recompute equal to the first run": (
            second.clearing.model_dump(exclude={"computed_at"}),
            clearing.model_dump(exclude={"computed_at"}),
        ),
        "budget execution cases": (execution.cases, loaded.cases),
        "budget execution F (fen)": (_fen(execution.f), loaded.hifp_fen),
    }
    return {
        "cases": clearing.cases,
        "hospitals": len(lines),
        "seconds": round(first_s, 3),
        "cpu_s": round(first_cpu, 3),  # this process's CPU (PostgreSQL's is in its own processes)
        "per_s": round(clearing.cases / first_s) if first_s else None,
        "recompute_s": round(second_s, 3),
        "gc_paused_s": round(paused_s, 3),
        "budget_execution_s": round(execution_s, 3),
        "split": {name: round(value, 3) for name, value in split.items()},
        "point_value": str(clearing.point_value),
        "total_points": str(clearing.total_points),
        "budget": str(clearing.budget),
        "f": str(clearing.f),
        "n": str(clearing.n),
        "clearing_total": str(clearing.clearing_total),
        "colours": dict(Counter(str(line.colour.value) for line in lines)),
        "deviations": {
            "low": sum(line.low_cases for line in lines),
            "high": sum(line.high_cases for line in lines),
            "ungrouped": sum(line.ungrouped_cases for line in lines),
            "special": sum(line.special_cases for line in lines),
        },
        "checks": {
            name: {"ok": got == want, **({} if name in UNSHOWN else {"got": got, "want": want})}
            for name, (got, want) in checks.items()
        },
        "checks_failed": sum(1 for got, want in checks.values() if got != want),
        "profile": profiled,
    }


def at_target(backend: str, cases: int, hospital_count: int) -> bool:
    """Whether a clearing was measured where and at the size of the target (PostgreSQL, 500,000 x 300)."""
    return backend == "postgresql" and cases >= FULL_CLEARING[0] and hospital_count >= FULL_CLEARING[1]


@dataclass
class ClearingPlan:
    """Where and at what size (b) runs, and why."""

    backend: str  # postgresql | sqlite
    admin_url: str | None
    cases: int
    hospitals: int
    note: str = ""

    @property
    def at_target(self) -> bool:
        return at_target(self.backend, self.cases, self.hospitals)


def plan_clearing(
    *, postgres: str | None, quick: bool, cases: int | None, hospital_count: int | None
) -> ClearingPlan:
    """PostgreSQL when a URL is given (outside --quick, TEST_POSTGRES_URL too); else SQLite, and at full
    size only when asked for explicitly (the target is PostgreSQL's)."""
    sizes = QUICK if quick else FULL
    count = hospital_count or sizes["hospitals"]
    admin = postgres or (None if quick else postgres_from_env())
    if admin is not None:
        return ClearingPlan("postgresql", admin, cases or sizes["clearing_cases"], count)
    if quick or cases is not None:
        return ClearingPlan("sqlite", None, cases or sizes["clearing_cases"], count)
    note = (
        f"the year clearing of {FULL_CLEARING[0]:,} cases is specified on PostgreSQL and no PostgreSQL URL "
        f"was given (--postgres, or TEST_POSTGRES_URL): skipped at full size; run at {SQLITE_CLEARING:,} "
        "cases on SQLite instead (reduced size)"
    )
    return ClearingPlan("sqlite", None, SQLITE_CLEARING, count, note)


def measure_clearing(
    plan: ClearingPlan, *, database: str, sqlite_path: Path, profile: Path | None = None
) -> dict[str, Any]:
    """(b): a fresh database filled, the clearing timed and checked, the database dropped."""
    if plan.note:
        print(f"points: {plan.note}", file=sys.stderr)
    url = fresh_sqlite(sqlite_path) if plan.admin_url is None else fresh_postgres(plan.admin_url, database)
    try:
        started = time.perf_counter()
        loaded = asyncio.run(fill(url, cases=plan.cases, hospital_count=plan.hospitals))
        fill_s = time.perf_counter() - started
        outcome = asyncio.run(time_clearing(url, loaded, profile=profile))
    finally:
        if plan.admin_url is not None:
            drop_postgres(plan.admin_url, database)
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
    return {
        "backend": plan.backend,
        "reduced": bool(plan.note),
        "note": plan.note,
        "fill_s": round(fill_s, 1),
        "loaded": {
            "cases": loaded.cases,
            "hospitals": loaded.hospitals,
            "settlement_lists": loaded.lists,
            "special_cases": loaded.special,
            "hifp_fen": loaded.hifp_fen,
            "budget_fen": loaded.budget_fen,
            "reserve_fen": loaded.reserve_fen,
        },
        **outcome,
    }


def print_checks(clearing: dict[str, Any], stream: TextIO = sys.stdout) -> None:
    print("  clearing checks:", file=stream)
    for name, check in clearing["checks"].items():
        shown = f"{check['got']} (loaded {check['want']})" if "got" in check else ""
        print(f"    {'ok ' if check['ok'] else 'BAD'} {name} {shown}".rstrip(), file=stream)


def _rows(grouping: dict[str, Any], clearing: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    def met(ok: bool | None) -> str:
        return {True: "yes", False: "NO", None: ""}[ok]

    where = f"{clearing['backend']}{', reduced size' if clearing['reduced'] else ''}"
    size = f"{clearing['cases']:,} cases, {clearing['hospitals']} hospitals ({where})"
    rows = [
        (
            f"{method.upper()} grouping + points, {grouping['cases']:,} cases "
            f"({grouping['distinct_codings']:,} codings)",
            f"{grouping[method]['per_s']:,} cases/s",
            ">= 20,000/s",
            met(grouping[method]["per_s"] >= GROUPING_TARGET),
        )
        for method in ("dip", "drg")
    ]
    rows += [
        (
            f"  {method.upper()} with the garbage collector paused",
            f"{grouping[method]['gc_paused_per_s']:,} cases/s",
            "",
            "",
        )
        for method in ("dip", "drg")
    ]
    rows += [
        (
            f"year clearing, {size}",
            f"{clearing['seconds']:.2f} s",
            "500,000 x 300 in <= 10 s",
            met(
                clearing["seconds"] <= CLEARING_TARGET_S
                if at_target(clearing["backend"], clearing["cases"], clearing["hospitals"])
                else None
            ),
        ),
        ("  the same, cases per second", f"{clearing['per_s']:,} cases/s", "", ""),
        ("  the same, CPU of this process", f"{clearing['cpu_s']:.2f} s", "", ""),
        ("  recompute of the draft", f"{clearing['recompute_s']:.2f} s", "", ""),
        ("  recompute, garbage collector paused", f"{clearing['gc_paused_s']:.2f} s", "", ""),
        ("  budget execution of the year", f"{clearing['budget_execution_s']:.2f} s", "", ""),
    ]
    rows += [
        (f"    apart, collector on: {name[:-2].replace('_', ' ')}", f"{value:.2f} s", "", "")
        for name, value in clearing["split"].items()
    ]
    rows.append(
        ("clearing checks failed", f"{clearing['checks_failed']}", "0", met(clearing["checks_failed"] == 0))
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="the clearing on this PostgreSQL server")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, SQLite unless --postgres (smoke test)"
    )
    parser.add_argument("--cases", type=int, help="cases grouped in memory (default 200,000; quick 5,000)")
    parser.add_argument("--clearing-cases", type=int, help="cases of the clearing (500,000; quick 5,000)")
    parser.add_argument("--hospitals", type=int, help="hospitals of the clearing (300; quick 30)")
    parser.add_argument(
        "--database", default=f"bench_points_{os.getpid()}", help="with PostgreSQL: the fresh database's name"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile of an extra clearing run")
    parser.add_argument("--var", type=Path, default=Path("var/bench"), help="where results are written")
    args = parser.parse_args(argv)
    configure_logging("bench", "WARNING")
    sizes = QUICK if args.quick else FULL
    args.var.mkdir(parents=True, exist_ok=True)
    grouping = measure_grouping(args.cases or sizes["cases"])
    plan = plan_clearing(
        postgres=args.postgres, quick=args.quick, cases=args.clearing_cases, hospital_count=args.hospitals
    )
    clearing = measure_clearing(
        plan,
        database=args.database,
        sqlite_path=args.var / f"points-{os.getpid()}.db",
        profile=args.var / f"points-clearing-{plan.backend}.prof" if args.profile else None,
    )
    rows = _rows(grouping, clearing)
    header = ("metric", "measured", "target", "met?")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"\npayment by points benchmark (grouping in memory; clearing on {clearing['backend']}; "
        f"{os.cpu_count()} cores, load average {load} at the end)"
    )
    for row in (header, tuple("-" * w for w in widths), *rows):
        print(
            "  "
            + " | ".join(
                c.rjust(w) if i == 1 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(
        f"  PV {clearing['point_value']} yuan/point, T {clearing['total_points']}, budget {clearing['budget']}, "
        f"F {clearing['f']}, N {clearing['n']}, sum of C {clearing['clearing_total']}; colours {clearing['colours']}; "
        f"deviation cases {clearing['deviations']}"
    )
    print_checks(clearing)
    if clearing["note"]:
        print(f"  note: {clearing['note']}")
    if clearing["profile"]:
        print(
            f"\ncProfile of an extra clearing run ({clearing['profile']['seconds']:.2f} s under the profiler):"
        )
        print(clearing["profile"]["top"])
    out = args.var / "points.json"
    out.write_text(
        json.dumps(
            {"grouping": grouping, "clearing": clearing, "load_average": os.getloadavg()},
            indent=2,
            default=str,
        )
    )
    print(f"  results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
