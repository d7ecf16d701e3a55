"""Run service apps in tests: in-process over ASGI, or on a real port with uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Generator
from datetime import datetime
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from common.app import running
from common.clock import Clock
from common.principal import Principal, Role, sign_principal

OPS = Principal(client_id="ops-test", role=Role.OPS)


class PrincipalAuth(httpx.Auth):
    """Signs each request with the internal principal, as the gateway would."""

    def __init__(self, principal: Principal, *, secret: str, clock: Clock) -> None:
        self.principal = principal
        self.secret = secret
        self.clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        now: datetime = self.clock.now()
        request.headers.update(
            sign_principal(
                self.principal, secret=self.secret, method=request.method, path=request.url.path, now=now
            )
        )
        yield request


@contextlib.asynccontextmanager
async def app_client(
    app: FastAPI, *, principal: Principal | None = OPS, base_url: str = "http://testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give a client that talks to it in-process (signed as `principal`)."""
    settings = app.state.settings
    auth = (
        PrincipalAuth(principal, secret=settings.internal_secret, clock=app.state.clock)
        if principal
        else None
    )
    async with running(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=base_url, auth=auth) as client:
            yield client


def _listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A restart binds the port it had again, while the last connections may still be in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: a server handed a socket of its own does not set it per connection,
    # and without it each small answer waits out the peer's delayed ACK (about 40 ms a request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock


class LiveServer:
    """An app served by uvicorn on a real local port, startable and stoppable within a test.

    Without a port it binds port 0 at once and serves on that very socket: a port picked, released and bound
    again later could be taken in between by another test worker (uvicorn then exits the whole worker).
    """

    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        self.app = app
        self._socket: socket.socket | None = None
        if port is None:
            self._socket = _listening_socket(0)
            port = int(self._socket.getsockname()[1])
        self.port = port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[Any] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __del__(self) -> None:
        # A server made but never started (a service meant to be down) still holds its reserved socket.
        if self._socket is not None:
            self._socket.close()

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_config=None, access_log=False, lifespan="on"
        )
        sock, self._socket = self._socket or _listening_socket(self.port), None
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                try:
                    self._task.result()
                except SystemExit as exited:  # uvicorn's way to fail its start: not the test worker's exit
                    raise RuntimeError(f"server on port {self.port} failed to start") from exited
                finally:
                    sock.close()
                raise RuntimeError("server stopped before it started")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._server = None
        self._task = None

    async def __aenter__(self) -> LiveServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()


async def wait_for(
    condition: Any, *, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll an async or sync callable until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)
