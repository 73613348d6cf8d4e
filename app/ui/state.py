"""All UI state through one module: session-state keys, every ``st.cache_*`` wrapper, and loading.

Pages read and write session state only through the constants and functions here, and call
``app.pipeline`` / ``ingest`` / ``app.exports`` only through this module, so caching, the upload
folder and the Neo4j hook are reached from one module. The keys and the session readers live in
:mod:`app.ui.session`, the URL's query parameters in :mod:`app.ui.url_params`, uploads and load
progress in :mod:`app.ui.uploads`, the derived cached views in :mod:`app.ui.derived`; this module
re-exports them and holds the loading, re-analysis and threshold steps.

Loading keeps the canonical events in the session so the Settings page can re-run the analysis
(``app.pipeline.analyze_from_events``) without reading the files again; each (events, config)
analysis is cached with ``st.cache_resource`` (results are large and never mutated).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import streamlit as st

from app.ui.derived import (
    case_name,
    export_callable,
    export_stem,
    exporters,
    file_safe,
    graph_view,
)
from app.ui.session import (
    CONFIG,
    ENGINE,
    EVENTS,
    EVENTS_ID,
    GRAPH_OPTS,
    KEPT,
    LOADED_AT,
    NEO4J_CONN,
    RESULT,
    RUN_ID,
    SELECTED_PATH,
    SOURCE,
    STARTUP_DONE,
    THRESHOLD,
    THRESHOLD_RUN,
    UPLOAD_DIR,
    config,
    forget_page_state,
    keep,
    result,
    run_id,
    select_path,
    selected_path,
    set_result,
    source,
    threshold,
)
from app.ui.uploads import (
    STAGES,
    StagedProgress,
    max_upload_mb,
    progress_callback,
    sanitize_filename,
    save_uploads,
)
from app.ui.url_params import (
    URL,
    URL_PATH,
    URL_RESTORED,
    URL_SEL,
    URL_SEL_HOPS,
    url_float,
    url_put_selection,
    url_selection,
    url_set,
)
from graph.config import AnalysisConfig
from graph.model import AnalysisResult

__all__ = [
    "CONFIG",
    "DEMO_DIR",
    "DEMO_SEED",
    "ENGINE",
    "EVENTS",
    "EVENTS_ID",
    "GRAPH_OPTS",
    "KEPT",
    "LOADED_AT",
    "LOAD_TIMINGS",
    "NEO4J_CONN",
    "REPO",
    "RESULT",
    "RUN_ID",
    "SELECTED_PATH",
    "SOURCE",
    "STAGES",
    "STARTUP_DONE",
    "THRESHOLD",
    "THRESHOLD_RUN",
    "UPLOAD_DIR",
    "URL",
    "URL_PATH",
    "URL_RESTORED",
    "URL_SEL",
    "URL_SEL_HOPS",
    "StagedProgress",
    "adopt_result",
    "analyze",
    "case_name",
    "config",
    "demo_inputs",
    "export_callable",
    "export_stem",
    "exporters",
    "file_safe",
    "forget_page_state",
    "graph_view",
    "keep",
    "load_from_neo4j",
    "load_paths",
    "max_upload_mb",
    "progress_callback",
    "rerun_with",
    "restore_from_url",
    "result",
    "run_id",
    "sanitize_filename",
    "save_uploads",
    "select_path",
    "selected_path",
    "set_result",
    "set_threshold",
    "settings_config",
    "source",
    "threshold",
    "url_float",
    "url_put_selection",
    "url_selection",
    "url_set",
]

REPO = Path(__file__).resolve().parents[2]
#: The bundled demo case (``latgraph simulate --seed 7 --out data/demo``, as ``make demo`` does).
DEMO_DIR = Path(os.environ.get("LATGRAPH_DEMO_DIR", REPO / "data" / "demo"))
DEMO_SEED = 7


def restore_from_url() -> None:
    """Once per session, when a case is loaded: apply the threshold and the selected path that the
    URL carries (a reloaded page or a shared link). Widget values bound to the URL restore
    themselves; these two are analysis state, not widget values."""
    if st.session_state.get(URL_RESTORED) or result() is None:
        return
    st.session_state[URL_RESTORED] = True
    wanted = url_float(THRESHOLD)
    if wanted is not None and abs(wanted - threshold()) > 1e-9:
        set_threshold(wanted)
    rank = st.query_params.get(URL_PATH, "")
    res = result()
    if rank.isdigit() and res is not None and 1 <= int(rank) <= len(res.paths):
        select_path(int(rank) - 1)


def set_threshold(value: float) -> AnalysisResult | None:
    """Re-run the hop stage of the loaded result under a new minimum score (no event re-read).

    ``min_score`` only changes which hops are suspicious (paths, compromised hosts, patient
    zero), all of which the hop stage computes from the scored hops; a Neo4j case is re-read.
    """
    res = result()
    if res is None or abs(float(value) - res.config.min_score) < 1e-9:
        return res
    cfg = replace(res.config, min_score=float(value))
    if st.session_state.get(NEO4J_CONN) is not None:
        return load_from_neo4j(*st.session_state[NEO4J_CONN], cfg=cfg)
    new = _rethreshold_cached(res, run_id(), repr(cfg), cfg)
    label, events = source(), st.session_state.get(EVENTS)
    keep_path = selected_path()
    set_result(new, label, events)
    if keep_path is not None and keep_path < len(new.paths):
        st.session_state[SELECTED_PATH] = keep_path
    return new


@st.cache_resource(max_entries=8, show_spinner="Applying the threshold...")
def _rethreshold_cached(_res: AnalysisResult, rid: str, config_key: str,
                        _cfg: AnalysisConfig) -> AnalysisResult:
    from app.pipeline import summarize
    from graph.engine import hop_stage

    hs = hop_stage(_res.hops, _cfg)
    out = AnalysisResult(events=_res.events, report=_res.report, config=_cfg, tags=_res.tags,
                         hops=hs.hops.reset_index(drop=True), graph=hs.graph, paths=hs.paths,
                         patient_zero=hs.patient_zero, compromised=hs.compromised,
                         findings=getattr(_res, "findings", None),
                         routine_groups=list(hs.routine_groups))
    before = _res.summary or {}
    out.summary = {**before, **summarize(out, engine=before.get("engine", ENGINE))}
    return out



# ---- loading ----

LOAD_TIMINGS = "latgraph.load_timings"  # stage timings of the last load (seconds)


def load_paths(paths: list[str | Path], label: str, on_progress: Callable[..., None] | None = None,
               cfg: AnalysisConfig | None = None, *,
               progress: StagedProgress | None = None) -> AnalysisResult:
    """Ingest files/folders/case files with ``app.pipeline.run`` and make the result current.

    ``progress`` (a :class:`StagedProgress`) shows the stage and percentage as the run goes.
    The result carries the canonical events and the ingest report, which the Settings page
    re-analyses without reading the files again.
    """
    from app.pipeline import run

    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"not found on the server: {', '.join(missing)}")
    cfg = cfg or config()
    if progress is not None:
        res = run([Path(p) for p in paths], config=cfg, engine=ENGINE, on_progress=progress.files,
                  on_stage=progress.stage)
        st.session_state[LOAD_TIMINGS] = progress.finish()
    else:
        res = run([Path(p) for p in paths], config=cfg, engine=ENGINE, on_progress=on_progress)
    forget_page_state()
    st.session_state[LOADED_AT] = None
    st.session_state[EVENTS] = (res.events, res.report)
    st.session_state[EVENTS_ID] = uuid.uuid4().hex
    st.session_state[NEO4J_CONN] = None
    set_result(res, label, st.session_state[EVENTS])
    return res


def adopt_result(res: AnalysisResult, label: str, timings: dict[str, float] | None = None) -> None:
    """Make an already-analysed case current, as :func:`load_paths` does after reading it."""
    forget_page_state()
    st.session_state[LOADED_AT] = None
    st.session_state[EVENTS] = (res.events, res.report)
    st.session_state[EVENTS_ID] = uuid.uuid4().hex
    st.session_state[NEO4J_CONN] = None
    st.session_state[LOAD_TIMINGS] = dict(timings or {})
    set_result(res, label, st.session_state[EVENTS])


def analyze(events: Any, report: Any, cfg: AnalysisConfig) -> AnalysisResult:
    """Run (or fetch from the cache) the analysis of the session's events under ``cfg``."""
    key = str(st.session_state.get(EVENTS_ID) or uuid.uuid4().hex)
    return _analyze_cached(events, report, key, repr(cfg), cfg)


@st.cache_resource(max_entries=6, show_spinner="Analysing...")
def _analyze_cached(_events: Any, _report: Any, events_key: str, config_key: str,
                    _cfg: AnalysisConfig) -> AnalysisResult:
    from app.pipeline import analyze_from_events

    return analyze_from_events(_events, _report, _cfg, ENGINE)


def rerun_with(cfg: AnalysisConfig) -> AnalysisResult:
    """Re-analyse the loaded events with new settings (Settings page); a Neo4j case is re-read."""
    conn = st.session_state.get(NEO4J_CONN)
    if conn is not None:
        return load_from_neo4j(*conn, cfg=cfg)
    loaded = st.session_state.get(EVENTS)
    if loaded is None:
        raise RuntimeError("load data first")
    events, report = loaded
    res = analyze(events, report, cfg)
    set_result(res, source(), loaded)
    return res


def settings_config(min_score: float, max_gap_h: float, hosts: str, accounts: str) -> AnalysisConfig:
    """An AnalysisConfig from the Settings widgets (hosts upper-cased, accounts lower-cased)."""
    def split(text: str) -> list[str]:
        return [t.strip() for t in re.split(r"[\s,;]+", text) if t.strip()]
    return replace(config(), min_score=float(min_score), max_path_gap_s=float(max_gap_h) * 3600.0,
                   allowlist_hosts=frozenset(h.upper() for h in split(hosts)),
                   allowlist_accounts=frozenset(a.lower() for a in split(accounts)))


def demo_inputs() -> list[Path]:
    """The bundled demo case; generated with ``latgraph simulate`` when absent."""
    events = DEMO_DIR / "events"
    if not events.exists():
        target = DEMO_DIR
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError:
            target = Path(tempfile.mkdtemp(prefix="latgraph-demo-"))
        cmd = [sys.executable, "-c", "from app.cli import cli; cli()", "simulate",
               "--seed", str(DEMO_SEED), "--out", str(target)]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"could not generate the demo case: {done.stderr.strip()[-500:]}")
        events = target / "events"
    return [events]


def load_from_neo4j(uri: str, user: str, password: str, database: str,
                    cfg: AnalysisConfig | None = None) -> AnalysisResult:
    """Load the case stored in Neo4j with ``graph.neo4j_store.load_result`` (stored hops; paths and
    patient zero computed in Cypher under the current settings). Neo4j holds no raw events.

    Raises:
        RuntimeError: with a clear message when Neo4j support is not available.
    """
    try:
        from graph import neo4j_store
    except ImportError as exc:
        raise RuntimeError("Neo4j loading is not available in this build (graph.neo4j_store is "
                           "missing); load files or the demo instead.") from exc
    loader = getattr(neo4j_store, "load_result", None)
    if loader is None:
        raise RuntimeError("graph.neo4j_store has no load_result(uri, user, password, database) yet.")
    res = loader(uri, user, password, database, config=cfg or config())
    st.session_state.pop(LOAD_TIMINGS, None)
    set_result(res, f"Neo4j {uri} / {database}")
    st.session_state[NEO4J_CONN] = (uri, user, password, database)
    return res
