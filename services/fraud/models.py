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
    """A drug traceability code (追溯码) settled in a claim; freed when the claim is reversed."""

    __tablename__ = "trace_code_use"

    trac_codg: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # Indexed too: a settlement's codes are read (claim_from_record) and marked (reversal) by setl_id.
    setl_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True, index=True)
    feedetl_sn: Mapped[str] = mapped_column(sa.String(40))
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
