"""``foleyzoo demo``: a local web page to generate Foley with a bundle: upload a video, listen, download.

The page is served by the standard library (no web framework, nothing fetched from the internet), and
the bundle is loaded once at start; generations run one at a time. Ctrl+C (or SIGTERM) stops the server
(exit 0).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import math
import shutil
import signal
import sys
import tempfile
import threading
import webbrowser
from collections.abc import Iterator
from pathlib import Path

from foleyzoo.cli.output import CommandParser
from foleyzoo.errors import ConfigError, FoleyzooError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The command's options, each with its default in its help."""
    parser = CommandParser(prog="foleyzoo demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", required=True, help="a bundle folder, or a bundle's name in $FOLEYZOO_HOME"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)"
    )
    parser.add_argument(
        "--port", type=_port, default=7860, help="port to listen on, 0 for any free one (default: 7860)"
    )
    parser.add_argument(
        "--device", default="auto", help="auto (cuda, mps, cpu), or a torch device (default: auto)"
    )
    parser.add_argument(
        "--output",
        default=None,
        help="folder to keep the generated files in (default: a temporary folder, removed on exit)",
    )
    parser.add_argument(
        "--max-upload-mb",
        type=_positive_mb,
        default=200.0,
        help="largest upload accepted, in MB (default: 200)",
    )
    parser.add_argument(
        "--open",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="open the page in a web browser (default: only when run from a terminal)",
    )
    return parser


def _port(text: str) -> int:
    """An ``argparse`` type: a TCP port, 0 to 65535."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535, got {value}")
    return value


def _positive_mb(text: str) -> float:
    """An ``argparse`` type: a size in MB above zero."""
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of MB, got {text}")
    return value


def _is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (``localhost``, 127.x, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(host: str, port: int):
    """The bound server (before the model loads, so a busy port fails at once), or a ConfigError."""
    from foleyzoo.pipeline.demo_server import DemoServer

    try:
        return DemoServer(host, port)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port, or 0 for any free one"
        ) from exc


def _output_folder(name: str | None) -> tuple[Path, bool]:
    """The folder generated files go to, and whether it is a temporary one to remove on exit."""
    if name is None:
        return Path(tempfile.mkdtemp(prefix="foleyzoo-demo-")), True
    from foleyzoo.cli.generate_cmd import make_output_folder

    return make_output_folder(Path(name)), False


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """Stop on SIGTERM (``kill``, a service manager) as on Ctrl+C, so a temporary folder is removed either way."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _title(pipeline: object, bundle: Path) -> str:
    """The name the page shows: the model card's, else the bundle folder's."""
    card = getattr(pipeline, "card", None)
    return getattr(card, "name", "") or bundle.name


def _announce(args: argparse.Namespace, url: str, bundle: Path, output: Path) -> None:
    """Say where the page is (stdout) and where files go (stderr); warn when other machines can reach it."""
    print(f"foleyzoo demo: serving {bundle} on {url} (Ctrl+C to stop)", flush=True)
    print(f"foleyzoo demo: generated files go to {output}", file=sys.stderr, flush=True)
    if not _is_loopback(args.host):
        print(
            f"foleyzoo demo: warning: listening on {args.host}, so other machines can reach the page; "
            "it has no login",
            file=sys.stderr,
            flush=True,
        )
    if args.open if args.open is not None else sys.stdout.isatty():
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


def serve(args: argparse.Namespace) -> int:
    """Load the bundle, serve the page until Ctrl+C (or SIGTERM), and clean up; 0 when so stopped."""
    from foleyzoo.pipeline import FoleyPipeline
    from foleyzoo.pipeline.demo_server import DemoApp
    from foleyzoo.pipeline.home import resolve_bundle

    bundle = resolve_bundle(args.model)
    server = _listen(args.host, args.port)
    output, temporary = None, False
    try:
        with _sigterm_as_ctrl_c():
            pipeline = FoleyPipeline.from_bundle(bundle, device=args.device)
            output, temporary = _output_folder(args.output)
            limit = round(args.max_upload_mb * 2**20)
            server.app = DemoApp(pipeline, output, _title(pipeline, bundle), limit)
            _announce(args, server.url, bundle, output)
            server.serve_forever()
    except KeyboardInterrupt:
        print("foleyzoo demo: stopped", file=sys.stderr, flush=True)
    finally:
        server.server_close()
        if temporary and output is not None:
            shutil.rmtree(output, ignore_errors=True)
    return 0


def main(argv: list[str]) -> int:
    """Entry point of ``foleyzoo demo``: 0 when stopped with Ctrl+C, 2 on a usage error."""
    args = build_parser().parse_args(argv)
    try:
        return serve(args)
    except FoleyzooError as exc:
        print(f"foleyzoo demo: error: {exc}", file=sys.stderr)
        return 2
