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

import json
import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from app.exports.common import DETAIL_COLUMNS, evidence_frame, iso, scalar, select_hops, text

if TYPE_CHECKING:
    from graph.model import AnalysisResult


def _jsonable(value: Any) -> Any:
    """``json.dumps`` default: numpy scalars, timestamps, sets; anything else as text."""
    out = scalar(value)
    if isinstance(value, (set, frozenset, tuple)):
        return [_jsonable(v) for v in value]
    return out


def _finite(doc: Any) -> Any:
    """Replace NaN/inf floats by None (strict JSON has no NaN)."""
    if isinstance(doc, float) and not math.isfinite(doc):
        return None
    if isinstance(doc, dict):
        return {k: _finite(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_finite(v) for v in doc]
    return doc


def dumps(doc: Any, *, indent: int | None = 2) -> bytes:
    """Strict UTF-8 JSON (no NaN), non-ASCII kept as is."""
    return json.dumps(_finite(doc), indent=indent, ensure_ascii=False, allow_nan=False,
                      default=_jsonable).encode("utf-8")


def result_json(result: AnalysisResult, *, scope: str = "suspicious",
                min_score: float | None = None) -> bytes:
    """The version-1 result document (``AnalysisResult.to_json()``); scope does not apply."""
    del scope, min_score  # the document is the whole result by contract
    return dumps(result.to_json()) + b"\n"


def _when(value: Any) -> dict[str, Any]:
    """Timesketch's time fields: ``datetime`` as ISO 8601 with ``+00:00`` (the form its docs use)
    and ``timestamp`` in microseconds since the epoch."""
    text_ = iso(value)
    if text_ is None:
        return {"datetime": None, "timestamp": None}
    ts = pd.Timestamp(text_)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return {"datetime": ts.isoformat(timespec="microseconds"), "timestamp": int(ts.value // 1000)}


def _hop_fields(hop: dict[str, Any]) -> dict[str, Any]:
    """The ``lg_*`` fields every Timesketch line of a hop carries."""
    return {
        "lg_hop_id": int(hop["hop_id"]),
        "lg_src_host": scalar(hop["src_host"]),
        "lg_src_ip": scalar(hop["src_ip"]),
        "lg_dst_host": scalar(hop["dst_host"]),
        "lg_account": scalar(hop["account"]),
        "lg_score": round(float(hop["score"]), 4),
        "lg_severity": str(hop["severity"]),
        "lg_techniques": list(hop["techniques"] or ()),
        "lg_kinds": list(hop["kinds"] or ()),
        "lg_rules": list(hop["rules"] or ()),
        "lg_hop_first_seen": iso(hop["first_seen"]),
        "lg_hop_last_seen": iso(hop["last_seen"]),
    }


def _arrow(hop: dict[str, Any]) -> str:
    src = text(hop["src_host"]) or text(hop["src_ip"]) or "?"
    return f"{src} -> {text(hop['dst_host'])} as {text(hop['account']) or '?'}"


def timesketch_jsonl(result: AnalysisResult, *, scope: str = "suspicious",
                     min_score: float | None = None) -> bytes:
    """Timesketch JSONL: one line per hop and one per evidence event, in time order."""
    hops = select_hops(result, scope, min_score)
    records = hops.to_dict("records")
    by_id = {int(h["hop_id"]): h for h in records}
    lines: list[tuple[str, int, dict[str, Any]]] = []
    for hop in records:
        techniques = ",".join(hop["techniques"] or ())
        doc = {
            "message": f"latgraph lateral hop {_arrow(hop)} [{hop['severity']} {float(hop['score']):.2f}]"
                       + (f" {techniques}" if techniques else ""),
            **_when(hop["first_seen"]),
            "timestamp_desc": "Lateral hop first seen",
            "lg_record_type": "hop",
            "lg_n_events": int(hop["n_events"]),
            **_hop_fields(hop),
        }
        lines.append((doc["datetime"] or "", 0, doc))
    for ev in evidence_frame(result, hops).to_dict("records"):
        hop = by_id[int(ev["hop_id"])]
        details = {f"lg_{c}": scalar(ev[c]) for c in DETAIL_COLUMNS}
        what = text(ev["service_name"]) or text(ev["target_name"]) or text(ev["share_name"])
        doc = {
            "message": f"{text(ev['event_id'])} {text(ev['rule'])} on "
                       f"{text(ev['host']) or text(hop['dst_host'])}"
                       + (f": {what}" if what else "") + f" (hop {_arrow(hop)})",
            **_when(ev["ts"] if iso(ev["ts"]) else hop["first_seen"]),
            "timestamp_desc": "Event recorded",
            "lg_record_type": "evidence",
            "event_id": scalar(ev["event_id"]),
            "record_id": scalar(ev["record_id"]),
            "source_file": scalar(ev["source_file"]),
            "lg_rule": scalar(ev["rule"]),
            **{k: v for k, v in details.items() if v is not None},
            **_hop_fields(hop),
        }
        lines.append((doc["datetime"] or "", 1, doc))
    lines.sort(key=lambda item: (item[2]["timestamp"] or 0, item[1]))
    return b"".join(dumps(doc, indent=None) + b"\n" for _, _, doc in lines)
