"""The demo's server without a browser: forms posted as a browser posts them, files fetched by id, and
what it refuses (bad fields, bad files, paths it did not write, uploads over the limit, other sites)."""

from __future__ import annotations

import http.client
import io
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import soundfile as sf
from tests.data.video_fixtures import make_video

from foleyzoo.io.media import probe
from foleyzoo.pipeline import FoleyPipeline
from foleyzoo.pipeline.demo_server import (
    DemoApp,
    DemoServer,
    Form,
    RequestError,
    Upload,
    byte_range,
    download_stem,
    parse_multipart,
    parse_request,
)


@dataclass
class Answer:
    """An HTTP answer: status, headers and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Demo:
    """A running demo server and its app."""

    url: str
    app: DemoApp

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        """Send one request as written (no path normalising), and read the whole answer."""
        where = urlsplit(self.url)
        connection = http.client.HTTPConnection(where.hostname, where.port, timeout=120)
        try:
            connection.request(method, path, body=body or None, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def post(
        self, fields: dict[str, str], files: dict[str, tuple[str, bytes]] | None = None, **headers: str
    ) -> Answer:
        body, content_type = multipart(fields, files or {})
        return self.request("POST", "/generate", body, {"Content-Type": content_type, **headers})


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body as a browser writes it, and its Content-Type."""
    boundary = f"----form{uuid.uuid4().hex}"
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    for name, (filename, data) in files.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


@pytest.fixture(scope="module")
def demo(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo of the session's small bundle, served from a thread on a free port."""
    pipeline = FoleyPipeline.from_bundle(bundle, device="cpu")
    app = DemoApp(pipeline, tmp_path_factory.mktemp("demo-out"), pipeline.card.name, 2 * 2**20)
    server = DemoServer("127.0.0.1", 0)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Demo(server.url, app)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 1.2 s video's bytes."""
    return make_video(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=1.2).read_bytes()


def test_the_page_shows_the_model_and_its_defaults(demo: Demo) -> None:
    page = demo.request("GET", "/")
    text = page.body.decode()
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert '<strong id="model">small</strong>' in text
    assert (
        f'id="steps" name="steps" type="number" min="1" max="1000" step="1" value="{demo.app.default_steps}"'
        in text
    )
    assert "{{" not in text and "http://" not in text and "https://" not in text  # filled in, nothing fetched


def test_a_posted_video_gives_a_wav_and_a_muxed_mp4_served_by_id(demo: Demo, clip: bytes) -> None:
    answer = demo.post({"prompt": "a bell", "negative": "speech", "steps": "2", "cfg": "3", "seed": "7"},
                       {"video": ("my clip.mp4", clip)})  # fmt: skip
    assert answer.status == 200, answer.body
    result = answer.json()
    assert set(result) >= {"id", "wav", "mp4", "wav_download", "mp4_download", "seconds"}
    assert abs(result["duration"] - 1.2) < 0.01
    wav = demo.request("GET", result["wav"])
    assert wav.status == 200 and wav.headers["content-type"] == "audio/wav"
    assert wav.body[:4] == b"RIFF" and wav.body[8:12] == b"WAVE"
    assert "content-disposition" not in wav.headers  # played in the page
    info = sf.info(io.BytesIO(wav.body))
    assert info.channels == 2 and abs(info.frames / info.samplerate - 1.2) < 0.01
    mp4 = demo.request("GET", result["mp4_download"])
    assert mp4.status == 200 and mp4.headers["content-type"] == "video/mp4"
    assert mp4.headers["content-disposition"] == 'attachment; filename="my-clip-foley.mp4"'
    saved = demo.app.output / result["id"] / "downloaded.mp4"
    saved.write_bytes(mp4.body)
    muxed = probe(saved)
    assert muxed.has_video and muxed.has_audio and abs(muxed.duration - 1.2) < 0.05
    assert not list((demo.app.output / result["id"]).glob("upload*"))  # the upload's copy is gone
    part = demo.request("GET", result["wav"], headers={"Range": "bytes=0-11"})
    assert part.status == 206 and part.body == wav.body[:12]
    assert part.headers["content-range"] == f"bytes 0-11/{len(wav.body)}"


def test_text_only_needs_a_duration_and_gives_only_a_wav(demo: Demo) -> None:
    answer = demo.post({"prompt": "rain", "steps": "1", "duration": "0.5"})
    assert answer.status == 200, answer.body
    result = answer.json()
    assert "mp4" not in result and abs(result["duration"] - 0.5) < 0.01
    download = demo.request("GET", result["wav_download"])
    assert download.headers["content-disposition"] == 'attachment; filename="foley.wav"'
    assert demo.request("GET", f"/outputs/{result['id']}.mp4").status == 404
    missing = demo.post({"prompt": "rain"})
    assert missing.status == 400 and "give a duration in seconds" in missing.json()["error"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"steps": "0"}, "steps must be from 1 to 1000, got 0"),
        ({"steps": "2.5"}, "steps must be a whole number from 1 to 1000, got '2.5'"),
        ({"cfg": "nan"}, "the guidance scale (CFG) must be a finite number, got 'nan'"),
        ({"cfg": "loud"}, "the guidance scale (CFG) must be a number, got 'loud'"),
        ({"seed": "-1"}, "seed must be from 0 to 18446744073709551615, got -1"),
        ({"seed": str(2**64)}, "seed must be from 0 to 18446744073709551615"),
        ({"duration": "1e9"}, "the duration must be more than 0 and at most 600 s"),
    ],
)
def test_bad_fields_are_refused_with_a_message_naming_them(
    demo: Demo, fields: dict[str, str], message: str
) -> None:
    answer = demo.post({"duration": "1", **fields})
    assert answer.status == 400 and message in answer.json()["error"]


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("x.mp4", b"this is a text file, not a video\n" * 4, "x.mp4: not a media file"),
        ("empty.mp4", b"", "empty.mp4: the uploaded file is empty"),
    ],
)
def test_a_bad_file_is_refused_by_its_name_and_the_server_goes_on(
    demo: Demo, clip: bytes, filename: str, data: bytes, message: str
) -> None:
    answer = demo.post({"steps": "1"}, {"video": (filename, data)})
    assert answer.status == 400, answer.body
    error = answer.json()["error"]
    assert error.startswith(message) and str(demo.app.output) not in error  # named as uploaded
    assert demo.post({"steps": "1"}, {"video": ("clip.mp4", clip)}).status == 200


def test_only_files_the_server_wrote_are_served(demo: Demo) -> None:
    (demo.app.output / "secret.wav").write_bytes(b"RIFF")
    for path in (
        "/outputs/../secret.wav",
        "/outputs/%2e%2e%2fsecret.wav",
        "/outputs/..%2F..%2Fetc%2Fpasswd",
        "/outputs/0123456789abcdef.wav",  # the right shape, not an id it gave
        "/../../etc/passwd",
        "/secret.wav",
    ):
        answer = demo.request("GET", path)
        assert answer.status == 404 and b"RIFF" not in answer.body, path


def test_an_upload_over_the_limit_gets_413_with_a_message(demo: Demo) -> None:
    answer = demo.post({"steps": "1"}, {"video": ("big.mp4", b"\0" * (3 * 2**20))})
    assert answer.status == 413
    assert (
        "more than this demo takes (2 MB)" in answer.json()["error"]
        and "--max-upload-mb" in answer.json()["error"]
    )
    assert demo.request("GET", "/").status == 200


def test_a_form_posted_by_another_site_is_refused(demo: Demo) -> None:
    answer = demo.post({"duration": "1"}, Origin="http://elsewhere.example")
    assert answer.status == 403 and "another site" in answer.json()["error"]


def test_multipart_parsing_reads_fields_and_files_and_refuses_a_cut_body() -> None:
    body, content_type = multipart({"prompt": "café"}, {"video": ("a.mp4", b"\r\n--not-the-boundary\r\n")})
    form = parse_multipart(body, content_type)
    assert form.fields == {"prompt": "café"}
    assert form.files == {"video": Upload("a.mp4", b"\r\n--not-the-boundary\r\n")}
    with pytest.raises(RequestError, match="cut short"):
        parse_multipart(body[:-20], content_type)
    with pytest.raises(RequestError, match="multipart/form-data"):
        parse_multipart(body, "application/json")


def test_blank_fields_take_the_bundle_defaults() -> None:
    request = parse_request(Form({"steps": "", "cfg": " ", "seed": "", "duration": "2"}), 25, 4.5)
    assert (request.steps, request.cfg, request.seed, request.duration) == (25, 4.5, 0, 2.0)
    assert request.prompt is None and request.negative_prompt is None and request.video is None


def test_byte_ranges_and_download_names() -> None:
    assert byte_range("bytes=0-9", 100) == (0, 10)
    assert byte_range("bytes=90-", 100) == (90, 100)
    assert byte_range("bytes=-5", 100) == (95, 100)
    assert byte_range("bytes=200-", 100) is None and byte_range(None, 100) is None
    assert download_stem("../../etc/passwd") == "passwd-foley"
    assert download_stem("été à la plage.mov") == "t-la-plage-foley"
    assert download_stem(None) == "foley" and download_stem("...") == "foley"
