"""Loading the inputs given to ``latgraph ui INPUT...`` once per server, shown in every session.

``latgraph ui`` passes the inputs to Streamlit after ``--`` and sets ``LATGRAPH_UI_ARGV=1`` so the
app knows ``sys.argv`` holds inputs (under AppTest or a bare ``streamlit run`` it does not). The
analysis itself runs in a background job (:mod:`app.ui.background`) that the server starts as it
boots; a session waits for it with the job's stage and percentage on screen.
"""

from __future__ import annotations

import os
import sys

import streamlit as st

from app.ui import background, state

ARGV_FLAG = background.ARGV_FLAG
#: How often a waiting session refreshes the progress display (seconds).
POLL_S = 0.2


def cli_inputs() -> list[str]:
    """The inputs given on the ``latgraph ui`` command line ([] otherwise)."""
    if os.environ.get(ARGV_FLAG) != "1":
        return []
    return [a for a in sys.argv[1:] if a]


def load_cli_inputs() -> None:
    """Load the command-line inputs the first time a session runs (with a staged progress display).

    The analysis is the server's background job for these inputs and settings (started at boot,
    or now if none matches); a reloaded page or a second tab gets its result at once.
    """
    inputs = cli_inputs()
    if not inputs or st.session_state.get(state.STARTUP_DONE):
        return
    st.session_state[state.STARTUP_DONE] = True
    label = "command line: " + ", ".join(inputs)
    bar = st.progress(0.0, text="Reading logs given on the command line...")
    try:
        missing = [p for p in inputs if not os.path.exists(p)]
        if missing:
            raise FileNotFoundError(f"not found on the server: {', '.join(missing)}")
        job = background.job(inputs, state.config())
        assert job is not None
        shown = None
        while not job.done.wait(0 if shown is None else POLL_S):
            now = job.progress.snapshot()
            if now != shown:
                bar.progress(*now)
                shown = now
        if job.error is not None:
            background.forget(job)
            err = job.error
            raise err if isinstance(err, Exception) else RuntimeError(repr(err))
        state.adopt_result(job.result, label, job.timings)
    except Exception as exc:  # shown to the analyst; the Load page stays usable
        st.error("Could not load the command-line inputs.")
        st.code(str(exc), language=None)
    finally:
        bar.empty()
