"""What a rule looks at: the claim under review, the person's history, and what a rule answers (a hit)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from common.clock import business_date
from common.national import Benefit, med_types_of

# What the rules count as an admission or an outpatient visit: the default policy's benefit of each med_type.
INPATIENT = med_types_of(Benefit.INPATIENT)
OUTPATIENT = med_types_of(Benefit.OUTPATIENT)
# Where a traceability code was used: settled in a claim, or sold by a pharmacy's POS.
SETTLEMENT, SALE = "settlement", "sale"


def dise_category(dise_codg: str | None) -> str | None:
    """The diagnosis category: the first three characters of the ICD-10 code (e.g. I63.900 → I63)."""
    if not dise_codg:
        return None
    return dise_codg.strip().upper()[:3] or None


@dataclass(frozen=True, slots=True)
class Line:
    """A fee line of the claim under review."""

    feedetl_sn: str
    med_list_codg: str
    cnt: Decimal
    amount_fen: int
    fee_date: date
    trace_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Claim:
    """The claim a rule judges: about to be settled (review), or just settled (post rules, backtest)."""

    setl_id: str | None
    psn_no: str
    med_type: str
    fixmedins_code: str
    hosp_lv: int | None
    dise_codg: str | None
    begin_date: date
    end_date: date | None
    setl_date: date
    medfee_fen: int
    fund_pay_fen: int
    psn_part_fen: int
    gend: str | None
    brdy: date | None
    lines: tuple[Line, ...] = ()
    # 医疗救助类别 of the person's coverage when settled: extreme_poverty | minimum_living | monitored | None.
    assistance: str | None = None

    @property
    def dise_category(self) -> str | None:
        return dise_category(self.dise_codg)

    @property
    def is_inpatient(self) -> bool:
        return self.med_type in INPATIENT

    @property
    def is_outpatient(self) -> bool:
        return self.med_type in OUTPATIENT

    @property
    def key(self) -> str:
        """What a finding about this claim alone is keyed by."""
        return self.setl_id or "review"


@dataclass(frozen=True, slots=True)
class PastClaim:
    """A settled, unreversed claim of the same person (never the claim under review itself)."""

    setl_id: str
    med_type: str
    fixmedins_code: str
    dise_codg: str | None
    begin_date: date
    end_date: date | None
    setl_date: date
    psn_part_fen: int

    @property
    def dise_category(self) -> str | None:
        return dise_category(self.dise_codg)


@dataclass(frozen=True, slots=True)
class PastLine:
    """A settled, unreversed fee line of the same person."""

    setl_id: str
    feedetl_sn: str
    med_list_codg: str
    fee_date: date
    cnt: Decimal


@dataclass(frozen=True, slots=True)
class CodeUse:
    """A standing use of a traceability code: settled in a claim, or sold by a pharmacy (POS)."""

    source: str  # settlement | sale
    use_id: str  # the setl_id, or the pharmacy's sale_id
    fixmedins_code: str
    used_at: datetime

    def describe(self) -> str:
        """The use as a hit names it, with its Asia/Shanghai date."""
        on = business_date(self.used_at)
        if self.source == SALE:
            return f"sold at pharmacy {self.fixmedins_code} (sale {self.use_id}) on {on}"
        return f"settled in {self.use_id} at {self.fixmedins_code} on {on}"


@dataclass(frozen=True, slots=True)
class ItemLimit:
    """What the catalogue restricts of an item: gender, age range, quantity per visit."""

    gend_lmt: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    max_cnt_per_visit: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Peers:
    """Inpatient settlements of the same diagnosis category and hospital level (the claim excluded)."""

    count: int
    total_fen: int


@dataclass(frozen=True, slots=True)
class History:
    """What the projection knows around a claim; each family reads only what it needs."""

    claims: tuple[PastClaim, ...] = ()
    lines: tuple[PastLine, ...] = ()
    # Each code of the claim already used elsewhere: its first standing use.
    used_trace_codes: Mapping[str, CodeUse] = field(default_factory=dict)
    catalog: Mapping[str, ItemLimit] = field(default_factory=dict)
    peers: Peers | None = None
    death_date: date | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One thing a rule flags; `key` makes a finding unique per rule (a setl_id, or person and window)."""

    message: str
    key: str
    feedetl_sn: str | None = None
    vola_fen: int | None = None
