"""CSV exports: hops, paths and per-event evidence, safe to open in Excel / LibreOffice.

Every text cell that starts with ``= + - @``, a tab or a carriage return gets a leading ``'`` so a
spreadsheet shows it as text instead of evaluating it (OWASP "CSV Injection"). Host, account,
service and command-line values are attacker-controlled, so this applies to every cell, not only
to fields we think are risky. Numbers (scores, ids) are written as numbers and are not touched.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from app.exports.common import (
    EVIDENCE_COLUMNS,
    evidence_frame,
    evidence_summary,
    select_hops,
    selected_paths,
    text,
)

if TYPE_CHECKING:
    from graph.model import AnalysisResult

#: Leading characters a spreadsheet may treat as the start of a formula (or of a DDE payload).
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")

HOPS_CSV_COLUMNS: tuple[str, ...] = (
    "hop_id", "severity", "score", "first_seen", "last_seen", "src_host", "src_ip", "dst_host",
    "account", "techniques", "kinds", "rules", "n_events", "evidence_count", "event_ids",
    "source_files", "evidence",
)
PATHS_CSV_COLUMNS: tuple[str, ...] = (
    "rank", "score", "start", "end", "length", "hosts", "accounts", "hop_ids", "chain",
)


def safe_cell(value: Any) -> str | int | float:
    """A CSV cell that a spreadsheet will not evaluate.

    Examples:
        >>> safe_cell("=HYPERLINK(\\"http://x\\")")
        '\\'=HYPERLINK("http://x")'
        >>> safe_cell("PC01"), safe_cell(0.75), safe_cell(None)
        ('PC01', 0.75, '')
    """
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar -> Python scalar
        value = value.item()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:  # not NaN
        return value
    cell = text(value)
    if cell.startswith(FORMULA_PREFIXES):
        return "'" + cell
    return cell


def write_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    """Rows as UTF-8 CSV (RFC 4180 quoting, ``\\r\\n`` line ends), every cell through :func:`safe_cell`."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])
    return buf.getvalue().encode("utf-8")


def _num(value: Any) -> Any:
    """Numpy / pandas scalars -> Python numbers (safe_cell keeps numbers untouched)."""
    return value.item() if hasattr(value, "item") else value


def hops_csv(result: AnalysisResult, *, scope: str = "suspicious",
             min_score: float | None = None) -> bytes:
    """One row per hop, highest score first, with a one-line evidence summary.

    ``event_ids`` and ``source_files`` list the distinct values; ``evidence`` lists each event as
    ``<event id> rec <record id> [<rule>] (<file>)``. Lists inside a cell are ``;``-separated.
    """
    hops = select_hops(result, scope, min_score)
    rows = []
    for hop in hops.to_dict("records"):
        evidence = list(hop["evidence"] or ())
        rows.append({
            **{c: hop.get(c) for c in HOPS_CSV_COLUMNS if c in hop},
            "hop_id": int(hop["hop_id"]),
            "score": round(float(hop["score"]), 4),
            "n_events": int(_num(hop["n_events"])),
            "evidence_count": len(evidence),
            "event_ids": sorted({int(e["event_id"]) for e in evidence if e.get("event_id") is not None}),
            "source_files": sorted({str(e["source_file"]) for e in evidence if e.get("source_file")}),
            "evidence": evidence_summary(evidence),
        })
    return write_csv(HOPS_CSV_COLUMNS, rows)


def paths_csv(result: AnalysisResult, *, scope: str = "suspicious",
              min_score: float | None = None) -> bytes:
    """One row per time-respecting path (best first): hosts, accounts and a readable hop chain.

    ``chain`` reads ``A -[alice 09:00:00Z]-> B -[bob 09:05:00Z]-> C``. Paths with a hop outside the
    export scope are left out.
    """
    hops = select_hops(result, scope, min_score)
    by_id = {int(h["hop_id"]): h for h in hops.to_dict("records")}
    rows = []
    for rank, path in enumerate(selected_paths(result, by_id), start=1):
        chain = path.hosts[0] if path.hosts else ""
        for hop_id in path.hop_ids:
            hop = by_id.get(int(hop_id))
            if hop is None:
                continue
            when = text(hop["first_seen"])[11:20]
            chain += f" -[{text(hop['account']) or '?'} {when}]-> {hop['dst_host']}"
        rows.append({"rank": rank, "score": round(float(path.score), 4), "start": path.start,
                     "end": path.end, "length": max(len(path.hosts) - 1, 0), "hosts": path.hosts,
                     "accounts": path.accounts, "hop_ids": path.hop_ids, "chain": chain})
    return write_csv(PATHS_CSV_COLUMNS, rows)


def evidence_csv(result: AnalysisResult, *, scope: str = "suspicious",
                 min_score: float | None = None) -> bytes:
    """One row per evidence event of the exported hops, in time order, with the event details
    (share, file/pipe, service, image, process, command line) joined from the events frame."""
    hops = select_hops(result, scope, min_score)
    frame = evidence_frame(result, hops)
    info = {int(h["hop_id"]): h for h in hops.to_dict("records")}
    columns = ("hop_id", "severity", "src_host", "dst_host", "account", *EVIDENCE_COLUMNS[1:])
    rows = []
    for ev in frame.to_dict("records"):
        hop = info[int(ev["hop_id"])]
        rows.append({**ev, "hop_id": int(ev["hop_id"]), "severity": hop["severity"],
                     "src_host": hop["src_host"], "dst_host": hop["dst_host"], "account": hop["account"],
                     "event_id": None if text(ev["event_id"]) == "" else int(ev["event_id"]),
                     "record_id": None if text(ev["record_id"]) == "" else int(ev["record_id"]),
                     "logon_type": None if text(ev["logon_type"]) == "" else int(ev["logon_type"])})
    return write_csv(columns, rows)
