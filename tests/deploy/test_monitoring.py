"""deploy/monitoring: the Prometheus config, the alert rules and their unit tests, the Grafana dashboards.

- test_promtool_*: `promtool check rules`, `promtool test rules` and `promtool check config` (Debian package
  `prometheus`; .ci/run installs it). Skipped, with the reason, when promtool is missing; the structure
  tests below still run.
- test_rules_* / test_dashboard* / test_provisioning_*: the files parsed and checked.
- test_every_metric_*: the services run (in-process, on the test's databases and NATS), a settlement is made
  with fraud away (so the review is skipped) and handled by the consumers, /metrics of each service is
  scraped, and every metric name an alert rule or a dashboard panel refers to must be among those exported.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from common.clock import FrozenClock
from common.config import AppEnv
from common.principal import Principal, Role
from common.testing.apps import app_client, wait_for
from common.testing.databases import Databases
from enrollment.app import create_app as create_enrollment
from enrollment.config import Settings as EnrollmentSettings
from fraud.app import create_app as create_fraud
from fraud.config import Settings as FraudSettings
from gateway.app import create_app as create_gateway
from pricing.app import create_app as create_pricing
from pricing.config import Settings as PricingSettings
from settlement.app import create_app as create_settlement
from settlement.config import Settings as SettlementSettings
from tests.gateway.conftest import HOSPITAL_A, claim, gateway_settings
from tests.settlement.seed import credit_account, seed_catalog, seed_institution, seed_person

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
PROMETHEUS = MONITORING / "prometheus"
RULES = PROMETHEUS / "rules"
RULE_TESTS = PROMETHEUS / "tests"
GRAFANA = MONITORING / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
PROVISIONING = GRAFANA / "provisioning"

SERVICES = {"gateway": 8000, "enrollment": 8001, "settlement": 8002, "pricing": 8003, "fraud": 8004}
# Services with an outbox relay and durable consumers (the gateway has neither).
EVENT_SERVICES = ["enrollment", "settlement", "pricing", "fraud"]
# What issue 24 asks of the alerts: each service's own, and settlement's.
SERVICE_ALERTS = {"ServiceDown", "HighErrorRate"}
EVENT_ALERTS = {"OutboxBacklogGrowing", "ConsumerLagHigh", "ConsumerStalled", "DeadLetters"}
SETTLEMENT_ALERTS = {"ReviewSkippedHigh", "DayNotClosed", "DisbursementsOverdue"}
# Made by Prometheus itself for each target, not by the services.
PROMETHEUS_OWN = {"up"}

Doc = dict[str, Any]


# --------------------------------------------------------------------------------------
# Reading the files
# --------------------------------------------------------------------------------------


def rules_file(service: str) -> Doc:
    doc: Doc = yaml.safe_load((RULES / f"{service}.yml").read_text(encoding="utf-8"))
    return doc


def alerts(service: str) -> dict[str, Doc]:
    return {rule["alert"]: rule for group in rules_file(service)["groups"] for rule in group["rules"]}


def dashboards() -> dict[str, Doc]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(DASHBOARDS.glob("*.json"))
    }


def panels(dashboard: Doc) -> list[Doc]:
    """Every panel, those inside collapsed rows included."""
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def dashboard_exprs(dashboard: Doc) -> list[str]:
    return [target["expr"] for panel in panels(dashboard) for target in panel.get("targets", [])]


def rule_exprs() -> list[str]:
    return [rule["expr"] for service in SERVICES for rule in alerts(service).values()]


_COMMENTS = re.compile(r"#[^\n]*")
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_RANGES = re.compile(r"\[[^\]]*\]")
_IDENTIFIER = re.compile(r"(?<![\w:$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "group_left", "group_right"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (label names, functions, keywords left out)."""
    text = _COMMENTS.sub(" ", expr)
    text = _STRINGS.sub('""', text)
    text = _MATCHERS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _RANGES.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def test_metric_names_finds_the_metrics_and_nothing_else() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (service, consumer, le) (rate(event_lag_seconds_bucket{service="x", '
        'route!~"/metrics|/healthz"}[$__rate_interval]))) > 60\n'
        "  unless on (service) max by (service) (outbox_backlog) * 1000 # a comment naming not_a_metric\n"
        "  and scalar(floor((vector(time()) + 25200) / 86400)) < settlement_disbursements_overdue"
    )
    assert metric_names(expr) == {
        "event_lag_seconds_bucket",
        "outbox_backlog",
        "settlement_disbursements_overdue",
    }


# --------------------------------------------------------------------------------------
# promtool
# --------------------------------------------------------------------------------------


@pytest.fixture
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip(
            "promtool not installed (Debian package `prometheus`, which .ci/run installs): the rules, their "
            "unit tests and the config were still checked structurally by the other tests here"
        )
    return found


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("service", SERVICES)
def test_promtool_check_rules(promtool: str, service: str) -> None:
    result = _run(promtool, "check", "rules", str(RULES / f"{service}.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts(service))} rules found" in result.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_promtool_test_rules(promtool: str, service: str) -> None:
    result = _run(promtool, "test", "rules", f"{service}.test.yml", cwd=RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_config(promtool: str, tmp_path: Path) -> None:
    # The rules are mounted at /etc/prometheus/rules in the container; here the repository's files are read.
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    config["rule_files"] = [str(RULES / "*.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    result = _run(promtool, "check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    for service in SERVICES:
        assert f"SUCCESS: {len(alerts(service))} rules found" in result.stdout, result.stdout


# --------------------------------------------------------------------------------------
# The rules and their unit tests, as files
# --------------------------------------------------------------------------------------


def test_rules_cover_what_the_bureau_asked_for() -> None:
    assert sorted(p.stem for p in RULES.glob("*.yml")) == sorted(SERVICES)
    for service in SERVICES:
        wanted = SERVICE_ALERTS | (EVENT_ALERTS if service in EVENT_SERVICES else set())
        if service == "settlement":
            wanted |= SETTLEMENT_ALERTS
        assert set(alerts(service)) == wanted, service


@pytest.mark.parametrize("service", SERVICES)
def test_rules_have_a_severity_and_say_what_to_do_in_chinese_and_english(service: str) -> None:
    for name, rule in alerts(service).items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["labels"]["service"] == service, name
        assert set(rule["annotations"]) == {"summary", "description"}, name
        for key, text in rule["annotations"].items():
            assert re.search(r"[\u4e00-\u9fff]", text), f"{name} {key}: no Chinese"
            assert re.search(r"\b[A-Za-z]{2,} [A-Za-z]{2,}\b", text), f"{name} {key}: no English"


@pytest.mark.parametrize("service", SERVICES)
def test_rules_select_their_own_service(service: str) -> None:
    for name, rule in alerts(service).items():
        selectors = re.findall(r'\b(service|job)="([^"]*)"', rule["expr"])
        if service == "settlement" and name in SETTLEMENT_ALERTS:
            continue  # settlement's own metrics, exported by settlement only
        assert selectors and {value for _, value in selectors} == {service}, name


@pytest.mark.parametrize("service", SERVICES)
def test_rule_unit_tests_make_every_alert_fire_and_stay_quiet(service: str) -> None:
    doc = yaml.safe_load((RULE_TESTS / f"{service}.test.yml").read_text(encoding="utf-8"))
    assert doc["rule_files"] == [f"../rules/{service}.yml"]
    fired: set[str] = set()
    quiet: set[str] = set()
    for test in doc["tests"]:
        for case in test.get("alert_rule_test", []):
            (fired if case["exp_alerts"] else quiet).add(case["alertname"])
    assert fired == set(alerts(service)), f"never fires in a test: {set(alerts(service)) - fired}"
    assert quiet == set(alerts(service)), f"never tested quiet: {set(alerts(service)) - quiet}"


def test_prometheus_scrapes_the_five_services_by_their_compose_names() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {
        job["job_name"]: [t for static in job["static_configs"] for t in static["targets"]]
        for job in config["scrape_configs"]
    }
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    for service, port in SERVICES.items():
        assert jobs[service] == [f"{service}:{port}"], service
        assert service in compose
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"


# --------------------------------------------------------------------------------------
# Grafana
# --------------------------------------------------------------------------------------


def _datasource() -> Doc:
    doc = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text(encoding="utf-8"))
    (source,) = doc["datasources"]
    assert isinstance(source, dict)
    return source


def test_dashboards_a_platform_one_and_one_per_service() -> None:
    boards = dashboards()
    assert set(boards) == {*SERVICES, "platform"}
    assert len({board["uid"] for board in boards.values()}) == len(boards)
    assert len({board["title"] for board in boards.values()}) == len(boards)


@pytest.mark.parametrize("name", [*SERVICES, "platform"])
def test_dashboard_panels_have_unique_ids_a_place_and_the_provisioned_datasource(name: str) -> None:
    board = dashboards()[name]
    ids = [panel["id"] for panel in panels(board)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    uid = _datasource()["uid"]
    for panel in panels(board):
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip() and metric_names(target["expr"]), panel["title"]
    # Panels do not overlap.
    cells: set[tuple[int, int]] = set()
    for panel in panels(board):
        pos = panel["gridPos"]
        mine = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & mine, f"{name}: {panel['title']} overlaps another panel"
        cells |= mine


@pytest.mark.parametrize("service", SERVICES)
def test_service_dashboard_shows_requests_by_route_and_its_own_figures(service: str) -> None:
    exprs = dashboard_exprs(dashboards()[service])
    mine = [e for e in exprs if f'service="{service}"' in e or f'job="{service}"' in e]
    names = set().union(*(metric_names(e) for e in mine))
    assert {"http_request_duration_seconds_count", "http_request_duration_seconds_bucket"} <= names
    assert any("by (method, route" in e for e in mine), "requests by route"
    if service in EVENT_SERVICES:
        assert {
            "outbox_backlog",
            "events_published_total",
            "events_consumed_total",
            "event_lag_seconds_bucket",
            "consumer_pending_messages",
            "dead_letters_total",
        } <= names
    everything = set().union(*(metric_names(e) for e in exprs))
    own = {
        "settlement": {
            "settlements_total",
            "settlement_fund_pay_fen_total",
            "settlement_reviews_total",
            "settlement_last_closed_day_timestamp_seconds",
            "settlement_disbursements_overdue",
        },
        "fraud": {"fraud_rule_hits_total", "fraud_findings_raised_total"},
    }
    assert own.get(service, set()) <= everything


def test_platform_dashboard_shows_what_the_bureau_asked_for() -> None:
    exprs = dashboard_exprs(dashboards()["platform"])
    names = set().union(*(metric_names(e) for e in exprs))
    assert {
        "settlements_total",  # settlements per minute by med_type
        "settlement_fund_pay_fen_total",  # fund paid
        "outbox_backlog",
        "events_published_total",
        "events_consumed_total",
        "event_lag_seconds_bucket",  # consumer lag
        "consumer_pending_messages",
        "dead_letters_total",
        "settlement_reviews_total",  # review skipped rate
    } <= names
    assert any("by (med_type)" in e and "settlements_total" in e for e in exprs)
    assert any('outcome="skipped"' in e for e in exprs)


def test_provisioning_references_the_dashboards_and_the_prometheus_of_compose() -> None:
    source = _datasource()
    assert source["type"] == "prometheus"
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    assert "prometheus" in compose
    assert source["url"] == "http://prometheus:9090"
    provider_doc = yaml.safe_load((PROVISIONING / "dashboards" / "ybj.yml").read_text(encoding="utf-8"))
    (provider,) = provider_doc["providers"]
    assert provider["type"] == "file"
    mounted = {
        str(v).split(":")[1]: (ROOT / str(v).split(":")[0]).resolve() for v in compose["grafana"]["volumes"]
    }
    assert mounted[provider["options"]["path"]] == DASHBOARDS
    assert mounted["/etc/grafana/provisioning"] == PROVISIONING
    assert (PROVISIONING / "datasources").is_dir() and (PROVISIONING / "dashboards").is_dir()


# --------------------------------------------------------------------------------------
# Every metric referred to is exported
# --------------------------------------------------------------------------------------


def exported_names(text: str) -> tuple[set[str], set[str]]:
    """(names a scrape may show, names it shows with a sample) from the text format.

    A labelled metric that has no series yet still declares itself (# TYPE), so its names count as exported:
    a counter `x` as x_total, a histogram as x_bucket, x_sum and x_count, a gauge as itself. The
    client's `_created` companions are not names anything refers to and are left out.
    """
    declared: set[str] = set()
    sampled: set[str] = set()
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created"):
            continue
        if family.type == "counter":
            declared.add(f"{family.name}_total")
        elif family.type == "histogram":
            declared |= {f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
        else:
            declared.add(family.name)
        sampled |= {sample.name for sample in family.samples if not sample.name.endswith("_created")}
    return declared | sampled, sampled


def test_exported_names_strip_and_expand_suffixes() -> None:
    text = (
        "# TYPE a_total counter\n"
        "# TYPE b_seconds histogram\n"
        'b_seconds_bucket{le="+Inf"} 1.0\nb_seconds_count 1.0\nb_seconds_sum 0.5\n'
        "# TYPE b_seconds_created gauge\nb_seconds_created 1.7e9\n"
        "# TYPE c gauge\nc 0.0\n"
    )
    declared, sampled = exported_names(text)
    assert declared == {"a_total", "b_seconds_bucket", "b_seconds_count", "b_seconds_sum", "c"}
    assert sampled == {"b_seconds_bucket", "b_seconds_count", "b_seconds_sum", "c"}


async def test_every_metric_in_the_rules_and_dashboards_is_exported(
    databases: Databases, nats_url: str, clock: FrozenClock, tmp_path: Path
) -> None:
    def settings(cls: Any, name: str, **extra: Any) -> Any:
        return cls(database_url=databases.url(name), nats_url=nats_url, app_env=AppEnv.TEST, **extra)

    his = Principal(client_id="his-test", role=Role.HIS, scope=HOSPITAL_A)
    scrapes: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        settlement_app = create_settlement(
            settings(SettlementSettings, "settlement", review_timeout_ms=200), clock=clock
        )
        settlement = await stack.enter_async_context(app_client(settlement_app, principal=his))
        enrollment = await stack.enter_async_context(
            app_client(create_enrollment(settings(EnrollmentSettings, "enrollment"), clock=clock))
        )
        pricing = await stack.enter_async_context(
            app_client(create_pricing(settings(PricingSettings, "pricing"), clock=clock))
        )
        gateway = await stack.enter_async_context(
            app_client(
                create_gateway(gateway_settings(databases, nats_url, tmp_path), clock=clock), principal=None
            )
        )
        db = settlement_app.state.db
        await seed_institution(db, HOSPITAL_A, fixmedins_type="hospital")
        await seed_catalog(db, "A01", "01")
        await seed_person(db, "P1")
        await credit_account(db, "P1", 10_000)

        # Fraud is not running yet: nobody answers fraud.review, so the settlement goes on unreviewed.
        made = await settlement.post("/settlements", json=claim(HOSPITAL_A, "MON-1"))
        assert made.status_code == 201, made.text
        # Fraud starts and catches up on the settlement; its review answers the next one.
        fraud = await stack.enter_async_context(
            app_client(create_fraud(settings(FraudSettings, "fraud"), clock=clock))
        )
        assert (await gateway.get("/healthz")).status_code == 200

        async def scrape(client: httpx.AsyncClient) -> str:
            answer = await client.get("/metrics")
            assert answer.status_code == 200
            return answer.text

        async def consumed() -> bool:
            text = await scrape(settlement)
            return (
                all(
                    re.search(rf'events_consumed_total{{[^}}]*service="{service}"', text)
                    for service in ("enrollment", "pricing", "fraud")
                )
                and "consumer_pending_messages{" in text
            )

        await wait_for(consumed, timeout=20, what="the consumers to handle settlement.settled")
        for name, client in (
            ("gateway", gateway),
            ("enrollment", enrollment),
            ("settlement", settlement),
            ("pricing", pricing),
            ("fraud", fraud),
        ):
            scrapes[name] = await scrape(client)

    exported: set[str] = set()
    sampled: set[str] = set()
    for text in scrapes.values():
        declared, seen = exported_names(text)
        exported |= declared
        sampled |= seen

    referred: dict[str, set[str]] = {}
    for source, exprs in [
        *((f"rules/{s}.yml", [r["expr"] for r in alerts(s).values()]) for s in SERVICES),
        *((f"dashboards/{name}.json", dashboard_exprs(board)) for name, board in dashboards().items()),
    ]:
        for expr in exprs:
            for metric in metric_names(expr) - PROMETHEUS_OWN:
                referred.setdefault(metric, set()).add(source)
    missing = {metric: sorted(where) for metric, where in referred.items() if metric not in exported}
    assert not missing, f"referred to but not exported by any service: {missing}"

    # The series this run made appear, with the labels the panels and alerts group by.
    for metric in (
        "settlements_total",
        "settlement_fund_pay_fen_total",
        "settlement_reviews_total",
        "settlement_last_closed_day_timestamp_seconds",
        "settlement_disbursements_overdue",
        "settlement_disbursements_overdue_fen",
        "outbox_backlog",
        "events_published_total",
        "events_consumed_total",
        "event_lag_seconds_bucket",
        "consumer_pending_messages",
        "dead_letters_total",
        "http_request_duration_seconds_bucket",
    ):
        assert metric in sampled, f"{metric}: no series after a settlement"
    # The registry is the process's: other tests of this worker may have counted before, hence "at least".
    settlement_text = scrapes["settlement"]
    assert re.search(r'settlements_total\{med_type="11",outcome="settled"\} [1-9]', settlement_text)
    assert re.search(r'settlement_fund_pay_fen_total\{med_type="11"\} \d', settlement_text)
    assert re.search(r'settlement_reviews_total\{outcome="skipped"\} [1-9]', settlement_text)
    assert re.search(r'http_request_duration_seconds_count\{[^}]*service="gateway"', scrapes["gateway"])
