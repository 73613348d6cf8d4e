"""Rebuild an :class:`~graph.model.AnalysisResult` from a saved JSON result (``latgraph analyze
--json``, version 2, or version 1 from before findings), so a case can be exported again without
re-reading its logs.

What the JSON document holds comes back exactly (hops with evidence, findings, paths, patient
zero, compromised hosts, summary); the host-account graph is rebuilt from the hops with
:func:`graph.build.build_graph`. The events themselves are not in the document, so evidence
details that come from the events (service names, command lines, share names) are empty in
exports made this way, and so are the score components (rarity, fan-out, ...) that the document
does not carry.
"""

from __future__ import annotations

import json
from pathlib import Path as FilePath
from typing import Any

import pandas as pd

from graph.build import build_graph
from graph.config import AnalysisConfig
from graph.findings import FINDING_COLUMNS, empty_findings
from graph.model import HOP_COLUMNS, JSON_VERSION, AnalysisResult, Path, PatientZero, RoutineGroup
from ingest.errors import ConfigError, SourceLocation
from ingest.report import IngestReport
from ingest.schema import empty_frame


def _ts(value: Any) -> pd.Timestamp | None:
    """An ISO time of the document as a UTC Timestamp (None stays None)."""
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


#: Document versions this reader understands (1 has no findings).
READABLE_VERSIONS = frozenset({1, JSON_VERSION})


def _findings(items: list[dict[str, Any]]) -> pd.DataFrame:
    """The findings frame of the document's ``findings`` list."""
    if not items:
        return empty_findings()
    rows = [{**f, "first_seen": _ts(f.get("first_seen")), "last_seen": _ts(f.get("last_seen")),
             "attack": tuple(f.get("attack") or ()), "rules": tuple(f.get("rules") or ()),
             "hop_ids": tuple(int(h) for h in f.get("hop_ids") or ()), "fields": dict(f.get("fields") or {}),
             "evidence": tuple({**e, "ts": _ts(e.get("ts"))} for e in f.get("evidence") or ())}
            for f in items]
    frame = pd.DataFrame(rows, columns=list(FINDING_COLUMNS))
    for col in ("first_seen", "last_seen"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def result_from_json(doc: dict[str, Any], *, config: AnalysisConfig | None = None,
                     source: str = "<json>") -> AnalysisResult:
    """An AnalysisResult from a result document (:data:`READABLE_VERSIONS`).

    Args:
        doc: the parsed document.
        config: settings to attach (default :class:`AnalysisConfig`, with ``min_score`` from the
            document's summary when it has one, so a suspicious-scope export uses the same cut).
        source: name of the document for error messages.

    Raises:
        ConfigError: when the document is not a latgraph result of a readable version.
    """
    where = SourceLocation(source)
    if not isinstance(doc, dict) or doc.get("version") not in READABLE_VERSIONS or "hops" not in doc:
        versions = "/".join(str(v) for v in sorted(READABLE_VERSIONS))
        raise ConfigError(f"not a latgraph version-{versions} JSON result (no version/hops)", where)
    summary = doc.get("summary") or {}
    if config is None:
        config = AnalysisConfig()
        if isinstance(summary.get("min_score"), (int, float)):
            config = AnalysisConfig(min_score=float(summary["min_score"]))
    rows = []
    try:
        for hop in doc["hops"]:
            evidence = tuple({**e, "ts": _ts(e.get("ts"))} for e in hop.get("evidence") or ())
            rows.append({
                "hop_id": int(hop["hop_id"]), "src_host": hop.get("src_host"), "src_ip": hop.get("src_ip"),
                "dst_host": hop["dst_host"], "account": hop.get("account"),
                "first_seen": _ts(hop.get("first_seen")), "last_seen": _ts(hop.get("last_seen")),
                "kinds": tuple(hop.get("kinds") or ()), "techniques": tuple(hop.get("techniques") or ()),
                "rules": tuple(hop.get("rules") or ()), "evidence": evidence,
                "n_events": int(hop.get("n_events") or len(evidence)), "score": float(hop["score"]),
                "severity": str(hop["severity"]),
                "reason": hop.get("reason"), "routine_group": hop.get("routine_group"),
            })
        hops = pd.DataFrame(rows, columns=[*HOP_COLUMNS, "reason", "routine_group"])
        for col in ("reason", "routine_group"):
            hops[col] = hops[col].astype("string")
        for col in ("first_seen", "last_seen"):
            hops[col] = pd.to_datetime(hops[col], utc=True)
        paths = [Path(hosts=tuple(p["hosts"]), accounts=tuple(p.get("accounts") or ()),
                      hop_ids=tuple(int(h) for h in p.get("hop_ids") or ()), start=_ts(p.get("start")),
                      end=_ts(p.get("end")), score=float(p["score"])) for p in doc.get("paths") or ()]
        patient_zero = [PatientZero(host=p["host"], score=float(p["score"]),
                                    confidence=float(p.get("confidence") or 0.0),
                                    first_seen=_ts(p.get("first_seen")), reason=str(p.get("reason") or ""),
                                    hop_ids=tuple(int(h) for h in p.get("hop_ids") or ()))
                        for p in doc.get("patient_zero") or ()]
        comp = doc.get("compromised_hosts") or []
        compromised = pd.DataFrame({
            "host": [c["host"] for c in comp],
            "first_seen": pd.to_datetime([c.get("first_seen") for c in comp], utc=True),
            "score": [float(c.get("score") or 0.0) for c in comp]})
        findings = _findings(doc.get("findings") or [])
        groups = [RoutineGroup(
            group_id=str(g["group_id"]), source=str(g["source"]), accounts=tuple(g.get("accounts") or ()),
            hop_ids=tuple(int(h) for h in g.get("hop_ids") or ()),
            destinations=int(g.get("destinations") or 0),
            first_seen=_ts(g.get("first_seen")), last_seen=_ts(g.get("last_seen")),
            compromised_at=_ts(g.get("compromised_at")),
            via_hop_id=None if g.get("via_hop_id") is None else int(g["via_hop_id"]),
            score=float(g.get("score") or 0.0), severity=str(g.get("severity") or ""),
            reason=str(g.get("reason") or "")) for g in doc.get("routine_groups") or ()]
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"malformed latgraph JSON result: {exc!r}", where) from exc
    return AnalysisResult(events=empty_frame(), report=IngestReport(), config=config, tags=pd.DataFrame(),
                          hops=hops, graph=build_graph(hops, compromised, patient_zero), paths=paths,
                          patient_zero=patient_zero, compromised=compromised, summary=dict(summary),
                          findings=findings, routine_groups=groups)


def load_result(path: str | FilePath, *, config: AnalysisConfig | None = None) -> AnalysisResult:
    """:func:`result_from_json` on a file.

    Raises:
        ConfigError: naming the file when it is not JSON or not a latgraph result.
    """
    path = FilePath(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read a JSON result: {exc}", SourceLocation(str(path))) from exc
    return result_from_json(doc, config=config, source=str(path))
