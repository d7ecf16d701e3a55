"""Claims as the API and the events show them: rows and splits mapped to answers, requests mapped to rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from common.events.review import ReviewClaim, ReviewLine
from common.events.settlement import SettledFund, SettledLine, SettlementReversed, SettlementSettled
from common.money import fen_to_yuan, yuan_to_fen
from settlement.domain.claims import ACTIVE, SETTLED
from settlement.domain.split import FUND_NAMES, LineSplit, SettlementSplit, YearToDate
from settlement.models import FeeDetail, Settlement, Visit, YearAccumulator
from settlement.schemas.claims import (
    FeeLineIn,
    FeeLineOut,
    LineResult,
    Notice,
    OneCallSettlementIn,
    ReversalOut,
    ReviewOut,
    SetlDetail,
    SetlInfo,
    SettlementOut,
    SettlementSummary,
    VisitOut,
    VisitStatus,
    YearTotals,
)
from settlement.service.review import ReviewOutcome

if TYPE_CHECKING:
    from settlement.service.context import SettleContext


# --- fee lines and visits --------------------------------------------------------------------------------


def line_in(row: FeeDetail) -> FeeLineIn:
    """A stored line as it was sent."""
    return FeeLineIn(
        feedetl_sn=row.feedetl_sn,
        med_list_codg=row.med_list_codg,
        medins_list_codg=row.medins_list_codg,
        cnt=Decimal(row.cnt),
        pric=Decimal(row.pric),
        det_item_fee_sumamt=fen_to_yuan(row.amount_fen),
        fee_ocur_time=row.fee_ocur_time,
        drug_trac_codg=list(row.drug_trac_codg),
        dise_codg=row.dise_codg,
        chrg_bchno=row.chrg_bchno,
        bilg_dr_codg=row.bilg_dr_codg,
        phar_prac_codg=row.phar_prac_codg,
    )


def line_row(mdtrt_id: str, line: FeeLineIn, now: datetime) -> dict[str, Any]:
    """The columns of a standing line sent for a visit."""
    return {
        "mdtrt_id": mdtrt_id,
        "feedetl_sn": line.feedetl_sn,
        "med_list_codg": line.med_list_codg,
        "medins_list_codg": line.medins_list_codg,
        "cnt": format(line.cnt, "f"),
        "pric": format(line.pric, "f"),
        "amount_fen": yuan_to_fen(line.det_item_fee_sumamt),
        "fee_ocur_time": line.fee_ocur_time,
        "drug_trac_codg": list(line.drug_trac_codg),
        "dise_codg": line.dise_codg,
        "chrg_bchno": line.chrg_bchno,
        "bilg_dr_codg": line.bilg_dr_codg,
        "phar_prac_codg": line.phar_prac_codg,
        "status": ACTIVE,
        "created_at": now,
    }


def one_call_visit_row(data: OneCallSettlementIn, *, mdtrt_id: str, at: datetime) -> dict[str, Any]:
    """The columns of the visit a one-call settlement opens and settles at once."""
    return {
        "mdtrt_id": mdtrt_id,
        "fixmedins_code": data.fixmedins_code,
        "psn_no": data.psn_no,
        "insutype": data.insutype.value,
        "med_type": data.med_type,
        "begntime": data.begntime,
        "endtime": data.endtime,
        "dise_codg": data.dise_codg,
        "dise_name": data.dise_name,
        "ipt_otp_no": data.ipt_otp_no,
        "status": SETTLED,
        "created_at": at,
    }


def line_out(row: FeeDetail) -> FeeLineOut:
    """A stored line as answered (what was sent, but its diagnosis)."""
    return FeeLineOut(**line_in(row).model_dump(exclude={"dise_codg"}))


def visit_out(visit: Visit, lines: Sequence[FeeDetail]) -> VisitOut:
    return VisitOut(
        mdtrt_id=visit.mdtrt_id,
        fixmedins_code=visit.fixmedins_code,
        psn_no=visit.psn_no,
        insutype=visit.insutype,
        med_type=visit.med_type,
        begntime=visit.begntime,
        endtime=visit.endtime,
        dise_codg=visit.dise_codg,
        dise_name=visit.dise_name,
        ipt_otp_no=visit.ipt_otp_no,
        dscg_way=visit.dscg_way,
        cancel_reason=visit.cancel_reason,
        status=VisitStatus(visit.status),
        feedetail=[line_out(row) for row in lines],
    )


# --- the split's answer --------------------------------------------------------------------------------


def line_results(lines: Sequence[LineSplit]) -> list[LineResult]:
    return [
        LineResult(
            feedetl_sn=line.feedetl_sn,
            med_list_codg=line.med_list_codg,
            det_item_fee_sumamt=fen_to_yuan(line.amount_fen),
            chrgitm_lv=line.chrgitm_lv,
            selfpay_prop=line.selfpay_prop,
            fulamt_ownpay_amt=fen_to_yuan(line.fulamt_ownpay_fen),
            overlmt_amt=fen_to_yuan(line.overlmt_fen),
            preselfpay_amt=fen_to_yuan(line.preselfpay_fen),
            inscp_scp_amt=fen_to_yuan(line.inscp_fen),
            notes=list(line.reasons),
        )
        for line in lines
    ]


_NOTICE_TEXT = {
    "WAITING_PERIOD": "The care began in the waiting period (待遇等待期): the fund pays nothing.",
    "PHARMACY_ACCOUNT_ONLY": (
        "Pharmacy purchases are paid by the person (personal account or cash); the fund pays nothing."
    ),
    "POOL_CEILING_REACHED": "The basic pool's yearly ceiling (最高支付限额) is reached.",
    "OUTPATIENT_CAP_REACHED": "The outpatient pool's yearly cap is reached.",
    "SUPPLEMENTARY_CAP_REACHED": "The supplementary (大病/大额) cap is reached.",
    "ASSISTANCE_CAP_REACHED": "The medical assistance (医疗救助) yearly cap is reached.",
}


def notices(context: SettleContext, split: SettlementSplit, outcome: ReviewOutcome | None) -> list[Notice]:
    found = []
    for reason in split.reasons:
        details: dict[str, Any] = {}
        if reason == "WAITING_PERIOD":
            details = {"benefit_start_date": context.coverage.benefit_start_date.isoformat()}
        found.append(Notice(code=reason, message=_NOTICE_TEXT.get(reason, reason), details=details))
    if outcome is not None:
        if outcome.status == "skipped":
            found.append(
                Notice(
                    code="REVIEW_SKIPPED",
                    message="The real-time review did not answer in time; settled unreviewed.",
                )
            )
        for hit in outcome.warnings:
            found.append(
                Notice(code="REVIEW_WARNING", message=hit.message, details=hit.model_dump(mode="json"))
            )
    return found


def setlinfo(
    context: SettleContext,
    split: SettlementSplit,
    *,
    setl_id: str | None,
    mdtrt_id: str,
    medins_setl_id: str | None,
    setl_time: datetime,
    balc_fen: int,
) -> SetlInfo:
    header = context.header
    return SetlInfo(
        setl_id=setl_id,
        mdtrt_id=mdtrt_id,
        psn_no=header.psn_no,
        insutype=header.insutype,
        med_type=header.med_type,
        fixmedins_code=header.fixmedins_code,
        medins_setl_id=medins_setl_id,
        setl_time=setl_time,
        policy_version=context.policy.version,
        medfee_sumamt=fen_to_yuan(split.medfee_fen),
        fulamt_ownpay_amt=fen_to_yuan(split.fulamt_ownpay_fen),
        overlmt_selfpay=fen_to_yuan(split.overlmt_selfpay_fen),
        preselfpay_amt=fen_to_yuan(split.preselfpay_fen),
        inscp_scp_amt=fen_to_yuan(split.inscp_scp_fen),
        act_pay_dedc=fen_to_yuan(split.act_pay_dedc_fen),
        hifp_pay=fen_to_yuan(split.hifp_pay_fen),
        hifmi_pay=fen_to_yuan(split.hifmi_pay_fen),
        hifob_pay=fen_to_yuan(split.hifob_pay_fen),
        maf_pay=fen_to_yuan(split.maf_pay_fen),
        fund_pay_sumamt=fen_to_yuan(split.fund_pay_fen),
        psn_part_amt=fen_to_yuan(split.psn_part_fen),
        acct_pay=fen_to_yuan(split.acct_pay_fen),
        acct_mulaid_pay=fen_to_yuan(split.acct_mulaid_pay_fen),
        psn_cash_pay=fen_to_yuan(split.psn_cash_pay_fen),
        balc=fen_to_yuan(balc_fen),
        mulaid_psn_no=context.person.family_holder if split.acct_mulaid_pay_fen else None,
    )


def settlement_out(
    context: SettleContext,
    split: SettlementSplit,
    outcome: ReviewOutcome,
    *,
    setl_id: str,
    mdtrt_id: str,
    medins_setl_id: str,
    setl_time: datetime,
    balc_fen: int,
) -> dict[str, Any]:
    """A settlement's answer, as JSON: stored with it, so that a retry is answered with the very same body."""
    return SettlementOut(
        setlinfo=setlinfo(
            context,
            split,
            setl_id=setl_id,
            mdtrt_id=mdtrt_id,
            medins_setl_id=medins_setl_id,
            setl_time=setl_time,
            balc_fen=balc_fen,
        ),
        setldetail=setldetail(split),
        result=line_results(split.lines),
        warnings=notices(context, split, outcome),
        # blocked never gets here
        review=ReviewOut(
            status=outcome.status if outcome.status != "blocked" else "warned",
            hits=[hit.model_dump(mode="json") for hit in outcome.hits],
        ),
    ).model_dump(mode="json")


def setldetail(split: SettlementSplit) -> list[SetlDetail]:
    return [
        SetlDetail(
            fund_pay_type=f.fund_pay_type,
            fund_pay_type_name=FUND_NAMES[f.fund_pay_type],
            fund_payamt=fen_to_yuan(f.amount_fen),
        )
        for f in split.funds
    ]


def settlement_row(
    context: SettleContext,
    split: SettlementSplit,
    *,
    setl_id: str,
    mdtrt_id: str,
    medins_setl_id: str,
    setl_time: datetime,
    on: date,
    counted_on: date,
    review: str,
    fingerprint: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    """The columns of a settlement: the split's amounts, what it adds to the year, the answer for retries."""
    header, holder = context.header, context.person.family_holder
    return dict(
        setl_id=setl_id,
        medins_setl_id=medins_setl_id,
        fixmedins_code=header.fixmedins_code,
        mdtrt_id=mdtrt_id,
        psn_no=header.psn_no,
        insutype=header.insutype,
        med_type=header.med_type,
        setl_time=setl_time,
        business_date=on,
        year=on.year,
        policy_version=context.policy.version,
        medfee_fen=split.medfee_fen,
        fulamt_ownpay_fen=split.fulamt_ownpay_fen,
        overlmt_selfpay_fen=split.overlmt_selfpay_fen,
        preselfpay_fen=split.preselfpay_fen,
        inscp_scp_fen=split.inscp_scp_fen,
        act_pay_dedc_fen=split.act_pay_dedc_fen,
        hifp_pay_fen=split.hifp_pay_fen,
        hifmi_pay_fen=split.hifmi_pay_fen,
        hifob_pay_fen=split.hifob_pay_fen,
        maf_pay_fen=split.maf_pay_fen,
        fund_pay_fen=split.fund_pay_fen,
        psn_part_fen=split.psn_part_fen,
        acct_pay_fen=split.acct_pay_fen,
        acct_mulaid_pay_fen=split.acct_mulaid_pay_fen,
        psn_cash_pay_fen=split.psn_cash_pay_fen,
        mulaid_holder_psn_no=holder if split.acct_mulaid_pay_fen else None,
        outpatient_dedc_fen=split.year_delta.outpatient_dedc_fen,
        outpatient_pool_fen=split.year_delta.outpatient_pool_fen,
        pool_self_fen=split.year_delta.pool_self_fen,
        review=review,
        request_hash=fingerprint,
        response=body,
        status=SETTLED,
        created_at=setl_time,
        day_close_date=counted_on,
    )


# --- the review and the events -------------------------------------------------------------------------


def review_claim(context: SettleContext, mdtrt_id: str | None) -> ReviewClaim:
    header, institution = context.header, context.institution
    levels = {line.feedetl_sn: line.chrgitm_lv for line in context.lines}
    # Built from values validated already (the request, the projection): constructed, not validated again.
    return ReviewClaim.model_construct(
        psn_no=header.psn_no,
        gend=context.person.gend,
        brdy=context.person.brdy,
        insutype=header.insutype,
        med_type=header.med_type,
        fixmedins_code=header.fixmedins_code,
        fixmedins_type=institution.fixmedins_type,
        hosp_lv=institution.hosp_lv,
        admdvs=institution.admdvs,
        mdtrt_id=mdtrt_id,
        begntime=header.begntime,
        endtime=header.endtime,
        dise_codg=header.dise_codg,
        medfee_sumamt=fen_to_yuan(sum(line.amount_fen for line in context.lines)),
        lines=[
            ReviewLine.model_construct(
                feedetl_sn=line.feedetl_sn,
                med_list_codg=line.med_list_codg,
                chrgitm_lv=levels.get(line.feedetl_sn),
                cnt=line.cnt,
                pric=line.pric,
                det_item_fee_sumamt=line.det_item_fee_sumamt,
                fee_ocur_time=line.fee_ocur_time,
                drug_trac_codg=list(line.drug_trac_codg),
            )
            for line in context.fee_lines
        ],
    )


def settled_event_data(
    context: SettleContext, split: SettlementSplit, body: dict[str, Any], *, on: date, outcome: ReviewOutcome
) -> dict[str, Any]:
    """settlement.settled: the whole setlinfo, the funds, and each line with its split and trace codes.

    Built straight in its JSON form from the answer (already JSON) and values validated before; the contract
    SettlementSettled would give the very same document (tests/settlement check that it does).
    """
    by_sn = {line.feedetl_sn: line for line in context.fee_lines}
    institution = context.institution
    feedetail = []
    for result in body["result"]:
        line = by_sn[result["feedetl_sn"]]
        feedetail.append(
            _contract_fields(
                _LINE_FIELDS,
                {
                    **result,
                    "medins_list_codg": line.medins_list_codg,
                    "cnt": format(line.cnt, "f"),
                    "pric": format(line.pric, "f"),
                    "fee_ocur_time": to_jsonable_python(line.fee_ocur_time),
                    "drug_trac_codg": list(line.drug_trac_codg),
                    "dise_codg": line.dise_codg,
                    "bilg_dr_codg": line.bilg_dr_codg,
                    "phar_prac_codg": line.phar_prac_codg,
                },
            )
        )
    header = context.header
    return _contract_fields(
        _SETTLED_FIELDS,
        {
            **body["setlinfo"],
            "business_date": on.isoformat(),
            "fixmedins_type": institution.fixmedins_type,
            "hosp_lv": institution.hosp_lv,
            "admdvs": institution.admdvs,
            "begntime": to_jsonable_python(header.begntime),
            "endtime": to_jsonable_python(header.endtime),
            "dise_codg": header.dise_codg,
            "review": outcome.status,
            "incentive_raise_used": split.incentive_raise_used,
            "assistance": context.coverage.assistance,
            "setldetail": [_contract_fields(_FUND_FIELDS, fund) for fund in body["setldetail"]],
            "feedetail": feedetail,
        },
    )


def _contract_fields(fields: dict[str, FieldInfo], values: dict[str, Any]) -> dict[str, Any]:
    """The contract's fields, in its order, from `values` (its defaults where absent); extras left out."""
    return {
        name: values[name]
        if name in values
        else to_jsonable_python(field.get_default(call_default_factory=True))
        for name, field in fields.items()
    }


_SETTLED_FIELDS = SettlementSettled.model_fields
_LINE_FIELDS = SettledLine.model_fields
_FUND_FIELDS = SettledFund.model_fields


def reversal_out(
    settlement: Settlement, *, reversal_id: str, reason: str, setl_time: datetime, balc_fen: int
) -> ReversalOut:
    return ReversalOut(
        setl_id=reversal_id,
        orig_setl_id=settlement.setl_id,
        fixmedins_code=settlement.fixmedins_code,
        psn_no=settlement.psn_no,
        setl_time=setl_time,
        reason=reason,
        medfee_sumamt=fen_to_yuan(settlement.medfee_fen),
        fund_pay_sumamt=fen_to_yuan(settlement.fund_pay_fen),
        acct_pay=fen_to_yuan(settlement.acct_pay_fen),
        acct_mulaid_pay=fen_to_yuan(settlement.acct_mulaid_pay_fen),
        psn_cash_pay=fen_to_yuan(settlement.psn_cash_pay_fen),
        balc=fen_to_yuan(balc_fen),
    )


def year_delta(settlement: Settlement) -> YearToDate:
    """What a settlement added to the person's year (a reversal takes it back)."""
    return YearToDate(
        outpatient_dedc_fen=settlement.outpatient_dedc_fen,
        outpatient_pool_fen=settlement.outpatient_pool_fen,
        pool_fen=settlement.hifp_pay_fen,
        pool_self_fen=settlement.pool_self_fen,
        supp_fen=settlement.hifmi_pay_fen + settlement.hifob_pay_fen,
        maf_fen=settlement.maf_pay_fen,
    )


def reversed_event_data(settlement: Settlement, answer: ReversalOut, *, on: date) -> dict[str, Any]:
    """settlement.reversed: the reversal's answer with the original settlement's keys and fund amounts."""
    return SettlementReversed(
        **answer.model_dump(),
        medins_setl_id=settlement.medins_setl_id,
        mdtrt_id=settlement.mdtrt_id,
        insutype=settlement.insutype,
        med_type=settlement.med_type,
        business_date=on,
        orig_setl_time=settlement.setl_time,
        orig_business_date=settlement.business_date,
        hifp_pay=fen_to_yuan(settlement.hifp_pay_fen),
        hifmi_pay=fen_to_yuan(settlement.hifmi_pay_fen),
        hifob_pay=fen_to_yuan(settlement.hifob_pay_fen),
        maf_pay=fen_to_yuan(settlement.maf_pay_fen),
    ).model_dump(mode="json")


# --- records and accounts ------------------------------------------------------------------------------


def settlement_summary(row: Settlement) -> SettlementSummary:
    return SettlementSummary(
        setl_id=row.setl_id,
        medins_setl_id=row.medins_setl_id,
        mdtrt_id=row.mdtrt_id,
        fixmedins_code=row.fixmedins_code,
        psn_no=row.psn_no,
        insutype=row.insutype,
        med_type=row.med_type,
        setl_time=row.setl_time,
        business_date=row.business_date,
        medfee_sumamt=fen_to_yuan(row.medfee_fen),
        fund_pay_sumamt=fen_to_yuan(row.fund_pay_fen),
        acct_pay=fen_to_yuan(row.acct_pay_fen),
        acct_mulaid_pay=fen_to_yuan(row.acct_mulaid_pay_fen),
        psn_cash_pay=fen_to_yuan(row.psn_cash_pay_fen),
        status=row.status,
    )


def year_totals(row: YearAccumulator) -> YearTotals:
    return YearTotals(
        insutype=row.insutype,
        year=row.year,
        outpatient_dedc=fen_to_yuan(row.outpatient_dedc_fen),
        outpatient_pool=fen_to_yuan(row.outpatient_pool_fen),
        hifp_pay=fen_to_yuan(row.pool_fen),
        pool_self=fen_to_yuan(row.pool_self_fen),
        supplementary_pay=fen_to_yuan(row.supp_fen),
        maf_pay=fen_to_yuan(row.maf_fen),
        settlement_count=row.settlement_count,
    )
