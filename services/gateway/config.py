"""Settings of the gateway (environment variables prefixed GATEWAY_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from common.config import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "gateway"
    default_port: ClassVar[int] = 8000

    enrollment_url: str = "http://127.0.0.1:8001"
    settlement_url: str = "http://127.0.0.1:8002"
    pricing_url: str = "http://127.0.0.1:8003"
    fraud_url: str = "http://127.0.0.1:8004"
    upstream_connect_timeout_s: float = 2.0
    upstream_timeout_s: float = 15.0
    upstream_max_connections: int = 200
    max_body_bytes: int = 4 * 1024 * 1024  # a 10,000-person bulk load fits; a runaway upload does not
    rate_limit_per_s: float = 300.0  # per API client, sustained
    rate_limit_burst: int = 600
    key_cache_s: float = 30.0  # how long another replica may still accept a revoked key

    # The gateway publishes no events of its own.
    relay_enabled: bool = False
    consumers_enabled: bool = False

    def upstreams(self) -> dict[str, str]:
        """Route prefix -> base URL of the service behind it."""
        return {
            "enrollment": self.enrollment_url.rstrip("/"),
            "settlement": self.settlement_url.rstrip("/"),
            "pricing": self.pricing_url.rstrip("/"),
            "fraud": self.fraud_url.rstrip("/"),
        }
