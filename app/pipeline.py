"""The one orchestration function: inputs -> canonical events -> analysis result.

The CLI, the exports and the UI all call :func:`run` (or :func:`analyze_from_events` when the
events are already loaded). The event stage runs on the chosen engine (:data:`graph.engine.ENGINES`),
the hop stage always in pandas.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from graph.config import AnalysisConfig
from graph.engine import event_stage, hop_stage
from graph.model import AnalysisResult, Severity
from ingest import load_events
from ingest.report import IngestReport
from ingest.schema import coerce_frame

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]
Inputs = pd.DataFrame | str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def run(inputs: Inputs, *, config: AnalysisConfig | None = None, formats: Sequence[str] | str | None = None,
        engine: str = "pandas", on_progress: ProgressCallback | None = None) -> AnalysisResult:
    """Analyse log files, folders, archives or case files (or an already-loaded events frame).

    Args:
        inputs: paths (mixed files/folders/.zip/.gz/case files), or a canonical events frame.
        config: analysis settings (default :class:`AnalysisConfig`).
        formats: force an input format (see ``latgraph formats``).
        engine: event-stage engine name (``pandas`` or ``spark``).
        on_progress: ``on_progress(done_files, total_files, path)`` while reading inputs.

    Returns:
        The :class:`~graph.model.AnalysisResult`; unreadable files are listed in its report.
    """
    config = config or AnalysisConfig()
    if isinstance(inputs, pd.DataFrame):
        events, report = coerce_frame(inputs), IngestReport()
    else:
        paths = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
        events, report = load_events(paths, formats=formats, on_progress=on_progress)
    return analyze_from_events(events, report, config, engine)


def analyze_from_events(events: pd.DataFrame, report: IngestReport, config: AnalysisConfig | None = None,
                        engine: str = "pandas") -> AnalysisResult:
    """Analyse a canonical events frame (the UI re-runs this with new settings)."""
    config = config or AnalysisConfig()
    events = events.reset_index(drop=True)
    t0 = time.perf_counter()
    ev = event_stage(events, config, engine)
    t1 = time.perf_counter()
    hs = hop_stage(ev.hops, config)
    t2 = time.perf_counter()
    log.info("event stage %.2fs (%s), hop stage %.2fs", t1 - t0, engine, t2 - t1)
    tags = ev.tags if ev.tags is not None else pd.DataFrame(columns=["event_index", "rule_id", "level"])
    result = AnalysisResult(events=events, report=report, config=config, tags=tags,
                            hops=hs.hops.reset_index(drop=True), graph=hs.graph, paths=hs.paths,
                            patient_zero=hs.patient_zero, compromised=hs.compromised)
    result.summary = summarize(result, engine=engine, timings={"event_stage_s": round(t1 - t0, 3),
                                                              "hop_stage_s": round(t2 - t1, 3)})
    return result


def summarize(result: AnalysisResult, *, engine: str = "pandas",
              timings: dict[str, float] | None = None) -> dict[str, Any]:
    """The ``summary`` object of the JSON result."""
    hops, events = result.hops, result.events
    sev = hops["severity"].astype(str).value_counts() if len(hops) else pd.Series(dtype="int64")
    span = None
    if len(events):
        span = [events["ts"].min().isoformat().replace("+00:00", "Z"),
                events["ts"].max().isoformat().replace("+00:00", "Z")]
    pz = result.patient_zero[0].host if result.patient_zero else None
    return {
        "events": len(events),
        "files": len(result.report.files),
        "failed_files": len(result.report.failed_files),
        "time_range": span,
        "hops": len(hops),
        "hops_by_severity": {s.value: int(sev.get(s.value, 0)) for s in Severity},
        "compromised_hosts": 0 if result.compromised is None else len(result.compromised),
        "paths": len(result.paths),
        "patient_zero": pz,
        "engine": engine,
        "min_score": result.config.min_score,
        "max_path_gap_s": result.config.max_path_gap_s,
        **({"timings": timings} if timings else {}),
    }
