"""The page URL's query parameters: the ``bind=`` value of the widgets whose value lives in the URL
(:data:`URL`), the parameters :mod:`app.ui.state` writes itself (the selected path and the graph
selection), and reading and writing them.

Pages use these through :mod:`app.ui.state`, which re-exports them.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

#: ``bind=`` value of the widgets whose value lives in the page URL (a reload or a shared link restores
#: it; Streamlit drops a page's parameters when another page is opened, ``keep`` restores them on return)
URL = "query-params"


#: Query parameters this module writes itself (widgets bound with ``bind=URL`` use their key):
#: ``path`` = rank of the selected path (1-based), ``sel`` = the graph selection (``node:ID`` or
#: ``edge:ID``) with ``sel_hops`` = its hop ids.
URL_PATH, URL_SEL, URL_SEL_HOPS = "path", "sel", "sel_hops"
URL_RESTORED = "latgraph.url_restored"  # the URL's threshold and path were applied to this session


def url_set(name: str, value: str | None) -> None:
    """Put ``name=value`` in the page URL (``None``: remove it); nothing is sent when unchanged."""
    current = st.query_params.get(name)
    if value is None:
        if current is not None:
            del st.query_params[name]
    elif current != value:
        st.query_params[name] = value


def url_float(name: str, lo: float = 0.0, hi: float = 1.0) -> float | None:
    """The URL's ``name`` as a number in [lo, hi], or None (absent or not a number in range)."""
    try:
        value = float(st.query_params.get(name, ""))
    except ValueError:
        return None
    return value if lo <= value <= hi else None



def url_selection(key: str) -> dict[str, Any] | None:
    """The graph selection the URL carries (``sel``/``sel_hops``), or None."""
    raw = st.query_params.get(URL_SEL, "")
    kind, _, ident = raw.partition(":")
    if kind not in ("node", "edge") or not ident:
        return None
    hops = [int(h) for h in st.query_params.get(URL_SEL_HOPS, "").split(",") if h.strip().isdigit()]
    return {"kind": kind, "id": ident, "hop_ids": hops}


def url_put_selection(selection: dict[str, Any] | None) -> None:
    """Reflect a graph selection (or none) in the URL."""
    if not selection:
        url_set(URL_SEL, None)
        url_set(URL_SEL_HOPS, None)
        return
    url_set(URL_SEL, f"{selection.get('kind')}:{selection.get('id')}")
    hops = selection.get("hop_ids") or []
    url_set(URL_SEL_HOPS, ",".join(str(int(h)) for h in hops) if hops else None)
