"""Headless Chromium driven over the Chrome DevTools Protocol, for tests that use a page as a person would.

Chromium is the Debian package ``chromium``; a test that needs it fails (not skips), naming the package,
where it is missing. The protocol's websocket is spoken with aiohttp (a declared ``dev`` dependency).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
START_TIMEOUT = 60.0


def chromium(purpose: str) -> str:
    """The browser's path; fails the test without one, naming the package and what needs it."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(f"headless Chromium is needed for {purpose}: install the Debian package `chromium`")


def local_get(url: str, timeout: float = 30.0) -> bytes:
    """GET a local URL directly (no proxy from the environment)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        return response.read()


class Page:
    """One browser tab: protocol calls by method name, and JavaScript evaluated in the page."""

    def __init__(self, socket: Any) -> None:
        self._socket = socket
        self._next_id = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one protocol command and wait for its answer (events in between are dropped)."""
        self._next_id += 1
        ident = self._next_id
        await self._socket.send_json({"id": ident, "method": method, "params": params})
        while True:
            message = json.loads(await self._socket.receive_str(timeout=START_TIMEOUT))
            if message.get("id") != ident:
                continue
            if "error" in message:
                raise RuntimeError(f"{method}: {message['error']}")
            return message["result"]

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited); page errors raise."""
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float) -> Any:
        """Poll a JavaScript expression until it is truthy; its value, or a TimeoutError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise TimeoutError(f"{expression} stayed false for {timeout} s")

    async def set_files(self, selector: str, *paths: Path) -> None:
        """Choose files in a file input, as a person picking them in the file dialog."""
        document = await self.call("DOM.getDocument")
        node = await self.call("DOM.querySelector", nodeId=document["root"]["nodeId"], selector=selector)
        await self.call("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(p) for p in paths])


def _debugging_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    """The port Chromium's DevTools listen on, from the file it writes in its profile folder."""
    deadline = time.monotonic() + START_TIMEOUT
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if marker.is_file() and (lines := marker.read_text().splitlines()):
            return int(lines[0])
        if process.poll() is not None:
            raise RuntimeError(f"Chromium exited with {process.returncode} before it listened")
        time.sleep(0.1)
    raise TimeoutError(f"Chromium wrote no {marker} in {START_TIMEOUT} s")


def _page_target(port: int) -> dict[str, Any]:
    """The browser's first tab as the DevTools list it (polled: the tab may not be listed at once)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        targets = json.loads(local_get(f"http://127.0.0.1:{port}/json/list"))
        pages = [target for target in targets if target["type"] == "page"]
        if pages:
            return pages[0]
        time.sleep(0.1)
    raise TimeoutError(f"Chromium listed no page in {START_TIMEOUT} s")


@contextlib.asynccontextmanager
async def open_page(browser: str, url: str, profile: Path) -> AsyncIterator[Page]:
    """Start headless Chromium on ``url`` and yield its tab once the page has loaded."""
    import aiohttp

    command = [
        browser,
        "--headless=new",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-proxy-server",
        "--mute-audio",
        url,
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        target = _page_target(_debugging_port(profile, process))
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as socket,
        ):
            page = Page(socket)
            await page.wait_for(
                f"location.href === {json.dumps(url)} && document.readyState === 'complete'", 30
            )
            yield page
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
