"""Settings of the fraud service (environment variables prefixed FRAUD_)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.config import ServiceSettings
from fraud.domain.cases import DEFAULT_HOLIDAYS, DEFAULT_MAKEUP_WORKDAYS, DEFAULT_PENALTY_SCALE


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FRAUD_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "fraud"
    default_port: ClassVar[int] = 8004

    review_responder: bool = Field(
        default=True, description="Answer fraud.review on NATS (queue group fraud)"
    )
    rule_cache_s: float = Field(
        default=2.0, ge=0, description="How long a replica trusts its cached real-time rules"
    )
    backtest_max_claims: int = Field(
        default=20000, ge=1, le=1_000_000, description="Most settlements one backtest examines"
    )
    # Cases (案件): the appeal window and the penalty scale.
    case_appeal_working_days: int = Field(
        default=5,
        ge=1,
        le=60,
        description="申诉期限: working days after the notification an institution may appeal",
    )
    case_holidays: list[date] = Field(
        default_factory=lambda: list(DEFAULT_HOLIDAYS),
        description="法定节假日 not counted as working days (JSON list of dates); defaults to 2026's",
    )
    case_makeup_workdays: list[date] = Field(
        default_factory=lambda: list(DEFAULT_MAKEUP_WORKDAYS),
        description="调休上班 weekend days that count as working days (JSON list of dates); defaults to 2026's",
    )
    case_penalty_scale: dict[str, tuple[Decimal, Decimal]] = Field(
        default_factory=lambda: dict(DEFAULT_PENALTY_SCALE),
        description="处罚幅度 per basis: the lowest and highest multiple of the recovery, e.g. "
        '{"none": [0, 0], "violation": [1, 2], "fraud": [2, 5]}',
    )
    # The 记分 scale (医保支付资格管理, 医保发〔2024〕23号); defaults are the national rules.
    practitioner_suspend_at: int = Field(
        default=9,
        ge=1,
        le=12,
        description="Points in a calendar year that suspend a practitioner (暂停); equal to terminate_at: none",
    )
    practitioner_suspend_months: int = Field(
        default=1, ge=1, le=6, description="How long a suspension lasts, in months (national: 1–6)"
    )
    practitioner_terminate_at: int = Field(
        default=12, ge=2, le=12, description="Points in a calendar year that end the qualification (终止)"
    )
    practitioner_terminate_months: int = Field(
        default=12, ge=1, le=120, description="How long a termination lasts (no registration again), months"
    )
    practitioner_terminate_at_once_months: int = Field(
        default=36,
        ge=1,
        le=120,
        description="The same when the points were given at once (national: 3 years)",
    )
