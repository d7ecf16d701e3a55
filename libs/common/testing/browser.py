"""Debian's headless Chromium driven over the DevTools protocol on a pipe: pages loaded on a machine cut off
from any network but loopback, every request the page makes recorded, scripts evaluated, screenshots taken.

Synchronous on purpose: run it in a thread (`asyncio.to_thread`) while the servers it browses run in the loop.
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")


class BrowserError(RuntimeError):
    pass


_LAUNCHER = (
    "import fcntl, os, sys; "
    "fds = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3]]; "
    "os.dup2(fds[0], 3); os.dup2(fds[1], 4); os.execv(sys.argv[3], sys.argv[3:])"
)


class Browser:
    """One headless Chromium with one page (tab), at a 1366×768 window unless told otherwise."""

    def __init__(
        self, profile: Path, *, width: int = 1366, height: int = 768, timeout_s: float = 60.0
    ) -> None:
        self.profile = profile
        self._log = profile / "chromium.log"
        self.width, self.height = width, height
        self.timeout_s = timeout_s
        self.requests: list[str] = []  # every URL the page asked for, in order
        self.errors: list[str] = []  # script exceptions and console/log errors (CSP refusals among them)
        self._process: subprocess.Popen[bytes] | None = None
        self._to: int = -1
        self._from: int = -1
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Browser:
        to_read, to_write = os.pipe()
        from_read, from_write = os.pipe()
        args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--disable-features=AutofillServerCommunication",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--window-size={self.width},{self.height}",
            f"--user-data-dir={self.profile / 'profile'}",
            # Names resolve to nothing and anything not on loopback goes to a proxy that refuses.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--proxy-server=http://127.0.0.1:9",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # The protocol runs on the child's fds 3 (commands in) and 4 (answers out): a small launcher moves the
        # pipes there (above 9 first, so one already on 3 or 4 is not overwritten), then becomes Chromium.
        self._process = subprocess.Popen(  # noqa: S603 - a fixed program and fixed arguments
            [sys.executable, "-c", _LAUNCHER, str(to_read), str(from_write), str(CHROMIUM), *args],
            pass_fds=(to_read, from_write),
            stdout=subprocess.DEVNULL,
            stderr=self._log.open("wb"),
        )
        os.close(to_read)
        os.close(from_write)
        self._to, self._from = to_write, from_read
        target = self.call("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        self._session = self.call(
            "Target.attachToTarget", {"targetId": target, "flatten": True}, browser=True
        )["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._process is not None and self._process.poll() is None:
                self._send({"id": self._id(), "method": "Browser.close"})
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
        finally:
            for fd in (self._to, self._from):
                if fd >= 0:
                    os.close(fd)
            self._to = self._from = -1

    # --- the protocol -------------------------------------------------------------------------------------

    def _log_tail(self) -> str:
        return self._log.read_text(errors="replace")[-2000:] if self._log.exists() else ""

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _send(self, message: dict[str, Any]) -> None:
        os.write(self._to, json.dumps(message).encode() + b"\0")

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from], [], [], left)
            if ready:
                chunk = os.read(self._from, 1 << 20)
                if not chunk:
                    raise BrowserError(f"Chromium closed the DevTools pipe: {self._log_tail()}")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        if "method" in message:
            self._on_event(message)
        return message

    def _on_event(self, event: dict[str, Any]) -> None:
        self._events.append(event)
        method, params = event["method"], event.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(str(details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append(str(params["entry"].get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(
                " ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"])
            )

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False
    ) -> dict[str, Any]:
        """Send a command (to the page unless `browser`) and return its result."""
        message: dict[str, Any] = {"id": self._id(), "method": method, "params": params or {}}
        if not browser:
            message["sessionId"] = self._session
        self._send(message)
        deadline = time.monotonic() + self.timeout_s
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == message["id"]:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result

    def _wait_event(self, method: str, deadline: float) -> dict[str, Any]:
        while True:
            for n, event in enumerate(self._events):
                if event["method"] == method:
                    del self._events[: n + 1]
                    return event
            self._events.clear()
            self._receive(deadline)

    # --- what a test does with a page ---------------------------------------------------------------------

    def goto(self, url: str) -> None:
        """Load `url` and wait for its load event."""
        self._events.clear()
        answer = self.call("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise BrowserError(f"{url}: {answer['errorText']}")
        self._wait_event("Page.loadEventFired", time.monotonic() + self.timeout_s)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression on the page (promises awaited)."""
        answer = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression[:80]}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, *, timeout_s: float = 30.0) -> Any:
        """Poll a JavaScript expression until it is truthy; its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(
                    f"timed out waiting for {expression[:120]}; page errors: {self.errors[-5:]}"
                )
            time.sleep(0.1)

    def submit(self, form_selector: str, fields: dict[str, str]) -> None:
        """Fill a form's fields and submit it as a person would; wait for the page it leads to."""
        self._events.clear()
        script = (
            f"(() => {{ const form = document.querySelector({json.dumps(form_selector)});"
            f" for (const [name, value] of Object.entries({json.dumps(fields)})) form.elements[name].value = value;"
            " form.requestSubmit(); return true; })()"
        )
        self.evaluate(script)
        self._wait_event("Page.loadEventFired", time.monotonic() + self.timeout_s)

    def screenshot(self) -> bytes:
        """A PNG of the viewport."""
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        return base64.b64decode(data)

    def cookies(self) -> list[dict[str, Any]]:
        cookies: list[dict[str, Any]] = self.call("Network.getAllCookies")["cookies"]
        return cookies
