"""``foleyzoo demo``: the command serves until Ctrl+C or SIGTERM, refuses what it cannot do in one line, and its page
works in headless Chromium: upload a video, generate, listen and download; a bad file is an error on the page."""

from __future__ import annotations

import _thread
import asyncio
import io
import os
import re
import signal
import socket
import threading
import time
import urllib.error
from pathlib import Path

import pytest
import soundfile as sf
from tests.browser import chromium, local_get, open_page
from tests.data.video_fixtures import make_video

from foleyzoo.cli.main import run
from foleyzoo.io.media import probe

STATUS = "document.getElementById('status').textContent"


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def stop_once_served(
    url: str, seen: dict[str, bytes], how: str, returned: threading.Event, timeout: float = 120.0
) -> None:
    """Wait until ``url`` answers (keeping the page in ``seen``), then stop the server as a person would:
    Ctrl+C (KeyboardInterrupt in the main thread) or ``kill`` (SIGTERM to this process). Nothing is sent
    once the command has ``returned`` by itself (it failed to start)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not returned.is_set():
        try:
            seen["page"] = local_get(url, timeout=5)
            break
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    if returned.is_set():
        return
    if how == "sigterm" and "page" in seen:
        os.kill(os.getpid(), signal.SIGTERM)
    else:
        _thread.interrupt_main()


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_demo_serves_the_page_until_stopped_then_exits_0_and_removes_its_temporary_folder(
    bundle: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    port = free_port()
    seen: dict[str, bytes] = {}
    returned = threading.Event()
    stopping = threading.Thread(
        target=stop_once_served, args=(f"http://127.0.0.1:{port}/", seen, how, returned)
    )
    # A process started in the background by a shell without job control (as CI may be) ignores SIGINT,
    # and then interrupt_main() does nothing; a user's terminal delivers Ctrl+C to Python's own handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    stopping.start()
    try:
        code = run(["demo", "--model", str(bundle), "--port", str(port), "--device", "cpu", "--no-open"])
    finally:
        returned.set()
        signal.signal(signal.SIGINT, previous)
    stopping.join()
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"foleyzoo demo: serving {bundle} on http://127.0.0.1:{port}/ (Ctrl+C to stop)" in captured.out
    assert b'<strong id="model">small</strong>' in seen["page"]
    folder = re.search(r"generated files go to (\S+)", captured.err)
    assert folder is not None and not Path(folder[1]).exists()
    assert "foleyzoo demo: stopped" in captured.err


def test_a_busy_port_and_a_missing_model_are_one_line_each(
    bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert run(["demo", "--model", str(bundle), "--port", str(port), "--no-open"]) == 2
    error = capsys.readouterr().err
    assert (
        f"cannot listen on 127.0.0.1:{port}" in error and "--port" in error and len(error.splitlines()) == 1
    )
    assert run(["demo", "--model", str(tmp_path / "nope"), "--no-open"]) == 2
    assert "neither a bundle folder nor a model" in capsys.readouterr().err
    assert run(["demo", "--model", str(bundle), "--port", "70000"]) == 2
    assert "must be from 0 to 65535" in capsys.readouterr().err


FILL_FORM = """(() => {
  const set = (id, value) => { document.getElementById(id).value = value; };
  set("prompt", "a bell"); set("negative", "speech"); set("steps", "2"); set("cfg", "3"); set("seed", "5");
})()"""
FINISHED = f"(text => /^(done|error)/.test(text) && text)({STATUS})"


async def drive_the_page(browser: str, url: str, profile: Path, clip: Path, bad: Path) -> dict:
    """Upload → generate → read the results' addresses; then a bad file. What the page showed."""
    shown: dict = {}
    async with open_page(browser, url, profile) as page:
        shown["model"] = await page.evaluate("document.getElementById('model').textContent")
        await page.set_files("#video", clip)
        await page.evaluate(FILL_FORM)
        await page.evaluate("document.getElementById('generate').click()")
        shown["status"] = await page.wait_for(FINISHED, timeout=120)
        for name, expression in {
            "audio": "document.getElementById('audio').src",
            "mp4": "document.getElementById('download-mp4').href",
            "wav": "document.getElementById('download-wav').href",
        }.items():
            shown[name] = await page.evaluate(expression)
        shown["played"] = await page.wait_for(
            "(a => a.readyState >= 1 && a.duration)(document.getElementById('audio'))", timeout=30
        )
        shown["shown"] = await page.wait_for(
            "(v => v.readyState >= 1 && v.duration)(document.getElementById('result-video'))", timeout=30
        )
        await page.set_files("#video", bad)
        await page.evaluate("document.getElementById('generate').click()")
        shown["error"] = await page.wait_for(FINISHED, timeout=60)
    return shown


def test_the_page_uploads_generates_plays_and_downloads_in_chromium(bundle: Path, tmp_path: Path) -> None:
    from foleyzoo.pipeline import FoleyPipeline
    from foleyzoo.pipeline.demo_server import DemoApp, DemoServer

    browser = chromium("the demo page test")
    clip = make_video(tmp_path / "clip.mp4", seconds=1.5)
    bad = tmp_path / "x.mp4"
    bad.write_text("not a video\n")
    pipeline = FoleyPipeline.from_bundle(bundle, device="cpu")
    server = DemoServer("127.0.0.1", 0)
    server.app = DemoApp(pipeline, tmp_path / "out", "small", 50 * 2**20)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        shown = asyncio.run(drive_the_page(browser, server.url, tmp_path / "profile", clip, bad))
        assert shown["model"] == "small"
        assert shown["status"].startswith("done in ") and "1.5 s of audio" in shown["status"], shown["status"]
        wav = local_get(shown["audio"])
        assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
        info = sf.info(io.BytesIO(wav))
        assert abs(info.frames / info.samplerate - 1.5) < 0.01
        assert (
            abs(shown["played"] - 1.5) < 0.05 and abs(shown["shown"] - 1.5) < 0.05
        )  # the browser decoded both
        assert local_get(shown["wav"]) == wav
        download = tmp_path / "download.mp4"
        download.write_bytes(local_get(shown["mp4"]))
        muxed = probe(download)
        assert muxed.has_video and muxed.has_audio and abs(muxed.duration - 1.5) < 0.05
        assert shown["error"].startswith("error: x.mp4: not a media file"), shown["error"]
        assert b'id="generate"' in local_get(server.url)  # still serving
    finally:
        server.shutdown()
        server.server_close()
