"""Settings base: every service's settings class derives from it with its own env prefix."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that show a secret was never set; refused outside dev and test.
PLACEHOLDER_SECRETS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "secret",
        "dev",
        "dev-insecure-internal-secret",
        "placeholder",
        "xxx",
        "todo",
    }
)
DEV_INTERNAL_SECRET = "dev-insecure-internal-secret"  # noqa: S105 - refused outside dev and test
MIN_SECRET_LENGTH = 32


class AppEnv(StrEnum):
    DEV = "dev"
    TEST = "test"
    PROD = "prod"


def _shared(name: str) -> AliasChoices:
    """A setting every service reads from the same unprefixed variable (NATS_URL, INTERNAL_SECRET...)."""
    return AliasChoices(name, name.lower())


class ServiceSettings(BaseSettings):
    """What every service is configured with; subclasses set `service_name`, `default_port`, env_prefix."""

    model_config = SettingsConfigDict(env_prefix="YBJ_", extra="ignore", populate_by_name=True)

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000

    app_env: AppEnv = Field(default=AppEnv.DEV, validation_alias=_shared("APP_ENV"))
    internal_secret: str = Field(
        default=DEV_INTERNAL_SECRET,
        validation_alias=_shared("INTERNAL_SECRET"),
        description="HMAC-SHA256 key of the signed internal principal",
    )
    nats_url: str = Field(default="nats://127.0.0.1:4223", validation_alias=_shared("NATS_URL"))
    var_dir: Path = Field(default=Path("var"), validation_alias=_shared("VAR_DIR"))
    log_level: str = Field(default="INFO", validation_alias=_shared("LOG_LEVEL"))

    host: str = "127.0.0.1"
    port: int = 0
    database_url: str = ""
    db_pool_size: int = 10
    db_max_overflow: int = 10
    sqlite_busy_timeout_ms: int = 5000

    relay_enabled: bool = True
    relay_batch_size: int = 500
    relay_poll_interval_s: float = 0.5
    consumers_enabled: bool = True
    consumer_batch_size: int = 100
    consumer_max_deliver: int = 5
    consumer_ack_wait_s: float = 30.0
    event_retention_days: int = 14
    principal_max_age_s: int = 60
    # Any request body over this is 413 PAYLOAD_TOO_LARGE (bulk loads raise it for themselves).
    max_body_bytes: int = 4 * 1024 * 1024

    @model_validator(mode="after")
    def _defaults_and_secrets(self) -> ServiceSettings:
        if not self.port:
            self.port = self.default_port
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.var_dir / (self.service_name + '.db')}"
        if self.app_env is AppEnv.PROD:
            secret = self.internal_secret
            if secret.lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"INTERNAL_SECRET must be a real secret of at least {MIN_SECRET_LENGTH} characters "
                    "outside dev and test"
                )
        return self

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"
