"""A live hourhand server for the browser tests: uvicorn in a thread of the test process
on a free port, serving ``hh.asgi_app()`` (the REST API and the dashboard); and a
:class:`Guard` that watches a Playwright page for what an injected script would cause."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from playwright.sync_api import ConsoleMessage, Dialog, Page, Request, Route

from hourhand import Hourhand

START_TIMEOUT = 15.0  # seconds


class LiveServer:
    """``hh.asgi_app()`` served by uvicorn on 127.0.0.1 in a daemon thread."""

    def __init__(self, hh: Hourhand) -> None:
        self.hh = hh
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(
            hh.asgi_app(), log_level="warning", access_log=False, lifespan="on", ws="none"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="live-server", daemon=True)
        self.error: BaseException | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:  # reported by start() or stop()
            self.error = exc

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError(f"the live server did not start: {self.error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the live server did not start in {START_TIMEOUT}s")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(START_TIMEOUT)
        self.sock.close()
        if self.error is not None:
            raise self.error


@dataclass
class Guard:
    """What a page did that no page of ours should: dialogs (dismissed), console
    messages, uncaught errors, and requests to anywhere but the server (aborted)."""

    origin: str
    allow_dialogs: bool = False  # the flow tests accept the data-confirm dialogs
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> Page:
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.route("**/*", self._route)
        return page

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        if self.allow_dialogs and dialog.type == "confirm":
            dialog.accept()
        else:
            dialog.dismiss()

    def _console(self, message: ConsoleMessage) -> None:
        self.console.append(f"{message.type}: {message.text} ({message.location})")

    def _route(self, route: Route, request: Request) -> None:
        if own(request.url, self.origin):
            route.continue_()
        else:
            self.foreign.append(f"{request.method} {request.url}")
            route.abort("blockedbyclient")

    def problems(self) -> dict[str, list[str]]:
        """Everything recorded that should not have happened (empty: a clean page)."""
        found: dict[str, Any] = {
            "dialogs": [] if self.allow_dialogs else self.dialogs,
            "console": self.console,
            "errors": self.errors,
            "foreign requests": self.foreign,
        }
        return {kind: items for kind, items in found.items() if items}

    def assert_clean(self, where: str = "") -> None:
        problems = self.problems()
        assert not problems, f"{where}: {problems}"


def own(url: str, origin: str) -> bool:
    """Whether a request goes to the server itself (or is inline data of the page)."""
    if url.startswith(("data:", "about:")):
        return True
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" == origin
