"""Text that looks like SQL or script is accepted where a name may hold it, stored verbatim, executed nowhere."""

from __future__ import annotations

from datetime import date

import pytest

from enrollment.domain.certno import check_char
from tests.security.conftest import Platform, bearer, snapshot_all

FIRST17 = f"420102{date(1980, 5, 1):%Y%m%d}123"
GOOD_CERTNO = FIRST17 + check_char(FIRST17)
SQL = "x'; DROP TABLE person; --"
SCRIPT = "<script>alert(1)</script>"


@pytest.mark.parametrize("text", [SQL, SCRIPT, "Robert'); DROP TABLE insured_person;--", "\\'\"%_*"])
async def test_sql_and_script_in_text_are_stored_verbatim_as_inert_text(
    platform: Platform, text: str
) -> None:
    """Accepted (a name may hold quotes and angle brackets), stored and given back exactly, executed nowhere."""
    tables = {name: set(tables) for name, tables in (await snapshot_all(platform)).items()}
    made = await platform.client.post(
        "/enrollment/persons",
        headers=bearer(platform.keys["ops"]),
        json={"certno": GOOD_CERTNO, "psn_name": text, "admdvs": "420100"},
    )
    assert made.status_code == 201, made.text
    fetched = await platform.client.get(
        f"/enrollment/persons/{made.json()['psn_no']}", headers=bearer(platform.keys["ops"])
    )
    assert fetched.json()["psn_name"] == text
    assert fetched.headers["content-type"] == "application/json"  # never rendered as HTML
    found = await platform.client.get(
        "/enrollment/persons", headers=bearer(platform.keys["ops"]), params={"certno": GOOD_CERTNO}
    )
    assert [p["psn_name"] for p in found.json()["items"]] == [text]
    assert {name: set(t) for name, t in (await snapshot_all(platform)).items()} == tables  # no table dropped
    rule = await platform.client.post(
        "/fraud/rules",
        headers=bearer(platform.keys["ops"]),
        json={
            "family": "admission_frequency",
            "name": text,
            "params": {"min_admissions": 4, "window_days": 182},
        },
    )
    assert (rule.status_code, rule.json()["name"]) == (201, text)
