"""Loading the inputs given to ``latgraph ui INPUT...`` once per browser session.

``latgraph ui`` passes the inputs to Streamlit after ``--`` and sets ``LATGRAPH_UI_ARGV=1`` so the
app knows ``sys.argv`` holds inputs (under AppTest or a bare ``streamlit run`` it does not).
"""

from __future__ import annotations

import os
import sys

import streamlit as st

from app.ui import state

ARGV_FLAG = "LATGRAPH_UI_ARGV"


def cli_inputs() -> list[str]:
    """The inputs given on the ``latgraph ui`` command line ([] otherwise)."""
    if os.environ.get(ARGV_FLAG) != "1":
        return []
    return [a for a in sys.argv[1:] if a]


def load_cli_inputs() -> None:
    """Load the command-line inputs the first time a session runs (with a progress bar)."""
    inputs = cli_inputs()
    if not inputs or st.session_state.get(state.STARTUP_DONE):
        return
    st.session_state[state.STARTUP_DONE] = True
    bar = st.progress(0.0, text="Reading logs given on the command line...")
    try:
        state.load_paths(inputs, "command line: " + ", ".join(inputs),
                         on_progress=state.progress_callback(bar))
    except Exception as exc:  # shown to the analyst; the Load page stays usable
        st.error("Could not load the command-line inputs.")
        st.code(str(exc), language=None)
    finally:
        bar.empty()
