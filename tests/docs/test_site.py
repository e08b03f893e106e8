"""The built site in headless Chromium: no console errors on any page, the navigation reaches every page,
and screenshots of the home page and the plugin tutorial are real images.

Slow: it builds the site with ``mkdocs build --strict`` and starts Chromium once a page. It needs the
Debian package ``chromium`` and fails, naming it, where the browser is missing. The site is served over
HTTP from a thread, because the search's web worker does not run from ``file://`` pages.

Chromium's one-shot ``--screenshot`` with a virtual time budget can hang for good on a loaded machine,
so the screenshots are taken over the DevTools protocol (``tests/browser.py``), and a one-shot run that
hangs is killed and started again (``browse``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import http.server
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import numpy as np
import pytest
import yaml
from tests.browser import chromium, open_page
from tests.conftest import REPO_ROOT

WINDOW = (1280, 900)
BROWSE_TIMEOUT = 60  # seconds for one one-shot run; a page takes about one
BROWSE_TRIES = 3
SCREENSHOTS = {"home": "", "plugin-tutorial": "tutorials/write-a-plugin/"}
_CONSOLE = re.compile(r":CONSOLE\(\d+\)\]|:CONSOLE:|Uncaught |Failed to load resource")


def nav_pages(nav: object) -> list[str]:
    """Every Markdown page the mkdocs.yml navigation lists, depth first."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    if isinstance(nav, list):
        return [page for item in nav for page in nav_pages(item)]
    return []


def page_url(markdown: str) -> str:
    """The site path mkdocs gives a page (``index.md`` → ``""``, ``a/b.md`` → ``a/b/``)."""
    path = markdown.removesuffix(".md")
    if path == "index":
        return ""
    return path.removesuffix("/index") + "/"


class LinkParser(HTMLParser):
    """The ``href`` of every ``<a>`` and the ``src`` of every ``<img>`` in a document."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        if tag == "img" and values.get("src"):
            self.images.append(str(values["src"]))


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` over HTTP on a free local port from a thread; yields the base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def browse(browser: str, url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Load ``url`` in headless Chromium with console logging on; ``extra`` asks for the DOM.

    A run that outlives ``BROWSE_TIMEOUT`` is killed and started again, ``BROWSE_TRIES`` times in all:
    a hung browser is the machine's trouble, not the site's.
    """
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--virtual-time-budget=3000",  # let the page's scripts (search, navigation) run
        *extra,
        url,
    ]
    for _ in range(BROWSE_TRIES):
        try:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=BROWSE_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:  # subprocess.run has killed it
            continue
    pytest.fail(f"Chromium hung on {url} {BROWSE_TRIES} times, {BROWSE_TIMEOUT} s each")


async def screenshot(browser: str, url: str, profile: Path) -> bytes:
    """A PNG of ``url``'s first ``WINDOW`` of pixels, once the page and its fonts have loaded."""
    async with open_page(browser, url, profile) as page:
        width, height = WINDOW
        await page.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        await page.wait_for("document.fonts.status === 'loaded'", 30)
        await page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        shot = await page.call("Page.captureScreenshot", format="png")
    return base64.b64decode(shot["data"])


def console_messages(stderr: str) -> list[str]:
    """The browser log lines that report a page's console messages, script errors or failed loads."""
    return [line for line in stderr.splitlines() if _CONSOLE.search(line)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built with ``mkdocs build --strict`` into a temporary folder."""
    folder = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    return folder


@pytest.mark.slow
def test_every_page_opens_without_console_errors_and_the_navigation_reaches_it(
    site: Path, tmp_path: Path
) -> None:
    browser = chromium("the site test")
    config = yaml.load((REPO_ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    wanted = {page_url(page) for page in nav_pages(config["nav"])}
    with serve(site) as base:
        seen: set[str] = set()
        queue, errors = [""], []
        while queue:  # breadth first over the links of the rendered navigation, from the home page
            path = queue.pop(0)
            if path in seen:
                continue
            seen.add(path)
            result = browse(browser, base + path, tmp_path / "profile", "--dump-dom")
            assert result.returncode == 0 and "<html" in result.stdout, f"{path}: {result.stderr[-1000:]}"
            errors += [f"/{path}: {line}" for line in console_messages(result.stderr)]
            parser = LinkParser()
            parser.feed(result.stdout)
            for href in parser.links:
                target = urlparse(urljoin(base + path, href))
                if target.netloc == urlparse(base).netloc and target.path.endswith("/"):
                    queue.append(target.path.lstrip("/"))
            for src in parser.images:  # a missing image logs nothing to the console: look for the file
                target = urlparse(urljoin(base + path, src))
                if not (site / target.path.lstrip("/")).is_file():
                    errors.append(f"/{path}: image {src} is not in the site")
    assert not errors, "console errors:\n" + "\n".join(errors)
    missing = sorted(wanted - seen)
    assert not missing, f"pages of mkdocs.yml's nav that no link reaches from the home page: {missing}"


@pytest.mark.slow
def test_screenshots_of_the_home_page_and_the_plugin_tutorial_are_real_images(
    site: Path, tmp_path: Path
) -> None:
    import matplotlib.image

    browser = chromium("the site test")
    with serve(site) as base:
        for name, path in SCREENSHOTS.items():
            png = tmp_path / f"{name}.png"
            png.write_bytes(asyncio.run(screenshot(browser, base + path, tmp_path / f"profile-{name}")))
            pixels = matplotlib.image.imread(png)
            assert pixels.shape[:2] == (WINDOW[1], WINDOW[0]), f"{name}: {pixels.shape}"
            rgb = pixels[..., :3]
            assert float(rgb.std()) > 0.05, f"{name}: the screenshot is blank"
            dark = float((rgb.mean(axis=-1) < 0.5).mean())
            assert 0.01 < dark < 0.6, f"{name}: {dark:.1%} dark pixels, not a page of text"
            assert np.unique(rgb.reshape(-1, 3), axis=0).shape[0] > 50, f"{name}: too few colours for a page"


@pytest.mark.slow
def test_the_console_check_sees_a_script_error_and_console_error(tmp_path: Path) -> None:
    """The check above can fail: a page that logs an error and throws one is caught."""
    browser = chromium("the site test")
    (tmp_path / "index.html").write_text(
        '<html><body><p>page</p><script>console.error("boom"); notDefined();</script></body></html>'
    )
    with serve(tmp_path) as base:
        result = browse(browser, base, tmp_path / "profile", "--dump-dom")
    messages = console_messages(result.stderr)
    assert any('"boom"' in line for line in messages), result.stderr[-2000:]
    assert any("Uncaught ReferenceError" in line for line in messages), messages


def test_a_hung_browser_is_killed_and_started_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``browse`` outlives a browser that hangs on its first start and returns the second start's page."""
    browser = tmp_path / "browser"
    browser.write_text(
        f'#!/bin/sh\nif [ ! -e {tmp_path}/started ]; then touch {tmp_path}/started; exec sleep 30; fi\necho "<html>$*"\n'
    )
    browser.chmod(0o755)
    monkeypatch.setattr(sys.modules[__name__], "BROWSE_TIMEOUT", 1)
    result = browse(str(browser), "http://127.0.0.1:1/", tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0 and result.stdout.startswith("<html") and "--dump-dom" in result.stdout
