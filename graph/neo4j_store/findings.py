"""Findings (:mod:`graph.findings`) in Neo4j: ``(:Host)-[:HAS_FINDING]->(:Finding)``, written by a push
and read back by :func:`graph.neo4j_store.load_result`.

A finding node carries the finding's fields (``host``, ``account``, ``rule``, ``title``, ``level``,
``reason``, ``count``, ``attack``, ``rules``, times as datetimes and ``*_ns``), its ``fields`` and
``evidence`` as JSON strings, and ``hop_keys``: the stored hops it names (the hop a pushed hop
created or joined). Its ``key`` is a hash of (host, account, rule, reason, first time): pushing the
same case again writes nothing (each finding's content ``signature`` is compared first); a finding
of a later analysis with the same key replaces the stored one (the newer analysis saw more), a
finding with another first time is a finding of its own.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from graph.neo4j_store import cypher
from graph.neo4j_store.rows import node_key
from graph.neo4j_store.stored_text import _SORTED, _digest, _iso_ns, _ns
from graph.neo4j_store.writes import _run_consume, _run_data

#: Findings per write transaction.
FINDING_CHUNK = 5000


def finding_rows(findings: pd.DataFrame, hop_keys: dict[int, str]) -> list[dict[str, Any]]:
    """Findings frame -> ``WRITE_FINDINGS`` rows (``hop_keys``: pushed hop id -> stored hop key).

    Examples:
        >>> from graph.findings import empty_findings
        >>> finding_rows(empty_findings(), {})
        []
    """
    out: list[dict[str, Any]] = []
    for f in findings.to_dict("records"):
        host = str(f["host"])
        account = None if pd.isna(f["account"]) else str(f["account"])
        first_ns, last_ns = _ns(f["first_seen"]), _ns(f["last_seen"])
        evidence = [{"event_id": _num(e.get("event_id")), "record_id": _num(e.get("record_id")),
                     "rule": e.get("rule"), "source_file": e.get("source_file"), "ts": _iso_ns(e.get("ts"))}
                    for e in f["evidence"]]
        fields = f["fields"] if isinstance(f["fields"], dict) else {}
        props = {
            "key": _digest(["finding", host, account, str(f["rule"]), str(f["reason"]), first_ns]),
            "host": host,
            "account": account,
            "first_seen_ns": first_ns,
            "last_seen_ns": last_ns,
            "count": int(f["count"]),
            "rule": str(f["rule"]),
            "title": str(f["title"]),
            "level": str(f["level"]),
            "reason": str(f["reason"]),
            "attack": [str(a) for a in f["attack"]],
            "rules": [str(r) for r in f["rules"]],
            "fields": _SORTED.encode({str(k): _plain(v) for k, v in fields.items()}),
            "evidence": _SORTED.encode(evidence),
            "hop_keys": [hop_keys[int(h)] for h in f["hop_ids"] if int(h) in hop_keys],
        }
        props["signature"] = _digest([props[k] for k in sorted(props)])
        out.append({"host_key": node_key(host), "props": props})
    return out


def write_findings(session: Any, findings: pd.DataFrame, hops: pd.DataFrame, rows: list[dict[str, Any]],
                   placed: dict[str, str]) -> int:
    """Write the findings whose content is not stored yet; returns how many were written.

    Args:
        session: an open driver session.
        findings: the result's findings frame.
        hops: the pushed hops frame (its ``hop_id`` values are what findings name).
        rows: the push rows of ``hops`` (:func:`~graph.neo4j_store.rows.hop_rows`).
        placed: row signature -> key of the stored hop the row created, joined or already was in
            (``Planner.placed``); rows not planned in this run keep their own hop key.
    """
    hop_keys = {int(r["hop_id"]): placed.get(r["signature"], r["hop_key"])
                for r in rows if r["hop_id"] is not None}
    new = finding_rows(findings, hop_keys)
    if not new:
        return 0
    stored = {rec["key"]: rec["signature"] for rec in session.execute_read(
        _run_data, cypher.LOOKUP_FINDINGS, keys=[r["props"]["key"] for r in new])}
    new = [r for r in new if stored.get(r["props"]["key"]) != r["props"]["signature"]]
    for i in range(0, len(new), FINDING_CHUNK):
        session.execute_write(_run_consume, cypher.WRITE_FINDINGS, rows=new[i:i + FINDING_CHUNK])
    return len(new)


def read_findings(session: Any, hops: pd.DataFrame) -> pd.DataFrame:
    """The stored findings as a findings frame (:data:`graph.findings.FINDING_COLUMNS`), ``hop_ids``
    those of ``hops`` (the loaded hops frame, with ``hop_key``), numbered in the analysis' order
    (first time, host, rule, account)."""
    from graph.findings import FINDING_COLUMNS, empty_findings

    records = session.run(cypher.READ_FINDINGS).data()
    if not records:
        return empty_findings()
    ids = dict(zip(hops["hop_key"].astype(str), hops["hop_id"].astype(int), strict=True)) if len(hops) else {}
    out = []
    for rec in records:
        p = rec["p"]
        evidence = tuple({**e, "ts": None if e.get("ts") is None else pd.Timestamp(e["ts"])}
                         for e in json.loads(p.get("evidence") or "[]"))
        out.append({
            "host": p.get("host") or rec["host"],
            "account": p.get("account"),
            "first_seen": p["first_seen_ns"],
            "last_seen": p["last_seen_ns"],
            "count": int(p.get("count") or 0),
            "rule": p.get("rule"),
            "title": p.get("title"),
            "level": p.get("level"),
            "attack": tuple(p.get("attack") or ()),
            "rules": tuple(p.get("rules") or ()),
            "reason": p.get("reason"),
            "fields": json.loads(p.get("fields") or "{}"),
            "evidence": evidence,
            "hop_ids": tuple(sorted(ids[k] for k in p.get("hop_keys") or () if k in ids)),
        })
    frame = pd.DataFrame(out)
    for c in ("first_seen", "last_seen"):
        frame[c] = pd.to_datetime(frame[c].astype("int64"), unit="ns", utc=True)
    frame = frame.assign(_a=frame["account"].fillna("")).sort_values(
        ["first_seen", "host", "rule", "_a"], kind="stable").drop(columns="_a").reset_index(drop=True)
    frame["finding_id"] = range(len(frame))
    frame["finding_id"] = frame["finding_id"].astype("int64")
    frame["count"] = frame["count"].astype("int64")
    for c in ("host", "account", "rule", "title", "level", "reason"):
        frame[c] = frame[c].astype("string")
    return frame[list(FINDING_COLUMNS)]


def _num(value: Any) -> Any:
    """An integer-like evidence value as ``int`` (None when missing)."""
    if value is None:
        return None
    try:
        return None if pd.isna(value) else int(value)
    except (TypeError, ValueError):
        return str(value)


def _plain(value: Any) -> Any:
    """A field value JSON can hold (numbers and text as they are, missing as None, else its text)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)
