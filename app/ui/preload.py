"""Work the UI server starts in a background thread as it boots (``latgraph ui``).

1. The command-line case (``latgraph ui CASE``) starts being read and analysed at once
   (:func:`app.ui.background.start_boot_load`): the analyst runs the command, then opens the page,
   and the analysis runs meanwhile instead of waiting for the first browser session.
2. The modules the pages need (pandas, pyarrow, networkx, altair, pyvis, the pipeline) are
   imported, which the first session would otherwise pay for before showing anything; charts,
   graph and exports only once the case is analysed (:data:`LATER`).
"""

from __future__ import annotations

import importlib
import logging

#: Imported in this order; a failure is logged and the session imports the module itself. The
#: first group is what the analysis and Overview's patient zero need; :data:`LATER` (charts, the graph
#: page, exports) waits until the command-line case is analysed, so that it does not take CPU from
#: the analysis on a small machine (the pages import what they need themselves anyway).
FIRST: tuple[str, ...] = (
    "pandas", "pyarrow", "pyarrow.parquet", "numpy", "networkx", "ingest", "graph.engine", "app.pipeline",
    "app.ui.view", "app.ui.evidence",
)
LATER: tuple[str, ...] = ("altair", "pyvis.network", "app.ui.graph_html", "app.exports")
MODULES: tuple[str, ...] = FIRST + LATER


def preload() -> None:
    """Start the command-line case's analysis, then import :data:`MODULES` (errors are logged,
    never raised: the session that needs the result or the module reports the error properly)."""
    job = None
    try:
        from app.ui.background import start_boot_load

        job = start_boot_load()
    except Exception:
        logging.getLogger(__name__).warning("starting the command-line case failed", exc_info=True)
    for name in FIRST:
        _import(name)
    if job is not None:
        job.done.wait()
    for name in LATER:
        _import(name)


def _import(name: str) -> None:
    try:
        importlib.import_module(name)
    except Exception:
        logging.getLogger(__name__).warning("preloading %s failed", name, exc_info=True)
