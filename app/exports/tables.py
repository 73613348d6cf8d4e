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

import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from app.exports.common import (
    EVIDENCE_COLUMNS,
    evidence_frame,
    evidence_summary,
    extra_hop_columns,
    findings_frame,
    iso_series,
    joined,
    select_hops,
    selected_paths,
    text,
)

if TYPE_CHECKING:
    from graph.model import AnalysisResult

#: Leading characters a spreadsheet may treat as the start of a formula (or of a DDE payload):
#: OWASP's list (= + - @ tab CR), plus LF and the full-width forms that East Asian Excel
#: versions also accept as formula starts.
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d",
                                     "\uff20")

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
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])
    return buf.getvalue().encode("utf-8")


def safe_column(values: pd.Series) -> pd.Series:
    """Vectorised :func:`safe_cell` over a column: numbers stay numbers, everything else becomes
    text (sequences ``;``-joined, missing ``""``) with formula starts neutralised."""
    if is_bool_dtype(values.dtype):
        return values.map(lambda v: "" if v is None or v != v else str(bool(v)).lower())
    if is_numeric_dtype(values.dtype):
        return values
    cells = joined(values) if values.dtype == object else values.astype(object).where(values.notna(), "")
    cells = cells.astype(str)
    risky = cells.str.startswith(FORMULA_PREFIXES)
    return cells.where(~risky, "'" + cells)


def frame_csv(frame: pd.DataFrame) -> bytes:
    """A frame as UTF-8 CSV (header = its columns), every column through :func:`safe_column`."""
    safe = pd.DataFrame({c: safe_column(frame[c]) for c in frame.columns}, index=frame.index)
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def hops_csv(result: AnalysisResult, *, scope: str = "suspicious",
             min_score: float | None = None) -> bytes:
    """One row per hop, highest score first, with a one-line evidence summary.

    ``event_ids`` and ``source_files`` list the distinct values; ``evidence`` lists each event as
    ``<event id> rec <record id> [<rule>] (<file>)``. Lists inside a cell are ``;``-separated.
    """
    hops = select_hops(result, scope, min_score)
    evidence = hops["evidence"].map(lambda ev: list(ev or ()))
    out = pd.DataFrame({
        "hop_id": hops["hop_id"].astype("int64"),
        "severity": hops["severity"].astype(object).map(text),
        "score": hops["score"].astype(float).round(4),
        "first_seen": iso_series(hops["first_seen"]),
        "last_seen": iso_series(hops["last_seen"]),
        **{c: hops[c] for c in ("src_host", "src_ip", "dst_host", "account", "techniques", "kinds", "rules")},
        "n_events": pd.to_numeric(hops["n_events"]).astype("int64"),
        "evidence_count": evidence.map(len).astype("int64"),
        "event_ids": evidence.map(lambda ev: sorted({int(e["event_id"]) for e in ev
                                                     if e.get("event_id") is not None})),
        "source_files": evidence.map(lambda ev: sorted({str(e["source_file"]) for e in ev
                                                        if e.get("source_file")})),
        "evidence": evidence.map(evidence_summary),
    }, index=hops.index)
    extras = {c: hops[c] for c in extra_hop_columns(hops) if c not in out.columns}
    return frame_csv(pd.concat([out.loc[:, list(HOPS_CSV_COLUMNS)], pd.DataFrame(extras, index=out.index)],
                               axis=1))


def paths_csv(result: AnalysisResult, *, scope: str = "suspicious",
              min_score: float | None = None) -> bytes:
    """One row per time-respecting path (best first): hosts, accounts and a readable hop chain.

    ``chain`` reads ``A -[alice 2024-03-01T09:00:00Z]-> B -[bob 2024-03-01T09:05:00Z]-> C``.
    Paths with a hop outside the export scope are left out.
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
            when = pd.Timestamp(hop["first_seen"]).strftime("%Y-%m-%dT%H:%M:%SZ")
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
    info = hops.loc[:, ["hop_id", "severity", "src_host", "dst_host", "account"]].copy()
    info["hop_id"] = info["hop_id"].astype("int64")
    frame["hop_id"] = frame["hop_id"].astype("int64")
    frame["ts"] = iso_series(frame["ts"])
    frame["logon_type"] = pd.to_numeric(frame["logon_type"], errors="coerce").astype("Int64")
    out = frame.merge(info, on="hop_id", how="left")
    columns = ["hop_id", "severity", "src_host", "dst_host", "account", *EVIDENCE_COLUMNS[1:]]
    return frame_csv(out.loc[:, columns])


def findings_csv(result: AnalysisResult, *, scope: str = "suspicious",
                 min_score: float | None = None) -> bytes:
    """One row per finding (rule hits beside the hops: loopback tests, commands towards hosts with
    no logs, local technique executions), most severe first, with the first event's fields.
    Findings are always exported whole: ``scope`` and ``min_score`` concern hops."""
    return frame_csv(findings_frame(result))
