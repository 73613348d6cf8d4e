"""Derived, cached views of the shown result: download file names (:func:`file_safe`,
:func:`case_name`, :func:`export_stem`), the graph HTML and the export bytes, each cached per
result (``st.cache_data``).

Pages use these through :mod:`app.ui.state`, which re-exports them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from app.ui.session import LOADED_AT, result, run_id, source
from app.ui.view import View, ViewOptions
from graph.model import AnalysisResult


def file_safe(text: str) -> str:
    """``text`` reduced to a file-name-safe stem (letters, digits, ``._-``; at most 60 characters).

    Examples:
        >>> file_safe("WS01<img src=x>/../x")
        'WS01-img-src-x-..-x'
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-")[:60] or "x"


def case_name() -> str:
    """A short file-name-safe name of the loaded case (``demo-seed-7``, ``Security``, ...)."""
    label = source()
    label = re.sub(r"^(command line|case file|upload)\s*:?\s*", "", label)
    first = re.split(r",\s*", label)[0]
    stem = Path(first).name if ("/" in first or "\\" in first) else first
    stem = re.sub(r"\.(evtx|xml|jsonl?|csv|zip|gz|parquet|pq)$", "", stem, flags=re.I)
    return file_safe(stem.strip("-._ ")) if stem.strip("-._ ") else "case"


def export_stem() -> str:
    """``latgraph-<case>-<YYYYMMDD>``: the stem of every download (case and load date)."""
    import datetime as _dt

    when = st.session_state.get(LOADED_AT) or _dt.datetime.now(_dt.UTC)
    return f"latgraph-{case_name()}-{when:%Y%m%d}"



# ---- derived, cached views ----

def graph_view(opts: ViewOptions, *, standalone: bool = False) -> tuple[str, View]:
    """The graph HTML and View of the current result under ``opts`` (cached per result).

    ``standalone`` puts the "showing X of Y" note and the legend inside the page (for the HTML
    download); in the app both are shown outside the graph frame.
    """
    res = result()
    if res is None:
        raise RuntimeError("load data first")
    return _graph_cached(res, run_id(), repr(opts), standalone, opts)


@st.cache_data(max_entries=32, show_spinner="Drawing the graph...")
def _graph_cached(_res: AnalysisResult, rid: str, opts_key: str, standalone: bool,
                  _opts: ViewOptions) -> tuple[str, View]:
    from app.ui.graph_html import graph_html  # pyvis: not needed before the first patient zero

    return graph_html(_res, _opts, note=standalone, legend=standalone)


def export_callable(name: str) -> Callable[[], bytes]:
    """A zero-argument function producing one EXPORTERS entry for the current result.

    Streamlit runs deferred download callables outside the session's script run, so the result
    and its run id are bound now, not looked up later.
    """
    res, rid = result(), run_id()
    if res is None:
        raise RuntimeError("load data first")
    return lambda: _export_cached(res, rid, name)


@st.cache_data(max_entries=32, show_spinner=False)
def _export_cached(_res: AnalysisResult, rid: str, name: str) -> bytes:
    from app.exports import EXPORTERS

    return EXPORTERS[name](_res)


def exporters() -> dict[str, Any]:
    """The EXPORTERS registry ({} when the exports package is missing)."""
    try:
        from app.exports import EXPORTERS
    except ImportError:
        return {}
    return dict(EXPORTERS)
