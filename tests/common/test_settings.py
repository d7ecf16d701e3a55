"""Settings: per-service prefixes, shared variables, defaults under var/, no placeholder secret in prod."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from enrollment.config import Settings as EnrollmentSettings
from gateway.config import Settings as GatewaySettings
from settlement.config import Settings as SettlementSettings


def test_defaults_put_each_service_on_its_own_port_and_sqlite_file(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VAR_DIR", "NATS_URL", "APP_ENV", "SETTLEMENT_PORT", "SETTLEMENT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = SettlementSettings()
    assert settings.port == 8002
    assert settings.database_url == "sqlite+aiosqlite:///var/settlement.db"
    assert settings.nats_url == "nats://127.0.0.1:4223"
    assert settings.base_url == "http://127.0.0.1:8002"


def test_each_service_reads_its_own_prefix_and_the_shared_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETTLEMENT_DATABASE_URL", "postgresql+asyncpg://u@db/settlement")
    monkeypatch.setenv("SETTLEMENT_PORT", "9102")
    monkeypatch.setenv("NATS_URL", "nats://nats:4222")
    monkeypatch.setenv("VAR_DIR", "/srv/ybj")
    monkeypatch.setenv("GATEWAY_SETTLEMENT_URL", "http://settlement:9102")
    settlement = SettlementSettings()
    enrollment = EnrollmentSettings()
    assert (settlement.database_url, settlement.port) == ("postgresql+asyncpg://u@db/settlement", 9102)
    assert enrollment.database_url == f"sqlite+aiosqlite:///{Path('/srv/ybj') / 'enrollment.db'}"
    assert enrollment.port == 8001
    assert settlement.nats_url == enrollment.nats_url == "nats://nats:4222"
    assert GatewaySettings().upstreams()["settlement"] == ("http://settlement:9102",)


def test_the_gateway_takes_several_replicas_of_a_service_separated_by_commas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_SETTLEMENT_URL", " http://10.0.0.1:8002/, http://10.0.0.2:8002 ,")
    upstreams = GatewaySettings().upstreams()
    assert upstreams["settlement"] == ("http://10.0.0.1:8002", "http://10.0.0.2:8002")
    assert upstreams["fraud"] == ("http://127.0.0.1:8004",)


@pytest.mark.parametrize("value", ["", " , ", "settlement:8002", "http://a:1,b:2"])
def test_the_gateway_refuses_an_upstream_list_without_base_urls(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GATEWAY_SETTLEMENT_URL", value)
    with pytest.raises(ValueError, match="GATEWAY_SETTLEMENT_URL must be one base URL or several"):
        GatewaySettings()


@pytest.mark.parametrize("secret", ["", "changeme", "dev-insecure-internal-secret", "short-but-real-3f9a"])
def test_production_refuses_a_placeholder_or_short_secret(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("APP_ENV", "prod")
    monkeypatch.setenv("INTERNAL_SECRET", secret)
    with pytest.raises(ValidationError, match="INTERNAL_SECRET must be a real secret"):
        EnrollmentSettings()


def test_production_accepts_a_real_secret_and_dev_needs_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "prod")
    monkeypatch.setenv("INTERNAL_SECRET", "k3Jq9vX2mP8rT5wY7zA1bC4dE6fG0hJ2")
    assert EnrollmentSettings().internal_secret == "k3Jq9vX2mP8rT5wY7zA1bC4dE6fG0hJ2"
    monkeypatch.setenv("APP_ENV", "dev")
    monkeypatch.delenv("INTERNAL_SECRET")
    assert EnrollmentSettings().internal_secret == "dev-insecure-internal-secret"
