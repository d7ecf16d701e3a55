"""The TIF signature headers (x-tif-paasid/timestamp/nonce/signature) provincial gateways use, beside Bearer keys."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import re

from fastapi import Request

from common.errors import Unauthorized
from common.principal import Principal
from gateway.config import Settings
from gateway.service.keys import KeyStore

# The scheme of TIF (Tencent Integration Framework), the gateway in front of Guangdong's medical-insurance
# platform and others: x-tif-paasid names the caller, x-tif-timestamp is unix seconds, x-tif-nonce is any
# fresh string, and x-tif-signature = hex SHA-256 of timestamp + passToken + nonce + timestamp (UTF-8), the
# body not included. Read in real clients: liutao2019/IBORN_HIS_ALL
# MEDICAL/顺德医保/佛山新医保接口/API.GZSI/Class/HttpHelper.cs (a Foshan HIS: GUID nonce, lowercase hex);
# other public HIS and pharmacy clients build it the same way. Those send lowercase hex, yet a captured
# exchange shows an uppercase one, so the hex is compared without regard to case.
PAASID, TIMESTAMP, NONCE, SIGNATURE = "x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature"
HEADERS = (PAASID, TIMESTAMP, NONCE, SIGNATURE)
CHALLENGE = {"WWW-Authenticate": SIGNATURE}
_UNIX_SECONDS = re.compile(r"^[0-9]{1,12}$")
_MAX_NONCE = 128  # what a nonce cache entry may cost; real clients send 32 characters or fewer


def pass_token(secret: str, client_id: str) -> str:
    """The client's passToken: HMAC-SHA256 of its id under the gateway's secret (128 bits, as hex).

    Derived rather than stored: the scheme makes the gateway recompute the client's hash, so a stored token
    would sit in the database in clear, where API keys are only hashes. Derived, a copy of the database
    gives no token, and every replica computes it with no lookup. The cost: a token cannot be rotated alone
    (issue a new client and revoke the old one), and changing the secret changes every client's token.
    """
    message = b"x-tif-pass-token\n" + client_id.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def tif_signature(timestamp: str, token: str, nonce: str) -> str:
    return hashlib.sha256(f"{timestamp}{token}{nonce}{timestamp}".encode()).hexdigest()


class NonceCache:
    """Nonces of verified requests, remembered per paasid until their timestamp leaves the window.

    In process, so each replica keeps its own: a replay sent to another replica within the window is not
    caught here (the national interface's msgid idempotency still keeps it from acting twice). Bounded:
    when full, the nonces closest to expiry are forgotten first.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._expiry: dict[tuple[str, str], int] = {}
        self._queue: list[tuple[int, tuple[str, str]]] = []

    def first_use(self, paas_id: str, nonce: str, *, now: float, until: int) -> bool:
        """Record the nonce; False if it was seen already and is still within its window."""
        while self._queue and (self._queue[0][0] < now or len(self._expiry) >= self.max_entries):
            expiry, old = heapq.heappop(self._queue)
            if self._expiry.get(old) == expiry:
                del self._expiry[old]
        key = (paas_id, nonce)
        if key in self._expiry:
            return False
        self._expiry[key] = until
        heapq.heappush(self._queue, (until, key))
        return True


def presented(request: Request) -> bool:
    return any(name in request.headers for name in HEADERS)


async def signed_caller(request: Request) -> Principal:
    """The API client whose TIF signature headers these are, or 401 with the reason's code."""
    settings: Settings = request.app.state.settings
    values = {name: request.headers.get(name, "").strip() for name in HEADERS}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise Unauthorized(
            f"A signed request carries all of {', '.join(HEADERS)}; missing: {', '.join(missing)}.",
            code="SIGNATURE_HEADER_MISSING",
            headers=dict(CHALLENGE),
        )
    paas_id, stamp, nonce = values[PAASID], values[TIMESTAMP], values[NONCE]
    now = request.app.state.clock.now().timestamp()
    window = settings.signature_window_s
    if not _UNIX_SECONDS.match(stamp) or abs(now - int(stamp)) > window:
        raise Unauthorized(
            f"{TIMESTAMP} must be unix seconds within {window} s of the platform's time ({int(now)}).",
            code="TIMESTAMP_OUT_OF_WINDOW",
            headers=dict(CHALLENGE),
        )
    if len(nonce) > _MAX_NONCE:
        raise Unauthorized(
            f"{NONCE} may be at most {_MAX_NONCE} characters.",
            code="SIGNATURE_INVALID",
            headers=dict(CHALLENGE),
        )
    keys: KeyStore = request.app.state.keys
    principal = await keys.client(paas_id)
    if principal is None:
        raise Unauthorized(
            f"The {PAASID} is not a valid API client or has been revoked.",
            code="API_KEY_INVALID",
            headers=dict(CHALLENGE),
        )
    token = pass_token(settings.pass_token_key(), principal.client_id)
    expected = tif_signature(stamp, token, nonce).encode()
    if not hmac.compare_digest(expected, values[SIGNATURE].lower().encode()):
        raise Unauthorized(
            f"{SIGNATURE} is not the SHA-256 of timestamp + passToken + nonce + timestamp.",
            code="SIGNATURE_INVALID",
            headers=dict(CHALLENGE),
        )
    # Recorded only once the signature holds: unsigned requests cannot fill the cache or burn a nonce.
    if not request.app.state.nonces.first_use(paas_id, nonce, now=now, until=int(stamp) + window):
        raise Unauthorized(
            f"This {NONCE} was used already within the last {window} s; send a fresh one.",
            code="NONCE_REUSED",
            headers=dict(CHALLENGE),
        )
    return principal
