"""The seeded generator of a synthetic city: pure (no I/O, no clock), the same seed giving the same bytes.

Normal traffic is kept clear of every default fraud rule (one claim per person and day, an item never twice
for a person on a day, limited items within their limits, one admission per person, yearly burden far below
50,000) so that what the rules find is what was planted: repeated admissions (admission_frequency, ≥ 3 in
365 days), split admissions (split_admission, readmitted ≤ 15 days after discharge), cost outliers
(cost_outlier, > 3 × the mean of ≥ 30 peers), reused traceability codes (trace_code_reuse, blocked in the
real-time review), care after death (after_death, the death recorded after the claim) and overpriced
pharmacies (red lights and a price index above 1.10).

Fund supervision (issue 23): codes sold through a pharmacy's POS then settled at a hospital (trace_code_reuse,
blocked), a stay billed bed and nursing (day by day, under their national 医保 codes) on only 3 of its 8 days
(bed_hold), and per month one institution of each institution-level family — a level-1 hospital of short,
cheap admissions for a mild diagnosis (induced_admission), a level-2 hospital costing 3 × per case
(institution_outlier), another coding MCC/CC its costs do not show (upcoding) — compared with peers of their
level as `City.rule_params` sets the rules for the city's size. Hospital lines name their doctor
(bilg_dr_codg), pharmacy lines their pharmacist (phar_prac_codg), all listed in `City.practitioners`; the
planted cases carry how the bureau settles them (refund, appeal, decision with points: one doctor to 12, one
to 8), and `City.suspended_claim` is the 12-point doctor's next visit, which settlement must refuse. Drugs
need traceability codes (trac_codg_required); level-1 hospitals send a fifth of their drug lines without.

Payment by points (DRG/DIP) of the played year: employees (310) by DRG, residents (390) by DIP, every hospital
but one in eight paid by points. An inpatient case is a condition treated conservatively or by a procedure,
with 0–3 secondary diagnoses (some CC/MCC), and costs base × treatment × severity × the hospital's level factor
× its efficiency × a spread; its 医保结算清单 names the main diagnosis (the visit's or a finer code under it),
the secondaries and the procedures (main first). The year's tables cover every condition but syncope (R55, 未入组
on purpose); each group's avg_cost is the mean cost of its cases across the city's levels and its points
avg_cost ÷ 100, and each level's coefficient is its cost factor, so a hospital's points follow its costs but
for its efficiency. Short stays (低倍率) and long ones at level-3 hospitals (高倍率) deviate. Each pool's budget
is 95 % of what its basic pool is expected to pay for the played cases (estimated from the default policy):
the pool as a whole overspends a little, the efficient hospitals end in surplus, the others overspend.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bench.city.model import (
    AFTER_DEATH,
    APPEAL_OVERTURNED,
    APPEAL_UPHELD,
    BED_HOLD,
    COST_OUTLIER,
    DECIDE,
    FAMILY_OF_KIND,
    INDUCED_ADMISSION,
    INSTITUTION_OUTLIER,
    OVERPRICED_PHARMACY,
    REFUND,
    REPEATED_ADMISSIONS,
    SPLIT_ADMISSION,
    TRACE_CODE_REUSE,
    TRACE_CODE_SOLD,
    UPCODING,
    City,
    ClaimSpec,
    DayPlan,
    DeathSpec,
    FamilySpec,
    PersonSpec,
    Phase,
    PlantedCase,
    PointsReference,
    Practitioner,
    SaleBatch,
    SuspendedClaim,
)
from common.money import yuan_to_fen
from common.progress import ProgressBar
from settlement.domain.policy import DEFAULT_POLICY

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_START = date(2026, 3, 27)
ADMDVS = "420100"
DISTRICTS = ("420102", "420103", "420104", "420105", "420106", "420107", "420111", "420112", "420115")
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红文玉梅鹏辉斌宇浩凯俊峰琳晨欣怡子涵"
# Cost-outlier peers: the default rule wants ≥ 30 peers of the same diagnosis category and hospital level.
OUTLIER_CATEGORY, OUTLIER_LEVEL = "J18", 2
MIN_PEERS = 30
OUTLIER_MULTIPLE = 5  # × the group's base cost (the rule flags above 3 × the mean)
# Inpatient groups of normal traffic: diagnosis code and name, and a base cost (yuan) at level 1.
DIAGNOSES = (
    ("J18.900", "肺炎", 5200),
    ("I63.900", "脑梗死", 7800),
    ("K80.200", "胆囊结石", 6400),
    ("S72.000", "股骨颈骨折", 9800),
    ("E11.900", "2型糖尿病", 4300),
    ("I25.100", "冠心病", 7100),
)
LEVEL_FACTOR = {1: Decimal("0.8"), 2: Decimal("1.0"), 3: Decimal("1.5")}
OUTPATIENT_DISEASES = (("J06.900", "上呼吸道感染"), ("K29.700", "胃炎"), ("I10.x00", "高血压"),
                       ("M54.500", "腰痛"), ("E11.900", "2型糖尿病"), ("L30.900", "皮炎"))  # fmt: skip
CHRONIC_DISEASES = (("I10.x00", "高血压"), ("E11.900", "2型糖尿病"), ("I25.100", "冠心病"))

# --- payment by points (DRG/DIP) -------------------------------------------------------------------------
POINTS_METHOD = {"310": "drg", "390": "dip"}
BUDGET_SHARE = Decimal("0.95")  # a pool's budget ÷ the pay expected for its played cases
POINT_YUAN = Decimal(100)  # a group's points = avg_cost ÷ this; also the year's yuan_per_point (未入组)
NOT_BY_POINTS_EVERY = 8  # every eighth hospital is still paid item by item (按项目付费)
EFFICIENCY_PERCENT = (90, 110)  # a hospital's costs × this ÷ 100, drawn once per hospital
SEVERITY = {"mcc": Decimal("1.30"), "cc": Decimal("1.15"), "none": Decimal(1)}
SEVERITY_SHARE = {"mcc": 0.08, "cc": 0.25, "none": 0.67}
MEAN_SEVERITY = sum((SEVERITY[k] * Decimal(str(v)) for k, v in SEVERITY_SHARE.items()), Decimal(0))
SHORT_STAY, SHORT_STAY_MULTIPLE = 0.08, Decimal("0.25")  # left after a day: 低倍率 (r < 0.4)
LONG_STAY, LONG_STAY_MULTIPLE = 0.22, Decimal("2.2")  # at level-3 hospitals: 高倍率 (r > 2), under 3 × peers
UNGROUPED_SHARE = 0.05  # admissions for syncope, a condition the year's tables leave out (未入组)
UNGROUPED = ("R55.x00", "晕厥", 3500)
NO_LIST_SHARE = 0.15  # plain conservative cases whose list is not sent: grouped on the visit's diagnosis
NATIONAL_LIST_SHARE = 0.33  # lists sent as the national 4101A message, the rest by REST
SURGERY, INTERVENTION, MEDICAL = "XP00001", "XP00002", "XT00001"  # the fee line a treatment is billed on

# --- hospitals, care billed by the day, practitioners ------------------------------------------------------
MIN_HOSPITALS = 8
LEVELS = (1, 2, 2, 3)  # hospital n is of level LEVELS[n % 4]: most are level 2, as in a city
# Bed and nursing are billed day by day under their national 医保 service codes (00 + the 9-digit price item
# of 全国医疗服务价格项目规范 + 4 digits): 1109 床位费, 1201 护理费 — what the bed_hold rule looks for.
BED_CODE = "00110900001{lv:04d}"
NURSING_CODE = "001201000030000"  # Ⅰ级护理
DOCTORS_PER_HOSPITAL, PHARMACISTS_PER_PHARMACY = 4, 2
UNSCANNED_AT_LEVEL_1 = (
    0.2  # drug lines a level-1 hospital sends without their traceability codes (扫码率 < 1)
)

# --- institution-level cases (institution-level rules run over the month) ---------------------------------
# Which level the peers of institution_outlier and upcoding are compared at (the cost-outlier peers' level).
PEER_LEVEL = 2
PEER_RULE_MIN_CASES = 5  # min_cases the bureau sets for a city this small (the defaults want 10 and 20)
INSTITUTION_OUTLIER_CASES = 6  # its admissions, each OUTLIER_COST_MULTIPLE × the usual cost
OUTLIER_COST_MULTIPLE = Decimal(3)  # the rule flags cost per case above 2 × the peers' mean
OUTLIER_DIAGNOSES = ("I63.900", "K80.200", "I25.100")  # under 30 peers each: the claim-level rule stays out
UPCODED_CASES = 12  # DRG cases coded with an MCC or a CC their cost does not show (高套)
UPCODED_DIAGNOSES = ("J18.900", "I63.900", "I25.100")  # medical ADRGs with MCC, CC and plain groups
INDUCED_CASES, INDUCED_ORDINARY = 6, 4  # short cheap mild admissions, and ordinary ones, at one hospital
INDUCED_MULTIPLE = Decimal("0.4")  # × the usual cost: under 3,000 yuan at every level (the rule's C)
MILD_DIAGNOSIS = ("E11.900", "2型糖尿病", 4300)  # 2型糖尿病不伴并发症: a mild diagnosis (E11.9) of the rule
BED_HOLD_STAY, BED_HOLD_CHARGED = 8, (0, 1, 7)  # an 8-day stay billed bed and nursing on 3 of its days


@dataclass(frozen=True, slots=True)
class Treatment:
    procedures: tuple[tuple[str, str], ...]  # (ICD-9-CM-3 医保版, name), the main one first; () 保守治疗
    share: float  # of the condition's ordinary cases
    factor: Decimal  # its cost × the condition's base
    item: str  # the fee line that carries it


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    finer: tuple[tuple[str, str], ...]  # finer 医保版 codes under the visit's diagnosis
    treatments: tuple[Treatment, ...]  # the first one conservative


def _conservative(share: float = 1.0) -> Treatment:
    return Treatment((), share, Decimal(1), MEDICAL)


CONDITIONS: dict[str, Condition] = {
    "J18.900": Condition("肺炎", (("J18.900x001", "社区获得性肺炎"), ("J18.900x002", "老年性肺炎")), (
        _conservative(0.9), Treatment((("33.2200", "纤维支气管镜检查"),), 0.1, Decimal("1.15"), INTERVENTION))),
    "I63.900": Condition("脑梗死", (("I63.900x001", "急性脑梗死"),), (
        _conservative(0.85), Treatment((("39.7400", "经皮颅内血管机械取栓术"),), 0.15, Decimal("2.4"), INTERVENTION))),
    "K80.200": Condition("胆囊结石", (("K80.200x002", "胆囊多发结石"),), (
        _conservative(0.3), Treatment((("51.2300", "腹腔镜下胆囊切除术"),), 0.6, Decimal("1.9"), SURGERY),
        Treatment((("51.2200", "胆囊切除术"),), 0.1, Decimal("2.3"), SURGERY))),
    "S72.000": Condition("股骨颈骨折", (("S72.000x001", "股骨颈头下骨折"),), (
        _conservative(0.2), Treatment((("81.5100", "全髋关节置换术"),), 0.45, Decimal("1.9"), SURGERY),
        Treatment((("81.5200", "部分髋关节置换术"),), 0.15, Decimal("1.6"), SURGERY),
        Treatment((("79.3500", "股骨骨折切开复位内固定术"),), 0.2, Decimal("1.5"), SURGERY))),
    "E11.900": Condition("2型糖尿病", (("E11.900x001", "2型糖尿病不伴有并发症"),), (_conservative(),)),
    "I25.100": Condition("冠心病", (("I25.100x001", "冠状动脉粥样硬化性心脏病"),), (
        _conservative(0.6), Treatment((("36.0700", "药物洗脱冠状动脉支架置入术"), ("88.5600", "冠状动脉造影")),
                                      0.4, Decimal("2.5"), INTERVENTION))),
    UNGROUPED[0]: Condition("晕厥", (("R55.x00x001", "血管迷走性晕厥"),), (_conservative(),)),
}  # fmt: skip
# Secondary diagnoses: an MCC, a CC, or neither (the CC/MCC list of the DRG pool).
MCC_DIAGNOSES = (("J96.000", "急性呼吸衰竭"), ("A41.900", "脓毒症"), ("N17.900", "急性肾衰竭"))
CC_DIAGNOSES = (("E11.900", "2型糖尿病"), ("J44.900", "慢性阻塞性肺病"), ("N18.900", "慢性肾脏病"),
                ("D64.900", "贫血"), ("I50.900", "心力衰竭"))  # fmt: skip
OTHER_DIAGNOSES = (
    ("I10.x00", "高血压"),
    ("E78.500", "高脂血症"),
    ("K76.000", "脂肪肝"),
    ("M81.900", "骨质疏松"),
)
COMPLICATIONS = {"J96.0": "mcc", "A41": "mcc", "N17": "mcc", "E11": "cc", "J44": "cc", "N18": "cc", "D64": "cc",
                 "I50": "cc"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class AdrgSpec:
    adrg: str
    name: str
    dise_prefixes: tuple[str, ...]
    oprn_codes: tuple[str, ...]  # () a medical ADRG
    priority: int
    suffixes: str  # the groups it has: 1 MCC, 3 CC, 5 neither, 9 one group for all


ADRGS = (
    AdrgSpec("ES3", "呼吸系统感染/炎症", ("J18",), (), 50, "135"),
    AdrgSpec("BE2", "脑血管介入治疗", ("I63",), ("39.7400",), 10, "9"),
    AdrgSpec("BR2", "脑缺血性疾患", ("I63",), (), 50, "135"),
    AdrgSpec("HC3", "胆囊切除手术", ("K80",), ("51.2200", "51.2300"), 10, "35"),
    AdrgSpec("HU1", "胆道疾患", ("K80",), (), 50, "35"),
    AdrgSpec("IC2", "髋、肩、膝、肘和踝关节置换术", ("S72",), ("81.5100", "81.5200"), 10, "135"),
    AdrgSpec("IF3", "股骨手术", ("S72",), ("79.3500",), 20, "35"),
    AdrgSpec("IS2", "除前臂、腕、手足外的损伤", ("S72",), (), 50, "35"),
    AdrgSpec("KS1", "糖尿病", ("E11",), (), 50, "135"),
    AdrgSpec("FM1", "经皮冠状动脉支架植入", ("I25",), ("36.0700",), 10, "35"),
    AdrgSpec("FT3", "冠状动脉粥样硬化/血栓/闭塞", ("I25",), (), 50, "135"),
)
SUFFIX_NAME = {"1": "伴严重并发症或合并症", "3": "伴并发症或合并症", "5": "不伴并发症或合并症", "9": ""}
SUFFIX_SEVERITY = {"1": SEVERITY["mcc"], "3": SEVERITY["cc"], "5": SEVERITY["none"], "9": MEAN_SEVERITY}
# A finer DIP conservative row: the longest prefix wins over the condition's own.
FINER_DIP_ROWS = (("K80.200x002", "胆囊多发结石"),)


def _yuan(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def drg_adrg(dise: str, treatment: Treatment) -> AdrgSpec:
    """The ADRG a case of this condition and treatment falls in: a surgical one whose procedures it has, else
    the medical one (the lowest priority first), as settlement's DRG grouper decides."""
    candidates = [spec for spec in ADRGS if dise[:3] in spec.dise_prefixes]
    done = {code for code, _ in treatment.procedures}
    surgical = [spec for spec in candidates if set(spec.oprn_codes) & done]
    return min(
        surgical or [spec for spec in candidates if not spec.oprn_codes], key=lambda spec: spec.priority
    )


def _iso(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), SHANGHAI).isoformat()


def check_char(first17: str) -> str:
    """GB 11643 (ISO 7064 MOD 11-2) check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


@dataclass(frozen=True, slots=True)
class Item:
    code: str
    name: str
    kind: str  # drug | service | bed | nursing | procedure
    price: Decimal  # the usual price (yuan)
    chrgitm_lv: str
    max_cnt: int | None = None
    gend_lmt: str | None = None
    age_max: int | None = None


@dataclass
class _Person:
    spec: PersonSpec
    gend: str
    brdy: date
    insutype: str
    busy_days: set[date] = field(default_factory=set)  # days with a claim (one a day)
    admitted: bool = False  # had an admission (one per person in normal traffic)
    limited_used: set[str] = field(default_factory=set)
    reserved: bool = False  # a planted case's person: no normal traffic
    member_of: str | None = None


class _Builder:
    def __init__(
        self, seed: int, persons: int, days: int, start: date, claim_rate: float, sales: int
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, reproducible by seed
        self.seed, self.n_persons, self.start = seed, persons, start
        self.day_dates = tuple(start + timedelta(days=n) for n in range(days))
        self.claim_rate, self.sales_per_pharmacy_day = claim_rate, sales
        self.trace_serial = 0
        self.setl_serial: dict[tuple[str, date], int] = {}

    # --- reference data ------------------------------------------------------------------------------

    def institutions(self) -> None:
        n_hospitals = max(MIN_HOSPITALS, self.n_persons // 250)
        n_pharmacies = max(8, self.n_persons // 200)
        self.hospitals = [f"H{ADMDVS}{n:05d}" for n in range(1, n_hospitals + 1)]
        self.pharmacies = [f"P{ADMDVS}{n:05d}" for n in range(1, n_pharmacies + 1)]
        self.level = {code: LEVELS[n % len(LEVELS)] for n, code in enumerate(self.hospitals)}
        n_over = max(2, n_pharmacies // 8)
        self.overpriced = sorted(self.rng.sample(self.pharmacies, n_over))
        self.normal_pharmacies = [code for code in self.pharmacies if code not in self.overpriced]
        # Payment by points: drawn from a generator of their own, so the rest of the city does not move.
        points_rng = random.Random(f"points-{self.seed}")  # noqa: S311 - synthetic data
        self.points_hospitals = [
            code
            for n, code in enumerate(self.hospitals)
            if n % NOT_BY_POINTS_EVERY != NOT_BY_POINTS_EVERY - 1
        ]
        self.efficiency = {
            code: Decimal(points_rng.randrange(EFFICIENCY_PERCENT[0], EFFICIENCY_PERCENT[1] + 1)) / 100
            for code in self.hospitals
        }
        # A few hospitals carry their own coefficient (重点专科 +5 %, or −5 %), the others their level's.
        self.own_coefficient = {
            code: (LEVEL_FACTOR[self.level[code]] * Decimal(points_rng.choice(("0.95", "1.05")))).quantize(
                Decimal("0.01")
            )
            for code in sorted(points_rng.sample(self.points_hospitals, min(2, len(self.points_hospitals))))
        }
        self.points_rng = points_rng
        # Supervision: the hospitals of the institution-level cases, the practitioners. A generator of their
        # own, so the traffic's draws do not depend on them.
        sup = random.Random(f"supervision-{self.seed}")  # noqa: S311 - synthetic data
        self.sup_rng = sup
        peer_level = [c for c in self.points_hospitals if self.level[c] == PEER_LEVEL]
        self.outlier_hospital, self.upcoding_hospital = sup.sample(peer_level, 2)
        self.induced_hospital = sup.choice([c for c in self.hospitals if self.level[c] == 1])
        special = {self.outlier_hospital, self.upcoding_hospital, self.induced_hospital}
        # Hospitals of the ordinary traffic's admissions and of the claim-level planted cases.
        self.ordinary = [code for code in self.hospitals if code not in special]
        self.doctors = {
            code: [f"D{ADMDVS}{n * 10 + k:06d}" for k in range(1, DOCTORS_PER_HOSPITAL + 1)]
            for n, code in enumerate(self.hospitals, start=1)
        }
        self.pharmacists = {
            code: [f"Y{ADMDVS}{500_000 + n * 10 + k:06d}" for k in range(1, PHARMACISTS_PER_PHARMACY + 1)]
            for n, code in enumerate(self.pharmacies, start=1)
        }
        self.practitioners = [
            Practitioner(prac, "doctor", code) for code in self.hospitals for prac in self.doctors[code]
        ] + [
            Practitioner(prac, "pharmacist", code)
            for code in self.pharmacies
            for prac in self.pharmacists[code]
        ]
        self.institution_rows = [
            {"fixmedins_code": code, "fixmedins_name": f"武汉市第{n + 1}医院", "fixmedins_type": "hospital",
             "hosp_lv": self.level[code], "admdvs": ADMDVS, "status": "active",
             "points_payment": code in self.points_hospitals,
             **({"points_coefficient": str(self.own_coefficient[code])} if code in self.own_coefficient else {})}
            for n, code in enumerate(self.hospitals)
        ] + [
            {"fixmedins_code": code, "fixmedins_name": f"惠民大药房第{n + 1}店", "fixmedins_type": "pharmacy",
             "hosp_lv": None, "admdvs": ADMDVS, "status": "active"}
            for n, code in enumerate(self.pharmacies)
        ]  # fmt: skip

    def catalogue(self) -> None:
        rng = self.rng
        drug_names = ("阿莫西林胶囊", "头孢克肟片", "布洛芬缓释胶囊", "二甲双胍片", "氨氯地平片", "阿托伐他汀钙片",
                      "奥美拉唑肠溶胶囊", "硝苯地平控释片", "氯雷他定片", "蒙脱石散", "连花清瘟胶囊", "板蓝根颗粒",
                      "阿司匹林肠溶片", "甲钴胺片", "缬沙坦胶囊", "格列美脲片", "雷贝拉唑钠肠溶片", "左氧氟沙星片",
                      "复方甘草片", "维生素C片", "葡萄糖注射液", "氯化钠注射液", "头孢曲松钠注射剂", "胰岛素注射液",
                      "丹参滴丸", "六味地黄丸", "藿香正气水", "感冒灵颗粒", "孟鲁司特钠片", "替米沙坦片",
                      "美托洛尔缓释片", "瑞舒伐他汀钙片", "坦索罗辛缓释胶囊", "黄体酮胶囊", "小儿氨酚黄那敏颗粒",
                      "铝碳酸镁咀嚼片", "多潘立酮片", "碳酸钙D3片", "利伐沙班片", "氯吡格雷片")  # fmt: skip
        self.drugs: list[Item] = []
        for n, name in enumerate(drug_names):
            price = Decimal(rng.randrange(300, 9000)) / 100
            lv = ("01", "01", "02", "02", "03")[n % 5]
            max_cnt = 6 if n % 7 == 3 else None
            gend = "1" if name.startswith("坦索罗辛") else "2" if name.startswith("黄体酮") else None
            age_max = 14 if name.startswith("小儿") else None
            self.drugs.append(Item(f"XD{n + 1:05d}", name, "drug", price, lv, max_cnt, gend, age_max))
        services = (("普通门诊诊查费", 15, "01"), ("血常规检查", 25, "01"), ("尿常规检查", 18, "01"),
                    ("肝功能检查", 60, "01"), ("肾功能检查", 45, "01"), ("心电图", 30, "01"),
                    ("胸部X线摄影", 80, "01"), ("彩色多普勒超声", 160, "02"), ("CT平扫", 280, "02"),
                    ("磁共振成像", 520, "02"), ("静脉输液", 12, "01"), ("肌肉注射", 6, "01"),
                    ("针灸", 40, "02"), ("康复理疗", 65, "02"), ("特需门诊诊查费", 120, "03"),
                    ("妇科检查", 35, "01"), ("前列腺特异抗原测定", 90, "02"))  # fmt: skip
        self.services = [
            Item(f"XS{n + 1:05d}", name, "service", Decimal(price), lv,
                 gend_lmt="2" if name == "妇科检查" else "1" if name.startswith("前列腺") else None)
            for n, (name, price, lv) in enumerate(services)
        ]  # fmt: skip
        self.bed = {
            lv: Item(
                BED_CODE.format(lv=lv), f"普通病房床位费({lv}级医院)", "bed", Decimal(30 + 20 * lv), "01"
            )
            for lv in (1, 2, 3)
        }
        self.nursing = Item(NURSING_CODE, "Ⅰ级护理", "nursing", Decimal(28), "01")
        self.procedures = [
            Item("XP00001", "手术治疗(综合)", "procedure", Decimal(100), "01"),
            Item("XP00002", "介入治疗(综合)", "procedure", Decimal(100), "02"),
        ]
        self.materials = Item("XM00001", "一次性医用耗材", "service", Decimal(45), "03")
        self.medical = Item(MEDICAL, "内科综合治疗", "procedure", Decimal(100), "01")
        self.treatment_item = {
            SURGERY: self.procedures[0],
            INTERVENTION: self.procedures[1],
            MEDICAL: self.medical,
        }
        caps = {item.code: (item.price * Decimal("1.2")).quantize(Decimal("0.01"))
                for item in self.drugs if item.chrgitm_lv == "02"}  # fmt: skip
        rows = []
        for item in [
            *self.drugs,
            *self.services,
            *self.bed.values(),
            self.nursing,
            *self.procedures,
            self.medical,
            self.materials,
        ]:
            row: dict[str, Any] = {
                "med_list_codg": item.code,
                "name": item.name,
                "chrgitm_lv": item.chrgitm_lv,
            }
            if item.chrgitm_lv == "02":
                row["selfpay_prop"] = "0.1" if item.kind != "drug" else "0.15"
            if item.code in caps:
                row["pric_uplmt_amt"] = str(caps[item.code])
            if item.gend_lmt:
                row["gend_lmt"] = item.gend_lmt
            if item.age_max is not None:
                row["age_max"] = item.age_max
            if item.max_cnt is not None:
                row["max_cnt_per_visit"] = str(item.max_cnt)
            if item.kind == "drug":
                row["trac_codg_required"] = True  # 需扫追溯码: counted in each institution's scan rate
            rows.append(row)
        self.catalog_rows = rows
        self.drug_rows = []
        for n, item in enumerate(self.drugs):
            drug: dict[str, Any] = {
                "med_list_codg": item.code,
                "generic_name": item.name,
                "dosage_form": "胶囊" if "胶囊" in item.name else "注射剂" if "注射" in item.name else "片剂",
                "spec": "0.25g*24粒" if n % 2 else "10mg*28片",
                "manufacturer": ("华中制药", "长江药业", "九州通医药")[n % 3],
                "listing_price": _yuan(item.price * Decimal("1.1")),
            }
            if n % 2 == 0:  # 集采 drugs: the usual price stays below 1.5 × the procurement price
                drug["procurement_price"] = _yuan(item.price / Decimal("1.25"))
            self.drug_rows.append(drug)
        # Each pharmacy's price per drug: the usual price (the mode), a few a little cheaper, the overpriced
        # ones 35-60 % above (red: the difference ratio is above 0.30).
        self.price: dict[tuple[str, str], Decimal] = {}
        for code in self.pharmacies:
            for item in self.drugs:
                if code in self.overpriced:
                    factor = Decimal(135 + rng.randrange(26)) / 100
                elif rng.random() < 0.15:
                    factor = Decimal("0.92")
                else:
                    factor = Decimal(1)
                self.price[code, item.code] = (item.price * factor).quantize(Decimal("0.01"))

    # --- persons -------------------------------------------------------------------------------------

    def persons(self) -> None:
        rng = self.rng
        year = self.start.year
        certnos: set[str] = set()
        self.people: list[_Person] = []
        for n in range(self.n_persons):
            draw = rng.random()
            kind = "employee" if draw < 0.5 else "retiree" if draw < 0.65 else "resident"
            if kind == "employee":
                brdy = date(rng.randrange(1966, 2004), 1, 1) + timedelta(days=rng.randrange(365))
            elif kind == "retiree":
                brdy = date(rng.randrange(1938, 1964), 1, 1) + timedelta(days=rng.randrange(365))
            else:
                brdy = date(rng.randrange(1940, year - 1), 1, 1) + timedelta(days=rng.randrange(365))
            gend = "1" if rng.random() < 0.5 else "2"
            while True:
                seq = rng.randrange(100) * 10 + rng.randrange(5) * 2 + (1 if gend == "1" else 0)
                first17 = f"{rng.choice(DISTRICTS)}{brdy:%Y%m%d}{seq:03d}"
                certno = first17 + check_char(first17)
                if certno not in certnos:
                    certnos.add(certno)
                    break
            key = f"C{n + 1:07d}"
            person: dict[str, Any] = {
                "certno": certno,
                "psn_name": rng.choice(SURNAMES)
                + "".join(rng.choice(GIVEN) for _ in range(rng.randrange(1, 3))),
                "gend": gend,
                "brdy": brdy.isoformat(),
                "admdvs": ADMDVS,
            }
            if rng.random() < 0.7:
                person["tel"] = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
            waiting, assistance, acct = False, None, 0
            contributions: tuple[dict[str, Any], ...] = ()
            if kind in ("employee", "retiree"):
                begin = date(rng.randrange(2005, year), 1, 1)
                coverage: dict[str, Any] = {
                    "insutype": "310",
                    "begndate": begin.isoformat(),
                    "emp_code": f"91420100MA4K{rng.randrange(2000):04d}",
                    "psn_type": "employed" if kind == "employee" else "retired",
                    "enrolled_on": begin.isoformat(),
                }
                if kind == "employee":
                    # The month before the first played day, paid on its first day (before any load time).
                    month = (self.start - timedelta(days=1)).replace(day=1)
                    amount = Decimal(rng.randrange(4000, 15000)) / 10  # 10 % of a base of 4,000-15,000
                    contributions = (
                        {"insutype": "310", "period": f"{month:%Y-%m}", "amount": _yuan(amount),
                         "paid_at": _iso(month, 8)},
                    )  # fmt: skip
                    acct = int((amount * 2 / 10 * 100).quantize(Decimal(1)))
            else:
                if rng.random() < 0.06:
                    assistance = rng.choice(
                        ("extreme_poverty", "minimum_living", "minimum_living", "monitored")
                    )
                waiting = rng.random() < 0.04
                if waiting:
                    # Enrolled outside the concentrated period: 3 months without benefits (DESIGN §5).
                    enrolled = self.start - timedelta(days=20)
                    coverage = {
                        "insutype": "390",
                        "begndate": enrolled.isoformat(),
                        "enrolled_on": enrolled.isoformat(),
                    }
                else:
                    coverage = {"insutype": "390", "begndate": date(year, 1, 1).isoformat(),
                                "enrolled_on": date(year - 1, 11, 10).isoformat()}  # fmt: skip
                if assistance:
                    coverage["assistance"] = assistance
                paid = date.fromisoformat(coverage["enrolled_on"])
                contributions = (
                    {"insutype": "390", "period": str(date.fromisoformat(coverage["begndate"]).year),
                     "amount": "380.00", "paid_at": _iso(paid, 10)},
                )  # fmt: skip
            spec = PersonSpec(key, kind, person, coverage, contributions, assistance, waiting, acct)
            self.people.append(_Person(spec, gend, brdy, coverage["insutype"]))
        # Family mutual aid: about one employee in ten shares the account with one or two residents.
        residents = [p for p in self.people if p.insutype == "390"]
        rng.shuffle(residents)
        self.family_specs: list[FamilySpec] = []
        for holder in self.people:
            if holder.spec.kind != "employee" or rng.random() >= 0.1 or not residents:
                continue
            members = [residents.pop() for _ in range(min(len(residents), 1 + rng.randrange(2)))]
            for member in members:
                member.member_of = holder.spec.key
            self.family_specs.append(FamilySpec(holder.spec.key, tuple(m.spec.key for m in members)))

    # --- claims --------------------------------------------------------------------------------------

    def _setl_id(self, code: str, day: date) -> str:
        serial = self.setl_serial.get((code, day), 0) + 1
        self.setl_serial[code, day] = serial
        return f"{code}-{day:%Y%m%d}-{serial:06d}"

    def _trace(self) -> str:
        self.trace_serial += 1
        return f"8{self.seed % 10**6:06d}{self.trace_serial:013d}"

    def _age(self, person: _Person, day: date) -> int:
        return day.year - person.brdy.year - ((day.month, day.day) < (person.brdy.month, person.brdy.day))

    def _allowed(self, item: Item, person: _Person, day: date) -> bool:
        if item.gend_lmt and item.gend_lmt != person.gend:
            return False
        if item.age_max is not None and self._age(person, day) > item.age_max:
            return False
        return not (item.max_cnt is not None and item.code in person.limited_used)

    def _line(
        self,
        sn: int,
        item: Item,
        cnt: int,
        price: Decimal,
        moment: str,
        codes: list[str],
        practitioner: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        line: dict[str, Any] = {
            "feedetl_sn": str(sn),
            "med_list_codg": item.code,
            "medins_list_codg": f"L{item.code}",
            "cnt": str(cnt),
            "pric": _yuan(price),
            "det_item_fee_sumamt": _yuan(price * cnt),
            "fee_ocur_time": moment,
        }
        if codes:
            line["drug_trac_codg"] = codes
        if practitioner is not None:
            field_name, prac_codg = practitioner
            line[field_name] = prac_codg
        return line

    def _doctor(self, code: str, doctor: str | None = None) -> tuple[str, str]:
        """开单医生 (bilg_dr_codg) of a hospital claim's lines: the one given, else one of the hospital's."""
        return "bilg_dr_codg", doctor or self.sup_rng.choice(self.doctors[code])

    def _scanned(self, code: str) -> bool:
        """Whether a hospital drug line carries its traceability codes: level-1 hospitals miss some (扫码率)."""
        return self.level.get(code) != 1 or self.sup_rng.random() >= UNSCANNED_AT_LEVEL_1

    def _pharmacist(self, code: str) -> tuple[str, str]:
        return "phar_prac_codg", self.sup_rng.choice(self.pharmacists[code])

    def _pick(self, items: list[Item], count: int, person: _Person, day: date) -> list[Item]:
        allowed = [item for item in items if self._allowed(item, person, day)]
        chosen = self.rng.sample(allowed, min(count, len(allowed)))
        for item in chosen:
            if item.max_cnt is not None:
                person.limited_used.add(item.code)
        return chosen

    def _header(self, person: _Person, code: str, day: date, med_type: str, begin: str) -> dict[str, Any]:
        acct = 1 if person.insutype == "310" or person.member_of else 0
        return {
            "fixmedins_code": code,
            "medins_setl_id": self._setl_id(code, day),
            "insutype": person.insutype,
            "med_type": med_type,
            "begntime": begin,
            "acct_used_flag": acct,
        }

    def outpatient(
        self,
        person: _Person,
        day: date,
        *,
        chronic: bool = False,
        code: str | None = None,
        doctor: str | None = None,
        reuse: str | None = None,
        hour: int | None = None,
    ) -> ClaimSpec:
        """An outpatient visit; `reuse`: a traceability code put on its first drug line (a code sold before)."""
        rng = self.rng
        code = code or rng.choice(self.hospitals)
        hour, minute = rng.randrange(8, 16) if hour is None else hour, rng.randrange(60)
        begin = _iso(day, hour, minute)
        body = self._header(person, code, day, "14" if chronic else "11", begin)
        practitioner = self._doctor(code, doctor)
        disease = rng.choice(CHRONIC_DISEASES if chronic else OUTPATIENT_DISEASES)
        body["dise_codg"], body["dise_name"] = disease
        items = [self.services[0], *self._pick(self.services[1:], rng.randrange(1, 4), person, day)]
        items += self._pick(self.drugs, rng.randrange(3, 7), person, day)
        lines = []
        for sn, item in enumerate(items, start=1):
            cnt = 1 if item.kind == "service" else rng.randrange(1, 3)
            codes = [self._trace() for _ in range(cnt)] if item.kind == "drug" else []
            if reuse is not None and codes:
                codes, reuse = [reuse, *codes[1:]], None
            elif codes and not self._scanned(code):
                codes = []
            moment = _iso(day, hour, min(59, minute + sn))
            lines.append(self._line(sn, item, cnt, item.price, moment, codes, practitioner))
        body["feedetail"] = lines
        person.busy_days.add(day)
        return ClaimSpec(person.spec.key, code, body)

    def pharmacy(
        self,
        person: _Person,
        day: date,
        code: str,
        *,
        reuse: list[str] | None = None,
        hour: int | None = None,
    ) -> ClaimSpec:
        rng = self.rng
        hour = hour if hour is not None else rng.randrange(8, 19)
        minute = rng.randrange(60)
        body = self._header(person, code, day, "41", _iso(day, hour, minute))
        practitioner = self._pharmacist(code)
        lines = []
        for sn, item in enumerate(self._pick(self.drugs, rng.randrange(3, 8), person, day), start=1):
            cnt = rng.randrange(1, 3)
            codes = [self._trace() for _ in range(cnt)]
            if reuse and sn == 1:
                codes = list(reuse)[:cnt] + codes[len(reuse) :]
            moment = _iso(day, hour, minute)
            lines.append(self._line(sn, item, cnt, self.price[code, item.code], moment, codes, practitioner))
        body["feedetail"] = lines
        person.busy_days.add(day)
        return ClaimSpec(person.spec.key, code, body)

    def inpatient(
        self,
        person: _Person,
        settle_day: date,
        code: str,
        diagnosis: tuple[str, str, int],
        *,
        admitted: date,
        discharged: date,
        multiple: Decimal | None = None,
        stay_kind: str = "normal",
        severity: str | None = None,
        upcoded: bool = False,
        care_days: tuple[int, ...] | None = None,
        doctor: str | None = None,
    ) -> ClaimSpec:
        """A whole stay sent at discharge: beds and nursing day by day, tests, drugs and the treatment's line
        sized to the cost.

        `stay_kind`: normal (a treatment and a severity drawn), plain (conservative, no CC/MCC: the planted
        cases), short (conservative, one day, a quarter of the cost: 低倍率) or long (conservative, 2.2 × the
        cost: 高倍率 at a level-3 hospital). The claim carries its settlement list (but a few plain ones).
        `severity`: the CC/MCC coded in the list (none, cc, mcc) instead; `upcoded`: the cost is that of a
        case without (高套). `care_days`: the days of the stay (0 the admission day) billed a bed and nursing,
        by default every day [admission, discharge) (挂床住院 when some are missing). `doctor`: 开单医生.
        """
        rng = self.rng
        level = self.level[code]
        condition = CONDITIONS[diagnosis[0]]
        if stay_kind == "normal":
            treatment = rng.choices(condition.treatments, weights=[t.share for t in condition.treatments])[0]
            severity = rng.choices(list(SEVERITY_SHARE), weights=list(SEVERITY_SHARE.values()))[0]
        else:
            treatment, severity = condition.treatments[0], severity or "none"
        if stay_kind == "short":
            admitted = discharged - timedelta(days=1)
            multiple = multiple or SHORT_STAY_MULTIPLE
        elif stay_kind == "long":
            multiple = multiple or LONG_STAY_MULTIPLE
        stay = max(1, (discharged - admitted).days)
        spread = multiple or Decimal(rng.randrange(80, 121)) / 100
        cost_severity = "none" if upcoded else severity
        target = (
            Decimal(diagnosis[2]) * treatment.factor * SEVERITY[cost_severity] * LEVEL_FACTOR[level]
            * self.efficiency[code] * spread
        )  # fmt: skip
        body = self._header(person, code, settle_day, "21", _iso(admitted, 9, 30))
        body["endtime"] = _iso(discharged, 10)
        body["dise_codg"], body["dise_name"] = diagnosis[0], diagnosis[1]
        body["ipt_otp_no"] = f"ZY{admitted:%Y%m%d}{rng.randrange(10**5):05d}"
        short = stay_kind == "short"
        billed_days = range(stay) if care_days is None else sorted({n for n in care_days if 0 <= n < stay})
        parts: list[tuple[Item, int, Decimal, date]] = []
        for n in billed_days:  # a line a day: bed and nursing
            on = admitted + timedelta(days=n)
            parts += [
                (self.bed[level], 1, self.bed[level].price, on),
                (self.nursing, 1, self.nursing.price, on),
            ]
        parts.append(
            (
                self.materials,
                rng.randrange(1, 3) if short else rng.randrange(2, 6),
                self.materials.price,
                admitted,
            )
        )
        services = rng.randrange(1, 3) if short else rng.randrange(3, 5)
        for n, item in enumerate(self._pick(self.services[1:10], services, person, admitted)):
            parts.append((item, 1, item.price, admitted + timedelta(days=min(n, stay - 1))))
        drugs = rng.randrange(1, 3) if short else rng.randrange(4, 7)
        for n, item in enumerate(self._pick(self.drugs, drugs, person, admitted)):
            cnt = rng.randrange(1, 3) if short else rng.randrange(2, 6)
            parts.append((item, cnt, item.price, admitted + timedelta(days=min(n, stay - 1))))
        spent = sum((price * cnt for _, cnt, price, _ in parts), Decimal(0))
        billed = self.treatment_item[treatment.item]
        parts.append((billed, 1, max(Decimal(100), (target - spent).quantize(Decimal("0.01"))), admitted))
        lines = []
        practitioner = self._doctor(code, doctor)
        for sn, (item, cnt, price, when) in enumerate(parts, start=1):
            codes = [self._trace() for _ in range(cnt)] if item.kind == "drug" else []
            if codes and not self._scanned(code):
                codes = []
            lines.append(self._line(sn, item, cnt, price, _iso(when, 11), codes, practitioner))
        body["feedetail"] = lines
        person.admitted = True
        listed, via = self._settlement_list(diagnosis, condition, treatment, severity, admitted, stay)
        return ClaimSpec(person.spec.key, code, body, listed, via)

    def _settlement_list(
        self,
        diagnosis: tuple[str, str, int],
        condition: Condition,
        treatment: Treatment,
        severity: str,
        admitted: date,
        stay: int,
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The case's 医保结算清单 and how it is sent (None: not sent, grouped on the visit's diagnosis)."""
        rng = self.rng
        main = diagnosis[:2] if rng.random() < 0.6 else rng.choice(condition.finer)
        category = diagnosis[0][:3]

        def pick(pool: tuple[tuple[str, str], ...], count: int) -> list[tuple[str, str]]:
            allowed = [row for row in pool if row[0][:3] != category]
            return rng.sample(allowed, min(count, len(allowed)))

        secondary: list[tuple[str, str]] = []
        if severity == "mcc":
            secondary += pick(MCC_DIAGNOSES, 1) + pick(CC_DIAGNOSES, rng.randrange(2))
        elif severity == "cc":
            secondary += pick(CC_DIAGNOSES, 1)
        secondary += pick(OTHER_DIAGNOSES, rng.randrange(4 - len(secondary)))
        if not secondary and not treatment.procedures and rng.random() < NO_LIST_SHARE:
            return None, None
        on = (admitted + timedelta(days=min(1, stay - 1))).isoformat()
        listed = {
            "diagnoses": [{"dise_codg": main[0], "dise_name": main[1], "main": True}]
            + [{"dise_codg": code, "dise_name": name, "main": False} for code, name in secondary],
            "procedures": [
                {"oprn_codg": code, "oprn_name": name, "main": n == 0, "oprn_date": on}
                for n, (code, name) in enumerate(treatment.procedures)
            ],
        }
        return listed, "4101A" if rng.random() < NATIONAL_LIST_SHARE else "rest"

    # --- the days ------------------------------------------------------------------------------------

    def traffic(self) -> None:
        rng = self.rng
        eligible = [p for p in self.people if not p.spec.waiting]
        employees = [p for p in eligible if p.insutype == "310" and p.member_of is None]
        rng.shuffle(employees)
        holders = {family.holder for family in self.family_specs}
        n_cases = max(1, self.n_persons // 1000)
        planted_people = [p for p in employees if p.spec.key not in holders]
        # Per case index: the six patterns of old, a bed hold, a code sold at POS; and the suspended claim.
        needed = n_cases * 8 + 2
        if len(planted_people) < needed:
            raise ValueError(
                f"a city of {self.n_persons} persons is too small to plant every case; use ≥ 150"
            )
        reserved = planted_people[:needed]
        for person in reserved:
            person.reserved = True
        pool = [p for p in self.people if not p.reserved]
        days = self.day_dates
        first: dict[date, list[ClaimSpec]] = {day: [] for day in days}
        second: dict[date, list[ClaimSpec]] = {day: [] for day in days}
        deaths: dict[date, list[DeathSpec]] = {day: [] for day in days}
        cases: list[PlantedCase] = []

        # Peers for the cost outliers: enough admissions of the group before the outliers are settled, spread
        # in turn over the level's hospitals but the institution outlier's (they are also its peers there).
        peers = max(MIN_PEERS + 6, 12 * n_cases)
        outlier_diagnosis = next(d for d in DIAGNOSES if d[0].startswith(OUTLIER_CATEGORY))
        level_2 = [code for code in self.hospitals if self.level[code] == OUTLIER_LEVEL]
        peer_hospitals = [code for code in level_2 if code != self.outlier_hospital]
        candidates = [p for p in pool if not p.spec.waiting]
        rng.shuffle(candidates)
        institution_cases = INSTITUTION_OUTLIER_CASES + UPCODED_CASES + INDUCED_CASES + INDUCED_ORDINARY
        if len(candidates) < peers + 10 + institution_cases:
            raise ValueError(f"a city of {self.n_persons} persons is too small for {peers} peer admissions")
        for n, person in enumerate(candidates[:peers]):
            day = days[0]
            discharged = day
            admitted = day - timedelta(days=rng.randrange(3, 9))
            first[day].append(
                self.inpatient(
                    person,
                    day,
                    peer_hospitals[n % len(peer_hospitals)],
                    outlier_diagnosis,
                    admitted=admitted,
                    discharged=discharged,
                )
            )
            person.busy_days.update(days)  # an inpatient claim is the person's only claim of the period
        institution_people = candidates[peers:]
        cases += self._institution_cases(institution_people, first)

        # Normal traffic (its admissions at the ordinary hospitals).
        for day in days:
            count = round(len(pool) * self.claim_rate)
            for person in rng.sample(pool, min(count, len(pool))):
                if day in person.busy_days:
                    continue
                draw = rng.random()
                if draw < 0.06 and not person.admitted and not person.spec.waiting and not person.busy_days:
                    diagnosis = UNGROUPED if rng.random() < UNGROUPED_SHARE else rng.choice(DIAGNOSES)
                    code = rng.choice(self.ordinary)
                    admitted = day - timedelta(days=rng.randrange(2, 12))
                    length = rng.random()
                    kind = (
                        "short" if length < SHORT_STAY
                        else "long" if length < LONG_STAY and self.level[code] == 3
                        else "normal"
                    )  # fmt: skip
                    first[day].append(
                        self.inpatient(
                            person, day, code, diagnosis, admitted=admitted, discharged=day, stay_kind=kind
                        )
                    )
                    person.busy_days.update(days)
                elif draw < 0.40:
                    code = rng.choice(self.pharmacies)
                    claim = self.pharmacy(person, day, code)
                    (second if code in self.overpriced else first)[day].append(claim)
                elif draw < 0.46 and person.spec.kind == "retiree":
                    first[day].append(self.outpatient(person, day, chronic=True))
                else:
                    first[day].append(self.outpatient(person, day))

        # The planted cases: each a distinct employee with no other traffic. The first of each kind is what
        # the supervision steps decide against two doctors: A (the split admission's and the bed hold's) and
        # B (the cost outlier's and the care after death's).
        people = iter(reserved)
        last = days[-1]
        sold: dict[tuple[str, date], list[tuple[str, str]]] = {}  # POS sales to add: (drug, trace code)
        bad: dict[str, tuple[str, str]] = {}  # "A"/"B" → (hospital, doctor)
        for n in range(n_cases):
            day = days[n % len(days)]
            # Repeated admissions: three stays within a year at three hospitals, three diagnoses, far apart.
            person = next(people)
            hospitals = rng.sample(self.ordinary, 3)
            diagnoses = [d for d in DIAGNOSES if not d[0].startswith(OUTLIER_CATEGORY)]
            stays = []
            for index, (begin_ago, length) in enumerate(((210, 6), (110, 5), (8, 7))):
                admitted = day - timedelta(days=begin_ago)
                stays.append(
                    self.inpatient(person, day, hospitals[index], diagnoses[index], stay_kind="plain",
                                   admitted=admitted, discharged=min(day, admitted + timedelta(days=length)))
                )  # fmt: skip
            first[day].extend(stays[:2])
            second[day].append(stays[2])
            cases.append(self._case(REPEATED_ADMISSIONS, n, person, stays, stays[2], "finding",
                                    "three admissions within 365 days (threshold 3)"))  # fmt: skip

            # Split admission: discharged, readmitted 3 days later to the same hospital, same diagnosis.
            person = next(people)
            code = rng.choice(self.ordinary)
            if n == 0:
                bad["A"] = (code, self.doctors[code][0])
            doctor = bad["A"][1] if n == 0 else None
            diagnosis = rng.choice(DIAGNOSES[1:])
            before = self.inpatient(person, day, code, diagnosis, stay_kind="plain", doctor=doctor,
                                    admitted=day - timedelta(days=14), discharged=day - timedelta(days=8))  # fmt: skip
            after = self.inpatient(
                person,
                day,
                code,
                diagnosis,
                admitted=day - timedelta(days=5),
                discharged=day,
                stay_kind="plain",
                doctor=doctor,
            )
            first[day].append(before)
            second[day].append(after)
            cases.append(self._case(SPLIT_ADMISSION, n, person, [before, after], after, "finding",
                                    "readmitted 3 days after discharge (threshold 15)"))  # fmt: skip

            # Cost outlier: an admission of the peers' group at five times its usual cost, on the last day.
            person = next(people)
            code = rng.choice([c for c in level_2 if c in self.ordinary])
            if n == 0:
                bad["B"] = (code, self.doctors[code][1])  # never doctor A, even at the same hospital
            doctor = bad["B"][1] if n == 0 else None
            outlier = self.inpatient(person, last, code, outlier_diagnosis, doctor=doctor,
                                     admitted=last - timedelta(days=6), discharged=last,
                                     multiple=Decimal(OUTLIER_MULTIPLE), stay_kind="plain")  # fmt: skip
            second[last].append(outlier)
            cases.append(self._case(COST_OUTLIER, n, person, [outlier], outlier, "finding",
                                    f"medfee {OUTLIER_MULTIPLE} × the usual cost of its group"))  # fmt: skip

            # Reused traceability code: a pack settled at one pharmacy sold again at another (回流药).
            seller, buyer = next(people), next(people)
            shop_a, shop_b = rng.sample(self.normal_pharmacies, 2)
            original = self.pharmacy(seller, day, shop_a, hour=9)
            reused_code = original.body["feedetail"][0]["drug_trac_codg"][0]
            again = self.pharmacy(buyer, day, shop_b, reuse=[reused_code], hour=15)
            first[day].append(original)
            second[day].append(again)
            cases.append(PlantedCase(
                case_id=f"{TRACE_CODE_REUSE}-{n + 1}", kind=TRACE_CODE_REUSE, family=FAMILY_OF_KIND[TRACE_CODE_REUSE],
                expect="blocked", persons=(seller.spec.key, buyer.spec.key),
                medins_setl_ids=(original.medins_setl_id, again.medins_setl_id), trigger=again.medins_setl_id,
                fixmedins_code=shop_b, note="a traceability code already settled, sold again elsewhere",
            ))  # fmt: skip

            # Care after death: an outpatient visit on a dead person's card, the death recorded later that day.
            person = next(people)
            if n == 0:
                visit = self.outpatient(person, day, code=bad["B"][0], doctor=bad["B"][1])
            else:
                visit = self.outpatient(person, day)
            first[day].append(visit)
            deaths[day].append(DeathSpec(person.spec.key, day - timedelta(days=2)))
            cases.append(self._case(AFTER_DEATH, n, person, [visit], visit, "finding",
                                    "care begun two days after the date of death, recorded later"))  # fmt: skip

            # Bed hold (挂床住院): an 8-day stay billed a bed and nursing on 3 of its days.
            person = next(people)
            code, doctor = bad["A"] if n == 0 else (rng.choice(self.ordinary), None)
            held = self.inpatient(person, day, code, rng.choice(DIAGNOSES[1:]), stay_kind="plain", doctor=doctor,
                                  admitted=day - timedelta(days=BED_HOLD_STAY), discharged=day,
                                  care_days=BED_HOLD_CHARGED)  # fmt: skip
            first[day].append(held)
            empty = BED_HOLD_STAY - len(BED_HOLD_CHARGED)
            cases.append(self._case(BED_HOLD, n, person, [held], held, "finding",
                                    f"{empty} of {BED_HOLD_STAY} inpatient days with no bed or nursing charge "
                                    "(threshold 2)"))  # fmt: skip

            # A code sold through a pharmacy's POS in the morning, then settled at a hospital (回流药 via POS).
            person = next(people)
            shop, code = rng.choice(self.normal_pharmacies), rng.choice(self.ordinary)
            trace = self._trace()
            visit = self.outpatient(person, day, code=code, reuse=trace, hour=14)
            line = next(x for x in visit.body["feedetail"] if trace in x.get("drug_trac_codg", []))
            sold.setdefault((shop, day), []).append((line["med_list_codg"], trace))
            second[day].append(visit)
            cases.append(PlantedCase(
                case_id=f"{TRACE_CODE_SOLD}-{n + 1}", kind=TRACE_CODE_SOLD, family=FAMILY_OF_KIND[TRACE_CODE_SOLD],
                expect="blocked", persons=(person.spec.key,), medins_setl_ids=(visit.medins_setl_id,),
                trigger=visit.medins_setl_id, fixmedins_code=code,
                note=f"a traceability code sold through {shop}'s POS that morning, settled at a hospital",
            ))  # fmt: skip

        # After the suspension, doctor A orders one more visit: settlement must refuse it.
        person = next(people)
        hospital, doctor = bad["A"]
        refused = self.outpatient(person, last, code=hospital, doctor=doctor, hour=9)
        self.suspended_claim = SuspendedClaim(refused, doctor, last)
        cases = self._resolve(cases, bad)

        for code in self.overpriced:
            cases.append(PlantedCase(
                case_id=f"{OVERPRICED_PHARMACY}-{code}", kind=OVERPRICED_PHARMACY,
                family=FAMILY_OF_KIND[OVERPRICED_PHARMACY], expect="listed", fixmedins_code=code,
                note="sells every drug 35-60 % above the region's usual price",
            ))  # fmt: skip

        # POS sales: on the first day every pharmacy at the usual price first posts its whole range (so the
        # reference is the mode), then the day's sales; the overpriced pharmacies post after the others. A
        # code a hospital settles later that day was sold first thing in the morning.
        items = {item.code: item for item in self.drugs}
        sale_serial = 0
        self.day_plans = []
        for index, day in enumerate(days):
            first_sales: list[SaleBatch] = []
            second_sales: list[SaleBatch] = []
            for code in self.pharmacies:
                lines = []
                if index == 0:
                    for item in self.drugs:
                        sale_serial += 1
                        lines.append(self._sale(code, item, day, sale_serial, 1))
                for _ in range(self.sales_per_pharmacy_day):
                    sale_serial += 1
                    lines.append(
                        self._sale(code, rng.choice(self.drugs), day, sale_serial, rng.randrange(1, 4))
                    )
                for drug, trace in sold.get((code, day), []):
                    sale_serial += 1
                    line = self._sale(code, items[drug], day, sale_serial, 1)
                    lines.append({**line, "sel_time": _iso(day, 8, 5), "drug_trac_codg": [trace]})
                batch = SaleBatch(code, {"fixmedins_code": code, "sales": lines})
                (second_sales if code in self.overpriced else first_sales).append(batch)
            self.day_plans.append(
                DayPlan(
                    day,
                    (
                        Phase("first", claims=tuple(first[day]), sales=tuple(first_sales)),
                        Phase(
                            "second",
                            claims=tuple(second[day]),
                            sales=tuple(second_sales),
                            deaths=tuple(deaths[day]),
                        ),
                    ),
                )
            )
        self.cases = cases

    def _institution_cases(
        self, people: list[_Person], first: dict[date, list[ClaimSpec]]
    ) -> list[PlantedCase]:
        """The institution-level cases, before the normal traffic (their persons have no other claim):

        - institution_outlier: a level-2 hospital whose admissions (employees, DRG) cost 3 × the usual;
        - upcoding (高套): another level-2 hospital whose DRG cases are coded with an MCC or a CC that their
          cost does not show, on top of its share of the cost-outlier peers;
        - induced_admission (诱导住院): a level-1 hospital with short, cheap admissions for a mild diagnosis
          (E11.9), 6 of its 10 admissions.
        """
        rng = self.rng
        days = self.day_dates
        employees = (p for p in people if p.insutype == "310")
        others = (p for p in people if p.insutype != "310")

        def admit(
            person: _Person, n: int, code: str, diagnosis: tuple[str, str, int], **kw: Any
        ) -> ClaimSpec:
            day = days[n % len(days)]
            length = kw.pop("length", None) or rng.randrange(3, 9)
            claim = self.inpatient(
                person, day, code, diagnosis, admitted=day - timedelta(days=length), discharged=day, **kw
            )
            person.busy_days.update(days)
            first[day].append(claim)
            return claim

        by_code = {d[0]: d for d in DIAGNOSES}
        cases: list[PlantedCase] = []

        code = self.outlier_hospital
        claims = [
            admit(next(employees), n, code, by_code[rng.choice(OUTLIER_DIAGNOSES)], stay_kind="plain",
                  multiple=OUTLIER_COST_MULTIPLE * Decimal(rng.randrange(95, 106)) / 100,
                  severity=rng.choices(list(SEVERITY_SHARE), weights=list(SEVERITY_SHARE.values()))[0])
            for n in range(INSTITUTION_OUTLIER_CASES)
        ]  # fmt: skip
        cases.append(self._institution_case(INSTITUTION_OUTLIER, code, claims,
                                            f"{len(claims)} admissions at {OUTLIER_COST_MULTIPLE} × the usual "
                                            f"cost of their group: cost per case above 2 × its level-"
                                            f"{PEER_LEVEL} peers'"))  # fmt: skip

        code = self.upcoding_hospital
        claims = [
            admit(next(employees), n, code, by_code[rng.choice(UPCODED_DIAGNOSES)], stay_kind="plain",
                  severity=rng.choice(("mcc", "cc", "cc")), upcoded=True)
            for n in range(UPCODED_CASES)
        ]  # fmt: skip
        cases.append(self._institution_case(UPCODING, code, claims,
                                            f"{len(claims)} DRG cases coded with an MCC or a CC their cost does "
                                            "not show: a high-severity share far above its peers'"))  # fmt: skip

        code = self.induced_hospital
        mild = [
            admit(next(others if n % 2 else employees), n, code, MILD_DIAGNOSIS, stay_kind="short",
                  multiple=INDUCED_MULTIPLE)
            for n in range(INDUCED_CASES)
        ]  # fmt: skip
        for n in range(INDUCED_ORDINARY):
            admit(next(others if n % 2 else employees), n, code, rng.choice(DIAGNOSES[:4]))
        cases.append(self._institution_case(INDUCED_ADMISSION, code, mild,
                                            f"{len(mild)} of {len(mild) + INDUCED_ORDINARY} admissions short "
                                            "(a day), cheap and for a mild diagnosis (E11.9): above 20 %"))  # fmt: skip
        return cases

    def rule_params(self) -> dict[str, dict[str, Any]]:
        """What the bureau sets for a city this size on the peer-comparing institution rules: as many peers
        as the level has (at most the default 5), and cases from 5 (the defaults want 10 and 20)."""
        level = [code for code in self.hospitals if self.level[code] == PEER_LEVEL]
        by_points = [code for code in level if code in self.points_hospitals]
        return {
            "institution_outlier": {"min_peers": min(5, len(level) - 1), "min_cases": PEER_RULE_MIN_CASES},
            "upcoding": {"min_peers": min(5, len(by_points) - 1), "min_cases": PEER_RULE_MIN_CASES},
        }

    def _institution_case(self, kind: str, code: str, claims: list[ClaimSpec], note: str) -> PlantedCase:
        return PlantedCase(
            case_id=f"{kind}-1",
            kind=kind,
            family=FAMILY_OF_KIND[kind],
            expect="finding",
            persons=tuple(claim.person for claim in claims),
            medins_setl_ids=tuple(claim.medins_setl_id for claim in claims),
            fixmedins_code=code,
            note=note,
        )

    def _resolve(self, cases: list[PlantedCase], bad: dict[str, tuple[str, str]]) -> list[PlantedCase]:
        """How the supervision steps settle each planted case's finding: the first of some kinds decided
        with points against doctor A (6 + 6 = 12: qualification ended, 终止) or B (8: one short of the 9
        that suspend, 暂停, so still paid), one appeal overturned, one upheld and decided, the rest — the
        cost outlier's among them, an inpatient recovery in the played month — refunded voluntarily
        (自查自纠). The thresholds are fraud's defaults (fraud.domain.practitioners.PointsScale)."""
        doctor_a, doctor_b = bad["A"][1], bad["B"][1]
        plan: dict[str, dict[str, Any]] = {
            f"{SPLIT_ADMISSION}-1": {"resolution": DECIDE, "penalty_basis": "violation", "penalty_multiple": "1",
                                     "practitioner": doctor_a, "points": 6,
                                     "points_reason": "分解住院，负主要责任 (split admission)"},
            f"{BED_HOLD}-1": {"resolution": DECIDE, "penalty_basis": "fraud", "penalty_multiple": "2",
                              "practitioner": doctor_a, "points": 6,
                              "points_reason": "挂床住院，虚记住院天数 (bed hold)"},
            f"{AFTER_DEATH}-1": {"resolution": DECIDE, "penalty_basis": "violation", "penalty_multiple": "1",
                                 "practitioner": doctor_b, "points": 8,
                                 "points_reason": "未核验就医人员身份，为冒名就医者开具处方 (identity not checked)"},
            f"{REPEATED_ADMISSIONS}-1": {"resolution": APPEAL_OVERTURNED},
            f"{UPCODING}-1": {"resolution": APPEAL_UPHELD, "penalty_basis": "violation",
                              "penalty_multiple": "1.5"},
            f"{INSTITUTION_OUTLIER}-1": {"resolution": DECIDE, "penalty_basis": "none", "penalty_multiple": "0"},
        }  # fmt: skip
        resolved = []
        for case in cases:
            if case.expect != "finding":
                resolved.append(case)
            else:
                resolved.append(replace(case, **plan.get(case.case_id, {"resolution": REFUND})))
        return resolved

    # --- payment by points ----------------------------------------------------------------------------

    def points_reference(self) -> None:
        """The played year's payment years, groups, DIP rows, DRG tables and quality scores (see the module)."""
        year = self.start.year
        rng = self.points_rng
        hospitals = self.points_hospitals
        mean_level = sum((LEVEL_FACTOR[self.level[code]] for code in hospitals), Decimal(0)) / len(hospitals)
        bases = {code: Decimal(base) for code, _, base in (*DIAGNOSES, UNGROUPED)}
        groups: dict[str, dict[str, Any]] = {}

        def group(code: str, name: str, base: Decimal, severity: Decimal) -> None:
            avg_cost = (base * severity * mean_level).quantize(Decimal("0.01"))
            points = (avg_cost / POINT_YUAN).quantize(Decimal("0.0001"))
            groups[code] = {
                "group_code": code,
                "group_name": name,
                "points": str(points),
                "avg_cost": str(avg_cost),
            }

        # DIP: a row per condition and treatment (its main procedure, or none), a group per row.
        dip_rows: list[dict[str, Any]] = []
        for dise, condition in CONDITIONS.items():
            if dise == UNGROUPED[0]:
                continue
            prefix = dise[:3]
            for treatment in condition.treatments:
                if treatment.procedures:
                    oprn, oprn_name = treatment.procedures[0]
                    code, name = f"{prefix}-{oprn[:5]}", f"{condition.name}：{oprn_name}"
                else:
                    oprn, code, name = None, f"{prefix}-C", f"{condition.name}：保守治疗"
                group(code, name, bases[dise] * treatment.factor, MEAN_SEVERITY)
                dip_rows.append(
                    {"dise_prefix": prefix, **({"oprn_code": oprn} if oprn else {}), "group_code": code}
                )
        for finer, name in FINER_DIP_ROWS:
            group(f"{finer}-C", f"{name}：保守治疗", bases[finer[:7]], MEAN_SEVERITY)
            dip_rows.append({"dise_prefix": finer, "group_code": f"{finer}-C"})

        # DRG: each ADRG's cost is the mean of the treatments it takes; a group per suffix by severity.
        for spec in ADRGS:
            members = [
                (bases[dise] * treatment.factor, Decimal(str(treatment.share)))
                for dise, condition in CONDITIONS.items()
                for treatment in condition.treatments
                if dise[:3] in spec.dise_prefixes and drg_adrg(dise, treatment) is spec
            ]
            base = sum((cost * share for cost, share in members), Decimal(0)) / sum(s for _, s in members)
            for suffix in spec.suffixes:
                detail = f"，{SUFFIX_NAME[suffix]}" if SUFFIX_NAME[suffix] else ""
                group(spec.adrg + suffix, spec.name + detail, base, SUFFIX_SEVERITY[suffix])
        adrgs = [
            {"adrg": spec.adrg, "adrg_name": spec.name, "dise_prefixes": list(spec.dise_prefixes),
             "oprn_codes": list(spec.oprn_codes), "priority": spec.priority}
            for spec in ADRGS
        ]  # fmt: skip
        complications = [{"dise_prefix": prefix, "level": level} for prefix, level in COMPLICATIONS.items()]

        # The budgets: BUDGET_SHARE of what each pool is expected to pay for the played cases of the year.
        people = {person.spec.key: person for person in self.people}
        catalog = {row["med_list_codg"]: row for row in self.catalog_rows}
        estimated = {insutype: 0 for insutype in POINTS_METHOD}
        for plan in self.day_plans:
            if plan.business_date.year != year:
                continue
            for claim in plan.claims:
                if claim.body["med_type"] == "21" and claim.fixmedins_code in hospitals:
                    person = people[claim.person]
                    estimated[person.insutype] += self._expected_hifp_fen(claim, person, catalog)
        coefficients = {f"coefficient_lv{lv}": f"{LEVEL_FACTOR[lv]:.2f}" for lv in (1, 2, 3)}
        payment_years = [
            {"year": year, "insutype": insutype, "method": method,
             "budget": _yuan(max(Decimal(10_000), BUDGET_SHARE * estimated[insutype] / 100).quantize(Decimal(1))),
             "yuan_per_point": str(POINT_YUAN), **coefficients}
            for insutype, method in POINTS_METHOD.items()
        ]  # fmt: skip
        scores = [
            {"year": year, "insutype": insutype, "fixmedins_code": code, "score": rng.choice(("0.85", "0.90", "0.95"))}
            for insutype in POINTS_METHOD
            for code in sorted(rng.sample(hospitals, min(2, len(hospitals))))
        ]  # fmt: skip
        self.points = PointsReference(
            year=year,
            payment_years=tuple(payment_years),
            groups=tuple(groups[code] for code in sorted(groups)),
            dip_rows=tuple(dip_rows),
            adrgs=tuple(adrgs),
            complications=tuple(complications),
            quality_scores=tuple(scores),
            estimated_hifp_fen=estimated,
            budget_share=str(BUDGET_SHARE),
        )

    def _expected_hifp_fen(
        self, claim: ClaimSpec, person: _Person, catalog: dict[str, dict[str, Any]]
    ) -> int:
        """What the basic pool pays for an inpatient claim under the default policy (DESIGN §6.2, steps 1–4)."""
        scheme = DEFAULT_POLICY.scheme(person.insutype)
        inscp = 0
        for line in claim.body["feedetail"]:
            row = catalog[line["med_list_codg"]]
            amount = yuan_to_fen(line["det_item_fee_sumamt"])
            if row["chrgitm_lv"] == "01":
                inscp += amount
            elif row["chrgitm_lv"] == "02":
                prop = Decimal(row.get("selfpay_prop", DEFAULT_POLICY.class_b_selfpay_prop))
                inscp += amount - _half_up(amount * prop)
        level = self.level[claim.fixmedins_code]
        ratio = scheme.inpatient_ratio[level]
        if person.spec.kind == "retiree":
            ratio = max(ratio, min(ratio + scheme.retiree_bonus, scheme.max_ratio))
        return _half_up((inscp - min(inscp, scheme.inpatient_deductible_fen[level])) * ratio)

    def _sale(self, code: str, item: Item, day: date, serial: int, cnt: int) -> dict[str, Any]:
        hour, minute = 8 + serial % 10, serial % 60
        return {
            "sale_id": f"{code}-{day:%Y%m%d}-S{serial:07d}",
            "med_list_codg": item.code,
            "finl_trns_pric": _yuan(self.price[code, item.code]),
            "cnt": str(cnt),
            "sel_time": _iso(day, hour, minute),
            "drug_trac_codg": [self._trace() for _ in range(cnt)],
        }

    def _case(
        self,
        kind: str,
        n: int,
        person: _Person,
        claims: list[ClaimSpec],
        trigger: ClaimSpec,
        expect: str,
        note: str,
    ) -> PlantedCase:
        return PlantedCase(
            case_id=f"{kind}-{n + 1}",
            kind=kind,
            family=FAMILY_OF_KIND[kind],
            expect=expect,
            persons=(person.spec.key,),
            medins_setl_ids=tuple(claim.medins_setl_id for claim in claims),
            trigger=trigger.medins_setl_id,
            fixmedins_code=trigger.fixmedins_code,
            note=note,
        )


def generate_city(
    seed: int,
    persons: int,
    *,
    days: int = 3,
    start: date = DEFAULT_START,
    claim_rate: float = 0.25,
    sales_per_pharmacy_day: int = 12,
    progress: bool = False,
) -> City:
    """A synthetic city: same arguments, same city (byte for byte in `City.to_json`); `progress`: a bar on stderr."""
    if persons < 150:
        raise ValueError("a city needs at least 150 persons to hold every planted case and its peers")
    if days < 1:
        raise ValueError("a city plays at least one day")
    builder = _Builder(seed, persons, days, start, claim_rate, sales_per_pharmacy_day)
    builder.institutions()
    builder.catalogue()
    bar = ProgressBar(2, label="generating") if progress else None
    builder.persons()
    if bar:
        bar.advance()
    builder.traffic()
    builder.points_reference()
    if bar:
        bar.advance()
        bar.close()
    return City(
        seed=seed,
        start=start,
        day_dates=builder.day_dates,
        admdvs=ADMDVS,
        institutions=tuple(builder.institution_rows),
        catalog=tuple(builder.catalog_rows),
        drugs=tuple(builder.drug_rows),
        persons=tuple(p.spec for p in builder.people),
        families=tuple(builder.family_specs),
        days=tuple(builder.day_plans),
        cases=tuple(builder.cases),
        hospitals=tuple(builder.hospitals),
        pharmacies=tuple(builder.pharmacies),
        overpriced=tuple(builder.overpriced),
        params={
            "persons": persons,
            "days": days,
            "claim_rate": claim_rate,
            "sales_per_pharmacy_day": sales_per_pharmacy_day,
            "min_peers": MIN_PEERS,
        },
        points=builder.points,
        practitioners=tuple(builder.practitioners),
        suspended_claim=builder.suspended_claim,
        rule_params=builder.rule_params(),
    )
