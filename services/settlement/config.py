"""Settings of the settlement service (environment variables prefixed SETTLEMENT_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SETTLEMENT_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "settlement"
    default_port: ClassVar[int] = 8002

    review_timeout_ms: int = Field(
        default=150, ge=1, le=5000, description="How long a settlement waits for fraud.review (fail-open)"
    )
    review_enabled: bool = Field(default=True, description="Ask fraud.review before settling")
    day_close_schedule: bool = Field(
        default=False, description="Close yesterday at 00:30 Asia/Shanghai (safe with several replicas)"
    )
    day_close_check_interval_s: float = Field(default=60.0, gt=0, description="How often the scheduler looks")
    gauges_interval_s: float = Field(
        default=30.0,
        ge=0,
        description="How often the day close and overdue disbursement gauges are refreshed (0: never)",
    )
    policy_cache_s: float = Field(
        default=10.0, ge=0, description="How long a replica trusts its cached policy versions"
    )
