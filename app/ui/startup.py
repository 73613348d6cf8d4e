"""Loading the inputs given to ``latgraph ui INPUT...`` once per browser session.

``latgraph ui`` passes the inputs to Streamlit after ``--`` and sets ``LATGRAPH_UI_ARGV=1`` so the
app knows ``sys.argv`` holds inputs (under AppTest or a bare ``streamlit run`` it does not).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import streamlit as st

from app.ui import state

ARGV_FLAG = "LATGRAPH_UI_ARGV"


def cli_inputs() -> list[str]:
    """The inputs given on the ``latgraph ui`` command line ([] otherwise)."""
    if os.environ.get(ARGV_FLAG) != "1":
        return []
    return [a for a in sys.argv[1:] if a]


def _signature(inputs: list[str]) -> tuple:
    """What the command-line inputs are now: every file under them with its size and mtime."""
    sig = []
    for name in inputs:
        root = Path(name)
        files = [root] if root.is_file() else sorted(f for f in root.rglob("*") if f.is_file())
        for f in files:
            st_ = f.stat()
            sig.append((str(f.resolve()), st_.st_size, st_.st_mtime_ns))
    return tuple(sig)


#: The command-line case, loaded once per server process: a reloaded page or a second tab gets it
#: at once instead of reading the logs again (re-read when a file changed or settings differ).
_CLI_CASE: dict[tuple, tuple[Any, dict[str, float]]] = {}
_CLI_LOCK = threading.Lock()


def load_cli_inputs() -> None:
    """Load the command-line inputs the first time a session runs (with a staged progress display)."""
    inputs = cli_inputs()
    if not inputs or st.session_state.get(state.STARTUP_DONE):
        return
    st.session_state[state.STARTUP_DONE] = True
    label = "command line: " + ", ".join(inputs)
    bar = st.progress(0.0, text="Reading logs given on the command line...")
    try:
        with _CLI_LOCK:                        # two tabs opened at once read the logs once
            key = (_signature(inputs), repr(state.config()))
            cached = _CLI_CASE.get(key)
            if cached is None:
                res = state.load_paths(inputs, label, progress=state.StagedProgress(bar))
                _CLI_CASE.clear()
                _CLI_CASE[key] = (res, dict(st.session_state.get(state.LOAD_TIMINGS) or {}))
            else:
                res, timings = cached
                state.adopt_result(res, label, timings)
    except Exception as exc:  # shown to the analyst; the Load page stays usable
        st.error("Could not load the command-line inputs.")
        st.code(str(exc), language=None)
    finally:
        bar.empty()
