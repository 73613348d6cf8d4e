"""``latgraph ui [INPUT...]``: start the Streamlit investigation UI (optionally with data loaded)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

ENTRY = Path(__file__).resolve().parents[1] / "ui" / "streamlit_app.py"
#: ``python -c BOOT run ...`` = ``streamlit run ...`` plus the UI's modules imported in a background
#: thread while the server starts (app/ui/preload.py), so the first session does not wait for them.
BOOT = ("import sys, threading; "
        "threading.Thread(target=lambda: __import__('app.ui.preload', fromlist=['preload']).preload(), "
        "daemon=True, name='latgraph-preload').start(); "
        "sys.argv[0] = 'streamlit'; from streamlit.web.cli import main; main()")
#: Arrow's memory pool in the server (unless the environment names one): the C library's allocator.
#: With Arrow's default (mimalloc) the first read of a 1M-event case cost 1.3 s of kernel time on the
#: 2-core reference machine (fresh pages for each allocation), about 0.3 s with this one, and the whole
#: first analysis 1.3-2.2 against 0.7-0.9 kernel CPU s; the results are the same.
ARROW_POOL_VAR, ARROW_POOL = "ARROW_DEFAULT_MEMORY_POOL", "system"
#: Default upload limit per file (Streamlit's own default is 200 MB; logs are bigger).
DEFAULT_MAX_UPLOAD_MB = 2048


def streamlit_argv(inputs: tuple[str, ...], *, host: str, port: int, max_upload_mb: int,
                   headless: bool) -> list[str]:
    """The ``streamlit run`` command line for the UI (inputs go after ``--``)."""
    argv = [sys.executable, "-c", BOOT, "run", str(ENTRY),
            "--server.address", host, "--server.port", str(port),
            "--server.maxUploadSize", str(max_upload_mb),
            "--server.headless", "true" if headless else "false",
            "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
            "--client.toolbarMode", "minimal",
            "--theme.base", "light",
            # the sidebar threshold is both the slider's value and its session-state key, on purpose
            # (app/ui/common.sidebar): no log line about it
            "--global.disableWidgetStateDuplicationWarning", "true"]
    return [*argv, "--", *(str(Path(i).resolve()) for i in inputs)]


@click.command("ui")
@click.argument("inputs", nargs=-1, type=click.Path(exists=True))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Keep 127.0.0.1 unless you mean to expose case data.")
@click.option("--port", default=8501, show_default=True, type=int, help="Port to listen on.")
@click.option("--max-upload-mb", default=DEFAULT_MAX_UPLOAD_MB, show_default=True, type=int,
              help="Largest file the Load page accepts by upload (server.maxUploadSize).")
@click.option("--headless/--open-browser", default=True, show_default=True,
              help="Do not / do open a browser tab.")
def command(inputs: tuple[str, ...], host: str, port: int, max_upload_mb: int, headless: bool) -> None:
    """Start the investigation UI; INPUT files, folders or case files are loaded at start.

    Pages: Load data, Settings, Overview, Spread graph, Replay, Paths, Host / account, Exports.
    """
    env = dict(os.environ, LATGRAPH_UI_ARGV="1")
    env.setdefault(ARROW_POOL_VAR, ARROW_POOL)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    argv = streamlit_argv(inputs, host=host, port=port, max_upload_mb=max_upload_mb, headless=headless)
    click.echo(f"latgraph UI on http://{host}:{port} (Ctrl+C stops it)", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # Become the Streamlit server (exec, not a child process): a signal sent to `latgraph ui`
    # (Ctrl+C, a service manager, a test fixture) then stops the server itself instead of
    # leaving an orphaned server listening on the port.
    os.execve(argv[0], argv, env)
