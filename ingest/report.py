"""The ingest report: what was read, kept and skipped, per file, with reasons.

Nothing is dropped silently: every record a reader does not turn into an :class:`~ingest.schema.Event`
is counted here under a reason, and every unreadable file is listed with its error.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ingest.terminal import term_safe

#: How many example problems are kept per file (the rest are only counted).
MAX_EXAMPLES = 20

# Skip reasons used by the readers (a reader may add its own; these are the common ones).
SKIP_EVENT_ID = "event id not kept"        # filtered out on purpose: not a problem
SKIP_MALFORMED = "malformed record"
SKIP_NO_TIME = "no timestamp"
SKIP_NO_EVENT_ID = "no event id"
SKIP_UNKNOWN_SHAPE = "unrecognised record shape"
SKIP_LABELS = "label file, not events"   # e.g. LANL redteam.txt: read with its own function

#: Skip reasons that are not problems (the data was read fine, we just do not need it).
BENIGN_REASONS = frozenset({SKIP_EVENT_ID, SKIP_LABELS})


@dataclass
class FileReport:
    """Counts for one input file (an archive member counts as its own file: ``a.zip!b.json``)."""

    path: str
    format: str = ""
    records_read: int = 0
    kept: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    event_ids: Counter[str] = field(default_factory=Counter)   # "Security:4624" -> count (kept)
    hosts: Counter[str] = field(default_factory=Counter)       # kept events per host
    first_ts: datetime | None = None
    last_ts: datetime | None = None
    problems: list[str] = field(default_factory=list)          # first MAX_EXAMPLES messages
    error: str | None = None                                   # the file could not be read
    #: problems that did not drop a record (e.g. EVTX records kept from a chunk whose checksum
    #: failed), by reason; each counts as a problem
    warnings: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)             # informational, not problems

    def skip(self, reason: str, example: str | None = None) -> None:
        """Count one skipped record; keep ``example`` (which should name the record) if room."""
        self.skipped[reason] += 1
        if example is not None and reason not in BENIGN_REASONS:
            self.problem(example)

    def skip_many(self, reason: str, count: int, example: str | None = None) -> None:
        """Count ``count`` records skipped for one cause (e.g. an unreadable EVTX chunk) as read and
        skipped, with one example message."""
        self.records_read += count
        self.skipped[reason] += count
        if example is not None and reason not in BENIGN_REASONS:
            self.problem(example)

    def warn(self, reason: str, message: str) -> None:
        """Count a problem that did not drop a record (``reason``) and keep its message."""
        self.warnings[reason] += 1
        self.problem(message)

    def note(self, message: str) -> None:
        """Keep an informational message (not a problem; bounded)."""
        if len(self.notes) < MAX_EXAMPLES:
            self.notes.append(message)

    def problem(self, message: str) -> None:
        """Keep a problem message (bounded); the count lives in ``skipped`` or ``error``."""
        if len(self.problems) < MAX_EXAMPLES:
            self.problems.append(message)

    @property
    def problem_count(self) -> int:
        """Records skipped for a reason that is a real problem, plus 1 if the file failed."""
        bad = sum(n for r, n in self.skipped.items() if r not in BENIGN_REASONS)
        return bad + sum(self.warnings.values()) + (1 if self.error else 0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "path": self.path,
            "format": self.format,
            "records_read": self.records_read,
            "kept": self.kept,
            "skipped": dict(self.skipped),
            "event_ids": dict(self.event_ids),
            "hosts": dict(self.hosts),
            "first_ts": self.first_ts.isoformat() if self.first_ts else None,
            "last_ts": self.last_ts.isoformat() if self.last_ts else None,
            "problems": list(self.problems),
            "warnings": dict(self.warnings),
            "notes": list(self.notes),
            "error": self.error,
        }


@dataclass
class IngestReport:
    """The report of one ingest run over many files."""

    files: list[FileReport] = field(default_factory=list)

    def add(self, path: str, fmt: str = "") -> FileReport:
        """Start the report of one more file and return it."""
        fr = FileReport(path=path, format=fmt)
        self.files.append(fr)
        return fr

    def merge(self, other: IngestReport) -> None:
        """Append the files of another report (e.g. from a worker process)."""
        self.files.extend(other.files)

    @property
    def kept(self) -> int:
        """Events kept over all files."""
        return sum(f.kept for f in self.files)

    @property
    def records_read(self) -> int:
        """Records read over all files."""
        return sum(f.records_read for f in self.files)

    @property
    def failed_files(self) -> list[FileReport]:
        """Files that could not be read at all."""
        return [f for f in self.files if f.error]

    @property
    def problem_count(self) -> int:
        """Problems over all files (failed files + records skipped for a real problem)."""
        return sum(f.problem_count for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with totals and per-file entries."""
        return {
            "files": [f.to_dict() for f in self.files],
            "totals": {
                "files": len(self.files),
                "failed_files": len(self.failed_files),
                "records_read": self.records_read,
                "kept": self.kept,
                "problems": self.problem_count,
            },
        }

    def format_text(self, max_problems: int = 5) -> str:
        """A human-readable report (printed to stderr by the CLI)."""
        lines = [
            f"ingest: {len(self.files)} file(s), {self.records_read} records read, "
            f"{self.kept} events kept, {len(self.failed_files)} file(s) failed, "
            f"{self.problem_count} problem(s)"
        ]
        for f in self.files:
            if f.error:
                lines.append(f"  ERROR {f.path}: {f.error}")
                continue
            span = ""
            if f.first_ts and f.last_ts:
                span = f" {f.first_ts:%Y-%m-%dT%H:%M:%SZ}..{f.last_ts:%Y-%m-%dT%H:%M:%SZ}"
            skipped = ", ".join(f"{n} {r}" for r, n in f.skipped.most_common())
            lines.append(
                f"  {f.path} [{f.format}] read {f.records_read}, kept {f.kept}"
                + (f", skipped: {skipped}" if skipped else "") + span
            )
            if f.event_ids:
                ids = ", ".join(f"{k}={v}" for k, v in sorted(f.event_ids.items()))
                lines.append(f"    events: {ids}")
            for p in f.problems[:max_problems]:
                lines.append(f"    problem: {p}")
            for n in f.notes[:max_problems]:
                lines.append(f"    note: {n}")
            more = len(f.problems) - max_problems
            if more > 0:
                lines.append(f"    ... {more} more problem(s) listed in the JSON report")
        return "\n".join(term_safe(line) for line in lines)   # names and problems are attacker data
