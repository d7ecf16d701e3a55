"""Input nodes of the national transactions (节点), validated before any service is called.

National clients send many fields we do not use (科室, 医师, 病历号 ...): they are accepted and ignored.
Money and quantities are Decimal (the body is parsed with decimals, never floats) and go on as strings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from gateway.national.envelope import NationalError

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


def _text(value: Any) -> Any:
    # National clients send codes as numbers now and then (med_type 11, acct_used_flag "1"): accept both.
    return str(value) if isinstance(value, int | Decimal) and not isinstance(value, bool) else value


Code = Annotated[
    str, BeforeValidator(_text), StringConstraints(strip_whitespace=True, min_length=1, max_length=64)
]
Flag = Annotated[Literal["0", "1"], BeforeValidator(_text)]


class Node(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        # National clients send "" for every field they leave empty: it means absent, not an empty code.
        if isinstance(value, dict):
            return {key: item for key, item in value.items() if item != ""}
        return value


class SignIn(Node):
    """9001 signIn"""

    opter_no: Code
    mac: Text | None = None
    ip: Text | None = None


class SignOut(Node):
    """9002 signOut"""

    sign_no: Code
    opter_no: Code


class PersonQuery(Node):
    """1101 data"""

    mdtrt_cert_type: Code = Field(description="就诊凭证类型 01 医保电子凭证 | 02 居民身份证 | 03 社会保障卡")
    mdtrt_cert_no: Code | None = None
    card_sn: Code | None = None
    psn_no: Code | None = None
    psn_cert_type: Code | None = None
    certno: Code | None = None
    psn_name: Text | None = None


class Registration(Node):
    """2201 data / 2401 mdtrtinfo"""

    psn_no: Code
    insutype: Code
    begntime: Text
    mdtrt_cert_type: Code | None = None
    mdtrt_cert_no: Code | None = None
    ipt_otp_no: Code | None = None
    ipt_no: Code | None = None
    med_type: Code | None = None
    dise_codg: Code | None = None
    dise_name: Text | None = None


class VisitInfo(Node):
    """2203 mdtrtinfo"""

    mdtrt_id: Code
    psn_no: Code
    med_type: Code | None = None
    begntime: Text | None = None
    main_cond_dscr: Text | None = None
    dise_codg: Code | None = None
    dise_name: Text | None = None


class Diagnosis(Node):
    """2203 / 2402 diseinfo row"""

    diag_type: Code | None = None
    diag_srt_no: Code | None = None
    diag_code: Code
    diag_name: Text | None = None
    maindiag_flag: Flag | None = None


class SettlementListInfo(Node):
    """4101A setlinfo: the settlement whose list this is (the many other 结算清单 fields are ignored)"""

    setl_id: Code
    mdtrt_id: Code | None = None
    psn_no: Code | None = None
    fixmedins_code: Code | None = None


class ListDiagnosis(Node):
    """4101A diseinfo row: a diagnosis of the settlement list (maindiag_flag 1 = 主诊断)"""

    diag_type: Code | None = None
    diag_srt_no: Code | None = None
    diag_code: Code
    diag_name: Text | None = None
    maindiag_flag: Flag = "0"


class ListProcedure(Node):
    """4101A oprninfo row: a procedure of the settlement list (main_oprn_flag 1 = 主手术; 麻醉、术者 ignored)"""

    oprn_oprt_type: Code | None = None
    oprn_oprt_code: Code
    oprn_oprt_name: Text | None = None
    main_oprn_flag: Flag = "0"
    oprn_oprt_date: Text | None = None


class VisitKey(Node):
    """2202 / 2404 / 2405 data: the visit and its person"""

    mdtrt_id: Code
    psn_no: Code
    ipt_otp_no: Code | None = None


class AdmissionChange(Node):
    """2403 adminfo: what may change of a stay while it is open"""

    mdtrt_id: Code
    psn_no: Code
    med_type: Code | None = None
    dise_codg: Code | None = None
    dise_name: Text | None = None


class BenefitCheck(Node):
    """2001 data: may the fund pay for this person's care begun on begntime?"""

    psn_no: Code
    insutype: Code
    med_type: Code | None = None
    begntime: Text
    endtime: Text | None = None
    dise_codg: Code | None = None


class Discharge(Node):
    """2402 dscginfo"""

    mdtrt_id: Code
    psn_no: Code
    insutype: Code | None = None
    endtime: Text
    dise_codg: Code | None = None
    dise_name: Text | None = None
    dscg_way: Code | None = None


class FeeLine(Node):
    """2204/2301 one feedetail row"""

    feedetl_sn: Code
    mdtrt_id: Code
    psn_no: Code
    med_list_codg: Code
    medins_list_codg: Code | None = None
    det_item_fee_sumamt: Decimal
    cnt: Decimal
    pric: Decimal
    fee_ocur_time: Text
    drug_trac_codg: list[Code] | Code | None = None
    dise_codg: Code | None = None
    chrg_bchno: Code | None = None
    bilg_dr_codg: Code | None = None  # 开单医生编码 (医保医师代码); bilg_dr_name is never kept
    phar_code: Code | None = None  # 医保药师代码 (as the 电子处方 transactions name it)


class FeeUpload(Node):
    feedetail: list[FeeLine] = Field(min_length=1, max_length=1000)


class BatchWithdrawal(Node):
    """2205 data: a charge batch (chrg_bchno, "0000" every line); feedetl_sn accepted from older clients"""

    mdtrt_id: Code
    psn_no: Code
    chrg_bchno: Code | None = None
    feedetl_sn: Code | None = None


class LineWithdrawal(Node):
    """2302 data: one line by feedetl_sn ("0000" every line)"""

    mdtrt_id: Code
    psn_no: Code
    feedetl_sn: Code


class Settling(Node):
    """2206/2207 and 2303/2304 data"""

    psn_no: Code
    mdtrt_id: Code
    medfee_sumamt: Decimal | None = None
    acct_used_flag: Flag = "0"
    medins_setl_id: Id | None = None
    insutype: Code | None = None
    endtime: Text | None = None
    mid_setl_flag: Flag = "0"


class PharmacySettling(Node):
    """2102 data: a pharmacy purchase settled in one message"""

    psn_no: Code
    insutype: Code
    begntime: Text
    medfee_sumamt: Decimal | None = None
    acct_used_flag: Flag = "0"
    medins_setl_id: Id | None = None


class DrugLine(Node):
    """2102 drugdetail row"""

    feedetl_sn: Code
    med_list_codg: Code
    medins_list_codg: Code | None = None
    det_item_fee_sumamt: Decimal
    cnt: Decimal
    pric: Decimal
    fee_ocur_time: Text
    drug_trac_codg: list[Code] | Code | None = None
    bilg_dr_codg: Code | None = None  # 开方医师 (医保医师代码) of a prescription drug
    phar_code: Code | None = None  # 医保药师代码 of the pharmacist who dispensed or reviewed


class PharmacyReversal(Node):
    """2103 data"""

    setl_id: Code
    psn_no: Code


class Correction(Node):
    """2601 data: undo what message omsgid (transaction oinfno) did"""

    psn_no: Code
    omsgid: Id
    oinfno: Annotated[
        str, BeforeValidator(_text), StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{4}$")
    ]


class SettlementQuery(Node):
    """5203 / 5204 data"""

    psn_no: Code
    setl_id: Code | None = None
    mdtrt_id: Code | None = None


class VisitQuery(Node):
    """5201 data"""

    psn_no: Code
    begntime: Text | None = None
    endtime: Text | None = None
    med_type: Code | None = None
    mdtrt_id: Code | None = None


class Reversal(Node):
    """2208/2305 data"""

    setl_id: Code
    mdtrt_id: Code
    psn_no: Code


class ReviewLine(Node):
    feedetl_sn: Code | None = None
    rx_id: Code | None = None
    med_list_codg: Code | None = None
    hilist_code: Code | None = None
    chrgitm_lv: Code | None = None
    cnt: Decimal
    pric: Decimal
    det_item_fee_sumamt: Decimal | None = None
    sumamt: Decimal | None = None
    fee_ocur_time: Text | None = None
    drug_trac_codg: list[Code] | None = None


class ReviewQuery(Node):
    """3101/3102 data: one patient's claim (patient_dtos flattened to one encounter)"""

    psn_no: Code
    insutype: Code
    med_type: Code
    begntime: Text
    endtime: Text | None = None
    mdtrt_id: Code | None = None
    dise_codg: Code | None = None
    feedetail: list[ReviewLine] = Field(min_length=1, max_length=2000)


class TotalsQuery(Node):
    """3201 data"""

    insutype: Code | None = None
    clr_type: Code | None = None
    setl_optins: Code | None = None
    stmt_begndate: Text
    stmt_enddate: Text
    medfee_sumamt: Decimal
    fund_pay_sumamt: Decimal
    acct_pay: Decimal
    fixmedins_setl_cnt: int


class DetailsQuery(Node):
    """3202 data"""

    setl_optins: Code | None = None
    stmt_begndate: Text
    stmt_enddate: Text


class DetailRow(Node):
    """3202 details row"""

    setl_id: Code | None = None
    medins_setl_id: Id | None = None
    medfee_sumamt: Decimal
    fund_pay_sumamt: Decimal
    acct_pay: Decimal


class TraceCode(Node):
    drug_trac_codg: Code


class Sale(Node):
    """3505 selinfo"""

    med_list_codg: Code
    fixmedins_hilist_id: Code | None = None
    medins_prod_sel_no: Id | None = None
    finl_trns_pric: Decimal
    sel_retn_cnt: Decimal
    sel_retn_time: Text
    drugtracinfo: list[TraceCode] = Field(default_factory=list, max_length=1000)


class Accumulations(Node):
    """5206 data"""

    psn_no: Code
    cum_ym: Annotated[str, BeforeValidator(_text), StringConstraints(pattern=r"^[0-9]{4}(-?[0-9]{2})?$")]


N = TypeVar("N", bound=BaseModel)


def node(model: type[N], value: Any, where: str) -> N:
    """`value` as `model`, or INVALID_INPUT naming the first field at fault (input.<node>.<field>)."""
    if value is None:
        raise NationalError("INVALID_INPUT", f"{where}: the node is required")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(part) for part in (where, *first["loc"]))
        raise NationalError("INVALID_INPUT", f"{loc}: {first['msg']}") from exc


def node_list(model: type[N], value: Any, where: str, *, max_items: int = 10_000) -> list[N]:
    if not isinstance(value, list) or len(value) > max_items:
        raise NationalError("INVALID_INPUT", f"{where}: expected a list of at most {max_items} rows")
    return [node(model, row, f"{where}.{index}") for index, row in enumerate(value)]
