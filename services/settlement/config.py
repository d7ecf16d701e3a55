"""Settings of the settlement service (environment variables prefixed SETTLEMENT_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from common.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SETTLEMENT_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "settlement"
    default_port: ClassVar[int] = 8002
