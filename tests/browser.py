"""Real-browser helpers shared by the browser, pack and JupyterLite tests.

The course promises that the book works with no network, so the tests load
it in a real browser (Debian's Chromium, driven by Playwright) and block and
record every request that leaves the machine. Blocking, rather than relying
on the network being down, makes the result the same on a laptop with Wi-Fi
and on an offline CI runner.

Public helpers:

* :func:`serve` -- a local HTTP server for a directory (127.0.0.1, free port);
* :func:`launch_chromium` -- Debian's Chromium with the flags that work here;
* :func:`block_remote` -- abort and record requests to non-local hosts;
* :func:`record_weight` -- bytes and requests a page really loads;
* :func:`record_errors` -- console errors and uncaught exceptions;
* :func:`run_axe` -- axe-core's accessibility violations for a loaded page;
* :func:`artifacts_dir` -- where a browser test writes screenshots and reports.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Request,
    Route,
)

from citylab.pack import QUIET_CHROMIUM

#: Debian's Chromium (package ``chromium``). ``playwright install`` cannot
#: work offline, so Playwright drives the system browser.
CHROMIUM = Path(os.environ.get("CITYLAB_CHROMIUM", "/usr/bin/chromium"))

#: The flags that keep Chromium quiet on a closed network (shared with the
#: course pack's PDF printing). Playwright adds ``--headless`` and
#: ``--no-sandbox`` (needed as root) itself and starts every browser with a
#: new, empty profile directory.
CHROMIUM_FLAGS = QUIET_CHROMIUM

#: Hosts that are this machine.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

#: axe-core comes from npm at the version pinned in tests/browser/package-lock.json.
AXE_DIR = Path(__file__).resolve().parent / "browser"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"


def artifacts_dir(name: str) -> Path:
    """The folder for a test's screenshots and reports, created if missing.

    ``$CITYLAB_ARTIFACTS/<name>`` when set (CI can upload it), else
    ``<repo>/test-artifacts/<name>`` (git-ignored).
    """
    base = os.environ.get("CITYLAB_ARTIFACTS") or Path(__file__).resolve().parent.parent / "test-artifacts"
    folder = Path(base) / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class _QuietHandler(SimpleHTTPRequestHandler):
    """Static files with correct types for JupyterLite (wasm, mjs) and no log noise."""

    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".json": "application/json",
        ".ipynb": "application/json",
        ".woff2": "font/woff2",
        ".svg": "image/svg+xml",
    }

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: pytest output should show failures, not every GET."""


@contextmanager
def serve(directory: Path | str) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 at a free port, in a thread.

    Yields the base URL with a trailing slash (``http://127.0.0.1:PORT/``).
    Like ``./course book``, it uses Python's ``http.server``: no gzip, so the
    bytes measured are the bytes a learner's browser receives from it.
    """
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"cannot serve {root}: not a directory")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="book-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def launch_chromium(playwright: Playwright) -> Browser:
    """Start headless Debian Chromium with :data:`CHROMIUM_FLAGS`.

    Raises a one-line error when Chromium is missing (``./course test``
    installs Debian's ``chromium`` package).
    """
    if not CHROMIUM.is_file():
        raise FileNotFoundError(
            f"Chromium not found at {CHROMIUM}: run ./course test as root, or apt-get install chromium"
        )
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_FLAGS)
    )


def is_local(url: str) -> bool:
    """True for URLs that never leave the machine (loopback, file, data, blob, about)."""
    parts = urlsplit(url)
    if parts.scheme in ("file", "data", "blob", "about", "chrome-error"):
        return True
    return (parts.hostname or "") in LOCAL_HOSTS


def block_remote(target: Page | BrowserContext) -> list[str]:
    """Abort every request to a non-local host and return the live list of their URLs.

    Pass a :class:`BrowserContext` to catch requests made by service workers
    too (JupyterLite); a :class:`Page` covers the page and its frames.
    """
    blocked: list[str] = []

    def handle(route: Route, request: Request) -> None:
        if is_local(request.url):
            route.continue_()
        else:
            blocked.append(request.url)
            route.abort("blockedbyclient")

    target.route("**/*", handle)
    return blocked


@dataclass
class Weight:
    """What a page loaded: response body bytes and request count, per URL."""

    bytes_by_url: dict[str, int] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes_by_url.values())

    @property
    def requests(self) -> int:
        return len(self.bytes_by_url)

    def biggest(self, n: int | None = None) -> list[tuple[str, int]]:
        """The ``n`` heaviest files (all when ``None``): what to trim when a page is too heavy."""
        return sorted(self.bytes_by_url.items(), key=lambda item: -item[1])[:n]


def record_weight(page: Page) -> Weight:
    """Record the body size of every finished response of ``page`` (live).

    Sizes are the body bytes the browser received (``request.sizes()``);
    ``http.server`` does not compress, so that is each file's size. Inline
    content such as a map's ``srcdoc`` counts in the page's own HTML. Call
    before ``page.goto``.
    """
    weight = Weight()

    def finished(request: Request) -> None:
        if request.url.startswith("data:"):
            return
        weight.bytes_by_url[request.url] = request.sizes()["responseBodySize"]

    page.on("requestfinished", finished)
    return weight


def record_errors(page: Page) -> list[str]:
    """Return the live list of console errors and uncaught exceptions of ``page``."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    return errors


def ensure_axe() -> Path:
    """Path of axe-core's script; runs ``npm ci`` in tests/browser/ when it is missing.

    ``npm ci`` installs exactly the version in package-lock.json; it costs
    time only on the first run (node_modules is git-ignored).
    """
    if not AXE_SCRIPT.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise FileNotFoundError("npm not found: install Node.js and npm to run the accessibility test")
        run = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=AXE_DIR, check=False,
                             capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            raise RuntimeError(f"npm ci in {AXE_DIR} failed: {run.stderr.strip()[-500:]}")
    return AXE_SCRIPT


def run_axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the loaded ``page`` and its frames (axe's default rules).

    axe checks a frame only when it runs inside it too, so it is added to
    every frame loaded so far (scroll lazy frames into view first). Each
    violation is axe's dict: ``id``, ``impact``, ``help`` and ``nodes``.
    """
    script = str(ensure_axe())
    for frame in page.frames:
        frame.add_script_tag(path=script)
    result = page.evaluate("async () => JSON.stringify((await axe.run(document)).violations)")
    return json.loads(result)
