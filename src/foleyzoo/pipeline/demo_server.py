"""The web demo behind ``foleyzoo demo``: one page served by the standard library around a loaded pipeline.

The page (``demo_page.html``, no external resources, works offline) posts a ``multipart/form-data`` form
to ``/generate``; the server checks the fields, generates with the one pipeline it holds (one request
at a time, behind a lock), writes ``<stem>.wav`` and, for a video, ``<stem>.mp4`` into a folder of their
own named by a random id, and answers JSON. Files are served only from that record of ids, never from a
path the request names. A bad request or a bad file comes back as ``{"error": message}`` with a 4xx
status, and the server keeps running.
"""

from __future__ import annotations

import html
import json
import math
import re
import secrets
import shutil
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from foleyzoo.errors import FoleyzooError

if TYPE_CHECKING:
    from foleyzoo.pipeline.pipeline import FoleyPipeline

__all__ = [
    "DemoApp",
    "DemoServer",
    "Form",
    "GenerationRequest",
    "Upload",
    "parse_multipart",
    "parse_request",
]

MAX_STEPS = 1000
"""The most sampler steps a request may ask for (more only makes one request hold the server for long)."""
MAX_SEED = 2**64 - 1
MAX_DURATION = 600.0
"""Seconds of text-only audio one request may ask for, so that a typing slip cannot hold the server for hours."""
DRAIN_LIMIT = 1 << 30
"""Bytes of a refused upload read and dropped so the browser sees the answer; beyond this the connection is closed."""
CHUNK = 1 << 20

_OUTPUT_PATH = re.compile(r"^/outputs/(?P<id>[0-9a-f]{16})\.(?P<kind>wav|mp4)$")
_SAFE_STEM = re.compile(r"[^A-Za-z0-9_-]+")
_SAFE_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
_RANGE = re.compile(r"^bytes=(?P<start>\d*)-(?P<end>\d*)$")
CONTENT_TYPES = {"wav": "audio/wav", "mp4": "video/mp4"}


class RequestError(FoleyzooError):
    """A request the demo refuses, with the HTTP status to answer and a message for the page."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------- the form


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the name the browser gave and its bytes."""

    filename: str
    data: bytes


@dataclass
class Form:
    """The fields of a submitted form: text values by name, and uploaded files by name."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)


def multipart_boundary(content_type: str) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type; a RequestError for any other type."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str) or not boundary:
        raise RequestError(f"expected a multipart/form-data upload, got Content-Type {content_type!r}")
    return boundary.encode("latin-1")


def parse_multipart(body: bytes, content_type: str) -> Form:
    """The fields and files of a ``multipart/form-data`` body (RFC 7578), held in memory.

    Written here because the standard library's ``cgi`` module is gone from Python 3.13; the part
    headers go through :mod:`email`'s parser. A body without its closing boundary was cut short.
    """
    delimiter = b"\r\n--" + multipart_boundary(content_type)
    chunks = (b"\r\n" + body).split(delimiter)
    form = Form()
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            return form
        head, separator, data = chunk.lstrip(b" \t").removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            break
        headers = HeaderParser().parsestr(head.decode("utf-8", "replace"))
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise RequestError("a part of the upload has no field name")
        filename = headers.get_filename()
        if filename is None:
            form.fields[name] = data.decode("utf-8", "replace")
        else:
            form.files[name] = Upload(filename, data)
    raise RequestError("the upload was cut short (the form's closing boundary is missing); try again")


# --------------------------------------------------------------------------- what to generate


@dataclass(frozen=True)
class GenerationRequest:
    """A checked request: the video (or None for text only) and the settings to generate with."""

    video: Upload | None
    prompt: str | None
    negative_prompt: str | None
    steps: int
    cfg: float
    seed: int
    duration: float | None


def _text(form: Form, name: str) -> str | None:
    """A text field, stripped; None where it is missing or blank."""
    value = form.fields.get(name, "").strip()
    return value or None


def _whole_number(form: Form, name: str, label: str, default: int, low: int, high: int) -> int:
    """A whole-number field within ``low..high`` (``default`` where blank), else a RequestError saying so."""
    text = _text(form, name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise RequestError(f"{label} must be a whole number from {low} to {high}, got {text!r}") from None
    if not low <= value <= high:
        raise RequestError(f"{label} must be from {low} to {high}, got {value}")
    return value


def _finite_number(form: Form, name: str, label: str, default: float | None) -> float | None:
    """A finite number field (``default`` where blank), else a RequestError saying so."""
    text = _text(form, name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise RequestError(f"{label} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise RequestError(f"{label} must be a finite number, got {text!r}")
    return value


def parse_request(form: Form, default_steps: int, default_cfg: float) -> GenerationRequest:
    """The request a form asks for, every field checked with a message naming it; blanks take the defaults."""
    upload = form.files.get("video")
    video = upload if upload is not None and (upload.filename or upload.data) else None
    if video is not None and not video.data:
        raise RequestError(f"{video.filename or 'the video'}: the uploaded file is empty")
    steps = _whole_number(form, "steps", "steps", default_steps, 1, MAX_STEPS)
    seed = _whole_number(form, "seed", "seed", 0, 0, MAX_SEED)
    cfg = _finite_number(form, "cfg", "the guidance scale (CFG)", default_cfg)
    duration = _finite_number(form, "duration", "the duration", None) if video is None else None
    if video is None and duration is None:
        raise RequestError("choose a video, or give a duration in seconds to generate from the prompt alone")
    if duration is not None and not 0 < duration <= MAX_DURATION:
        raise RequestError(
            f"the duration must be more than 0 and at most {MAX_DURATION:g} s, got {duration:g}"
        )
    return GenerationRequest(
        video=video,
        prompt=_text(form, "prompt"),
        negative_prompt=_text(form, "negative"),
        steps=steps,
        cfg=float(default_cfg if cfg is None else cfg),
        seed=seed,
        duration=duration,
    )


# --------------------------------------------------------------------------- generation and outputs


@dataclass(frozen=True)
class Output:
    """The files one generation wrote, served under its id: the WAV, the muxed mp4 (None for text only)."""

    wav: Path
    mp4: Path | None
    stem: str

    def path(self, kind: str) -> Path | None:
        """The file of ``kind`` (``"wav"`` or ``"mp4"``), or None where this output has none."""
        return self.wav if kind == "wav" else self.mp4


def download_stem(filename: str | None) -> str:
    """A plain ASCII name for downloaded files from the uploaded file's name (``foley`` for text only)."""
    stem = _SAFE_STEM.sub("-", Path(filename or "").stem).strip("-")[:80]
    return f"{stem}-foley" if stem else "foley"


def upload_suffix(filename: str) -> str:
    """The uploaded file's suffix where it is a plain one (``.mp4``, ``.mov``), else ``.mp4``."""
    suffix = Path(filename).suffix.lower()
    return suffix if _SAFE_SUFFIX.match(suffix) else ".mp4"


class DemoApp:
    """The demo's state: the loaded pipeline, the folder outputs go to, and the ids it has written."""

    def __init__(self, pipeline: FoleyPipeline, output: Path, title: str, max_upload_bytes: int) -> None:
        self.pipeline = pipeline
        self.output = output
        self.title = title
        self.max_upload_bytes = max_upload_bytes
        self.outputs: dict[str, Output] = {}
        self._lock = threading.Lock()

    @property
    def default_steps(self) -> int:
        """The bundle's sampler steps, the page's default."""
        return int(self.pipeline.sampler.steps)

    @property
    def default_cfg(self) -> float:
        """The bundle's guidance scale, the page's default."""
        return float(self.pipeline.cfg_scale)

    def page(self) -> bytes:
        """The demo page with this bundle's name, defaults and upload limit filled in."""
        template = resources.files("foleyzoo.pipeline").joinpath("demo_page.html").read_text("utf-8")
        values = {
            "title": self.title,
            "steps": str(self.default_steps),
            "cfg": f"{self.default_cfg:g}",
            "max_upload_bytes": str(self.max_upload_bytes),
            "max_upload_mb": f"{self.max_upload_bytes / 2**20:g}",
            "max_steps": str(MAX_STEPS),
            "max_duration": f"{MAX_DURATION:g}",
        }
        for name, value in values.items():
            template = template.replace("{{" + name + "}}", html.escape(value))
        return template.encode("utf-8")

    def generate(self, request: GenerationRequest) -> dict[str, Any]:
        """Generate for one request (one at a time) and keep its files under a new id; the page's JSON."""
        output_id = secrets.token_hex(8)
        folder = self.output / output_id
        folder.mkdir(parents=True)
        try:
            with self._lock:
                started = time.perf_counter()
                output, seconds = self._generate_into(folder, request)
                elapsed = time.perf_counter() - started
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.outputs[output_id] = output
        answer = {"id": output_id, "seconds": round(elapsed, 2), "duration": round(seconds, 3)}
        for kind in ("wav", "mp4"):
            if output.path(kind) is not None:
                answer[kind] = f"/outputs/{output_id}.{kind}"
                answer[f"{kind}_download"] = f"/outputs/{output_id}.{kind}?download=1"
        return answer

    def _generate_into(self, folder: Path, request: GenerationRequest) -> tuple[Output, float]:
        """Run the pipeline and write the outputs into ``folder``; (the output, seconds of audio)."""
        from foleyzoo.io.media import mux_audio, write_wav

        video = None
        if request.video is not None:
            video = folder / f"upload{upload_suffix(request.video.filename)}"
            video.write_bytes(request.video.data)
        stem = download_stem(request.video.filename if request.video else None)
        try:
            audio = self.pipeline.generate(
                video,
                prompt=request.prompt,
                negative_prompt=request.negative_prompt,
                duration=request.duration,
                steps=request.steps,
                cfg=request.cfg,
                seed=request.seed,
            )
            samples = audio.samples.numpy()
            wav = folder / f"{stem}.wav"
            write_wav(wav, samples, audio.sample_rate)
            mp4 = None
            if video is not None:
                mp4 = folder / f"{stem}.mp4"
                mux_audio(video, samples, audio.sample_rate, mp4)
        except FoleyzooError as exc:
            raise RequestError(_named_as_uploaded(str(exc), video, request.video)) from exc
        finally:
            if video is not None:
                video.unlink(missing_ok=True)
        return Output(wav, mp4, stem), audio.duration


def _named_as_uploaded(message: str, saved: Path | None, upload: Upload | None) -> str:
    """A message with the server's copy of an upload named as the user knows it, by its file name."""
    if saved is None or upload is None:
        return message
    return message.replace(str(saved), upload.filename or "the video")


# --------------------------------------------------------------------------- HTTP


class DemoServer(ThreadingHTTPServer):
    """A threaded HTTP server for one :class:`DemoApp`; IPv6 where the host is an IPv6 address."""

    daemon_threads = True
    app: DemoApp | None = None

    def __init__(self, host: str, port: int) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), DemoHandler)

    @property
    def url(self) -> str:
        """The page's address as a browser on this machine reaches it."""
        host, port = self.server_address[:2]
        shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(str(host), str(host))
        if ":" in shown and not shown.startswith("["):
            shown = f"[{shown}]"
        return f"http://{shown}:{port}/"


class DemoHandler(BaseHTTPRequestHandler):
    """Routes: ``GET /`` (the page), ``POST /generate`` (JSON), ``GET /outputs/<id>.wav|mp4``."""

    server: DemoServer
    server_version = "foleyzoo-demo"
    protocol_version = "HTTP/1.1"

    @property
    def app(self) -> DemoApp:
        """The demo this server runs (set before it starts serving)."""
        assert self.server.app is not None, "the server has no app yet"
        return self.server.app

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the command reports generations itself, not every request."""

    def do_GET(self) -> None:
        """The page, or a generated file."""
        url = urlsplit(self.path)
        if url.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, self.app.page(), "text/html; charset=utf-8")
            return
        match = _OUTPUT_PATH.match(url.path)
        output = self.app.outputs.get(match["id"]) if match else None
        path = output.path(match["kind"]) if output is not None and match else None
        if path is None or output is None or match is None:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no such page or file: {url.path}"})
            return
        download = "download" in parse_qs(url.query)
        self._send_file(path, match["kind"], f"{output.stem}.{match['kind']}" if download else None)

    def do_POST(self) -> None:
        """``/generate``: a JSON answer, ``{"error": …}`` with a 4xx or 500 status where it fails."""
        if urlsplit(self.path).path != "/generate":
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no such address: {self.path}"})
            return
        try:
            self._check_origin()
            body = self._read_body()
            form = parse_multipart(body, self.headers.get("Content-Type", ""))
            request = parse_request(form, self.app.default_steps, self.app.default_cfg)
            answer = self.app.generate(request)
        except RequestError as exc:
            self._report(f"refused: {exc}")
            self._send_json(exc.status, {"error": str(exc)})
            return
        except Exception as exc:  # the server keeps running; the page and the log say what happened
            traceback.print_exc(file=sys.stderr)
            message = f"the server failed unexpectedly ({type(exc).__name__}: {exc}); see its log"
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": message})
            return
        self._report(
            f"generated {answer['duration']:g} s of audio in {answer['seconds']:g} s → {answer['id']}"
        )
        self._send_json(HTTPStatus.OK, answer)

    def _check_origin(self) -> None:
        """Refuse a form posted by another site's page (its Origin is not this server's address)."""
        origin = self.headers.get("Origin")
        if origin and urlsplit(origin).netloc != self.headers.get("Host"):
            raise RequestError(f"refused a request from another site ({origin})", HTTPStatus.FORBIDDEN)

    def _read_body(self) -> bytes:
        """The request body, refused with 411 without a length and 413 beyond the upload limit."""
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            raise RequestError("the upload has no Content-Length", HTTPStatus.LENGTH_REQUIRED)
        length, limit = int(length_text), self.app.max_upload_bytes
        if length > limit:
            self._discard(length)
            raise RequestError(
                f"the upload is {length / 2**20:.1f} MB, more than this demo takes ({limit / 2**20:g} MB); "
                "use a shorter or smaller video, or start the demo with a larger --max-upload-mb",
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            )
        body = self.rfile.read(length)
        if len(body) != length:
            raise RequestError("the upload was cut short; try again")
        return body

    def _discard(self, length: int) -> None:
        """Read and drop a refused body so the client reads the answer; close the connection beyond DRAIN_LIMIT."""
        if length > DRAIN_LIMIT:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)

    def _send(
        self, status: HTTPStatus, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        """Answer with ``body`` and the given headers (never cached: every output is new)."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: HTTPStatus, content: dict[str, Any]) -> None:
        """Answer with ``content`` as JSON; an error answer closes the connection (its body may be unread)."""
        if status >= HTTPStatus.BAD_REQUEST:
            self.close_connection = True
        self._send(status, json.dumps(content).encode("utf-8"), "application/json")

    def _send_file(self, path: Path, kind: str, download_name: str | None) -> None:
        """A generated file (one byte range where asked, so players can seek), as an attachment for downloads."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"the file is gone ({exc.strerror or exc})"})
            return
        headers = {"Accept-Ranges": "bytes"}
        if download_name is not None:
            headers["Content-Disposition"] = f'attachment; filename="{download_name}"'
        wanted = byte_range(self.headers.get("Range"), len(data))
        if wanted is None:
            self._send(HTTPStatus.OK, data, CONTENT_TYPES[kind], headers)
            return
        start, end = wanted
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        self._send(HTTPStatus.PARTIAL_CONTENT, data[start:end], CONTENT_TYPES[kind], headers)

    def _report(self, line: str) -> None:
        """One line on the server's standard error."""
        print(f"foleyzoo demo: {line}", file=sys.stderr, flush=True)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` (end exclusive) of a single ``Range: bytes=a-b`` within ``size``; None for the whole file."""
    match = _RANGE.match(header or "")
    if match is None or not (match["start"] or match["end"]):
        return None
    if not match["start"]:
        start = max(0, size - int(match["end"]))  # the last N bytes
        return (start, size) if start < size else None
    start = int(match["start"])
    end = min(size, int(match["end"]) + 1) if match["end"] else size
    return (start, end) if start < end else None
