"""Settings of the fraud service (environment variables prefixed FRAUD_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.config import ServiceSettings


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
