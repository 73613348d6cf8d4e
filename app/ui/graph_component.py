"""The clickable spread graph: a small ``st.components.v2`` component around the pyvis page.

The component's JavaScript (``app/ui/static/graph_component.js``, hand-written, no build step)
runs in the app page and puts the pyvis HTML into an ``<iframe sandbox="allow-scripts">`` (no
``allow-same-origin``: the graph runs in an opaque origin and cannot touch the app page, its
storage or the Streamlit connection). A click on a node or an edge in the graph is posted to the
component, which hands ``{"kind": "node"|"edge", "id": ..., "hop_ids": [...]}`` to Python.
Nothing is loaded from the network: vis-network is inlined in the page by pyvis.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from app.ui import state

_JS = (Path(__file__).resolve().parent / "static" / "graph_component.js").read_text(encoding="utf-8")
_component = st.components.v2.component("latgraph.spread_graph", js=_JS, isolate_styles=True)


def selection_key(key: str) -> str:
    """Session-state key holding the last selection made in the graph ``key``."""
    return f"{key}.selection"


def spread_graph(page_html: str, *, height: int, key: str, focus: str | None = None) -> dict[str, Any] | None:
    """Draw the graph page; return the current selection (kept in session state) or None.

    A new click replaces the selection; ``focus`` (a node id) is selected in the graph from the app.
    The selection is mirrored in the page URL (``sel``, ``sel_hops``), so a reload or a shared link
    opens the same node or hop again.
    """
    if selection_key(key) not in st.session_state:
        restored = state.url_selection(key)
        if restored is not None:
            st.session_state[selection_key(key)] = restored
    result = _component(key=key, data={"html": page_html, "height": int(height), "focus": focus},
                        height=int(height) + 4, on_select_change=lambda: None)
    clicked = getattr(result, "select", None)
    if isinstance(clicked, dict) and clicked.get("id") is not None:
        hop_ids = [int(h) for h in clicked.get("hop_ids") or [] if isinstance(h, int | float)]
        st.session_state[selection_key(key)] = {"kind": "edge" if clicked.get("kind") == "edge" else "node",
                                                "id": str(clicked["id"]), "hop_ids": hop_ids}
    selection = st.session_state.get(selection_key(key))
    state.url_put_selection(selection)
    return selection


def clear_selection(key: str) -> None:
    """Forget the selection of the graph ``key`` (and take it out of the URL)."""
    st.session_state.pop(selection_key(key), None)
    state.url_put_selection(None)
