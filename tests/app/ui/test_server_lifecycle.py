"""Stopping `latgraph ui` stops the Streamlit server (no orphan keeps listening on the port)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

from tests.app.ui.browser import REPO, free_port


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_sigterm_to_latgraph_ui_stops_the_server() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # SIGTERM goes to this one pid only (no process group): what a user's kill or a service
    # manager does
    proc = subprocess.Popen([sys.executable, "-c", "from app.cli import cli; cli()", "ui",
                             "--host", "127.0.0.1", "--port", str(port)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not _healthy(url):
            assert proc.poll() is None, f"latgraph ui exited early with {proc.returncode}"
            assert time.monotonic() < deadline, "latgraph ui did not become healthy in 90 s"
            time.sleep(0.3)
        proc.terminate()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 15
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert not _listening(port), f"a server still listens on port {port} after latgraph ui stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
