"""The latgraph UI entry point: ``latgraph ui`` runs ``streamlit run`` on this file.

It sets the page config, loads the inputs given on the command line once per session, draws the
sidebar (the loaded case and the one threshold every page follows) and hands over to
``st.navigation``; the pages live in ``app/ui/pages/``. With a case loaded the app opens on
Overview, otherwise on Load data.
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
from app.ui.common import sidebar  # noqa: E402

#: The browser tab icon: an emoji, which Streamlit turns into an inline SVG data URL. A
#: ``:material/...:`` icon would make every page load fetch an SVG from fonts.gstatic.com.
PAGE_ICON = "\U0001F578"


def main() -> None:
    """Build the navigation and run the selected page."""
    st.set_page_config(page_title="latgraph", page_icon=PAGE_ICON, layout="wide")
    startup.load_cli_inputs()
    loaded = state.result() is not None
    pages = {
        "Data": [
            st.Page("pages/load.py", title="Load data", icon=":material/upload:", default=not loaded),
            st.Page("pages/settings.py", title="Settings", icon=":material/tune:"),
        ],
        "Investigate": [
            st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=loaded),
            st.Page("pages/graph_view.py", title="Spread graph", icon=":material/hub:"),
            st.Page("pages/replay.py", title="Replay", icon=":material/replay:"),
            st.Page("pages/paths.py", title="Paths", icon=":material/route:"),
            st.Page("pages/findings.py", title="Findings", icon=":material/flag:"),
            st.Page("pages/drilldown.py", title="Host / account", icon=":material/search:"),
        ],
        "Report": [st.Page("pages/exports.py", title="Exports", icon=":material/download:")],
    }
    nav = st.navigation(pages)
    sidebar()
    nav.run()


main()
