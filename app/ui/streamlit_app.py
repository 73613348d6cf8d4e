"""The latgraph UI entry point: ``latgraph ui`` runs ``streamlit run`` on this file.

It only sets the page config, loads the inputs given on the command line once per session and
hands over to ``st.navigation``; the pages live in ``app/ui/pages/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts this file's folder on sys.path, not the project root.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from app.ui import startup, state  # noqa: E402


def main() -> None:
    """Build the navigation and run the selected page."""
    st.set_page_config(page_title="latgraph", page_icon=":material/hub:", layout="wide")
    pages = {
        "Data": [
            st.Page("pages/load.py", title="Load data", icon=":material/upload:", default=True),
            st.Page("pages/settings.py", title="Settings", icon=":material/tune:"),
        ],
        "Investigate": [
            st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:"),
            st.Page("pages/graph_view.py", title="Spread graph", icon=":material/hub:"),
            st.Page("pages/replay.py", title="Replay", icon=":material/replay:"),
            st.Page("pages/paths.py", title="Paths", icon=":material/route:"),
            st.Page("pages/findings.py", title="Findings", icon=":material/flag:"),
            st.Page("pages/drilldown.py", title="Host / account", icon=":material/search:"),
        ],
        "Report": [st.Page("pages/exports.py", title="Exports", icon=":material/download:")],
    }
    nav = st.navigation(pages)
    startup.load_cli_inputs()
    with st.sidebar:
        st.caption("Loaded: " + state.source())
    nav.run()


main()
