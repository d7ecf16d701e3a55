"""The national dictionaries (国家医疗保障信息平台 接口规范 字典) every service and the gateway share.

One place for the codes HIS and POS vendors already send: 医疗类别 `med_type`, 险种类型 `insutype`,
就诊凭证类型 `mdtrt_cert_type`, 人员证件类型 `psn_cert_type`, 清算类别 `clr_type`, 基金支付类型
`fund_pay_type`, and the few helpers the services used to copy (age on a date, the insutype attached to a
basic one). Codes are strings, as on the wire. What a `med_type` is *paid as* (outpatient, inpatient or a
pharmacy purchase) is the policy's decision: `DEFAULT_BENEFIT` is the table the default policy ships with.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Final

# 险种类型 insutype
EMPLOYEE: Final = "310"  # 职工基本医疗保险
RESIDENT: Final = "390"  # 城乡居民基本医疗保险
INSUTYPE: Final[dict[str, str]] = {
    "310": "职工基本医疗保险",
    "320": "公务员医疗补助",
    "330": "大额医疗费用补助",
    "340": "离休人员医疗保障",
    "390": "城乡居民基本医疗保险",
    "392": "城乡居民大病医疗保险",
    "510": "生育保险",
}
BASIC_INSUTYPES: Final = (EMPLOYEE, RESIDENT)
# The supplementary layer attached to each basic scheme: 职工大额 (330) and 居民大病 (392).
SUPPLEMENTARY_INSUTYPE: Final[dict[str, str]] = {EMPLOYEE: "330", RESIDENT: "392"}


class Benefit(StrEnum):
    """How a visit is paid under the policy (docs/architecture.md): which deductible, ratio table and pool."""

    OUTPATIENT = "outpatient"  # yearly outpatient deductible, outpatient ratio, outpatient pool cap
    INPATIENT = "inpatient"  # deductible per admission, inpatient ratio
    PHARMACY = "pharmacy"  # a purchase at a designated pharmacy: personal account or cash, no pool


# 医疗类别 med_type
MED_TYPE: Final[dict[str, str]] = {
    "11": "普通门诊",
    "12": "门诊挂号",
    "13": "急诊",
    "14": "门诊慢特病",
    "21": "普通住院",
    "22": "外伤住院",
    "23": "转外诊治住院",
    "24": "急诊转住院",
    "28": "日间手术",
    "41": "定点药店购药",
    "51": "生育门诊",
    "52": "生育住院",
    "53": "计划生育手术费",
}
# The default policy's benefit for each med_type. 急诊 is paid as outpatient care unless the policy says
# otherwise; 日间手术 as an admission; maternity care as outpatient or inpatient care of the basic scheme,
# since 生育保险 and 职工基本医疗保险 are run as one (国办发〔2019〕10号).
DEFAULT_BENEFIT: Final[dict[str, Benefit]] = {
    "11": Benefit.OUTPATIENT,
    "12": Benefit.OUTPATIENT,
    "13": Benefit.OUTPATIENT,
    "14": Benefit.OUTPATIENT,
    "21": Benefit.INPATIENT,
    "22": Benefit.INPATIENT,
    "23": Benefit.INPATIENT,
    "24": Benefit.INPATIENT,
    "28": Benefit.INPATIENT,
    "41": Benefit.PHARMACY,
    "51": Benefit.OUTPATIENT,
    "52": Benefit.INPATIENT,
    "53": Benefit.OUTPATIENT,
}
OUTPATIENT: Final = "11"
CHRONIC_OUTPATIENT: Final = "14"
INPATIENT: Final = "21"
PHARMACY: Final = "41"

# 就诊凭证类型 mdtrt_cert_type: what the person showed at the desk.
MDTRT_CERT_TYPE: Final[dict[str, str]] = {
    "01": "医保电子凭证",
    "02": "居民身份证",
    "03": "社会保障卡",
}
CERT_EC_TOKEN, CERT_ID_CARD, CERT_SOCIAL_SECURITY_CARD = "01", "02", "03"

# 人员证件类型 psn_cert_type: the identity document behind certno. Persons here are registered by
# 居民身份证 number (GB 11643), so every person answered carries 01.
PSN_CERT_TYPE: Final[dict[str, str]] = {
    "01": "居民身份证（户口簿）",
    "06": "台湾居民来往大陆通行证",
    "08": "外国人护照",
    "99": "其他身份证件",
}
PSN_CERT_ID_CARD: Final = "01"

# 清算类别 clr_type, and the med_types each clears (3201 totals are compared within one clearing class).
CLR_TYPE: Final[dict[str, str]] = {
    "11": "门诊",
    "21": "住院",
    "41": "药店购药",
}
CLR_TYPE_BENEFIT: Final[dict[str, Benefit]] = {
    "11": Benefit.OUTPATIENT,
    "21": Benefit.INPATIENT,
    "41": Benefit.PHARMACY,
}

# 基金支付类型 fund_pay_type (setldetail rows)
FUND_EMPLOYEE_POOL: Final = "310100"
FUND_EMPLOYEE_ACCOUNT: Final = "310200"
FUND_EMPLOYEE_LARGE: Final = "330200"
FUND_RESIDENT_POOL: Final = "390100"
FUND_RESIDENT_CRITICAL: Final = "390200"
FUND_ASSISTANCE: Final = "610100"
FUND_PAY_TYPE: Final[dict[str, str]] = {
    FUND_EMPLOYEE_POOL: "职工基本医疗保险统筹基金",
    FUND_EMPLOYEE_ACCOUNT: "职工基本医疗保险个人账户基金",
    FUND_EMPLOYEE_LARGE: "职工大额医疗费用补助基金",
    FUND_RESIDENT_POOL: "城乡居民基本医疗保险基金",
    FUND_RESIDENT_CRITICAL: "城乡居民大病医疗保险资金",
    FUND_ASSISTANCE: "医疗救助基金",
}

# 性别 gend
GEND: Final[dict[str, str]] = {"1": "男", "2": "女", "9": "未说明的性别"}


def med_types_of(benefit: Benefit, table: dict[str, Benefit] | None = None) -> frozenset[str]:
    """Every med_type paid as `benefit` under `table` (the default policy's when not given)."""
    return frozenset(code for code, paid_as in (table or DEFAULT_BENEFIT).items() if paid_as == benefit)


def clr_type_med_types(clr_type: str) -> frozenset[str]:
    """The med_types a clearing class covers; KeyError for a code not in CLR_TYPE."""
    return med_types_of(CLR_TYPE_BENEFIT[clr_type])


def age_on(brdy: date, on: date) -> int:
    """Whole years of age on a day (a birthday counts from that day)."""
    return on.year - brdy.year - ((on.month, on.day) < (brdy.month, brdy.day))


def described(table: dict[str, str]) -> str:
    """A dictionary as `code name` pairs, for field descriptions and error messages."""
    return ", ".join(f"{code} {name}" for code, name in table.items())


# 医保医师/护士/药师代码 and 医保定点医疗机构药学、技术人员编码 (医保办函〔2022〕39号): an identifier (D 医师,
# N 护士, Y 药师; HY 药学类, HJ 技术类), the 6-digit region code (GB/T 2260), a 6-digit sequence.
PRAC_CODE_PATTERN: Final = r"^(D|N|Y|HY|HJ)[0-9]{12}$"
PRAC_CODE_EXAMPLE: Final = "D420100000123"
PRAC_CODE_RULE: Final = (
    "a national practitioner code (医保医师/护士/药师代码): D (doctor), N (nurse), Y or HY (pharmacist), "
    "HJ (technician), then the 6-digit region code and a 6-digit sequence, e.g. D420100000123"
)
