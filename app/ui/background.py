"""The command-line case of ``latgraph ui CASE``, analysed in a background thread from server start.

``latgraph ui CASE`` names the case before any browser is open, so the server starts reading and
analysing it as it boots (:func:`start_boot_load`, called from the boot line's preload thread,
``app/ui/preload.py``) instead of waiting for the first browser session. A session that arrives
while the job runs shows the job's own stage and percentage (:class:`Progress`, fed by the
pipeline's ``on_stage``/``on_progress`` hooks) until the result is there; later sessions (a reload,
a second tab) get the finished result at once. A job is keyed by the input files (path, size,
mtime) and the analysis settings, so a changed file or other settings start a new analysis.

This module imports no Streamlit (it runs before the Streamlit server is up).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graph.config import AnalysisConfig

#: Loading stages: (name, start, end) share of the progress bar. The shares follow the measured
#: cost on the 1M-event case (bench/ui.py): reading ~40 %, the event stage ~55 %, the rest ~5 %.
STAGES: dict[str, tuple[str, float, float]] = {
    "read": ("Reading logs", 0.0, 0.40),
    "events": ("Analysing events: rules, correlation, scores", 0.40, 0.95),
    "hops": ("Paths, compromised hosts, patient zero", 0.95, 1.0),
}

#: Set by ``latgraph ui`` in the server's environment: its command line carries inputs after ``--``.
ARGV_FLAG = "LATGRAPH_UI_ARGV"


class Progress:
    """Where a load is: the stage, its number, the overall percentage, the elapsed time.

    ``stage(name)`` is the pipeline's ``on_stage``; ``files(done, total, path)`` its
    ``on_progress`` (per-file progress inside the reading stage). Percentages move at stage
    boundaries and per file, never on a timer. :meth:`snapshot` is the ``(fraction, text)`` a
    progress bar shows; subclasses push it to a bar in :meth:`_show`.
    """

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self._start, self.name, self.timings = self.t0, "read", {}
        self._frac, self._detail = 0.0, ""

    def snapshot(self) -> tuple[float, str]:
        """``(overall fraction, "Step n of 3: stage (detail) · pct · elapsed")`` right now."""
        label, lo, hi = STAGES[self.name]
        pct = lo + (hi - lo) * min(1.0, max(0.0, self._frac))
        n = list(STAGES).index(self.name) + 1
        return pct, (f"Step {n} of {len(STAGES)}: {label}{self._detail} · {pct:.0%} · "
                     f"{time.perf_counter() - self.t0:.1f} s")

    def _set(self, frac: float, detail: str = "") -> None:
        self._frac, self._detail = frac, detail
        self._show()

    def _show(self) -> None:
        """Push :meth:`snapshot` to a display (nothing here: a session polls the job)."""

    def stage(self, name: str) -> None:
        """A stage starts (records how long the previous one took)."""
        now = time.perf_counter()
        if name in STAGES:
            self.timings[self.name] = round(now - self._start, 2)
            self.name, self._start = name, now
            self._set(0.0)

    def files(self, done: int, total: int, path: Any = "") -> None:
        """One more input file read."""
        self._set(done / total if total else 1.0, f" ({done:,} of {total:,} files: {Path(str(path)).name})")

    def finish(self) -> dict[str, float]:
        """Stage timings in seconds (read, events, hops, total)."""
        now = time.perf_counter()
        self.timings[self.name] = round(now - self._start, 2)
        self.timings["total"] = round(now - self.t0, 2)
        return dict(self.timings)


def signature(inputs: Sequence[str]) -> tuple:
    """What the inputs are now: every file under them with its size and mtime."""
    sig = []
    for name in inputs:
        root = Path(name)
        files = [root] if root.is_file() else sorted(f for f in root.rglob("*") if f.is_file())
        for f in files:
            st_ = f.stat()
            sig.append((str(f.resolve()), st_.st_size, st_.st_mtime_ns))
    return tuple(sig)


def job_key(inputs: Sequence[str], cfg: AnalysisConfig) -> tuple:
    """The key of an analysis of ``inputs`` under ``cfg``: changes when a file or a setting does."""
    return (signature(inputs), repr(cfg))


class Job:
    """One analysis of the command-line inputs, run in a daemon thread."""

    def __init__(self, key: tuple, inputs: Sequence[str], cfg: AnalysisConfig) -> None:
        self.key, self.inputs, self.cfg = key, list(inputs), cfg
        self.progress = Progress()
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None
        self.timings: dict[str, float] = {}
        self.thread = threading.Thread(target=self._run, daemon=True, name="latgraph-cli-case")

    def _run(self) -> None:
        try:
            from app.pipeline import run

            self.result = run([Path(p) for p in self.inputs], config=self.cfg, engine="pandas",
                              on_progress=self.progress.files, on_stage=self.progress.stage)
            self.timings = self.progress.finish()
        except BaseException as exc:  # handed to the session that waits for it, which shows it
            self.error = exc
        finally:
            self.done.set()


_JOBS: dict[tuple, Job] = {}
_LOCK = threading.Lock()


def job(inputs: Sequence[str], cfg: AnalysisConfig, *, start: bool = True) -> Job | None:
    """The job analysing ``inputs`` under ``cfg`` (running or finished); a new one is started when
    none matches (``start``), replacing any other: one command-line case per server."""
    key = job_key(inputs, cfg)
    with _LOCK:
        found = _JOBS.get(key)
        if found is None and start:
            _JOBS.clear()
            found = _JOBS[key] = Job(key, inputs, cfg)
            found.thread.start()
        return found


def forget(failed: Job) -> None:
    """Drop a failed job, so that the next session (a reload) tries again."""
    with _LOCK:
        if _JOBS.get(failed.key) is failed:
            del _JOBS[failed.key]


def boot_inputs(argv: Sequence[str] | None = None) -> list[str]:
    """The inputs on the server's own command line (``python -c BOOT run app.py ... -- INPUT...``),
    when ``latgraph ui`` started it ([] otherwise)."""
    argv = list(sys.argv if argv is None else argv)
    if os.environ.get(ARGV_FLAG) != "1" or "--" not in argv:
        return []
    return [a for a in argv[argv.index("--") + 1:] if a]


def start_boot_load() -> Job | None:
    """Start analysing the command-line case as the server boots (default settings, as a first
    session would); None when there is nothing to load or an input is missing (the session then
    reports it)."""
    inputs = boot_inputs()
    if not inputs or not all(Path(p).exists() for p in inputs):
        return None
    return job(inputs, AnalysisConfig())
