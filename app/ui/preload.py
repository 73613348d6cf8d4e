"""Modules the UI needs, imported in a background thread as the server starts (``latgraph ui``).

The first browser session otherwise pays for importing pandas, pyarrow, networkx, pyvis, altair
and the analysis pipeline (seconds on a busy machine) before it can even show a progress bar.
Importing is all this does: no data is read before a session asks for it.
"""

from __future__ import annotations

import importlib
import logging

#: Imported in this order; a failure is logged and the session imports the module itself.
MODULES: tuple[str, ...] = (
    "pandas", "pyarrow", "pyarrow.parquet", "numpy", "networkx", "altair", "pyvis.network",
    "ingest", "graph.engine", "app.pipeline", "app.exports", "app.ui.view", "app.ui.graph_html",
    "app.ui.evidence",
)


def preload() -> None:
    """Import :data:`MODULES` (errors are logged, never raised)."""
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # the page that needs it reports the error properly
            logging.getLogger(__name__).warning("preloading %s failed", name, exc_info=True)
