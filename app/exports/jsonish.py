"""JSON exports: the versioned result document and Timesketch JSONL.

* ``json`` is exactly :meth:`graph.model.AnalysisResult.to_json` (the ``latgraph analyze --json``
  document, version 1); it always holds the whole result, whatever the scope.
* ``timesketch`` is JSON Lines for Timesketch's importer: every line has the three required
  fields ``message``, ``datetime`` (ISO 8601) and ``timestamp_desc``, plus flat ``lg_*`` fields.
  There is one line per evidence event of each exported hop (``lg_record_type = "evidence"``,
  at the event's time) and one line per hop (``lg_record_type = "hop"``, at the hop's first time),
  so the sketch shows the hop next to the events that prove it; filter with ``lg_hop_id:7``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pandas as pd

from app.exports.common import (
    DETAIL_COLUMNS,
    epoch_us,
    evidence_frame,
    extra_hop_columns,
    iso_series,
    scalar,
    select_hops,
    text,
)

if TYPE_CHECKING:
    from graph.model import AnalysisResult


def _jsonable(value: Any) -> Any:
    """``json.dumps`` default: numpy scalars, timestamps, sets; anything else as text."""
    out = scalar(value)
    if isinstance(value, (set, frozenset, tuple)):
        return [_jsonable(v) for v in value]
    return out


def dumps(doc: Any, *, indent: int | None = 2) -> bytes:
    """Strict UTF-8 JSON (orjson: NaN/inf become null, numpy scalars and non-string keys allowed)."""
    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    if indent:
        option |= orjson.OPT_INDENT_2
    return orjson.dumps(doc, option=option, default=_jsonable)


def result_json(result: AnalysisResult, *, scope: str = "suspicious",
                min_score: float | None = None) -> bytes:
    """The version-1 result document (``AnalysisResult.to_json()``); scope does not apply."""
    del scope, min_score  # the document is the whole result by contract
    return dumps(result.to_json()) + b"\n"


#: Event detail columns -> Timesketch field names (the event's own source IP and port are
#: ``lg_event_src_ip`` / ``lg_event_src_port``; ``lg_src_ip`` is the hop's).
_DETAIL_NAMES = {c: (f"lg_event_{c}" if c in ("src_ip", "src_port") else f"lg_{c}") for c in DETAIL_COLUMNS}


def _text(values: pd.Series) -> pd.Series:
    """A scalar column as text, ``""`` where missing."""
    return values.astype(object).map(text).astype(str)


def _first_nonempty(*columns: pd.Series) -> pd.Series:
    out = columns[0]
    for col in columns[1:]:
        out = out.where(out != "", col)
    return out


def _hop_frame(hops: pd.DataFrame) -> pd.DataFrame:
    """The ``lg_*`` fields every Timesketch line of a hop carries, plus ``_arrow`` (vectorised)."""
    src = _first_nonempty(_text(hops["src_host"]), _text(hops["src_ip"]), pd.Series("?", index=hops.index))
    account = _first_nonempty(_text(hops["account"]), pd.Series("?", index=hops.index))
    return pd.DataFrame({
        "lg_hop_id": hops["hop_id"].astype("int64"),
        "lg_src_host": hops["src_host"].astype(object),
        "lg_src_ip": hops["src_ip"].astype(object),
        "lg_dst_host": hops["dst_host"].astype(object),
        "lg_account": hops["account"].astype(object),
        "lg_score": hops["score"].astype(float).round(4),
        "lg_severity": _text(hops["severity"]),
        "lg_techniques": hops["techniques"].map(lambda v: list(v or ())),
        "lg_kinds": hops["kinds"].map(lambda v: list(v or ())),
        "lg_rules": hops["rules"].map(lambda v: list(v or ())),
        "lg_hop_first_seen": iso_series(hops["first_seen"]),
        "lg_hop_last_seen": iso_series(hops["last_seen"]),
        **{f"lg_{c}": hops[c].map(scalar) for c in extra_hop_columns(hops)},
        "_arrow": src + " -> " + _text(hops["dst_host"]) + " as " + account,
        "_first_seen": hops["first_seen"],
    }, index=hops.index)


def timesketch_jsonl(result: AnalysisResult, *, scope: str = "suspicious",
                     min_score: float | None = None) -> bytes:
    """Timesketch JSONL: one line per hop and one per evidence event, in time order."""
    hops = select_hops(result, scope, min_score)
    if hops.empty:
        return b""
    hv = _hop_frame(hops)
    techniques = hv["lg_techniques"].map(",".join)
    hop_lines = hv.assign(
        message="latgraph lateral hop " + hv["_arrow"] + " [" + hv["lg_severity"] + " "
                + hv["lg_score"].map("{:.2f}".format) + "]"
                + techniques.where(techniques == "", " " + techniques),
        timestamp_desc="Lateral hop first seen", lg_record_type="hop",
        lg_n_events=pd.to_numeric(hops["n_events"]).astype("int64"), _ts=hv["_first_seen"], _order=0)
    ev = evidence_frame(result, hops)
    if ev.empty:      # hops without evidence: only the hop lines
        ev = ev.assign(**{c: pd.Series(dtype=object) for c in ev.columns})
    ev["hop_id"] = ev["hop_id"].astype("int64")
    ev = ev.merge(hv.rename(columns={"lg_hop_id": "hop_id"}), on="hop_id", how="left")
    what = _first_nonempty(_text(ev["service_name"]), _text(ev["target_name"]), _text(ev["share_name"]))
    host = _first_nonempty(_text(ev["host"]), _text(ev["lg_dst_host"]))
    ev_ts = pd.to_datetime(ev["ts"], utc=True, errors="coerce", format="ISO8601")
    ev_lines = ev.assign(
        message=_text(ev["event_id"]) + " " + _text(ev["rule"]) + " on " + host
                + what.where(what == "", ": " + what) + " (hop " + ev["_arrow"] + ")",
        timestamp_desc="Event recorded", lg_record_type="evidence", lg_hop_id=ev["hop_id"],
        lg_rule=ev["rule"], _ts=ev_ts.where(ev_ts.notna(), pd.to_datetime(ev["_first_seen"], utc=True)),
        _order=1,
    ).rename(columns=_DETAIL_NAMES).drop(columns=["hop_id", "ts", "rule"])
    lines = pd.concat([hop_lines, ev_lines], ignore_index=True)
    for col in ("lg_hop_id", "lg_n_events", "event_id", "record_id", "lg_logon_type"):
        if col in lines.columns:
            lines[col] = pd.to_numeric(lines[col], errors="coerce").round().astype("Int64")
    stamp = pd.Series(pd.to_datetime(lines["_ts"], utc=True, errors="coerce", format="ISO8601"))
    lines["datetime"] = stamp.dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    lines["timestamp"] = epoch_us(stamp)
    lines = lines.sort_values(["timestamp", "_order", "lg_hop_id"], kind="stable", na_position="first")
    lead = ["message", "datetime", "timestamp", "timestamp_desc", "lg_record_type"]
    rest = [c for c in lines.columns if c not in lead and not c.startswith("_")]
    names = lead + rest
    lines = lines.loc[:, names].astype(object)
    lines = lines.where(lines.notna(), None)
    # column lists + zip: much cheaper than DataFrame.to_dict("records") on many rows
    columns = [lines[c].tolist() for c in names]
    option = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY
    dumps_ = orjson.dumps
    return b"".join(dumps_({k: v for k, v in zip(names, row, strict=True) if v is not None},
                           option=option, default=_jsonable)
                    for row in zip(*columns, strict=True))
