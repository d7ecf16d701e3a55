"""Payment by points (DRG/DIP 点数法) under the yearly budget: grouping, a case's points, the year clearing.

Pure arithmetic of DESIGN §12, no I/O. Money is integer fen; points carry 4 decimals, the point value 6, and
every named quantity is rounded half-up when it is named (intermediates are exact Decimals):

- a case's points: r = medfee ÷ the group's avg_cost; r < low_ratio → base × r (低倍率), r > high_ratio →
  base × (r − high_ratio + 1) (高倍率), else base; × the institution's coefficient; an ungrouped case is
  medfee ÷ yuan_per_point; 特例单议 sets the points by hand; rounded to 4 decimals;
- the clearing: PV = (budget + N) ÷ T (6 decimals); E_i = T_i × PV − N_i; A_i by 结余留用 / 超支分担;
  final_i = A_i × (1 − q × (1 − s_i)); C_i = final_i − (F_i − W_i).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, Final

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)
_POINT_PLACES: Final = Decimal("0.0001")
_PV_PLACES: Final = Decimal("0.000001")
_FEN: Final = Decimal(1)
INPATIENT_MED_TYPE: Final = "21"
POINTS_INSUTYPES: Final = ("310", "390")


class Method(StrEnum):
    DRG = "drg"
    DIP = "dip"


class Deviation(StrEnum):
    NORMAL = "normal"
    LOW = "low"  # 低倍率
    HIGH = "high"  # 高倍率
    UNGROUPED = "ungrouped"  # 未入组: paid per yuan and listed for 特例单议


class Colour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


def round_points(value: Decimal) -> Decimal:
    return value.quantize(_POINT_PLACES, rounding=ROUND_HALF_UP)


def round_value(value: Decimal) -> Decimal:
    return value.quantize(_PV_PLACES, rounding=ROUND_HALF_UP)


def round_fen(value: Decimal) -> int:
    return int(value.quantize(_FEN, rounding=ROUND_HALF_UP))


# --- a payment year's parameters -----------------------------------------------------------------------

DEFAULT_COEFFICIENTS: Final[Mapping[int, Decimal]] = {
    3: Decimal("1.00"),
    2: Decimal("0.90"),
    1: Decimal("0.80"),
}


@dataclass(frozen=True, slots=True)
class YearParameters:
    """The parameters of a payment year (defaults of DESIGN §12)."""

    quality_reserve_ratio: Decimal = Decimal("0.05")  # q
    low_ratio: Decimal = Decimal("0.4")
    high_ratio: Decimal = Decimal("2.0")
    keep: Decimal = Decimal("0.15")  # 结余留用
    share: Decimal = Decimal("0.5")  # 超支分担
    band: Decimal = Decimal("0.10")
    yuan_per_point: Decimal = Decimal("100")  # an ungrouped case's points: medfee ÷ this
    coefficients: Mapping[int, Decimal] = field(default_factory=lambda: dict(DEFAULT_COEFFICIENTS))

    def coefficient(self, hosp_lv: int | None, own: Decimal | None) -> Decimal:
        """The institution's coefficient: its own when it carries one, else the default of its level."""
        if own is not None:
            return own
        return self.coefficients.get(hosp_lv or 1, DEFAULT_COEFFICIENTS[1])


# --- groups and grouping ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Group:
    """A DRG or DIP group of a year: its points and the base-year cost per case."""

    code: str
    name: str
    points: Decimal
    avg_cost_fen: int


@dataclass(frozen=True, slots=True)
class Procedure:
    code: str
    main: bool = False


@dataclass(frozen=True, slots=True)
class CaseCoding:
    """What a case is grouped on: from its 医保结算清单, else the visit's diagnosis and no procedure."""

    main_diagnosis: str | None
    secondary_diagnoses: tuple[str, ...] = ()
    procedures: tuple[Procedure, ...] = ()
    from_list: bool = False

    @property
    def procedure_codes(self) -> list[str]:
        """The case's procedure codes, the main one first, each once."""
        ordered = [p.code for p in self.procedures if p.main] + [
            p.code for p in self.procedures if not p.main
        ]
        return list(dict.fromkeys(ordered))


def coding_from_list(
    dise_codg: str | None,
    diagnoses: Sequence[Mapping[str, Any]] | None,
    procedures: Sequence[Mapping[str, Any]] | None,
) -> CaseCoding:
    """A case's coding: from its 医保结算清单 ({dise_codg, main} and {oprn_codg, main} rows), else the visit's
    diagnosis alone, with no procedure."""
    if diagnoses:
        main = next((d["dise_codg"] for d in diagnoses if d.get("main")), None)
        secondary = tuple(d["dise_codg"] for d in diagnoses if not d.get("main"))
        done = tuple(Procedure(p["oprn_codg"], bool(p.get("main"))) for p in procedures or ())
        return CaseCoding(main, secondary, done, from_list=True)
    return CaseCoding(dise_codg, from_list=False)


CODE_SEPARATOR: Final = "|"


def compact_coding(coding: CaseCoding) -> tuple[str, str, str]:
    """A listed case's coding as three texts: the main diagnosis, the others and the procedures (main first)."""
    return (
        coding.main_diagnosis or "",
        CODE_SEPARATOR.join(coding.secondary_diagnoses),
        CODE_SEPARATOR.join(coding.procedure_codes),
    )


def coding_from_compact(main: str, secondary: str, procedures: str) -> CaseCoding:
    """The coding `compact_coding` wrote (its first procedure the main one)."""
    return CaseCoding(
        main or None,
        tuple(secondary.split(CODE_SEPARATOR)) if secondary else (),
        tuple(Procedure(code, n == 0) for n, code in enumerate(procedures.split(CODE_SEPARATOR)))
        if procedures
        else (),
        from_list=True,
    )


@dataclass(frozen=True, slots=True)
class Grouped:
    """The group a case fell in (None: ungrouped) and why, in words a hospital's coder can follow."""

    group_code: str | None
    why: str
    adrg: str | None = None
    severity: str | None = None  # DRG: mcc | cc | none


def normalise_code(code: str) -> str:
    return code.strip().upper()


class DipGrouper:
    """DIP matching rows: group ← (main-diagnosis prefix, procedure code or none = conservative)."""

    def __init__(self, rows: Iterable[tuple[str, str | None, str]]) -> None:
        self._rows: dict[str, dict[str | None, str]] = {}
        for prefix, oprn, group_code in rows:
            key = normalise_code(oprn) if oprn else None
            self._rows.setdefault(normalise_code(prefix), {})[key] = group_code
        self._lengths = sorted({len(prefix) for prefix in self._rows}, reverse=True)

    def __len__(self) -> int:
        return sum(len(by_oprn) for by_oprn in self._rows.values())

    def group(self, coding: CaseCoding) -> Grouped:
        if not coding.main_diagnosis:
            return Grouped(None, "no main diagnosis")
        main = normalise_code(coding.main_diagnosis)
        procedures = [normalise_code(code) for code in coding.procedure_codes]
        rows = self._rows
        matched = [(main[:n], rows[main[:n]]) for n in self._lengths if n <= len(main) and main[:n] in rows]
        if not matched:
            return Grouped(None, f"no DIP row for main diagnosis {main}")
        if procedures:
            # The longest prefix with one of the case's procedures; at one prefix, the main procedure first.
            for prefix, by_oprn in matched:
                for code in procedures:
                    if code in by_oprn:
                        return Grouped(
                            by_oprn[code],
                            f"DIP row {prefix} + procedure {code} (longest prefix with a procedure)",
                        )
            return Grouped(
                None,
                f"no DIP row for main diagnosis {main} with any of the procedures {', '.join(procedures)}",
            )
        for prefix, by_oprn in matched:
            if None in by_oprn:
                return Grouped(by_oprn[None], f"DIP conservative row {prefix} (保守治疗, no procedure)")
        return Grouped(None, f"no conservative DIP row for main diagnosis {main}")


@dataclass(frozen=True, slots=True)
class Adrg:
    """A DRG grouping row: the ADRG, the main-diagnosis prefixes, its procedures (empty = medical), priority."""

    adrg: str
    dise_prefixes: tuple[str, ...]
    oprn_codes: frozenset[str]
    priority: int

    @property
    def surgical(self) -> bool:
        return bool(self.oprn_codes)


MCC, CC = "mcc", "cc"
_SUFFIX = {MCC: "1", CC: "3", None: "5"}
# A missing suffix falls back to the next less severe one present; 9 (不区分, one group for the ADRG) last.
_FALLBACK = {"1": ("1", "3", "5", "9"), "3": ("3", "5", "9"), "5": ("5", "9")}


class DrgGrouper:
    """DRG: the ADRG of the main diagnosis (surgical ones whose procedures the case has win, then lowest
    priority), then the suffix by the most severe complication of a secondary diagnosis (MCC 1, CC 3, none 5).
    """

    def __init__(
        self, adrgs: Iterable[Adrg], complications: Mapping[str, str], group_codes: Iterable[str]
    ) -> None:
        self._by_prefix: dict[str, list[tuple[Adrg, int]]] = {}
        for given in adrgs:
            adrg = Adrg(
                given.adrg,
                given.dise_prefixes,
                frozenset(map(normalise_code, given.oprn_codes)),
                given.priority,
            )
            for prefix in adrg.dise_prefixes:
                normal = normalise_code(prefix)
                self._by_prefix.setdefault(normal, []).append((adrg, len(normal)))
        self._complications = {
            normalise_code(prefix): level.lower() for prefix, level in complications.items()
        }
        self._groups = frozenset(group_codes)
        # Only the prefix lengths the tables hold are looked up.
        self._adrg_lengths = sorted({len(prefix) for prefix in self._by_prefix}, reverse=True)
        self._cc_lengths = sorted({len(prefix) for prefix in self._complications}, reverse=True)

    def severity(self, secondary: Sequence[str], main: str) -> str | None:
        found: str | None = None
        for diagnosis in secondary:
            code = normalise_code(diagnosis)
            if code == main:
                continue
            for n in self._cc_lengths:
                level = self._complications.get(code[:n]) if n <= len(code) else None
                if level is not None:
                    if level == MCC:
                        return MCC
                    found = CC
                    break
        return found

    def group(self, coding: CaseCoding) -> Grouped:
        if not coding.main_diagnosis:
            return Grouped(None, "no main diagnosis")
        main = normalise_code(coding.main_diagnosis)
        procedures = {normalise_code(code) for code in coding.procedure_codes}
        by_prefix = self._by_prefix
        candidates = [
            pair for n in self._adrg_lengths if n <= len(main) for pair in by_prefix.get(main[:n], ())
        ]
        if not candidates:
            return Grouped(None, f"no ADRG for main diagnosis {main}")
        surgical = [(a, n) for a, n in candidates if a.surgical and a.oprn_codes & procedures]
        medical = [(a, n) for a, n in candidates if not a.surgical]
        chosen = surgical or medical
        if not chosen:
            return Grouped(
                None,
                f"main diagnosis {main} maps only to surgical ADRGs and the case has none of their procedures",
            )
        adrg, _ = min(chosen, key=lambda pair: (pair[0].priority, -pair[1], pair[0].adrg))
        level = self.severity(coding.secondary_diagnoses, main)
        kind = "surgical" if adrg.surgical else "medical"
        wanted = _SUFFIX[level]
        for suffix in _FALLBACK[wanted]:
            code = adrg.adrg + suffix
            if code in self._groups:
                note = "" if suffix == wanted else f", {adrg.adrg}{wanted} not in the year's groups"
                return Grouped(
                    code,
                    f"{kind} ADRG {adrg.adrg} (priority {adrg.priority}), {level or 'no'} complication{note}",
                    adrg=adrg.adrg,
                    severity=level or "none",
                )
        return Grouped(
            None,
            f"{kind} ADRG {adrg.adrg} has no group {adrg.adrg}{wanted} nor a less severe one this year",
            adrg=adrg.adrg,
            severity=level or "none",
        )


# --- a case's points -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CasePoints:
    points: Decimal
    deviation: Deviation
    ratio: Decimal | None  # r, exact (None when ungrouped)
    base: Decimal | None
    coefficient: Decimal | None
    special: bool = False


def case_points(
    *,
    medfee_fen: int,
    group: Group | None,
    coefficient: Decimal,
    parameters: YearParameters,
    special_points: Decimal | None = None,
) -> CasePoints:
    """The points of one case, rounded half-up to 4 decimals (特例单议 points replace the computed ones)."""
    if group is None:
        computed = CasePoints(
            round_points(Decimal(medfee_fen) / 100 / parameters.yuan_per_point),
            Deviation.UNGROUPED,
            None,
            None,
            None,
        )
    else:
        ratio = Decimal(medfee_fen) / Decimal(group.avg_cost_fen)
        if ratio < parameters.low_ratio:
            raw, deviation = group.points * ratio, Deviation.LOW
        elif ratio > parameters.high_ratio:
            raw, deviation = group.points * (ratio - parameters.high_ratio + 1), Deviation.HIGH
        else:
            raw, deviation = group.points, Deviation.NORMAL
        computed = CasePoints(round_points(raw * coefficient), deviation, ratio, group.points, coefficient)
    if special_points is None:
        return computed
    return CasePoints(
        round_points(special_points),
        computed.deviation,
        computed.ratio,
        computed.base,
        computed.coefficient,
        True,
    )


# --- the year ------------------------------------------------------------------------------------------


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def year_share(year: int, through: date) -> Decimal:
    """The share of the year gone by the end of a day (0 before it starts, 1 after it ends)."""
    if through.year < year:
        return ZERO
    if through.year > year:
        return ONE
    return Decimal(through.timetuple().tm_yday) / Decimal(days_in_year(year))


def point_value(budget_fen: int, n_fen: int, total_points: Decimal, share: Decimal = ONE) -> Decimal | None:
    """PV = (budget × share + N) ÷ T in yuan per point, 6 decimals; share < 1 gives the provisional value."""
    if total_points <= 0:
        return None
    return round_value((Decimal(budget_fen) * share + n_fen) / 100 / total_points)


def entitlement_fen(points: Decimal, value: Decimal, n_fen: int) -> int:
    """E_i = T_i × PV − N_i, in fen."""
    return round_fen(points * value * 100 - n_fen)


def colour(f_fen: int, e_fen: int) -> Colour:
    """三色: (F − E) ÷ E — green ≤ 0, yellow ≤ 0.10, red above (no entitlement with money paid is red)."""
    if e_fen <= 0:
        return Colour.GREEN if f_fen <= 0 else Colour.RED
    overrun = Decimal(f_fen - e_fen) / Decimal(e_fen)
    if overrun <= 0:
        return Colour.GREEN
    return Colour.YELLOW if overrun <= Decimal("0.10") else Colour.RED


def quality_reserve_fen(hifp_fen: int, parameters: YearParameters) -> int:
    """The month's 质量保证金: q × the month's inpatient hifp_pay, to the fen."""
    return round_fen(parameters.quality_reserve_ratio * hifp_fen)


@dataclass(frozen=True, slots=True)
class InstitutionYear:
    """One institution's year going into the clearing."""

    fixmedins_code: str
    cases: int
    points: Decimal  # T_i: the sum of its cases' rounded points
    n_fen: int  # N_i: what anyone but the basic pool paid
    f_fen: int  # F_i: what the basic pool paid
    withheld_fen: int  # W_i: the reserves withheld in the months
    score: Decimal = ONE  # s_i


@dataclass(frozen=True, slots=True)
class ClearingLine:
    fixmedins_code: str
    cases: int
    points: Decimal
    cmi: Decimal | None
    n_fen: int
    f_fen: int
    e_fen: int
    a_fen: int
    withheld_fen: int
    score: Decimal
    final_fen: int
    paid_fen: int  # P_i = F_i − W_i
    clearing_fen: int  # C_i: positive owed to the institution, negative recovered from it
    colour: Colour


@dataclass(frozen=True, slots=True)
class Clearing:
    total_points: Decimal
    n_fen: int
    f_fen: int
    point_value: Decimal | None
    lines: list[ClearingLine]


def allowed_fen(e_fen: int, f_fen: int, parameters: YearParameters) -> int:
    """A_i: 结余留用 when under the entitlement, 超支分担 when over; nothing when E_i ≤ 0."""
    if e_fen <= 0:
        return 0
    e, f = Decimal(e_fen), Decimal(f_fen)
    if f <= e:
        return round_fen(min(e, f + parameters.keep * e))
    return round_fen(e + parameters.share * min(f - e, parameters.band * e))


def final_fen(a_fen: int, score: Decimal, parameters: YearParameters) -> int:
    """final_i = A_i × (1 − q × (1 − s_i))."""
    return round_fen(Decimal(a_fen) * (1 - parameters.quality_reserve_ratio * (1 - score)))


def clear_year(
    budget_fen: int, parameters: YearParameters, institutions: Iterable[InstitutionYear]
) -> Clearing:
    """The year clearing of one pool (DESIGN §12, steps 1–5)."""
    years = sorted(institutions, key=lambda item: item.fixmedins_code)
    total = sum((item.points for item in years), ZERO)
    n_fen = sum(item.n_fen for item in years)
    f_fen = sum(item.f_fen for item in years)
    value = point_value(budget_fen, n_fen, total)
    lines = []
    for item in years:
        e_fen = entitlement_fen(item.points, value, item.n_fen) if value is not None else 0
        a_fen = allowed_fen(e_fen, item.f_fen, parameters)
        final = final_fen(a_fen, item.score, parameters)
        paid = item.f_fen - item.withheld_fen
        lines.append(
            ClearingLine(
                fixmedins_code=item.fixmedins_code,
                cases=item.cases,
                points=item.points,
                cmi=round_points(item.points / item.cases) if item.cases else None,
                n_fen=item.n_fen,
                f_fen=item.f_fen,
                e_fen=e_fen,
                a_fen=a_fen,
                withheld_fen=item.withheld_fen,
                score=item.score,
                final_fen=final,
                paid_fen=paid,
                clearing_fen=final - paid,
                colour=colour(item.f_fen, e_fen),
            )
        )
    return Clearing(total, n_fen, f_fen, value, lines)
