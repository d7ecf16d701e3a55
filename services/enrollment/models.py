"""Tables of the enrollment service, on its own MetaData."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import UtcDateTime, new_metadata

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = new_metadata()


class Person(Base):
    """One person, one record (一人一档)."""

    __tablename__ = "person"

    psn_no: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    certno: Mapped[str] = mapped_column(sa.String(18), unique=True)
    psn_name: Mapped[str] = mapped_column(sa.String(50))
    gend: Mapped[str] = mapped_column(sa.String(1))
    brdy: Mapped[date] = mapped_column(sa.Date)
    admdvs: Mapped[str] = mapped_column(sa.String(6), index=True)
    tel: Mapped[str | None] = mapped_column(sa.String(20))
    death_date: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Coverage(Base):
    """A basic coverage (参保关系): 310 employee (330 attached) or 390 resident (392 attached)."""

    __tablename__ = "coverage"
    __table_args__ = (
        # At most one current (active or suspended) basic coverage per person, even under concurrency.
        sa.Index(
            "uq_coverage_current",
            "psn_no",
            unique=True,
            postgresql_where=sa.text("status <> 'ended'"),
            sqlite_where=sa.text("status <> 'ended'"),
        ),
    )

    coverage_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    psn_no: Mapped[str] = mapped_column(sa.ForeignKey("person.psn_no"), index=True)
    insutype: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(10))
    begndate: Mapped[date] = mapped_column(sa.Date)
    enddate: Mapped[date | None] = mapped_column(sa.Date)
    emp_code: Mapped[str | None] = mapped_column(sa.String(30))
    psn_type: Mapped[str | None] = mapped_column(sa.String(10))
    assistance: Mapped[str | None] = mapped_column(sa.String(20))
    enrolled_on: Mapped[date] = mapped_column(sa.Date)
    benefit_start_date: Mapped[date] = mapped_column(sa.Date)
    waiting_months: Mapped[int] = mapped_column(sa.Integer, default=0)
    break_years: Mapped[int] = mapped_column(sa.Integer, default=0)
    end_reason: Mapped[str | None] = mapped_column(sa.String(20))
    # The continuous-enrollment facts as of incentive_year, restated on every change (eligibility reads them).
    incentive_year: Mapped[int | None] = mapped_column(sa.Integer)
    incentive_raise_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    continuous_years: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CoverageSuspension(Base):
    """A period in which a coverage was suspended (暂停): from_date inclusive, to_date exclusive."""

    __tablename__ = "coverage_suspension"

    suspension_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    coverage_id: Mapped[int] = mapped_column(sa.ForeignKey("coverage.coverage_id"), index=True)
    from_date: Mapped[date] = mapped_column(sa.Date)
    to_date: Mapped[date | None] = mapped_column(sa.Date)
    reason: Mapped[str | None] = mapped_column(sa.String(200))


class Contribution(Base):
    """A contribution for one period; the period is its natural key."""

    __tablename__ = "contribution"
    __table_args__ = (sa.UniqueConstraint("psn_no", "insutype", "period"),)

    contribution_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    psn_no: Mapped[str] = mapped_column(sa.ForeignKey("person.psn_no"), index=True)
    insutype: Mapped[str] = mapped_column(sa.String(3))
    period: Mapped[str] = mapped_column(sa.String(7))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    acct_amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    paid_at: Mapped[datetime] = mapped_column(UtcDateTime())
    back_payment: Mapped[bool] = mapped_column(sa.Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class FamilyBinding(Base):
    """A member bound to an employee's personal account (家庭共济); one holder per member."""

    __tablename__ = "family_binding"

    member_psn_no: Mapped[str] = mapped_column(sa.ForeignKey("person.psn_no"), primary_key=True)
    holder_psn_no: Mapped[str] = mapped_column(sa.ForeignKey("person.psn_no"), index=True)
    bound_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ClaimYearRecord(Base):
    """What settlement reported of a person's year: fund reimbursement, and whether the zero-claim raise was used."""

    __tablename__ = "claim_year"

    psn_no: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    fund_pay_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    zero_claim_raise_used: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class ClaimSettlement(Base):
    """Each settlement seen, so a reversal can take its amount back out of the year."""

    __tablename__ = "claim_settlement"

    setl_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    psn_no: Mapped[str] = mapped_column(sa.String(20))
    year: Mapped[int] = mapped_column(sa.Integer)
    fund_pay_fen: Mapped[int] = mapped_column(sa.BigInteger)
    reversed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
