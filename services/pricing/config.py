"""Settings of the pricing service (environment variables prefixed PRICING_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PRICING_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "pricing"
    default_port: ClassVar[int] = 8003

    recompute_schedule: bool = Field(
        default=False,
        description="Recompute every reference price periodically, so prices that aged out of the window "
        "leave the reference even for drugs nobody sells any more",
    )
    recompute_interval_s: float = Field(default=3600.0, gt=0, description="How often the recompute runs")
