"""All UI state in one place: session-state keys, every ``st.cache_*`` wrapper, and loading.

Pages read and write session state only through the constants and functions here, and call
``app.pipeline`` / ``ingest`` / ``app.exports`` only through this module, so caching, the upload
folder and the Neo4j hook live in one file.

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
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import streamlit as st

from app.ui import background
from app.ui.view import View, ViewOptions
from graph.config import AnalysisConfig
from graph.model import AnalysisResult

REPO = Path(__file__).resolve().parents[2]
#: The bundled demo case (``latgraph simulate --seed 7 --out data/demo``, as ``make demo`` does).
DEMO_DIR = Path(os.environ.get("LATGRAPH_DEMO_DIR", REPO / "data" / "demo"))
DEMO_SEED = 7

# ---- session-state keys (page widgets use "<page>.<widget>" keys of their own) ----
RESULT = "latgraph.result"              # AnalysisResult shown on every page
EVENTS = "latgraph.events"              # (events frame, IngestReport) of the loaded data
SOURCE = "latgraph.source"              # human-readable description of what is loaded
CONFIG = "latgraph.config"              # AnalysisConfig of RESULT
RUN_ID = "latgraph.run_id"              # new uuid on every load/re-run: part of every cache key
EVENTS_ID = "latgraph.events_id"        # uuid of the loaded events: part of the analysis cache key
SELECTED_PATH = "latgraph.selected_path"  # index into result.paths, or None
UPLOAD_DIR = "latgraph.upload_dir"      # the session's private temp folder for uploads
STARTUP_DONE = "latgraph.startup_done"  # the `latgraph ui INPUT...` inputs were loaded
NEO4J_CONN = "latgraph.neo4j_conn"      # (uri, user, password, database) when RESULT came from Neo4j
THRESHOLD = "latgraph.threshold"        # the sidebar's minimum hop score (widget key)
GRAPH_OPTS = "latgraph.graph_opts"      # ViewOptions of the graph on screen (the graph.html export)
LOADED_AT = "latgraph.loaded_at"        # UTC time the case was loaded (export file names)
THRESHOLD_RUN = "latgraph.threshold_run"  # run id the sidebar slider was last synced to
KEPT = "latgraph.kept."                 # prefix: copies of page widget values that outlive the page
ENGINE = "pandas"
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


def max_upload_mb() -> int:
    """The upload size limit in MB (``server.maxUploadSize``, set by ``latgraph ui --max-upload-mb``)."""
    return int(st.get_option("server.maxUploadSize"))


# ---- reading the session ----

def result() -> AnalysisResult | None:
    """The loaded result, or None."""
    return st.session_state.get(RESULT)


def source() -> str:
    """What is loaded, for captions."""
    return str(st.session_state.get(SOURCE, "nothing loaded"))


def config() -> AnalysisConfig:
    """The analysis settings in use."""
    return st.session_state.get(CONFIG) or AnalysisConfig()


def run_id() -> str:
    """An id that changes whenever new data is loaded or re-analysed."""
    return str(st.session_state.get(RUN_ID, ""))


def keep(key: str, default: Any) -> Any:
    """Give the widget ``key`` its remembered value (or ``default``) and remember it across pages.

    Streamlit forgets a widget's value when its page is left; call this before creating the
    widget (without a value argument): the value is restored from a copy kept under
    :data:`KEPT` and the copy is refreshed on every run of the page.
    """
    kept = KEPT + key
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(kept, default)
    st.session_state[kept] = st.session_state[key]
    return st.session_state[key]


def forget_page_state() -> None:
    """Drop remembered page state (filters, selections) that belongs to the previous case."""
    for k in list(st.session_state.keys()):
        name = str(k)
        if name.startswith(KEPT) or name.endswith(".selection") or name in (GRAPH_OPTS,):
            del st.session_state[k]


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


def threshold() -> float:
    """The minimum hop score in force (that of the shown result)."""
    return float(config().min_score)


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


def set_result(res: AnalysisResult, label: str, events: tuple[Any, Any] | None = None) -> None:
    """Make ``res`` the shown result (pages read it from here)."""
    import datetime as _dt

    if st.session_state.get(SOURCE) != label or st.session_state.get(LOADED_AT) is None:
        st.session_state[LOADED_AT] = _dt.datetime.now(_dt.UTC)
    st.session_state[RESULT] = res
    st.session_state[SOURCE] = label
    st.session_state[CONFIG] = res.config
    if events is None or st.session_state.get(EVENTS) is not events:
        st.session_state[EVENTS_ID] = uuid.uuid4().hex
    st.session_state[EVENTS] = events if events is not None else (res.events, res.report)
    st.session_state[RUN_ID] = uuid.uuid4().hex
    st.session_state[SELECTED_PATH] = None


def select_path(index: int | None) -> None:
    """Remember the path chosen on the Paths page (highlighted on the graph)."""
    st.session_state[SELECTED_PATH] = index


def selected_path() -> int | None:
    """Index of the selected path, or None."""
    return st.session_state.get(SELECTED_PATH)


# ---- loading ----

def sanitize_filename(name: str) -> str:
    """A safe base name for an uploaded file: no directories, no ``..``, no control characters.

    Raises:
        ValueError: when nothing usable is left.

    Examples:
        >>> sanitize_filename("../../etc/passwd")
        'passwd'
        >>> sanitize_filename("C:\\\\logs\\\\Security.evtx")
        'Security.evtx'
    """
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip()
    if base in ("", ".", "..") or base.startswith(".."):
        raise ValueError(f"unusable upload file name {name!r}")
    return base[:200]


def save_uploads(files: Iterable[Any]) -> list[Path]:
    """Write uploaded files into this session's private temp folder; return their paths."""
    folder = Path(st.session_state.get(UPLOAD_DIR) or tempfile.mkdtemp(prefix="latgraph-upload-"))
    st.session_state[UPLOAD_DIR] = str(folder)
    out: list[Path] = []
    for f in files:
        target = (folder / sanitize_filename(f.name)).resolve()
        if target.parent != folder.resolve():
            raise ValueError(f"upload {f.name!r} would leave the upload folder")
        target.write_bytes(f.getvalue())
        out.append(target)
    return out


#: Loading stages and their share of the progress bar (defined with the background job).
STAGES = background.STAGES


class StagedProgress(background.Progress):
    """A progress display naming the stage, its number and the overall percentage, on ``bar``.

    ``stage(name)`` is the pipeline's ``on_stage``; ``files(done, total, path)`` its
    ``on_progress`` (per-file progress inside the reading stage). Percentages move at stage
    boundaries and per file, never on a timer.
    """

    def __init__(self, bar: Any) -> None:
        super().__init__()
        self.bar = bar

    def _show(self) -> None:
        self.bar.progress(*self.snapshot())


def progress_callback(bar: Any) -> Callable[..., None]:
    """An ``on_progress`` callback driving a ``st.progress`` bar.

    Accepts ``(fraction)``, ``(done, total)`` or ``(done, total, message)`` and keyword forms, so
    it works with whatever the ingest layer reports.
    """
    def update(*args: Any, **kwargs: Any) -> None:
        nums = [a for a in args if isinstance(a, int | float) and not isinstance(a, bool)]
        rest = [a for a in args if a not in nums]
        text = Path(str(rest[0])).name if rest else str(kwargs.get("message") or kwargs.get("path") or "")
        done = kwargs.get("done", nums[0] if nums else None)
        total = kwargs.get("total", nums[1] if len(nums) > 1 else None)
        if done is None:
            return
        frac = float(done) / float(total) if total else float(done)
        bar.progress(min(1.0, max(0.0, frac)), text=f"Reading logs... {text}".strip())
    return update


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
