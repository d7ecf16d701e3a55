"""`make run-pg ARGS="--replicas 2"`: where each replica listens, and SQLite refused with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.devrun import DevStack, main


def test_replicas_on_sqlite_are_refused_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--replicas", "2"])
    assert exited.value.code == 2
    said = capsys.readouterr().err
    assert "--replicas needs --postgres" in said and "SQLite has one writer per file" in said


def test_each_replica_listens_on_the_services_port_plus_100_per_replica(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for service, port in (("GATEWAY", 9000), ("ENROLLMENT", 9001), ("SETTLEMENT", 9002)):
        monkeypatch.setenv(f"{service}_PORT", str(port))
    stack = DevStack(tmp_path, replicas=2)
    planned = {name: (service, port, url) for name, service, port, url in stack._plan()}
    assert planned["gateway"] == ("gateway", 9000, "http://127.0.0.1:9000")
    assert "gateway-2" not in planned
    assert planned["settlement"] == ("settlement", 9002, "http://127.0.0.1:9002")
    assert planned["settlement-2"] == ("settlement", 9102, "http://127.0.0.1:9102")
    assert planned["enrollment-2"][1] == 9101
    assert planned["fraud-2"][0] == "fraud"
    stack.urls = {name: url for name, (_, _, url) in planned.items()}
    assert stack.replica_urls("settlement") == ["http://127.0.0.1:9002", "http://127.0.0.1:9102"]
    assert stack.replica_urls("gateway") == ["http://127.0.0.1:9000"]


def test_ports_given_per_replica_are_used_and_must_match_the_count(tmp_path: Path) -> None:
    ports = {"settlement": [7001, 7002]}
    planned = {name: port for name, _, port, _ in DevStack(tmp_path, replicas=2, ports=ports)._plan()}
    assert (planned["settlement"], planned["settlement-2"]) == (7001, 7002)
    with pytest.raises(ValueError, match="1 ports given for 2 replicas"):
        DevStack(tmp_path, replicas=2, ports={"settlement": [7001]})._plan()
    with pytest.raises(ValueError, match="between 1 and 9"):
        DevStack(tmp_path, replicas=10)
