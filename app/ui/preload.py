"""Work the UI server starts in a background thread as it boots (``latgraph ui``).

1. The command-line case (``latgraph ui CASE``) starts being read and analysed at once
   (:func:`app.ui.background.start_boot_load`): the analyst runs the command, then opens the page,
   and the analysis runs meanwhile instead of waiting for the first browser session.
2. The modules the pages need (pandas, pyarrow, networkx, altair, pyvis, the pipeline) are
   imported, which the first session would otherwise pay for before showing anything.
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
    """Start the command-line case's analysis, then import :data:`MODULES` (errors are logged,
    never raised: the session that needs the result or the module reports the error properly)."""
    try:
        from app.ui.background import start_boot_load

        start_boot_load()
    except Exception:
        logging.getLogger(__name__).warning("starting the command-line case failed", exc_info=True)
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception:
            logging.getLogger(__name__).warning("preloading %s failed", name, exc_info=True)
