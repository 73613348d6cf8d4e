"""The session-state keys and the shown result: reading the session (result, source, settings,
run id, threshold, selected path), making a result the shown one (:func:`set_result`), and page
widget values kept across pages (:func:`keep`, :func:`forget_page_state`).

Pages use these through :mod:`app.ui.state`, which re-exports them.
"""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from graph.config import AnalysisConfig
from graph.model import AnalysisResult

# ---- session-state keys (page widgets use "<page>.<widget>" keys of their own) ----
RESULT = "latgraph.result"              # AnalysisResult shown on every page
EVENTS = "latgraph.events"              # (events frame, IngestReport) of the loaded data
SOURCE = "latgraph.source"              # human-readable description of what is loaded
CONFIG = "latgraph.config"              # AnalysisConfig of RESULT
RUN_ID = "latgraph.run_id"              # new uuid on every load/re-run: part of every cache key
EVENTS_ID = "latgraph.events_id"        # uuid of the loaded events: part of the analysis cache key
SELECTED_PATH = "latgraph.selected_path"  # index into result.paths, or None
UPLOAD_DIR = "latgraph.upload_dir"      # the session's private temp folder for uploads
STARTUP_DONE = "latgraph.startup_done"  # the `latgraph ui INPUT...` inputs were loaded
NEO4J_CONN = "latgraph.neo4j_conn"      # (uri, user, password, database) when RESULT came from Neo4j
THRESHOLD = "latgraph.threshold"        # the sidebar's minimum hop score (widget key)
GRAPH_OPTS = "latgraph.graph_opts"      # ViewOptions of the graph on screen (the graph.html export)
LOADED_AT = "latgraph.loaded_at"        # UTC time the case was loaded (export file names)
THRESHOLD_RUN = "latgraph.threshold_run"  # run id the sidebar slider was last synced to
KEPT = "latgraph.kept."                 # prefix: copies of page widget values that outlive the page
ENGINE = "pandas"


# ---- reading the session ----

def result() -> AnalysisResult | None:
    """The loaded result, or None."""
    return st.session_state.get(RESULT)


def source() -> str:
    """What is loaded, for captions."""
    return str(st.session_state.get(SOURCE, "nothing loaded"))


def config() -> AnalysisConfig:
    """The analysis settings in use."""
    return st.session_state.get(CONFIG) or AnalysisConfig()


def run_id() -> str:
    """An id that changes whenever new data is loaded or re-analysed."""
    return str(st.session_state.get(RUN_ID, ""))


def keep(key: str, default: Any) -> Any:
    """Give the widget ``key`` its remembered value (or ``default``) and remember it across pages.

    Streamlit forgets a widget's value when its page is left; call this before creating the
    widget (without a value argument): the value is restored from a copy kept under
    :data:`KEPT` and the copy is refreshed on every run of the page.
    """
    kept = KEPT + key
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(kept, default)
    st.session_state[kept] = st.session_state[key]
    return st.session_state[key]


def forget_page_state() -> None:
    """Drop remembered page state (filters, selections) that belongs to the previous case."""
    for k in list(st.session_state.keys()):
        name = str(k)
        if name.startswith(KEPT) or name.endswith(".selection") or name in (GRAPH_OPTS,):
            del st.session_state[k]


def threshold() -> float:
    """The minimum hop score in force (that of the shown result)."""
    return float(config().min_score)



def set_result(res: AnalysisResult, label: str, events: tuple[Any, Any] | None = None) -> None:
    """Make ``res`` the shown result (pages read it from here)."""
    import datetime as _dt

    if st.session_state.get(SOURCE) != label or st.session_state.get(LOADED_AT) is None:
        st.session_state[LOADED_AT] = _dt.datetime.now(_dt.UTC)
    st.session_state[RESULT] = res
    st.session_state[SOURCE] = label
    st.session_state[CONFIG] = res.config
    if events is None or st.session_state.get(EVENTS) is not events:
        st.session_state[EVENTS_ID] = uuid.uuid4().hex
    st.session_state[EVENTS] = events if events is not None else (res.events, res.report)
    st.session_state[RUN_ID] = uuid.uuid4().hex
    st.session_state[SELECTED_PATH] = None


def select_path(index: int | None) -> None:
    """Remember the path chosen on the Paths page (highlighted on the graph)."""
    st.session_state[SELECTED_PATH] = index


def selected_path() -> int | None:
    """Index of the selected path, or None."""
    return st.session_state.get(SELECTED_PATH)
