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
from graph.rules import Level
from ingest import load_events
from ingest.report import IngestReport
from ingest.schema import coerce_frame, empty_frame, event_count

#: Finding levels shown in the summary, most severe first.
FINDING_LEVELS = tuple(str(lv) for lv in (Level.CRITICAL, Level.HIGH, Level.MEDIUM, Level.LOW))

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]
#: ``on_stage(name)`` when a stage starts: "read", "events" (rules, correlation, scores), "hops"
#: (final scores, paths, patient zero). The UI shows it as the stage of its progress display.
StageCallback = Callable[[str], None]
Inputs = pd.DataFrame | str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def run(inputs: Inputs, *, config: AnalysisConfig | None = None, formats: Sequence[str] | str | None = None,
        engine: str = "pandas", on_progress: ProgressCallback | None = None,
        spark_master: str | None = None, on_stage: StageCallback | None = None) -> AnalysisResult:
    """Analyse log files, folders, archives or case files (or an already-loaded events frame).

    With ``engine="spark"`` and inputs that are all Parquet case files or URLs
    (:func:`is_storage_input`), Spark reads the events itself and only hops reach the driver
    (:func:`analyze_on_spark_storage`); other inputs are read here and the event stage runs on Spark.

    Args:
        inputs: paths (mixed files/folders/.zip/.gz/case files), or a canonical events frame.
        config: analysis settings (default :class:`AnalysisConfig`).
        formats: force an input format (see ``latgraph formats``).
        engine: event-stage engine name (``pandas`` or ``spark``).
        on_progress: ``on_progress(done_files, total_files, path)`` while reading inputs.
        spark_master: Spark master / Spark Connect URL for ``engine="spark"``.
        on_stage: ``on_stage(name)`` as each stage starts (:data:`StageCallback`).

    Returns:
        The :class:`~graph.model.AnalysisResult`; unreadable files are listed in its report.
    """
    config = config or AnalysisConfig()
    if isinstance(inputs, pd.DataFrame):
        events, report = coerce_frame(inputs), IngestReport()
    else:
        paths = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
        if engine == "spark" and formats is None and paths and all(map(is_storage_input, paths)):
            return analyze_on_spark_storage(paths, config, master=spark_master)
        if engine == "spark" and paths and all_lanl(paths, formats):
            return analyze_lanl_on_spark(paths, config, master=spark_master, on_progress=on_progress)
        if on_stage:
            on_stage("read")
        events, report = load_events(paths, formats=formats, on_progress=on_progress)
    return analyze_from_events(events, report, config, engine, on_stage=on_stage)


def is_storage_input(path: str | os.PathLike[str]) -> bool:
    """True for inputs Spark reads itself: a URL (``hdfs://``, ``s3a://``...), a Parquet case file,
    or a folder holding only Parquet files."""
    text = os.fspath(path)
    if "://" in text:
        return True
    if text.endswith((".parquet", ".pq")):
        return True
    if os.path.isdir(text):
        files = [f for f in os.listdir(text) if not f.startswith((".", "_"))]
        return bool(files) and all(f.endswith((".parquet", ".pq")) for f in files)
    return False


def all_lanl(paths: Sequence[str | os.PathLike[str]], formats: Sequence[str] | str | None = None) -> bool:
    """True when every input is a LANL ``auth.txt(.gz)`` (or its ``redteam.txt``): inputs of any size
    that ``--engine spark`` streams to a case file instead of holding them here."""
    from ingest.formats import detect_format, expand_paths

    lanl = {"lanl", "lanl-redteam"}
    if formats is not None:
        names = {formats} if isinstance(formats, str) else set(formats)
        return bool(names) and names <= lanl
    try:
        sources = expand_paths([os.fspath(p) for p in paths])
        return bool(sources) and all(detect_format(src).name in lanl for src in sources)
    except Exception:   # unreadable or unknown inputs: the ordinary path reports them
        return False


def analyze_lanl_on_spark(paths: Sequence[str | os.PathLike[str]], config: AnalysisConfig | None = None, *,
                          master: str | None = None,
                          on_progress: ProgressCallback | None = None) -> AnalysisResult:
    """``--engine spark`` on LANL ``auth.txt(.gz)``: the lines are streamed (bounded memory, repeated
    authentications collapsed) into a temporary case file (:func:`ingest.stream_case.ingest_to_case`,
    as ``latgraph ingest --stream``) that Spark then reads itself (:func:`analyze_on_spark_storage`);
    the result carries the ingest report of the lines and the event count they stand for."""
    import tempfile

    from ingest.stream_case import ingest_to_case

    with tempfile.TemporaryDirectory(prefix="latgraph-lanl-") as tmp:
        case = os.path.join(tmp, "case.parquet")
        _, report = ingest_to_case(paths, case, on_progress=on_progress)
        if not report.kept:
            return analyze_from_events(empty_frame(), report, config, "pandas")
        result = analyze_on_spark_storage([case], config, master=master)
    result.report = report
    result.summary["files"] = len(report.files)
    result.summary["failed_files"] = len(report.failed_files)
    result.summary["events_on"] = "spark storage (auth.txt streamed to a temporary case file)"
    return result


def analyze_on_spark_storage(paths: Sequence[str | os.PathLike[str]], config: AnalysisConfig | None = None,
                             *, master: str | None = None) -> AnalysisResult:
    """Analyse canonical events that Spark reads from (cluster) storage; the events stay there.

    The result's ``events`` frame is empty and its summary carries the event count and time range
    that Spark computed. The hops reach the driver, and for the findings the tagged events with the
    case's IP/name pair counts and logging hosts (``graph.spark.stage.storage_event_stage``; the
    summary's ``findings_skipped`` says why when there were too many). Paths, patient zero and the
    graph are computed on the driver by the same hop stage as every other run.

    Args:
        paths: Parquet case files / folders or URLs Spark can read (see ``graph.spark.io``).
        config: analysis settings.
        master: Spark master or Spark Connect URL (None: ``$LATGRAPH_SPARK_MASTER`` or ``local[*]``).
    """
    from pyspark.sql import functions as F

    from graph.spark.io import read_events
    from graph.spark.session import spark_session
    from graph.spark.stage import storage_event_stage

    config = config or AnalysisConfig()
    names = [os.fspath(p) for p in paths]
    spark = spark_session(master)
    t0 = time.perf_counter()
    n_rows = F.sum(F.coalesce(F.col("repeats"), F.lit(1)))     # events the rows stand for (ingest.schema)
    stats = read_events(spark, names).agg(n_rows.alias("n"), F.min("ts").alias("lo"),
                                          F.max("ts").alias("hi")).first()
    stage = storage_event_stage(spark, names, config)
    t1 = time.perf_counter()
    hs = hop_stage(stage.hops, config)
    t2 = time.perf_counter()
    report = IngestReport()
    for name in names:
        report.add(name, "spark-storage")
    n_events = int(stats["n"]) if stats is not None else 0
    result = AnalysisResult(events=empty_frame(), report=report, config=config,
                            tags=pd.DataFrame(columns=["event_index", "rule_id", "level"]),
                            hops=hs.hops.reset_index(drop=True), graph=hs.graph, paths=hs.paths,
                            patient_zero=hs.patient_zero, compromised=hs.compromised,
                            findings=stage.stage.findings, routine_groups=list(hs.routine_groups))
    result.summary = summarize(result, engine="spark", timings={"event_stage_s": round(t1 - t0, 3),
                                                               "hop_stage_s": round(t2 - t1, 3)})
    if stage.findings_skipped:
        log.warning("no findings: %s", stage.findings_skipped)
        result.summary["findings_skipped"] = stage.findings_skipped
    result.summary["events"] = n_events
    if n_events:
        result.summary["time_range"] = [
            pd.Timestamp(int(stats[k]), unit="ns", tz="UTC").isoformat().replace("+00:00", "Z")
            for k in ("lo", "hi")]
    result.summary["events_on"] = "spark storage"
    return result


def analyze_from_events(events: pd.DataFrame, report: IngestReport, config: AnalysisConfig | None = None,
                        engine: str = "pandas", *, on_stage: StageCallback | None = None) -> AnalysisResult:
    """Analyse a canonical events frame (the UI re-runs this with new settings)."""
    config = config or AnalysisConfig()
    events = events.reset_index(drop=True)
    t0 = time.perf_counter()
    if on_stage:
        on_stage("events")
    ev = event_stage(events, config, engine)
    t1 = time.perf_counter()
    if on_stage:
        on_stage("hops")
    hs = hop_stage(ev.hops, config)
    t2 = time.perf_counter()
    log.info("event stage %.2fs (%s), hop stage %.2fs", t1 - t0, engine, t2 - t1)
    tags = ev.tags if ev.tags is not None else pd.DataFrame(columns=["event_index", "rule_id", "level"])
    result = AnalysisResult(events=events, report=report, config=config, tags=tags,
                            hops=hs.hops.reset_index(drop=True), graph=hs.graph, paths=hs.paths,
                            patient_zero=hs.patient_zero, compromised=hs.compromised,
                            findings=ev.findings, routine_groups=list(hs.routine_groups))
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
    found = result.findings
    by_level = found["level"].astype(str).value_counts() if found is not None and len(found) else {}
    return {
        "events": event_count(events),
        "files": len(result.report.files),
        "failed_files": len(result.report.failed_files),
        "time_range": span,
        "hops": len(hops),
        "hops_by_severity": {s.value: int(sev.get(s.value, 0)) for s in Severity},
        "findings": 0 if found is None else len(found),
        "findings_by_level": {lv: int(by_level.get(lv, 0)) for lv in FINDING_LEVELS},
        "compromised_hosts": 0 if result.compromised is None else len(result.compromised),
        "paths": len(result.paths),
        "routine_groups": len(result.routine_groups),
        "patient_zero": pz,
        "engine": engine,
        "min_score": result.config.min_score,
        "max_path_gap_s": result.config.max_path_gap_s,
        **({"timings": timings} if timings else {}),
    }
