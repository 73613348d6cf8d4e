"""Standalone HTML incident report: one file, no scripts, no external resources, works offline.

Sections: summary, patient-zero candidates with their reasons, timeline of compromise (inline
SVG), top time-respecting paths with per-hop evidence (event ids, record ids, files, service /
command-line details), hops by severity, and the ingest report.

Every value from the logs (hosts, accounts, services, command lines, file names) is data an
attacker can choose: the template is rendered by Jinja2 with autoescaping on, nothing is marked
``|safe``, and a Content-Security-Policy ``default-src 'none'`` meta tag blocks scripts and remote
loads even if an escape were ever missed.
"""

from __future__ import annotations

import functools
from collections import Counter
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd

from app.exports.common import (
    evidence_frame,
    evidence_summary,
    findings_frame,
    iso,
    min_score_of,
    select_hops,
    selected_paths,
    text,
)
from graph.fields import EVIDENCE_FIELDS
from graph.model import Severity
from ingest.schema import event_count

if TYPE_CHECKING:
    from graph.model import AnalysisResult

#: Caps that keep the report readable (and its size bounded) on large cases; the report says
#: "showing X of Y" whenever one applies.
MAX_PATHS = 10
MAX_HOPS_TABLE = 2000
MAX_EVIDENCE_PER_HOP = 40
MAX_TIMELINE_HOSTS = 60

SEVERITY_ORDER: tuple[str, ...] = tuple(s.value for s in (Severity.HIGH, Severity.MEDIUM,
                                                          Severity.LOW, Severity.INFO))


def _environment() -> jinja2.Environment:
    """A Jinja2 environment that autoescapes everything (also templates not named ``*.html``)."""
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


@functools.cache
def _template() -> jinja2.Template:
    source = resources.files("app.exports").joinpath("report_template.html").read_text("utf-8")
    return _environment().from_string(source)


def when(value: Any) -> str:
    """A time for people: ``2024-03-01 09:01:05Z``, with milliseconds when it has them; ``""`` if missing.

    Examples:
        >>> when("2024-03-01T09:01:05.123456789Z"), when("2024-03-01T09:01:05Z"), when(None)
        ('2024-03-01 09:01:05.123Z', '2024-03-01 09:01:05Z', '')
    """
    if iso(value) is None:
        return ""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    base = ts.strftime("%Y-%m-%d %H:%M:%S")
    ms = ts.microsecond // 1000
    return f"{base}.{ms:03d}Z" if ms else f"{base}Z"


def _hop_view(hop: dict[str, Any]) -> dict[str, Any]:
    """A hop as template-ready text fields."""
    return {
        "hop_id": int(hop["hop_id"]),
        "src": text(hop["src_host"]) or text(hop["src_ip"]) or "(unknown source)",
        "src_ip": text(hop["src_ip"]),
        "dst": text(hop["dst_host"]),
        "account": text(hop["account"]) or "(unknown)",
        "first_seen": when(hop["first_seen"]),
        "last_seen": when(hop["last_seen"]),
        "score": f"{float(hop['score']):.2f}",
        "severity": str(hop["severity"]),
        "techniques": ", ".join(hop["techniques"] or ()),
        "kinds": ", ".join(hop["kinds"] or ()),
        "rules": ", ".join(hop["rules"] or ()),
        "n_events": int(hop["n_events"]),
        "evidence_summary": evidence_summary(hop["evidence"] or (), limit=6),
        "factors": _factors(hop),
    }


#: Score components shown next to a hop's score when the analysis provides them (extra hop columns).
SCORE_FACTORS: tuple[str, ...] = ("strength", "rarity", "fanout", "habit")


def _factors(hop: dict[str, Any]) -> str:
    """``strength 0.90 · rarity 1.00 · ...`` from the hop's score components that are present."""
    parts = []
    for name in SCORE_FACTORS:
        value = hop.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            parts.append(f"{name} {float(value):.2f}")
    return " · ".join(parts)


def _evidence_view(ev: dict[str, Any]) -> dict[str, Any]:
    detail_keys = ("share_name", "target_name", "service_name", "service_image", "process", "command_line")
    details = [(k.replace("_", " "), text(ev[k])) for k in detail_keys if text(ev[k])]
    return {"ts": when(ev["ts"]), "event_id": text(ev["event_id"]), "record_id": text(ev["record_id"]),
            "rule": text(ev["rule"]), "file": text(ev["source_file"]), "host": text(ev["host"]),
            "details": details}


def _timeline(result: AnalysisResult, hops: pd.DataFrame) -> dict[str, Any]:
    """Rows (host, first compromise, x position in %) for the inline SVG timeline."""
    if result.compromised is not None and len(result.compromised):
        frame = result.compromised.loc[:, ["host", "first_seen"]].copy()
    elif len(hops):
        frame = (hops.dropna(subset=["dst_host"]).groupby("dst_host", as_index=False)["first_seen"].min()
                 .rename(columns={"dst_host": "host"}))
    else:
        return {"rows": [], "start": "", "end": "", "total": 0, "height": 0}
    pz = {p.host for p in result.patient_zero[:1]}
    if result.patient_zero:
        first = result.patient_zero[0]
        if first.host not in set(frame["host"]):
            frame = pd.concat([pd.DataFrame({"host": [first.host], "first_seen": [first.first_seen]}),
                               frame], ignore_index=True)
    frame["first_seen"] = pd.to_datetime(frame["first_seen"], utc=True, errors="coerce")
    frame = frame.dropna(subset=["first_seen"]).sort_values(["first_seen", "host"]).reset_index(drop=True)
    total = len(frame)
    frame = frame.head(MAX_TIMELINE_HOSTS)
    if frame.empty:
        return {"rows": [], "start": "", "end": "", "total": 0, "height": 0}
    t0, t1 = frame["first_seen"].min(), frame["first_seen"].max()
    span = max((t1 - t0).total_seconds(), 1.0)
    rows = [{"host": str(r.host), "when": when(r.first_seen), "y": 22 + 18 * i,
             "x": round(2 + 94 * (r.first_seen - t0).total_seconds() / span, 2),
             "patient_zero": str(r.host) in pz}
            for i, r in enumerate(frame.itertuples(index=False))]
    return {"rows": rows, "start": when(t0), "end": when(t1), "total": total, "height": 34 + 18 * len(rows)}


def report_context(result: AnalysisResult, *, scope: str = "suspicious",
                   min_score: float | None = None) -> dict[str, Any]:
    """Everything the template shows, as plain text / numbers (no markup)."""
    hops = select_hops(result, scope, min_score)
    records = hops.to_dict("records")
    by_id = {int(h["hop_id"]): h for h in records}
    chosen = selected_paths(result, by_id)
    # evidence details are shown for the hops of the top paths only
    path_hops = {int(h) for p in chosen[:MAX_PATHS] for h in p.hop_ids}
    evidence = evidence_frame(result, hops[hops["hop_id"].astype("int64").isin(path_hops)])
    ev_by_hop: dict[int, list[dict[str, Any]]] = {}
    for ev in evidence.to_dict("records"):
        ev_by_hop.setdefault(int(ev["hop_id"]), []).append(ev)

    paths = []
    for rank, path in enumerate(chosen[:MAX_PATHS], start=1):
        steps = []
        for hop_id in path.hop_ids:
            hop = by_id.get(int(hop_id))
            if hop is None:
                continue
            evs = ev_by_hop.get(int(hop_id), [])
            shown_evs = [_evidence_view(e) for e in evs[:MAX_EVIDENCE_PER_HOP]]
            steps.append({**_hop_view(hop), "evidence": shown_evs, "evidence_total": len(evs)})
        paths.append({"rank": rank, "hosts": list(path.hosts), "accounts": ", ".join(path.accounts),
                      "start": when(path.start), "end": when(path.end),
                      "score": f"{float(path.score):.2f}", "steps": steps})

    by_severity = []
    shown = 0
    for sev in SEVERITY_ORDER:
        rows = [h for h in records if str(h["severity"]) == sev]
        take = rows[: max(MAX_HOPS_TABLE - shown, 0)]
        shown += len(take)
        by_severity.append({"severity": sev, "total": len(rows), "hops": [_hop_view(h) for h in take]})

    all_hops = result.hops if result.hops is not None else pd.DataFrame()
    severity_counts = Counter(str(s) for s in all_hops.get("severity", pd.Series(dtype=object)))
    hosts = set()
    accounts = set()
    if len(all_hops):
        hosts = set(all_hops["dst_host"].dropna()) | set(all_hops["src_host"].dropna())
        accounts = set(all_hops["account"].dropna())
    events = result.events
    span = ("", "")
    if events is not None and len(events) and "ts" in events.columns:
        span = (when(events["ts"].min()), when(events["ts"].max()))
    report = result.report
    return {
        "generated": when(datetime.now(UTC)),
        "scope": scope,
        "min_score": f"{min_score_of(result, min_score):.2f}",
        "counts": {"events": 0 if events is None else event_count(events), "hops": len(all_hops),
                   "exported_hops": len(records), "hosts": len(hosts), "accounts": len(accounts),
                   "compromised": 0 if result.compromised is None else len(result.compromised),
                   "paths": len(result.paths)},
        "severity_counts": [(s, severity_counts.get(s, 0)) for s in SEVERITY_ORDER],
        "span": span,
        "patient_zero": [{"rank": i, "host": p.host, "confidence": f"{float(p.confidence):.0%}",
                          "score": f"{float(p.score):.2f}", "first_seen": when(p.first_seen),
                          "reason": p.reason} for i, p in enumerate(result.patient_zero, start=1)],
        "timeline": _timeline(result, hops),
        "paths": paths,
        "paths_total": len(chosen),
        "by_severity": by_severity,
        "findings": _findings_view(result),
        "hops_shown": shown,
        "summary": [(str(k), text(v)) for k, v in (result.summary or {}).items()
                    if not isinstance(v, (dict, list, tuple))],
        "files": [] if report is None else [
            {"path": f.path, "format": f.format, "read": f.records_read, "kept": f.kept,
             "problems": f.problem_count, "error": f.error or ""} for f in report.files],
        "limits": {"paths": MAX_PATHS, "hops": MAX_HOPS_TABLE, "evidence": MAX_EVIDENCE_PER_HOP},
    }


#: Findings shown in the report (the CSV / JSON have all of them).
MAX_FINDINGS = 500


def _findings_view(result: AnalysisResult) -> dict[str, Any]:
    """The findings table of the report: level, reason, host, account, rule, count, key fields."""
    frame = findings_frame(result)
    rows = []
    for f in frame.head(MAX_FINDINGS).to_dict("records"):
        details = [(c, text(f[c])) for c in EVIDENCE_FIELDS if text(f[c])]
        rows.append({"level": text(f["level"]), "reason": text(f["reason"]), "host": text(f["host"]),
                     "account": text(f["account"]) or "?", "rule": text(f["rule"]), "title": text(f["title"]),
                     "attack": ", ".join(f["attack"]), "count": int(f["count"]),
                     "first_seen": text(f["first_seen"]), "last_seen": text(f["last_seen"]),
                     "details": details})
    return {"rows": rows, "total": len(frame)}


def html_report(result: AnalysisResult, *, scope: str = "suspicious",
                min_score: float | None = None) -> bytes:
    """The standalone HTML incident report (UTF-8)."""
    return _template().render(**report_context(result, scope=scope, min_score=min_score)).encode("utf-8")
