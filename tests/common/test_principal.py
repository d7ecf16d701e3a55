"""The signed internal principal: only what the gateway signed gets through."""

from datetime import UTC, datetime, timedelta

import pytest

from common.errors import Unauthorized
from common.principal import (
    PRINCIPAL_HEADER,
    SIGNATURE_HEADER,
    Principal,
    Role,
    sign_principal,
    verify_principal,
)

SECRET = "s" * 40
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
HIS = Principal(client_id="his-1", role=Role.HIS, scope="H42010200001")


def _verify(
    headers: dict[str, str],
    *,
    method: str = "POST",
    path: str = "/settlements",
    now: datetime = NOW,
    secret: str = SECRET,
) -> Principal:
    return verify_principal(headers, secret=secret, method=method, path=path, now=now, max_age_s=60)


def test_a_signed_principal_verifies_to_the_same_principal() -> None:
    headers = sign_principal(HIS, secret=SECRET, method="POST", path="/settlements", now=NOW)
    assert _verify(headers) == HIS


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"method": "GET"}, "PRINCIPAL_INVALID"),
        ({"path": "/settlements/other"}, "PRINCIPAL_INVALID"),
        ({"secret": "t" * 40}, "PRINCIPAL_INVALID"),
        ({"now": NOW + timedelta(seconds=61)}, "PRINCIPAL_EXPIRED"),
        ({"now": NOW - timedelta(seconds=61)}, "PRINCIPAL_EXPIRED"),
    ],
)
def test_a_principal_signed_for_another_request_or_time_is_refused(
    change: dict[str, object], code: str
) -> None:
    headers = sign_principal(HIS, secret=SECRET, method="POST", path="/settlements", now=NOW)
    with pytest.raises(Unauthorized) as caught:
        _verify(headers, **change)  # type: ignore[arg-type]
    assert caught.value.code == code


def test_a_principal_still_fresh_at_the_edge_of_its_age_is_accepted() -> None:
    headers = sign_principal(HIS, secret=SECRET, method="POST", path="/settlements", now=NOW)
    assert _verify(headers, now=NOW + timedelta(seconds=60)) == HIS


def test_an_elevated_role_written_into_the_payload_breaks_the_signature() -> None:
    headers = sign_principal(HIS, secret=SECRET, method="POST", path="/settlements", now=NOW)
    forged = sign_principal(
        Principal("his-1", Role.OPS), secret="guess", method="POST", path="/settlements", now=NOW
    )
    headers[PRINCIPAL_HEADER] = forged[PRINCIPAL_HEADER]
    with pytest.raises(Unauthorized) as caught:
        _verify(headers)
    assert caught.value.code == "PRINCIPAL_INVALID"


@pytest.mark.parametrize("headers", [{}, {PRINCIPAL_HEADER: "x"}, {SIGNATURE_HEADER: "y"}])
def test_missing_headers_mean_not_from_the_gateway(headers: dict[str, str]) -> None:
    with pytest.raises(Unauthorized) as caught:
        _verify(headers)
    assert caught.value.code == "PRINCIPAL_MISSING"


def test_a_well_signed_but_malformed_payload_is_refused() -> None:
    import base64
    import hashlib
    import hmac

    payload = base64.urlsafe_b64encode(b'{"sub":"x","role":"superuser","iat":0}').decode()
    signature = hmac.new(
        SECRET.encode(), f"POST\n/settlements\n{payload}".encode(), hashlib.sha256
    ).hexdigest()
    with pytest.raises(Unauthorized) as caught:
        _verify({PRINCIPAL_HEADER: payload, SIGNATURE_HEADER: signature})
    assert caught.value.code == "PRINCIPAL_INVALID"


def test_institution_scope() -> None:
    assert HIS.may_act_for("H42010200001")
    assert not HIS.may_act_for("H42010200002")
    assert Principal("ops", Role.OPS).may_act_for("H42010200002")
    assert not Principal("pub", Role.PUBLIC).may_act_for("H42010200001")
