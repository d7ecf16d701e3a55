"""docker-compose.yml, the Dockerfile it builds, and the PostgreSQL init script it mounts.

- test_compose_file_*: parse docker-compose.yml with PyYAML (anchors and merge keys
  resolved) and check the structure, Prometheus and Grafana (profile `monitoring`) included.
  Always run.
- test_compose_cli_*: run `docker-compose config` (the v1 CLI, Debian package
  `docker-compose`) or `docker compose config` with the required secrets in the
  environment, and check what compose itself makes of the file. Skipped, with the reason,
  when neither CLI is installed.
- test_dockerfile_* / test_dockerignore_*: static checks of the image recipe.
- test_init_databases_*: a syntax check always; a run against a real PostgreSQL when
  TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
INIT_SCRIPT = ROOT / "deploy" / "postgres" / "init-databases.sh"

# name -> (port, env prefix)
SERVICES = {
    "gateway": (8000, "GATEWAY"),
    "enrollment": (8001, "ENROLLMENT"),
    "settlement": (8002, "SETTLEMENT"),
    "pricing": (8003, "PRICING"),
    "fraud": (8004, "FRAUD"),
}
DOMAIN_SERVICES = [name for name in SERVICES if name != "gateway"]
INFRA = {"postgres", "nats"}
# Started only with `--profile monitoring`; `docker compose config` leaves them out without it.
MONITORING = {"prometheus", "grafana"}
MONITORING_DIR = ROOT / "deploy" / "monitoring"

Compose = dict[str, Any]


# --------------------------------------------------------------------------------------
# Normalising the raw file and the CLI's output to one shape
# --------------------------------------------------------------------------------------


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def published_ports(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(host port, container port) pairs, from the short ("8000:8000") or long syntax."""
    pairs = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            if port.get("published") not in (None, ""):
                pairs.append((int(port["published"]), int(port["target"])))
            continue
        parts = str(port).split("/", 1)[0].split(":")
        if len(parts) >= 2:
            pairs.append((int(parts[-2]), int(parts[-1])))
    return pairs


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def networks(service: dict[str, Any]) -> set[str]:
    # A list in the file, a mapping in the CLI's output: the names either way.
    return set(service.get("networks", ["default"]))


def healthcheck_text(service: dict[str, Any]) -> str:
    test = service.get("healthcheck", {}).get("test", [])
    return " ".join(test) if isinstance(test, list) else str(test)


def check_structure(compose: Compose) -> None:
    """The facts that must hold both for the raw file and for compose's rendering of it."""
    services = compose["services"]
    assert set(services) - MONITORING == set(SERVICES) | INFRA

    # Only the gateway publishes a port, and only 8000 (Prometheus and Grafana on loopback: check_monitoring).
    publishing = {
        name: published_ports(svc)
        for name, svc in services.items()
        if published_ports(svc) and name not in MONITORING
    }
    assert publishing == {"gateway": [(8000, 8000)]}

    images = set()
    for name, (port, prefix) in SERVICES.items():
        svc = services[name]
        env = environment(svc)
        assert env["APP_ENV"] == "prod", name
        assert env["NATS_URL"] == "nats://nats:4222", name
        assert env["VAR_DIR"].startswith("/"), name
        assert "INTERNAL_SECRET" in env, name
        assert env[f"{prefix}_HOST"] == "0.0.0.0", name
        assert env[f"{prefix}_PORT"] == str(port), name
        assert re.fullmatch(
            rf"postgresql\+asyncpg://ybj:[^@]+@postgres:5432/{name}", env[f"{prefix}_DATABASE_URL"]
        ), name
        assert not {k for k in env if k.endswith("_DATABASE_URL")} - {f"{prefix}_DATABASE_URL"}, name

        deps = depends_on(svc)
        assert deps.get("postgres") == "service_healthy", name
        assert deps.get("nats") == "service_healthy", name

        assert svc["command"] == [name], name
        build = svc["build"]
        context = build["context"] if isinstance(build, dict) else build
        assert Path(ROOT, context).resolve() == ROOT, f"{name} must build the one image from the repo root"
        images.add(svc["image"])

        health = healthcheck_text(svc)
        assert "python" in health and f"127.0.0.1:{port}/readyz" in health, name

        assert svc.get("read_only") is True, name
        assert svc.get("cap_drop") == ["ALL"], name
        assert "/var/lib/ybj" in str(svc.get("tmpfs")), name
    assert images == {"ybj/platform:latest"}, "one image for the five services"

    # The gateway finds the services by their compose names and ports, and waits for them.
    gateway_env = environment(services["gateway"])
    for name in DOMAIN_SERVICES:
        port, prefix = SERVICES[name]
        assert gateway_env[f"GATEWAY_{prefix}_URL"] == f"http://{name}:{port}"
        assert depends_on(services["gateway"])[name] == "service_healthy"

    # Domain services, PostgreSQL and NATS live on an internal network only.
    internal = {name for name, net in compose["networks"].items() if (net or {}).get("internal")}
    assert internal
    for name in [*DOMAIN_SERVICES, *INFRA]:
        assert networks(services[name]) <= internal, f"{name} is on a non-internal network"
    assert networks(services["gateway"]) - internal, "the gateway needs a network that can publish"

    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:16")
    mounts = [
        str(v) if not isinstance(v, dict) else f"{v['source']}:{v['target']}" for v in postgres["volumes"]
    ]
    assert any(
        m.split(":")[0].endswith("deploy/postgres/init-databases.sh") and "/docker-entrypoint-initdb.d/" in m
        for m in mounts
    ), mounts
    assert "pg_isready" in healthcheck_text(postgres)
    pg_data = [m for m in mounts if ":/var/lib/postgresql/data" in m]
    assert pg_data and not pg_data[0].startswith(("/", ".")), "PostgreSQL data on a named volume"

    nats = services["nats"]
    assert nats["image"] == "nats:2.10-alpine"
    command = [str(c) for c in nats["command"]]
    assert "-js" in command and command[command.index("-sd") + 1] == "/data"
    assert command[command.index("-m") + 1] == "8222"
    assert "wget" in healthcheck_text(nats) and ":8222/healthz" in healthcheck_text(nats)
    assert any(
        str(v).startswith("nats-data:/data") or (isinstance(v, dict) and v.get("source") == "nats-data")
        for v in nats["volumes"]
    )
    assert {"postgres-data", "nats-data"} <= set(compose["volumes"])


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of the bind mounts, from the short or the long syntax."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type", "bind") == "bind":
                found[volume["target"]] = Path(ROOT, volume["source"]).resolve()
            continue
        source, target = str(volume).split(":")[:2]
        if source.startswith((".", "/")):
            found[target] = Path(ROOT, source).resolve()
    return found


def host_ips(service: dict[str, Any]) -> set[str]:
    """The host addresses the service's ports are published on ("" for all of them)."""
    ips = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ips.add(str(port.get("host_ip", "")))
        else:
            parts = str(port).split(":")
            ips.add(parts[0] if len(parts) == 3 else "")
    return ips


def check_monitoring(compose: Compose) -> None:
    """Prometheus and Grafana: in the `monitoring` profile, on loopback, mounting deploy/monitoring."""
    services = compose["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    for name in MONITORING:
        svc = services[name]
        assert svc.get("profiles") == ["monitoring"], name
        image = svc["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image's version"
        assert host_ips(svc) == {"127.0.0.1"}, f"{name} must publish on loopback only"
    assert published_ports(prometheus) == [(9090, 9090)]
    assert published_ports(grafana) == [(3000, 3000)]

    prom_mounts = mounts(prometheus)
    assert prom_mounts["/etc/prometheus/prometheus.yml"] == MONITORING_DIR / "prometheus" / "prometheus.yml"
    assert prom_mounts["/etc/prometheus/rules"] == MONITORING_DIR / "prometheus" / "rules"
    config = yaml.safe_load((MONITORING_DIR / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    command = " ".join(str(c) for c in prometheus["command"])
    assert "--config.file=/etc/prometheus/prometheus.yml" in command
    # Prometheus reaches the services on the internal network; the services' networks are unchanged.
    internal = {name for name, net in compose["networks"].items() if (net or {}).get("internal")}
    assert networks(prometheus) & internal
    assert networks(prometheus) - internal, "Prometheus needs a network that can publish"
    assert networks(grafana) & networks(prometheus)
    assert not networks(grafana) & internal, "Grafana needs no access to the services"

    graf_mounts = mounts(grafana)
    assert graf_mounts["/etc/grafana/provisioning"] == MONITORING_DIR / "grafana" / "provisioning"
    provider = yaml.safe_load(
        (MONITORING_DIR / "grafana" / "provisioning" / "dashboards" / "ybj.yml").read_text(encoding="utf-8")
    )
    (dashboards_path,) = [p["options"]["path"] for p in provider["providers"]]
    assert graf_mounts[dashboards_path] == MONITORING_DIR / "grafana" / "dashboards"
    home = environment(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(dashboards_path + "/")
    assert (MONITORING_DIR / "grafana" / "dashboards" / home.rsplit("/", 1)[1]).is_file()
    for path in (*prom_mounts.values(), *graf_mounts.values()):
        assert path.exists(), path


# --------------------------------------------------------------------------------------
# The file as written
# --------------------------------------------------------------------------------------


def _raw() -> Compose:
    data: Compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return data


def test_compose_file_structure() -> None:
    check_structure(_raw())


def test_compose_file_monitoring_profile() -> None:
    check_monitoring(_raw())


def test_compose_file_takes_secrets_from_the_environment() -> None:
    raw = COMPOSE_FILE.read_text(encoding="utf-8")
    services = _raw()["services"]
    for name, (_, prefix) in SERVICES.items():
        env = environment(services[name])
        assert env["INTERNAL_SECRET"].startswith("${INTERNAL_SECRET:?"), "INTERNAL_SECRET must be required"
        assert "${POSTGRES_PASSWORD:?" in env[f"{prefix}_DATABASE_URL"]
    assert environment(services["postgres"])["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    # No literal secret anywhere in the file.
    assert not re.search(r"(PASSWORD|SECRET)\s*[:=]\s*[\"']?(?!\$\{)\w", raw), "a literal secret in the file"


# --------------------------------------------------------------------------------------
# What the compose CLI makes of it
# --------------------------------------------------------------------------------------


@functools.cache
def _compose_cli() -> tuple[str, ...] | None:
    legacy = shutil.which("docker-compose")
    if legacy:
        return (legacy,)
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=60, check=False
        )
        if probe.returncode == 0:
            return (docker, "compose")
    return None


@pytest.fixture
def compose_cli() -> tuple[str, ...]:
    cli = _compose_cli()
    if cli is None:
        pytest.skip(
            "docker-compose CLI not installed: neither `docker-compose` (Debian package "
            "docker-compose) nor the `docker compose` plugin was found; the file was still "
            "checked by test_compose_file_structure"
        )
    return cli


@pytest.fixture
def empty_env_file(tmp_path: Path) -> Path:
    # So that a developer's .env beside docker-compose.yml does not change the outcome.
    path = tmp_path / "empty.env"
    path.write_text("", encoding="utf-8")
    return path


def _run_config(
    cli: tuple[str, ...], env_file: Path, extra_env: dict[str, str], *, profiles: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("COMPOSE_")
        and k not in {"INTERNAL_SECRET", "POSTGRES_PASSWORD", "LOG_LEVEL", "GRAFANA_ADMIN_PASSWORD"}
    }
    env.update(extra_env)
    return subprocess.run(
        [
            *cli,
            "--env-file",
            str(env_file),
            "-f",
            str(COMPOSE_FILE),
            *(arg for profile in profiles for arg in ("--profile", profile)),
            "config",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_compose_cli_config(compose_cli: tuple[str, ...], empty_env_file: Path) -> None:
    secret = secrets.token_urlsafe(48)
    password = secrets.token_hex(16)
    result = _run_config(
        compose_cli, empty_env_file, {"INTERNAL_SECRET": secret, "POSTGRES_PASSWORD": password}
    )
    assert result.returncode == 0, f"{' '.join(compose_cli)} config failed:\n{result.stderr}"
    rendered: Compose = yaml.safe_load(result.stdout)
    check_structure(rendered)
    services = rendered["services"]
    for name, (_, prefix) in SERVICES.items():
        env = environment(services[name])
        assert env["INTERNAL_SECRET"] == secret, name
        assert env[f"{prefix}_DATABASE_URL"] == f"postgresql+asyncpg://ybj:{password}@postgres:5432/{name}"
        assert env["LOG_LEVEL"] == "INFO"
    assert environment(services["postgres"])["POSTGRES_PASSWORD"] == password


def test_compose_cli_config_with_the_monitoring_profile(
    compose_cli: tuple[str, ...], empty_env_file: Path
) -> None:
    env = {"INTERNAL_SECRET": secrets.token_urlsafe(48), "POSTGRES_PASSWORD": secrets.token_hex(16)}
    result = _run_config(compose_cli, empty_env_file, env, profiles=("monitoring",))
    assert result.returncode == 0, f"{' '.join(compose_cli)} config failed:\n{result.stderr}"
    rendered: Compose = yaml.safe_load(result.stdout)
    check_structure(rendered)
    check_monitoring(rendered)


@pytest.mark.parametrize("missing", ["INTERNAL_SECRET", "POSTGRES_PASSWORD"])
def test_compose_cli_refuses_to_run_without_secrets(
    compose_cli: tuple[str, ...], empty_env_file: Path, missing: str
) -> None:
    env = {"INTERNAL_SECRET": secrets.token_urlsafe(48), "POSTGRES_PASSWORD": secrets.token_hex(16)}
    del env[missing]
    result = _run_config(compose_cli, empty_env_file, env)
    assert result.returncode != 0
    assert missing in result.stderr


# --------------------------------------------------------------------------------------
# Dockerfile and .dockerignore
# --------------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    result = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        result.append((word.upper(), rest.strip()))
    return result


def _stages() -> Iterator[list[tuple[str, str]]]:
    stage: list[tuple[str, str]] = []
    for ins in _instructions():
        if ins[0] == "FROM" and stage and any(i[0] == "FROM" for i in stage):
            yield stage
            stage = []
        stage.append(ins)
    yield stage


def test_dockerfile_is_multi_stage_slim_and_pinned() -> None:
    instructions = _instructions()
    args = {
        rest.split("=", 1)[0]: rest.split("=", 1)[1]
        for op, rest in instructions
        if op == "ARG" and "=" in rest
    }
    stages = list(_stages())
    assert len(stages) == 2, "builder + runtime"
    builder, runtime = stages
    base = args.get("PYTHON_IMAGE", "")
    assert base == "python:3.11-slim"
    for stage, name in ((builder, "builder"), (runtime, "runtime")):
        (from_line,) = [rest for op, rest in stage if op == "FROM"]
        assert re.fullmatch(rf"\$\{{PYTHON_IMAGE\}} AS {name}", from_line, re.I), from_line
    runs = " ".join(rest for op, rest in builder if op == "RUN")
    assert "pip install --no-cache-dir -r requirements.lock" in runs
    assert "pip install --no-cache-dir --no-deps ." in runs
    assert runs.index("-r requirements.lock") < runs.index("--no-deps .")
    assert any(op == "COPY" and "--from=builder" in rest for op, rest in runtime)
    assert not any(op == "RUN" and "pip install" in rest for op, rest in runtime), (
        "nothing installed at run time"
    )


def test_dockerfile_runtime_user_ports_and_entrypoint() -> None:
    runtime = list(_stages())[-1]
    last = {op: rest for op, rest in runtime}  # the last occurrence of each instruction
    assert last["USER"].split(":")[0] == "10001", "numeric non-root user, so runAsNonRoot can verify it"
    assert "useradd" in " ".join(rest for op, rest in runtime if op == "RUN")
    assert "--uid 10001" in " ".join(rest for op, rest in runtime if op == "RUN")
    env = " ".join(rest for op, rest in runtime if op == "ENV")
    var_dir = re.search(r"VAR_DIR=(\S+)", env)
    assert var_dir and var_dir.group(1) == "/var/lib/ybj"
    assert f"chown 10001:10001 {var_dir.group(1)}" in " ".join(rest for op, rest in runtime if op == "RUN")
    exposed = {int(p) for p in last["EXPOSE"].split()}
    assert exposed == {8000, 8001, 8002, 8003, 8004}
    assert last["ENTRYPOINT"] == '["python", "-m", "common.serve"]'
    assert last["CMD"] == '["gateway"]'
    assert "HEALTHCHECK" not in last


def test_dockerignore_keeps_the_context_small_and_clean() -> None:
    patterns = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in (".git", ".venv", "var", "**/__pycache__", ".pytest_cache", ".env", "tests"):
        assert needed in patterns, needed
    # What `pip install .` needs must stay in the context (pyproject's readme included).
    for kept in ("pyproject.toml", "README.md", "requirements.lock", "libs", "services"):
        assert kept not in patterns and f"/{kept}" not in patterns, kept
    assert not any(p.startswith("!") for p in patterns)


# --------------------------------------------------------------------------------------
# deploy/postgres/init-databases.sh
# --------------------------------------------------------------------------------------


def test_init_databases_script_syntax_and_databases() -> None:
    bash = shutil.which("bash")
    assert bash, "bash is needed by the postgres image's entrypoint and by this check"
    result = subprocess.run([bash, "-n", str(INIT_SCRIPT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    text = INIT_SCRIPT.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash")
    default = re.search(r'databases="\$\{YBJ_DATABASES:-([^}]*)\}"', text)
    assert default and set(default.group(1).split()) == set(SERVICES)
    compose_dbs = environment(_raw()["services"]["postgres"])["YBJ_DATABASES"]
    assert set(compose_dbs.split()) == set(SERVICES)
    assert os.access(INIT_SCRIPT, os.X_OK), "init-databases.sh must be executable (git mode 100755)"


def _psql(env: dict[str, str], sql: str) -> str:
    psql = shutil.which("psql")
    assert psql
    result = subprocess.run(
        [psql, "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-At", "-c", sql],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_init_databases_script_on_postgres() -> None:
    """Create two databases (one with its own role) twice over: the second run must be a
    no-op that succeeds. Needs TEST_POSTGRES_URL with a role that may create databases and
    roles; drops what it made."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TEST_POSTGRES_URL not set: init-databases.sh only syntax-checked")
    if not shutil.which("psql"):
        pytest.skip("psql not installed: init-databases.sh only syntax-checked")
    parts = urlsplit(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        PGHOST=parts.hostname or "127.0.0.1",
        PGPORT=str(parts.port or 5432),
        PGUSER=unquote(parts.username or "postgres"),
        PGDATABASE=parts.path.lstrip("/") or "postgres",
    )
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    suffix = secrets.token_hex(4)
    shared_db, own_db = f"ybj_it_{suffix}_a", f"ybj_it_{suffix}_b"
    run_env = {
        **env,
        "POSTGRES_USER": env["PGUSER"],
        "POSTGRES_DB": env["PGDATABASE"],
        "YBJ_DATABASES": f"{shared_db} {own_db}",
        f"{own_db.upper()}_DB_PASSWORD": secrets.token_hex(12),
    }
    try:
        for _ in range(2):
            result = subprocess.run(
                ["bash", str(INIT_SCRIPT)],
                env=run_env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert result.returncode == 0, result.stdout + result.stderr
        owners = _psql(
            env,
            "SELECT datname || '=' || pg_get_userbyid(datdba) FROM pg_database "
            f"WHERE datname IN ('{shared_db}', '{own_db}') ORDER BY datname",
        ).splitlines()
        assert owners == [f"{shared_db}={env['PGUSER']}", f"{own_db}={own_db}"]
        assert _psql(env, f"SELECT has_database_privilege('public', '{own_db}', 'CONNECT')") == "f"
    finally:
        _psql(env, f"DROP DATABASE IF EXISTS {shared_db}")
        _psql(env, f"DROP DATABASE IF EXISTS {own_db}")
        _psql(env, f"DROP ROLE IF EXISTS {own_db}")


def test_init_databases_script_refuses_bad_names() -> None:
    # psql is replaced by a shell function: no server is needed to reach the name check.
    env = {**os.environ, "YBJ_DATABASES": "good bad;name"}
    result = subprocess.run(
        ["bash", "-c", 'psql() { echo "psql $*"; }; export -f psql; bash "$0"', str(INIT_SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "refusing database name 'bad;name'" in result.stderr
