"""Tables of the fraud service, on its own MetaData: rules, the claim-history projection, findings.

Money is integer fen; quantities are kept as their exact decimal text.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import UtcDateTime, new_metadata

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_FEN = sa.BigInteger()


class Base(DeclarativeBase):
    metadata = new_metadata()


# --- the rule library ----------------------------------------------------------------------------------


class Rule(Base):
    """A rule instance as it now stands (its latest version); every version is kept in rule_version."""

    __tablename__ = "rule"

    rule_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    family: Mapped[str] = mapped_column(sa.String(40), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    version: Mapped[int] = mapped_column(sa.Integer)
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    severity: Mapped[str] = mapped_column(sa.String(10))
    scope: Mapped[str] = mapped_column(sa.String(10))
    enabled: Mapped[bool] = mapped_column(sa.Boolean)
    # Set on the instances shipped with the service, so seeding them again at start changes nothing.
    builtin: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(sa.String(64))


class RuleVersion(Base):
    """One version of a rule instance, append-only: hits and findings name (rule_id, version)."""

    __tablename__ = "rule_version"

    rule_id: Mapped[int] = mapped_column(_ID, sa.ForeignKey("rule.rule_id"), primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    severity: Mapped[str] = mapped_column(sa.String(10))
    scope: Mapped[str] = mapped_column(sa.String(10))
    enabled: Mapped[bool] = mapped_column(sa.Boolean)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(sa.String(64))


# --- the projection of claim history (fed by settlement's and enrollment's events) ---------------------


class PersonFact(Base):
    """What fraud knows of an insured person: gender, birth date, date of death."""

    __tablename__ = "person_fact"

    psn_no: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    gend: Mapped[str | None] = mapped_column(sa.String(1))
    brdy: Mapped[date | None] = mapped_column(sa.Date)
    death_date: Mapped[date | None] = mapped_column(sa.Date)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ClaimRecord(Base):
    """A settled claim (settlement.settled); `reversed` once settlement.reversed arrives."""

    __tablename__ = "claim_record"
    __table_args__ = (
        sa.Index("ix_claim_record_psn_begin", "psn_no", "begin_date"),
        sa.Index("ix_claim_record_peer", "dise_category", "hosp_lv", "med_type"),
        sa.Index("ix_claim_record_setl_date", "setl_date"),
    )

    setl_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    psn_no: Mapped[str] = mapped_column(sa.String(30))
    mdtrt_id: Mapped[str] = mapped_column(sa.String(40))
    medins_setl_id: Mapped[str] = mapped_column(sa.String(64))
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    hosp_lv: Mapped[int | None] = mapped_column(sa.SmallInteger)
    insutype: Mapped[str] = mapped_column(sa.String(3))
    med_type: Mapped[str] = mapped_column(sa.String(3))
    dise_codg: Mapped[str | None] = mapped_column(sa.String(30))
    dise_category: Mapped[str | None] = mapped_column(sa.String(3))
    begin_date: Mapped[date] = mapped_column(sa.Date)
    end_date: Mapped[date | None] = mapped_column(sa.Date)
    setl_date: Mapped[date] = mapped_column(sa.Date)
    setl_time: Mapped[datetime] = mapped_column(UtcDateTime())
    medfee_fen: Mapped[int] = mapped_column(_FEN)
    fund_pay_fen: Mapped[int] = mapped_column(_FEN)
    psn_part_fen: Mapped[int] = mapped_column(_FEN)
    reversed: Mapped[bool] = mapped_column(sa.Boolean)
    reversed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # 医疗救助类别 of the person's coverage when settled (high_burden's threshold by category); null: none.
    assistance: Mapped[str | None] = mapped_column(sa.String(20))


class ClaimLine(Base):
    """A settled fee line, with what duplicate and quantity rules need."""

    __tablename__ = "claim_line"
    __table_args__ = (sa.Index("ix_claim_line_psn_date", "psn_no", "fee_date"),)

    setl_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    feedetl_sn: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    psn_no: Mapped[str] = mapped_column(sa.String(30))
    med_list_codg: Mapped[str] = mapped_column(sa.String(50))
    cnt: Mapped[str] = mapped_column(sa.String(24))
    amount_fen: Mapped[int] = mapped_column(_FEN)
    fee_date: Mapped[date] = mapped_column(sa.Date)
    reversed: Mapped[bool] = mapped_column(sa.Boolean)


class TraceCodeUse(Base):
    """A use of a drug traceability code (追溯码): settled in a claim (`source` settlement, `use_id` its
    setl_id) or sold by a pharmacy's POS (`source` sale, `use_id` its sale_id); freed (`reversed`) when the
    claim is reversed or the sale refunded."""

    __tablename__ = "trace_code_use"
    # A settlement's codes are read (claim_from_record) and freed (reversal) by its id, a sale's by its id.
    __table_args__ = (sa.Index("ix_trace_code_use_source_use_id", "source", "use_id"),)

    trac_codg: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(10), primary_key=True)  # settlement | sale
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    use_id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)  # setl_id | sale_id
    feedetl_sn: Mapped[str | None] = mapped_column(sa.String(40))  # the settled line; null for a sale
    used_at: Mapped[datetime] = mapped_column(UtcDateTime())  # setl_time | sel_time
    reversed: Mapped[bool] = mapped_column(sa.Boolean)


class CatalogLimit(Base):
    """The catalogue's restrictions of an item (settlement.catalog.changed)."""

    __tablename__ = "catalog_limit"

    med_list_codg: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    gend_lmt: Mapped[str | None] = mapped_column(sa.String(1))
    age_min: Mapped[int | None] = mapped_column(sa.SmallInteger)
    age_max: Mapped[int | None] = mapped_column(sa.SmallInteger)
    max_cnt_per_visit: Mapped[str | None] = mapped_column(sa.String(24))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # 需扫追溯码: its lines count in the institution's scan rate (扫码率).
    trac_codg_required: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false(), default=False)


# --- findings (疑点) -------------------------------------------------------------------------------------


class Finding(Base):
    """A post rule's hit: open → confirmed (amount to recover) or dismissed, with who and why."""

    __tablename__ = "finding"
    __table_args__ = (
        sa.UniqueConstraint("rule_id", "finding_key", name="uq_finding_rule_key"),
        sa.Index("ix_finding_status_raised", "status", "raised_at"),
    )

    finding_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(_ID, sa.ForeignKey("rule.rule_id"))
    rule_version: Mapped[int] = mapped_column(sa.Integer)
    family: Mapped[str] = mapped_column(sa.String(40))
    category: Mapped[str] = mapped_column(sa.String(20))
    severity: Mapped[str] = mapped_column(sa.String(10))
    finding_key: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(10))
    setl_id: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    psn_no: Mapped[str | None] = mapped_column(sa.String(30), index=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    message: Mapped[str] = mapped_column(sa.String(500))
    feedetl_sn: Mapped[str | None] = mapped_column(sa.String(40))
    vola_fen: Mapped[int | None] = mapped_column(_FEN)
    fund_pay_fen: Mapped[int] = mapped_column(_FEN)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())
    amount_to_recover_fen: Mapped[int | None] = mapped_column(_FEN)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    decided_by: Mapped[str | None] = mapped_column(sa.String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


# --- practitioners' payment qualification (医保支付资格管理: registry, 记分, suspensions) ------------------


class Practitioner(Base):
    """A doctor, pharmacist, nurse or technician registered with their institution; no names are kept."""

    __tablename__ = "practitioner"

    prac_codg: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    prac_type: Mapped[str] = mapped_column(sa.String(12))
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    status: Mapped[str] = mapped_column(sa.String(12))  # active | suspended | terminated
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    registered_by: Mapped[str] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PractitionerPoints(Base):
    """One points entry (记分), append-only: counted in the calendar year of its date."""

    __tablename__ = "practitioner_points"
    __table_args__ = (
        sa.Index("ix_practitioner_points_prac_year", "prac_codg", "year"),
        # A finding or case gives a practitioner points once (source_id null: manual entries, never merged).
        sa.UniqueConstraint("prac_codg", "source", "source_id", name="uq_practitioner_points_source"),
    )

    entry_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    prac_codg: Mapped[str] = mapped_column(sa.String(20), sa.ForeignKey("practitioner.prac_codg"))
    year: Mapped[int] = mapped_column(sa.Integer)
    points: Mapped[int] = mapped_column(sa.SmallInteger)
    reason: Mapped[str] = mapped_column(sa.String(500))
    source: Mapped[str] = mapped_column(sa.String(10))  # finding | case | manual
    source_id: Mapped[str | None] = mapped_column(sa.String(40))
    on_date: Mapped[date] = mapped_column(sa.Date)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    recorded_by: Mapped[str] = mapped_column(sa.String(64))


class PractitionerSuspension(Base):
    """A period the practitioner may not bill the fund (暂停 or 终止), with the points that caused it."""

    __tablename__ = "practitioner_suspension"
    __table_args__ = (sa.Index("ix_practitioner_suspension_open", "reinstated_on", "suspended_until"),)

    suspension_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    prac_codg: Mapped[str] = mapped_column(sa.String(20), sa.ForeignKey("practitioner.prac_codg"), index=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30))
    level: Mapped[str] = mapped_column(sa.String(12))  # suspended | terminated
    suspended_from: Mapped[date] = mapped_column(sa.Date)
    suspended_until: Mapped[date] = mapped_column(sa.Date)
    points: Mapped[int] = mapped_column(sa.SmallInteger)
    entry_id: Mapped[int] = mapped_column(_ID, sa.ForeignKey("practitioner_points.entry_id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Set by the reinstatement sweep once the period is over (the first day paid again).
    reinstated_on: Mapped[date | None] = mapped_column(sa.Date)
    reinstated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


# --- cases (案件): notification, appeal, voluntary refund, decision ------------------------------------


class Case(Base):
    """A case of one institution's findings: notified → appealed → upheld → decided → closed (domain.cases)."""

    __tablename__ = "supervision_case"  # "case" is an SQL keyword
    __table_args__ = (sa.Index("ix_supervision_case_status_code", "status", "fixmedins_code"),)

    case_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    status: Mapped[str] = mapped_column(sa.String(10))
    outcome: Mapped[str | None] = mapped_column(sa.String(12))  # decided | refunded | overturned
    summary: Mapped[str] = mapped_column(sa.String(500))
    proposed_fen: Mapped[int] = mapped_column(_FEN)  # 拟追回 the amounts notified
    notified_on: Mapped[date] = mapped_column(sa.Date)
    appeal_deadline: Mapped[date] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(sa.String(64))
    appeal_statement: Mapped[str | None] = mapped_column(sa.String(4000))
    appeal_files: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    appealed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    appealed_by: Mapped[str | None] = mapped_column(sa.String(64))
    review_note: Mapped[str | None] = mapped_column(sa.String(500))
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reviewed_by: Mapped[str | None] = mapped_column(sa.String(64))
    recovery_fen: Mapped[int | None] = mapped_column(_FEN)
    penalty_basis: Mapped[str | None] = mapped_column(sa.String(30))
    penalty_multiple: Mapped[str | None] = mapped_column(sa.String(12))  # exact decimal text
    penalty_fen: Mapped[int | None] = mapped_column(_FEN)
    points: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)
    referral: Mapped[bool | None] = mapped_column(sa.Boolean)
    referral_to: Mapped[str | None] = mapped_column(sa.String(100))
    decision_note: Mapped[str | None] = mapped_column(sa.String(500))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(sa.String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_by: Mapped[str | None] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CaseFinding(Base):
    """A finding in a case, with the amount notified and the recovery decided; a finding is in one case only."""

    __tablename__ = "case_finding"

    case_id: Mapped[int] = mapped_column(_ID, sa.ForeignKey("supervision_case.case_id"), primary_key=True)
    # Unique on its own: a finding joins at most one case (an overturned case dismisses its findings).
    finding_id: Mapped[int] = mapped_column(
        _ID, sa.ForeignKey("finding.finding_id"), primary_key=True, unique=True
    )
    proposed_fen: Mapped[int] = mapped_column(_FEN)
    recovery_fen: Mapped[int | None] = mapped_column(_FEN)


class CaseEvent(Base):
    """A case's history, append-only: each transition with who, when and what was said."""

    __tablename__ = "case_event"

    case_event_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(_ID, sa.ForeignKey("supervision_case.case_id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(20))
    status_from: Mapped[str | None] = mapped_column(sa.String(10))
    status_to: Mapped[str] = mapped_column(sa.String(10))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    by: Mapped[str] = mapped_column(sa.String(64))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    detail: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)


# --- trace codes from POS sales, and scan rates (扫码率) ---------------------------------------------------


class SaleLine(Base):
    """A POS sale line as pricing recorded it (pricing.sale.recorded); `refunded` once pricing.sale.refunded."""

    __tablename__ = "sale_line"

    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    sale_id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    med_list_codg: Mapped[str] = mapped_column(sa.String(50))
    sel_time: Mapped[datetime] = mapped_column(UtcDateTime())
    month: Mapped[str] = mapped_column(sa.String(7))  # YYYY-MM of the Asia/Shanghai date of sel_time
    # What it added to the scan rate when projected (the catalogue may change since): taken out on refund.
    needs_code: Mapped[bool] = mapped_column(sa.Boolean)
    scanned: Mapped[bool] = mapped_column(sa.Boolean)
    refunded: Mapped[bool] = mapped_column(sa.Boolean)
    refunded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SettlementScan(Base):
    """What a settlement added to its institution's scan rate, so that its reversal takes exactly that out."""

    __tablename__ = "settlement_scan"

    setl_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30))
    month: Mapped[str] = mapped_column(sa.String(7))  # YYYY-MM of the Asia/Shanghai date of setl_time
    lines_needing: Mapped[int] = mapped_column(sa.Integer)
    lines_scanned: Mapped[int] = mapped_column(sa.Integer)


class ScanCount(Base):
    """An institution's month of lines that need a traceability code, and of those that carried one."""

    __tablename__ = "scan_count"

    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)
    lines_needing: Mapped[int] = mapped_column(sa.Integer)
    lines_scanned: Mapped[int] = mapped_column(sa.Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


# --- institution-level rules and the monthly warnings (每月推送预警) --------------------------------------


class CaseGrouping(Base):
    """A points case's DRG/DIP group and severity as settlement last reported it (settlement.case.grouped)."""

    __tablename__ = "case_grouping"

    setl_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    year: Mapped[int] = mapped_column(sa.Integer)
    insutype: Mapped[str] = mapped_column(sa.String(3))
    method: Mapped[str] = mapped_column(sa.String(3))
    group_code: Mapped[str | None] = mapped_column(sa.String(20))
    severity: Mapped[str | None] = mapped_column(sa.String(4))
    base_points: Mapped[str | None] = mapped_column(sa.String(24))
    points: Mapped[str] = mapped_column(sa.String(24))
    deviation: Mapped[str] = mapped_column(sa.String(10))
    revision: Mapped[int] = mapped_column(sa.Integer)
    grouped_at: Mapped[datetime] = mapped_column(UtcDateTime())


class InstitutionWarning(Base):
    """A month's warning to an institution, as published: a new version only when its content changed."""

    __tablename__ = "institution_warning"
    __table_args__ = (
        sa.UniqueConstraint("fixmedins_code", "month", "version", name="uq_institution_warning_version"),
        sa.Index("ix_institution_warning_month", "month", "fixmedins_code"),
    )

    warning_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30))
    month: Mapped[str] = mapped_column(sa.String(7))
    version: Mapped[int] = mapped_column(sa.Integer)
    latest: Mapped[bool] = mapped_column(sa.Boolean)
    content: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    digest: Mapped[str] = mapped_column(sa.String(64))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime())
    published_by: Mapped[str] = mapped_column(sa.String(64))
