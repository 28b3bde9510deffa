"""A real headless Chromium (Debian's package) driven by Playwright against a live ASGI server.

The server is the project's ASGI stack (helpdesk/asgi.py's: Django for HTTP, Channels
for websockets) under uvicorn, in a thread of the test process, so the realtime path is the one production runs: services
publish on commit, the channel layer (in-memory or Redis) fans out, consumers relay ids,
the page fetches fragments. Static files are served from the finders, as in development.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

CHROMIUM = os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
T = TypeVar("T")


# Module scope: Playwright runs an event loop in this thread while it lives, and later
# tests that call async_to_sync must not find it still running.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (.ci/run installs Debian's chromium package)")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by
    # the test itself (factories, assertions) are still synchronous and safe here.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class LiveAsgiServer:
    """uvicorn serving ``helpdesk.asgi.application`` on a free loopback port, in a thread.

    Every piece of synchronous Django work the server does (views, the session lookup of
    a websocket, a consumer's database calls) runs in one worker thread. With SQLite's
    in-memory test database that thread uses the test's own connection, as Django's
    LiveServerThread does; with PostgreSQL it opens its own.
    """

    def __init__(self) -> None:
        import uvicorn
        from channels.auth import AuthMiddlewareStack
        from channels.routing import ProtocolTypeRouter, URLRouter
        from channels.security.websocket import AllowedHostsOriginValidator
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
        from django.core.asgi import get_asgi_application
        from django.db import connections
        from django.urls import re_path

        from helpdesk.routing import public_websocket_urlpatterns, websocket_urlpatterns

        # helpdesk/asgi.py's stack, built here because the origin validator reads
        # ALLOWED_HOSTS once, when built: it must see the live server's host.
        application = ProtocolTypeRouter(
            {
                "http": get_asgi_application(),
                "websocket": URLRouter(
                    [
                        *public_websocket_urlpatterns,  # the chat widget checks origins per channel
                        re_path(r"^", AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
                    ]
                ),
            }
        )

        shared = {
            conn.alias: conn for conn in connections.all() if conn.vendor == "sqlite" and conn.is_in_memory_db()
        }
        for conn in shared.values():
            conn.inc_thread_sharing()
        self._shared = shared

        def adopt_connections() -> None:
            for alias, conn in shared.items():
                connections[alias] = conn

        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="e2e-django", initializer=adopt_connections)
        inner = ASGIStaticFilesHandler(application)
        executor = self.executor

        async def app(scope: dict, receive: Any, send: Any) -> None:
            from asgiref.sync import ThreadSensitiveContext

            async with ThreadSensitiveContext(executor=executor):
                await inner(scope, receive, send)

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        config = uvicorn.Config(app, lifespan="off", log_level="warning", loop="asyncio", ws="websockets-sansio")
        self._server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="e2e-uvicorn", daemon=True)
        self._thread.start()
        self._wait_until_started()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._server.serve(sockets=[self._socket]))
        finally:
            # Closed here, where no other loop runs (channels_redis flushes its connections on close).
            self.loop.close()

    def _wait_until_started(self) -> None:
        for _ in range(200):
            if self._server.started:
                return
            if not self._thread.is_alive():
                raise RuntimeError("the live ASGI server did not start")
            threading.Event().wait(0.05)
        raise RuntimeError("the live ASGI server did not start within 10 s")

    def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` where the server runs its Django code: the pipeline's realtime events
        then leave from the server's own event loop, as they would in production."""
        from asgiref.sync import ThreadSensitiveContext, sync_to_async

        async def call() -> T:
            async with ThreadSensitiveContext(executor=self.executor):
                return await sync_to_async(fn)(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout=30)

    def stop(self) -> None:
        from django.db import connections

        self._server.should_exit = True
        self._thread.join(timeout=10)
        # PostgreSQL: the worker's connection must go before the test database is dropped.
        self.executor.submit(lambda: [c.close() for c in connections.all() if c.alias not in self._shared]).result()
        self.executor.shutdown(wait=True)
        for conn in self._shared.values():
            conn.dec_thread_sharing()


@pytest.fixture(scope="module")
def live_asgi(django_db_setup, django_db_blocker) -> Iterator[LiveAsgiServer]:
    from django.test.utils import override_settings

    # Websockets check the Origin against ALLOWED_HOSTS (full mode allows no host by default).
    with override_settings(ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"]):
        with django_db_blocker.unblock():
            server = LiveAsgiServer()
        yield server
        server.stop()


@pytest.fixture
def new_page(browser, live_asgi) -> Iterator[Callable[..., Any]]:
    """Pages in separate browser contexts (separate cookie jars: separate agents)."""
    contexts = []

    def make(user: Any = None, *, width: int = 1280, height: int = 800) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=live_asgi.url)
        contexts.append(context)
        if user is not None:
            sign_in_as(context, live_asgi.url, user)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page) -> Any:
    return new_page()


def sign_in_as(context: Any, base_url: str, user: Any) -> None:
    """A session cookie for ``user``, made by Django's own login machinery (the sign-in
    form itself has its own test)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base_url}])


def screenshot(page: Any, name: str, **kwargs: Any) -> None:
    """Save docs/screenshots/<name>.png, only when PARLEY_SCREENSHOTS=1: a normal test run
    leaves the tree as it found it; `PARLEY_SCREENSHOTS=1 make test` refreshes the guide's images."""
    if os.environ.get("PARLEY_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), **kwargs)
