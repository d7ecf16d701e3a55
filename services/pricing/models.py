"""Tables of the pricing service, on its own MetaData.

Unit prices are integer millionths of a yuan (`*_micro`: exact, and prices carry up to 6 places); amounts
are integer fen; quantities are their exact decimal text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import UtcDateTime, new_metadata

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = new_metadata()


class Drug(Base):
    """A drug's reference data (药品基础信息): names, form, spec, maker, listing and procurement price."""

    __tablename__ = "drug"

    med_list_codg: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    generic_name: Mapped[str] = mapped_column(sa.String(200), index=True)
    dosage_form: Mapped[str | None] = mapped_column(sa.String(50))
    spec: Mapped[str | None] = mapped_column(sa.String(100))
    manufacturer: Mapped[str | None] = mapped_column(sa.String(200))
    listing_price_micro: Mapped[int | None] = mapped_column(sa.BigInteger)  # 挂网价
    procurement_price_micro: Mapped[int | None] = mapped_column(sa.BigInteger)  # 集采中选价
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Pharmacy(Base):
    """A designated pharmacy (定点零售药店), projected from settlement.institution.changed."""

    __tablename__ = "pharmacy"

    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    fixmedins_name: Mapped[str] = mapped_column(sa.String(200))
    admdvs: Mapped[str] = mapped_column(sa.String(6), index=True)
    status: Mapped[str] = mapped_column(sa.String(10))
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())  # time of the event applied last


class Observation(Base):
    """One sale line as observed (a POS upload line or a pharmacy settlement's fee line), with its light."""

    __tablename__ = "observation"
    __table_args__ = (
        sa.UniqueConstraint("fixmedins_code", "sale_id"),
        sa.Index("ix_observation_fixmedins_code_month", "fixmedins_code", "month"),
        sa.Index("ix_observation_admdvs_month", "admdvs", "month"),
    )

    observation_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30))
    sale_id: Mapped[str] = mapped_column(sa.String(100))
    source: Mapped[str] = mapped_column(sa.String(10))  # pos | settlement
    fingerprint: Mapped[str] = mapped_column(sa.String(64))  # of the line as sent: a retry must match it
    med_list_codg: Mapped[str] = mapped_column(sa.String(50))
    admdvs: Mapped[str] = mapped_column(sa.String(6))
    price_micro: Mapped[int] = mapped_column(sa.BigInteger)
    cnt: Mapped[str] = mapped_column(sa.String(24))
    sel_time: Mapped[datetime] = mapped_column(UtcDateTime())
    month: Mapped[str] = mapped_column(sa.String(7))  # YYYY-MM of the Asia/Shanghai date of sel_time
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)  # price × cnt
    reference_micro: Mapped[int] = mapped_column(sa.BigInteger)  # the reference in force at this sale
    reference_amount_fen: Mapped[int] = mapped_column(sa.BigInteger)  # reference × cnt
    diff_ratio: Mapped[str] = mapped_column(sa.String(16))
    light: Mapped[str] = mapped_column(sa.String(6))
    over_procurement: Mapped[bool] = mapped_column(sa.Boolean)
    drug_trac_codg: Mapped[list[Any]] = mapped_column(sa.JSON)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # A POS sale refunded (退货): the row stays, so a retry of the sale is still answered as a replay, but it
    # no longer counts: not in the index sums, not the pharmacy's latest price.
    refund_time: Mapped[datetime | None] = mapped_column(UtcDateTime())
    refund_note: Mapped[str | None] = mapped_column(sa.String(500))
    refunded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # when the refund was recorded


class ReversedSettlement(Base):
    """A pharmacy settlement known to be reversed (a tombstone): its observations are never recorded.

    With two consumer processes, or two relays publishing side by side, a reversal can be applied before
    its settlement; finding no observation then cannot tell "not arrived yet" from "nothing to observe", so
    the reversal leaves this row and the settlement, when it comes, records nothing.
    """

    __tablename__ = "reversed_settlement"

    setl_id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)  # the reversed (original) one
    reversed_at: Mapped[datetime] = mapped_column(UtcDateTime())  # setl_time of the reversal


class LatestPrice(Base):
    """Each pharmacy's latest price of a drug in its region.

    It is in its group's price table while `observed_at` is on or after the group's `PriceWindow.counted_from`.
    """

    __tablename__ = "latest_price"
    __table_args__ = (
        sa.Index("ix_latest_price_group", "med_list_codg", "admdvs", "observed_at"),
        # The periodic age-out reads the prices that crossed the window edge since it last ran: a range.
        sa.Index("ix_latest_price_observed_at", "observed_at"),
    )

    med_list_codg: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    admdvs: Mapped[str] = mapped_column(sa.String(6), primary_key=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    price_micro: Mapped[int] = mapped_column(sa.BigInteger)
    observed_at: Mapped[datetime] = mapped_column(UtcDateTime())  # sel_time of the latest sale


class PriceWindow(Base):
    """Where a (drug, region)'s price table starts: its counts hold the latest prices observed from then on.

    Moving it to a later cutoff takes out exactly the prices observed in between (a range read), so ageing a
    group never rewrites its latest prices.
    """

    __tablename__ = "price_window"

    med_list_codg: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    admdvs: Mapped[str] = mapped_column(sa.String(6), primary_key=True)
    counted_from: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class PriceCount(Base):
    """How many pharmacies of a region ask each price of a drug (latest prices inside the window)."""

    __tablename__ = "price_count"

    med_list_codg: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    admdvs: Mapped[str] = mapped_column(sa.String(6), primary_key=True)
    price_micro: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    pharmacies: Mapped[int] = mapped_column(sa.Integer)


class ReferencePrice(Base):
    """The reference price of a drug in a region (mode, else median, of the price table)."""

    __tablename__ = "reference_price"

    med_list_codg: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    admdvs: Mapped[str] = mapped_column(sa.String(6), primary_key=True)
    price_micro: Mapped[int] = mapped_column(sa.BigInteger)
    basis: Mapped[str] = mapped_column(sa.String(6))  # mode | median
    pharmacies: Mapped[int] = mapped_column(sa.Integer)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PriceAlert(Base):
    """An alert (预警): one open per (pharmacy, drug, light) until resolved."""

    __tablename__ = "price_alert"

    alert_id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    # "<fixmedins_code>|<med_list_codg>|<light>" while open, null once resolved: unique on both backends.
    open_key: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    fixmedins_code: Mapped[str] = mapped_column(sa.String(30), index=True)
    med_list_codg: Mapped[str] = mapped_column(sa.String(50))
    admdvs: Mapped[str] = mapped_column(sa.String(6))
    light: Mapped[str] = mapped_column(sa.String(6))
    status: Mapped[str] = mapped_column(sa.String(10))  # open | resolved
    price_micro: Mapped[int] = mapped_column(sa.BigInteger)  # the price that raised it
    reference_micro: Mapped[int] = mapped_column(sa.BigInteger)
    diff_ratio: Mapped[str] = mapped_column(sa.String(16))
    over_procurement: Mapped[bool] = mapped_column(sa.Boolean)
    sale_id: Mapped[str] = mapped_column(sa.String(100))
    occurrences: Mapped[int] = mapped_column(sa.Integer)  # sales seen with this light while open
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_by: Mapped[str | None] = mapped_column(sa.String(64))
    note: Mapped[str | None] = mapped_column(sa.String(500))


class MonitoringSettings(Base):
    """The thresholds, window and warning line set by ops (one row; absent: the defaults)."""

    __tablename__ = "monitoring_settings"

    settings_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    yellow_threshold: Mapped[str] = mapped_column(sa.String(16))
    red_threshold: Mapped[str] = mapped_column(sa.String(16))
    procurement_factor: Mapped[str] = mapped_column(sa.String(16))
    window_days: Mapped[int] = mapped_column(sa.Integer)
    index_warning_line: Mapped[str] = mapped_column(sa.String(16))
    updated_by: Mapped[str] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
