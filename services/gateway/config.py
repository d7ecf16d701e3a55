"""Settings of the gateway (environment variables prefixed GATEWAY_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from common.config import MIN_SECRET_LENGTH, PLACEHOLDER_SECRETS, AppEnv, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "gateway"
    default_port: ClassVar[int] = 8000

    # Each service's base URL, or several separated by commas (replicas of it): the gateway spreads the
    # requests over them in turn, and sends one on to the next when a replica refuses the connection.
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
    # TIF signature headers: how far x-tif-timestamp may be from the platform's clock, either side, and how
    # many nonces one replica remembers (a nonce is refused again while its timestamp is in the window).
    signature_window_s: int = 300
    nonce_cache_size: int = 1_000_000
    # The key each client's TIF passToken is derived from; unset, the internal secret (with a label of its
    # own). Set it to rotate the passTokens apart from the internal secret, or the other way round.
    pass_token_secret: str = ""
    # How long a console sign-in lasts (a working shift); then the sign-in page again.
    console_session_s: int = 8 * 3600

    # The gateway publishes no events of its own.
    relay_enabled: bool = False
    consumers_enabled: bool = False

    @model_validator(mode="after")
    def _pass_token_secret(self) -> Settings:
        secret = self.pass_token_secret
        if (
            secret
            and self.app_env is AppEnv.PROD
            and (secret.lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH)
        ):
            raise ValueError(
                f"GATEWAY_PASS_TOKEN_SECRET must be a real secret of at least {MIN_SECRET_LENGTH} characters"
            )
        return self

    @model_validator(mode="after")
    def _upstream_urls(self) -> Settings:
        for service, urls in self.upstreams().items():
            if not urls or not all(url.startswith(("http://", "https://")) for url in urls):
                raise ValueError(
                    f"GATEWAY_{service.upper()}_URL must be one base URL or several separated by commas "
                    f"(http://host:port,http://host:port), not {getattr(self, f'{service}_url')!r}"
                )
        return self

    def pass_token_key(self) -> str:
        return self.pass_token_secret or self.internal_secret

    def upstreams(self) -> dict[str, tuple[str, ...]]:
        """Route prefix -> the base URLs of the service's replicas behind it (one or more)."""
        return {
            "enrollment": _base_urls(self.enrollment_url),
            "settlement": _base_urls(self.settlement_url),
            "pricing": _base_urls(self.pricing_url),
            "fraud": _base_urls(self.fraud_url),
        }


def _base_urls(value: str) -> tuple[str, ...]:
    """A comma-separated list of base URLs, each without its trailing slash; blanks between commas dropped."""
    return tuple(url.strip().rstrip("/") for url in value.split(",") if url.strip())
