"""Shared helpers of the exporters: which hops an export covers, the per-evidence detail frame,
and value cleaning (missing values, timestamps, lists) for flat formats.

No file I/O here: every exporter returns bytes and the caller writes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from graph.fields import EVIDENCE_FIELDS
from graph.model import HOP_COLUMNS, _iso, _opt

if TYPE_CHECKING:
    from graph.model import AnalysisResult

#: ``scope`` values every exporter accepts.
SCOPES: tuple[str, ...] = ("suspicious", "all")

#: Event columns copied next to each piece of evidence (looked up by source file + record id).
#: All of them can be attacker-controlled text (service names, command lines, share paths).
DETAIL_COLUMNS: tuple[str, ...] = (
    "host", "src_ip", "src_port", "logon_type", "auth_package", "share_name", "target_name", "service_name",
    "service_image", "process", "command_line",
)

#: Columns of :func:`evidence_frame`, in order.
EVIDENCE_COLUMNS: tuple[str, ...] = (
    "hop_id", "ts", "event_id", "rule", "source_file", "record_id", *DETAIL_COLUMNS,
)


def min_score_of(result: AnalysisResult, min_score: float | None) -> float:
    """The score cut of a suspicious-scope export: ``min_score`` or the run's ``config.min_score``."""
    return float(result.config.min_score if min_score is None else min_score)


def select_hops(result: AnalysisResult, scope: str = "suspicious",
                min_score: float | None = None) -> pd.DataFrame:
    """The hops an export covers, highest score first.

    Args:
        result: The analysis result.
        scope: ``"suspicious"`` keeps hops scoring at least ``min_score`` (default: the run's
            ``config.min_score``, the same cut paths and patient zero use); ``"all"`` keeps every hop.
        min_score: Override of the suspicious cut.

    Returns:
        A copy of the hops frame (:data:`graph.model.HOP_COLUMNS`), sorted by score descending,
        then first_seen and hop_id.

    Raises:
        ValueError: for an unknown scope.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown export scope {scope!r}; expected one of {', '.join(SCOPES)}")
    hops = result.hops
    if hops is None or len(hops) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in HOP_COLUMNS})
    if scope == "suspicious":
        hops = hops[hops["score"].astype(float) >= min_score_of(result, min_score)]
    return hops.sort_values(["score", "first_seen", "hop_id"],
                            ascending=[False, True, True]).reset_index(drop=True)


def selected_paths(result: AnalysisResult, hop_ids: Iterable[int]) -> list[Any]:
    """Paths whose every hop is among ``hop_ids`` (all paths when a path lists no hop ids)."""
    keep = {int(h) for h in hop_ids}
    return [p for p in result.paths if not p.hop_ids or set(p.hop_ids) <= keep]


def evidence_frame(result: AnalysisResult, hops: pd.DataFrame) -> pd.DataFrame:
    """One row per piece of evidence of ``hops``, with the event's details joined on.

    The hop's evidence dicts carry ``event_id, source_file, record_id, rule, ts``; the event's
    share, pipe/file, service, process and command line are looked up in ``result.events`` by
    (source_file, record_id, event_id). Evidence whose event is not in the frame keeps empty details.

    Returns:
        A frame with :data:`EVIDENCE_COLUMNS`, ordered by time.
    """
    exploded = hops.loc[:, ["hop_id", "evidence"]].explode("evidence")
    exploded = exploded[exploded["evidence"].map(lambda e: isinstance(e, dict))]
    if exploded.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EVIDENCE_COLUMNS})
    frame = pd.DataFrame.from_records(exploded["evidence"].tolist())
    frame["hop_id"] = exploded["hop_id"].astype("int64").to_numpy()
    for col in ("ts", "event_id", "rule", "source_file", "record_id"):
        if col not in frame.columns:
            frame[col] = None
    # details the evidence dict carries itself (e.g. "host") are the fallback for the event lookup
    carried = {c: frame[c] for c in DETAIL_COLUMNS if c in frame.columns}
    if "fields" in frame.columns:   # the event's analyst fields (graph.fields), e.g. a result read from JSON
        fields = frame["fields"].map(lambda f: f if isinstance(f, dict) else {})
        for c in DETAIL_COLUMNS:
            if c not in carried:
                carried[c] = fields.map(lambda f, c=c: f.get(c))
    frame = frame.loc[:, ["hop_id", "ts", "event_id", "rule", "source_file", "record_id"]]
    frame["record_id"] = pd.to_numeric(frame["record_id"], errors="coerce").astype("Int64")
    frame["event_id"] = pd.to_numeric(frame["event_id"], errors="coerce").astype("Int64")
    frame["source_file"] = frame["source_file"].astype("string")
    events = result.events
    detail_cols = [c for c in DETAIL_COLUMNS if events is not None and c in events.columns]
    keys = ["source_file", "record_id", "event_id"]
    if events is not None and len(events) and all(k in events.columns for k in keys):
        # only the events the evidence names: a cheap hash filter before copying columns of a
        # frame that can hold millions of events
        wanted = events["record_id"].isin(frame["record_id"].dropna().unique())
        lookup = events.loc[wanted.fillna(False).to_numpy(), [*keys, *detail_cols]].copy()
        lookup["source_file"] = lookup["source_file"].astype("string")
        lookup["record_id"] = lookup["record_id"].astype("Int64")
        lookup["event_id"] = lookup["event_id"].astype("Int64")
        lookup = lookup.dropna(subset=["record_id"]).drop_duplicates(subset=keys)
        frame = frame.merge(lookup, on=keys, how="left")
    for col in DETAIL_COLUMNS:
        if col not in frame.columns:
            frame[col] = None
        if col in carried:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), carried[col].to_numpy())
    frame = frame.loc[:, list(EVIDENCE_COLUMNS)]
    frame["_ts"] = pd.to_datetime(frame["ts"], utc=True, errors="coerce", format="ISO8601")
    return frame.sort_values(["_ts", "hop_id"], kind="stable").drop(columns="_ts").reset_index(drop=True)


def extra_hop_columns(hops: pd.DataFrame) -> list[str]:
    """Columns of the hops frame beyond :data:`HOP_COLUMNS` (score components such as ``rarity``,
    ``fanout``, ``habit`` that the analysis adds), in frame order."""
    return [c for c in hops.columns if c not in HOP_COLUMNS]


def scalar(value: Any) -> str | int | float | bool | None:
    """A value as a JSON/GraphML scalar: missing -> None, times -> ISO UTC, sequences -> ``;``-joined."""
    if type(value) is str or type(value) is int:  # the common cases first (this runs per cell)
        return value
    if value is None:
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        return ";".join(str(scalar(v)) for v in value if scalar(v) is not None)
    if isinstance(value, dict):
        return ";".join(f"{k}={scalar(v)}" for k, v in value.items())
    if _opt(value) is None:
        return None
    if isinstance(value, (datetime, pd.Timestamp)):
        return _iso(value)
    if isinstance(value, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


def text(value: Any) -> str:
    """A value as display text (``""`` for missing)."""
    out = scalar(value)
    return "" if out is None else str(out)


def iso(value: Any) -> str | None:
    """A timestamp as ISO 8601 UTC (``...Z``) or None."""
    return _iso(value)


def iso_series(values: Any) -> pd.Series:
    """Vectorised :func:`iso`: ISO 8601 UTC text (``...Z``, microseconds only when not zero), None
    where the time is missing.

    Examples:
        >>> iso_series(pd.Series(["2024-03-01T09:00:00Z", None, "2024-03-01T09:00:00.5Z"])).tolist()
        ['2024-03-01T09:00:00Z', None, '2024-03-01T09:00:00.500000Z']
    """
    ts = pd.Series(pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601"))
    text_ = ts.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str.replace(r"\.000000$", "", regex=True) + "Z"
    return text_.astype(object).where(ts.notna(), None)


def epoch_us(values: Any) -> pd.Series:
    """Vectorised microseconds since the epoch (nullable Int64)."""
    ts = pd.Series(pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601"))
    us = (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)
    return us.astype("Int64")


def joined(values: pd.Series) -> pd.Series:
    """Vectorised ``;``-join of sequence cells (``("a", "b")`` -> ``"a;b"``, missing -> ``""``)."""
    return values.map(lambda v: ";".join(str(x) for x in v) if isinstance(v, (list, tuple, set, frozenset))
                      else text(v))


def short_file(path: Any) -> str:
    """The file name of a source file (archive members: the member's name).

    Examples:
        >>> short_file("/cases/x/logs.zip!dc01/Security.evtx")
        'Security.evtx'
    """
    name = text(path)
    return name.replace("\\", "/").rsplit("!", 1)[-1].rsplit("/", 1)[-1]


def evidence_summary(evidence: Iterable[dict[str, Any]], limit: int = 20) -> str:
    """A one-line summary of a hop's evidence: ``4624 rec 12 (Security.evtx); 5145 rec 13 ...``
    (file names without their folder; the full paths are in the ``source_files`` column)."""
    parts: list[str] = []
    items = list(evidence or ())
    for ev in items[:limit]:
        rec = _opt(ev.get("record_id"))
        part = f"{ev.get('event_id')}"
        if rec is not None:
            part += f" rec {int(rec)}"
        if ev.get("rule"):
            part += f" [{ev.get('rule')}]"
        if ev.get("source_file"):
            part += f" ({short_file(ev.get('source_file'))})"
        parts.append(part)
    if len(items) > limit:
        parts.append(f"... {len(items) - limit} more")
    return "; ".join(parts)


#: Columns of :func:`findings_frame` (the finding, then its first event's analyst fields).
FINDING_CSV_COLUMNS: tuple[str, ...] = (
    "finding_id", "level", "reason", "first_seen", "last_seen", "host", "account", "count", "rule",
    "title", "attack", "rules", "hop_ids", *EVIDENCE_FIELDS, "evidence",
)


def findings_frame(result: AnalysisResult) -> pd.DataFrame:
    """The result's findings flattened for tables (CSV, HTML, UI): one row per finding, most
    severe level first, then time; the first event's fields as columns; evidence summarised."""
    found = result.findings
    if found is None or found.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in FINDING_CSV_COLUMNS})
    order = {lv: i for i, lv in enumerate(("critical", "high", "medium", "low", "informational"))}
    f = found.assign(_o=found["level"].astype(str).map(order).fillna(9))
    f = f.sort_values(["_o", "first_seen", "finding_id"], kind="stable")
    out = pd.DataFrame({
        "finding_id": f["finding_id"].astype("int64"),
        "level": f["level"].astype(object).map(text), "reason": f["reason"].astype(object).map(text),
        "first_seen": iso_series(f["first_seen"]), "last_seen": iso_series(f["last_seen"]),
        **{c: f[c] for c in ("host", "account")},
        "count": f["count"].astype("int64"),
        **{c: f[c] for c in ("rule", "title", "attack", "rules", "hop_ids")},
    }, index=f.index)
    for c in EVIDENCE_FIELDS:
        out[c] = f["fields"].map(lambda d, c=c: d.get(c) if isinstance(d, dict) else None)
    out["evidence"] = f["evidence"].map(lambda ev: evidence_summary(list(ev or ())))
    return out.loc[:, list(FINDING_CSV_COLUMNS)].reset_index(drop=True)
