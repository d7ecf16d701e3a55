"""Settings of the pricing service (environment variables prefixed PRICING_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from common.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PRICING_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "pricing"
    default_port: ClassVar[int] = 8003
