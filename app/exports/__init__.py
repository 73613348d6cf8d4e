"""Export formats of an analysis result: the :data:`EXPORTERS` registry.

Each exporter is a pure function ``(AnalysisResult, *, scope, min_score) -> bytes``; the CLI
(``latgraph export``) writes the bytes to a file or stdout and the UI hands them to
``st.download_button`` with the entry's ``mime`` and ``suffix``. ``scope="suspicious"`` (default)
exports the hops scoring at least ``min_score`` (default: the run's ``config.min_score``), and the
paths made only of those hops; ``scope="all"`` exports every hop. ``json`` is always the whole
versioned result. See ``docs/exports.md`` for each format and how to load it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.exports import graphml, jsonish, opengraph, report_html, tables
from app.exports.common import SCOPES

if TYPE_CHECKING:
    from graph.model import AnalysisResult

__all__ = ["EXPORTERS", "SCOPES", "Exporter", "export"]


@dataclass(frozen=True)
class Exporter:
    """One export format."""

    name: str                            # --format value
    suffix: str                          # file suffix with the dot, e.g. ".csv"
    mime: str                            # MIME type for downloads
    description: str                     # one line, shown by `latgraph export --list-formats`
    func: Callable[..., bytes]           # (result, *, scope, min_score) -> bytes

    def __call__(self, result: AnalysisResult, *, scope: str = "suspicious",
                 min_score: float | None = None) -> bytes:
        """Run the exporter."""
        return self.func(result, scope=scope, min_score=min_score)

    def filename(self, stem: str = "latgraph") -> str:
        """A default download file name, e.g. ``latgraph-hops.csv``."""
        return f"{stem}-{self.name}{self.suffix}"


EXPORTERS: dict[str, Exporter] = {
    "csv": Exporter(
        "csv", ".csv", "text/csv",
        "Hops, one row per hop with an evidence summary (spreadsheet-safe: formula cells neutralised)",
        tables.hops_csv),
    "csv-paths": Exporter(
        "csv-paths", ".csv", "text/csv",
        "Time-respecting paths, one row per path with the hop chain (spreadsheet-safe)",
        tables.paths_csv),
    "csv-evidence": Exporter(
        "csv-evidence", ".csv", "text/csv",
        "Evidence events of the hops, one row per event with share/service/command-line details",
        tables.evidence_csv),
    "csv-findings": Exporter(
        "csv-findings", ".csv", "text/csv",
        "Findings beside the hops (loopback tests, unknown destinations, local executions), one row "
        "each with its fields (spreadsheet-safe)",
        tables.findings_csv),
    "json": Exporter(
        "json", ".json", "application/json",
        "The versioned result document (same as `latgraph analyze --json`); always the whole result",
        jsonish.result_json),
    "timesketch": Exporter(
        "timesketch", ".jsonl", "application/x-ndjson",
        "Timesketch JSONL: one line per hop and per evidence event (message, datetime, timestamp_desc)",
        jsonish.timesketch_jsonl),
    "graphml": Exporter(
        "graphml", ".graphml", "application/graphml+xml",
        "Host-account graph as GraphML for Gephi / yEd / Cytoscape (attributes flattened to scalars)",
        graphml.graphml),
    "opengraph": Exporter(
        "opengraph", ".json", "application/json",
        "BloodHound OpenGraph JSON (CE >= 8): LGHost/LGAccount nodes, hop edges with evidence",
        opengraph.opengraph),
    "html": Exporter(
        "html", ".html", "text/html",
        "Standalone HTML incident report: patient zero, timeline, paths with evidence, hops (offline)",
        report_html.html_report),
}


def export(name: str, result: AnalysisResult, *, scope: str = "suspicious",
           min_score: float | None = None) -> bytes:
    """Run the exporter called ``name``.

    Raises:
        KeyError: naming the known formats when ``name`` is not one of them.
        ValueError: for a scope not in :data:`SCOPES`.
    """
    if name not in EXPORTERS:
        raise KeyError(f"unknown export format {name!r}; known: {', '.join(EXPORTERS)}")
    if scope not in SCOPES:
        raise ValueError(f"unknown export scope {scope!r}; expected one of {', '.join(SCOPES)}")
    return EXPORTERS[name](result, scope=scope, min_score=min_score)
