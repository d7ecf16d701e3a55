"""Console sessions: a signed, expiring token in an HttpOnly cookie, and the CSRF tokens of its forms.

The cookie holds no key: `<client_id>.<expires>.<nonce>.<mac>`, signed with a key derived from the internal
secret, so any gateway replica can read it. Each request checks again that the API client is active and
still ops (revoking the key ends its sessions, within the key cache). Signing out forgets the nonce on this
replica at once; the token expires on every replica at `expires`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "ybj_console"
# Before signing in there is no session: the sign-in form's CSRF token is bound to this cookie instead.
LOGIN_COOKIE = "ybj_console_login"
COOKIE_PATH = "/console"


@dataclass(frozen=True)
class Session:
    client_id: str
    expires: int
    nonce: str


class Sessions:
    """Issues and reads session tokens; remembers the nonces signed out on this replica until they expire."""

    def __init__(self, secret: str, *, lifetime_s: int) -> None:
        self._key = hmac.new(secret.encode(), b"ybj console session v1", hashlib.sha256).digest()
        self.lifetime_s = lifetime_s
        self._ended: dict[str, int] = {}

    def _mac(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def issue(self, client_id: str, *, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.lifetime_s)
        body = f"{client_id}.{expires}.{secrets.token_urlsafe(24)}"
        return f"{body}.{self._mac('session:' + body)}"

    def read(self, token: str | None, *, now: float | None = None) -> Session | None:
        """The session a token stands for, or None when it is forged, expired or signed out."""
        if not token or token.count(".") != 3:
            return None
        client_id, expires, nonce, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(f"session:{client_id}.{expires}.{nonce}")):
            return None
        if not expires.isdigit() or int(expires) <= (time.time() if now is None else now):
            return None
        if nonce in self._ended:
            return None
        return Session(client_id=client_id, expires=int(expires), nonce=nonce)

    def end(self, session: Session) -> None:
        """Sign out: the token is refused from now on (here at once; elsewhere when it expires)."""
        now = time.time()
        self._ended = {nonce: until for nonce, until in self._ended.items() if until > now}
        self._ended[session.nonce] = session.expires

    def csrf_token(self, session: Session) -> str:
        """The token every form of this session carries."""
        return self._mac(f"csrf:{session.nonce}")

    def login_csrf_token(self, login_nonce: str) -> str:
        """The sign-in form's token, bound to the pre-session cookie."""
        return self._mac(f"login-csrf:{login_nonce}")

    def csrf_ok(self, presented: str | None, expected: str) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())
