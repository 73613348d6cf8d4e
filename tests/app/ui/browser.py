"""Browser harness for the end-to-end UI tests: a real ``latgraph ui`` server and Debian's chromium.

No browser is downloaded: Playwright drives ``/usr/bin/chromium`` (``make chromium`` installs it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = os.environ.get("LATGRAPH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def chromium_or_skip() -> str:
    """The chromium binary, or skip with the reason."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"chromium not found at {CHROMIUM} (run `make chromium`; CI installs it)")
    pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")
    return CHROMIUM


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def ui_server(inputs: list[str] | None = None, *, env: dict[str, str] | None = None,
              log: Path | None = None) -> Iterator[str]:
    """Run ``latgraph ui [INPUT...]`` on a free port; yield its URL; stop it afterwards."""
    port = free_port()
    cmd = [sys.executable, "-c", "from app.cli import cli; cli()", "ui", *(inputs or []),
           "--host", "127.0.0.1", "--port", str(port), "--max-upload-mb", "64"]
    log = log or ARTIFACTS / f"ui-server-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=dict(os.environ, **(env or {})), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    tail = log.read_text()[-2000:]
                    raise RuntimeError(f"latgraph ui exited with {proc.returncode}: {tail}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"latgraph ui not healthy after 60 s: {log.read_text()[-2000:]}")
                time.sleep(0.3)
            yield url
        finally:
            # the server runs in its own session: stop the whole process group, so nothing it
            # started outlives the test
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(timeout=10)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send ``sig`` to the process group of ``proc`` (started with ``start_new_session``)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


@contextmanager
def browser_page(width: int = 1500, height: int = 1000) -> Iterator[object]:
    """A fresh chromium page (downloads accepted)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_or_skip(), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
            yield context.new_page()
        finally:
            browser.close()


def graph_frame(page, timeout_s: float = 60.0):
    """The frame holding the pyvis graph (an iframe in the app) once vis-network has drawn.

    ``window.latgraphDrawn`` is set by graph_html's post-script on the first ``afterDrawing``.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in page.frames:  # the main frame too: a standalone graph page has no iframe
            try:
                if frame.evaluate("typeof window.latgraphDrawn === 'number'"):
                    return frame
            except Exception:  # frame navigating / detached
                continue
        time.sleep(0.25)
    raise AssertionError("no drawn graph iframe")


def graph_eval(page, expression: str, timeout_s: float = 60.0):
    """``expression`` evaluated in the drawn graph's frame once Streamlit's run is over.

    After a widget change Streamlit re-runs and replaces the graph iframe; a frame found just before
    that is detached under the evaluation ("Frame was detached"). The run is awaited first, and a
    frame detached anyway is looked up again and the evaluation repeated, up to ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    settle(page)
    while True:
        frame = graph_frame(page, max(1.0, deadline - time.monotonic()))
        try:
            return frame.evaluate(expression)
        except Exception as exc:
            if "detached" not in str(exc) or time.monotonic() > deadline:
                raise


def settle(page, timeout_s: float = 30.0) -> None:
    """Wait until Streamlit has finished the current run (no spinner, no stale elements)."""
    # a screenshot of a busy page still helps; the assertions decide, so a timeout is ignored
    with contextlib.suppress(Exception):
        page.wait_for_function(
            """() => !document.querySelector('[data-stale="true"]')
                  && !document.querySelector('[data-testid="stSpinner"]')""",
            timeout=timeout_s * 1000)


def shot(page, name: str) -> Path:
    """Save a full-page screenshot under tests/artifacts/ once the page has settled."""
    settle(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"ui-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
