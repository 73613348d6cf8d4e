"""Hops frame -> push rows: keys, evidence ids and the plain Python values sent as Cypher parameters.

A row carries one hop as it will be stored (see docs/neo4j.md, "What is stored"): group and hop
keys, source/destination/account, ``*_ns`` times, kinds, techniques, rules, deduplicated evidence
ids with their parallel evidence JSON strings, counts, score, severity, and a ``signature`` (a
content hash of everything but ``hop_id``) that makes re-pushing the very same hop a no-op.

Evidence ids, evidence JSON and signatures are stored; their text must not change between
versions, or a re-push after an upgrade would no longer recognise what is already stored. The
fast formatting below is therefore checked against the pandas-based reference (tests).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from graph.model import HOP_COLUMNS
from graph.neo4j_store.connection import Neo4jStoreError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# One encoder each (json.dumps with keyword arguments builds a new encoder per call).
_PLAIN = json.JSONEncoder(ensure_ascii=False)
_SORTED = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def group_key(src_host: Any, src_ip: Any, dst_host: str, account: Any) -> str:
    """Key of the hop group (source host else IP, destination, account) that hops merge within.

    Examples:
        >>> group_key("WS01", None, "DC01", "alice") == group_key("WS01", "10.0.0.5", "DC01", "alice")
        True
        >>> group_key("WS01", None, "DC01", "alice") == group_key("WS01", None, "DC01", "bob")
        False
    """
    source = _text(src_host) if _text(src_host) is not None else f"ip:{_text(src_ip) or ''}"
    return _digest([source, dst_host, _text(account)])


def hop_key(src_host: Any, src_ip: Any, dst_host: str, account: Any, first_seen: Any) -> str:
    """Stable key of a stored hop: its group and the first_seen it was created with."""
    return _digest([group_key(src_host, src_ip, dst_host, account), _ns(first_seen)])


def evidence_id(evidence: dict[str, Any]) -> str:
    """Stable id of one piece of evidence: event id, source file, record id and time.

    Examples:
        >>> evidence_id({"event_id": 4624, "source_file": "a.evtx", "record_id": 7,
        ...              "ts": pd.Timestamp("2024-05-01 10:00:00.5", tz="UTC")})
        '[4624, "a.evtx", 7, "2024-05-01T10:00:00.500000Z"]'
    """
    return _PLAIN.encode([_int(evidence.get("event_id")), evidence.get("source_file"),
                          _int(evidence.get("record_id")), _iso_ns(evidence.get("ts"))])


def hop_rows(hops: pd.DataFrame) -> list[dict[str, Any]]:
    """Hops frame -> ``$rows`` parameters (plain Python values), by group key, then first time.

    Raises:
        Neo4jStoreError: a hops column is missing or a hop has no destination or times.
    """
    missing = [c for c in HOP_COLUMNS if c != "hop_id" and c not in hops.columns]
    if missing:
        raise Neo4jStoreError(f"hops frame lacks columns {missing}")
    rows: list[dict[str, Any]] = []
    names: dict[Any, str] = {}
    for hop in hops.to_dict("records"):  # per-hop loop: hops, not events
        dst = _text(hop["dst_host"])
        if dst is None or _opt(hop["first_seen"]) is None or _opt(hop["last_seen"]) is None:
            raise Neo4jStoreError(f"hop {hop.get('hop_id')} has no destination host or no times")
        unique: dict[str, str] = {}
        for e in (() if _opt_seq(hop["evidence"]) is None else hop["evidence"]):
            ident, text = _evidence_texts(e, names)
            unique[ident] = text  # the last of equal ids wins, at the first one's place
        if not unique:  # no evidence listed: the hop itself is its (single) evidence
            unique[_PLAIN.encode(["hop", _iso_ns(hop["first_seen"]), _iso_ns(hop["last_seen"])])] = \
                _SORTED.encode(_evidence_json({}))
        src_host, src_ip, account = _text(hop["src_host"]), _text(hop["src_ip"]), _text(hop["account"])
        group = group_key(src_host, src_ip, dst, account)
        first_ns = _ns(hop["first_seen"])
        row = {
            "hop_id": _int(hop.get("hop_id")),
            "group_key": group,
            "hop_key": _digest([group, first_ns]),
            "src": src_host if src_host is not None else src_ip,
            "src_host": src_host,
            "src_ip": src_ip,
            "dst": dst,
            "account": account,
            "first_seen_ns": first_ns,
            "last_seen_ns": _ns(hop["last_seen"]),
            "kinds": [str(k) for k in hop["kinds"]],
            "techniques": [str(t) for t in hop["techniques"]],
            "rules": [str(r) for r in hop["rules"]],
            "evidence_ids": list(unique),
            "evidence": list(unique.values()),
            "n_events": int(hop["n_events"]),
            "score": float(hop["score"]),
            "severity": str(hop["severity"]),
        }
        row["signature"] = _digest([v for k, v in row.items() if k != "hop_id"])
        rows.append(row)
    # A group's rows in time order, next to each other: each batch then looks up few groups, and
    # rows of a group meet its stored hops in time order.
    rows.sort(key=lambda r: (r["group_key"], r["first_seen_ns"], r["hop_key"]))
    return rows


def _evidence_texts(evidence: Any, names: dict[Any, str]) -> tuple[str, str]:
    """(evidence id, evidence JSON) of one evidence mapping: the text ``json.dumps`` gives (ids with
    ``ensure_ascii=False``, JSON also with ``sort_keys=True``), assembled from encoded parts.

    ``names`` caches the JSON of file and rule names (they repeat across evidence).
    """
    get = evidence.get
    ts = _iso_ns(get("ts"))
    event_id, record_id, source_file, rule = (_int(get("event_id")), _int(get("record_id")),
                                              get("source_file"), get("rule"))
    if not (source_file is None or type(source_file) is str):  # odd values: the reference encoder
        ident = _PLAIN.encode([event_id, source_file, record_id, ts])
        text = _SORTED.encode({"event_id": event_id, "source_file": _text(source_file),
                               "record_id": record_id, "rule": _text(rule), "ts": ts})
        return ident, text
    file_json = names.get(source_file) or names.setdefault(source_file, _PLAIN.encode(source_file))
    rule_text = _text(rule)
    rule_json = names.get(rule_text) or names.setdefault(rule_text, _PLAIN.encode(rule_text))
    eid = "null" if event_id is None else str(event_id)
    rid = "null" if record_id is None else str(record_id)
    ts_json = "null" if ts is None else f'"{ts}"'
    return (f"[{eid}, {file_json}, {rid}, {ts_json}]",
            f'{{"event_id": {eid}, "record_id": {rid}, "rule": {rule_json}, "source_file": {file_json}, '
            f'"ts": {ts_json}}}')


def _evidence_json(evidence: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": _int(evidence.get("event_id")), "source_file": _text(evidence.get("source_file")),
            "record_id": _int(evidence.get("record_id")), "rule": _text(evidence.get("rule")),
            "ts": _iso_ns(evidence.get("ts"))}


def _digest(parts: Any) -> str:
    """A short stable hash of JSON-able parts."""
    return hashlib.sha256(_SORTED.encode(parts).encode()).hexdigest()[:32]


def _opt(value: Any) -> Any:
    if value is None:
        return None
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):
        return value


def _opt_seq(value: Any) -> Any:
    """A sequence cell (tuple, list, numpy array) or None when missing."""
    if value is None or isinstance(value, float):
        return None
    return value


def _text(value: Any) -> str | None:
    if type(value) is str:  # the common case, without the NA checks
        return value
    value = _opt(value)
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    if type(value) is int:
        return value
    value = _opt(value)
    return None if value is None else int(value)


def _ns(value: Any) -> int:
    """A time as int nanoseconds since the epoch (UTC)."""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value)


def _iso_ns(value: Any) -> str | None:
    """A time as ISO 8601 UTC with nanoseconds (``pd.Timestamp.isoformat`` digits), or None.

    Examples:
        >>> _iso_ns(pd.Timestamp("2024-05-01 10:00:00.000000123", tz="UTC"))
        '2024-05-01T10:00:00.000000123Z'
        >>> _iso_ns(pd.Timestamp("2024-05-01 12:00:00+02:00")), _iso_ns(pd.NaT)
        ('2024-05-01T10:00:00Z', None)
    """
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return _iso_from_ns(value.value)
    if isinstance(value, datetime):  # what the analysis puts in evidence: microseconds, no ns
        if value.tzinfo is not None and value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        text = value.isoformat()[:19]
        return f"{text}.{value.microsecond:06d}Z" if value.microsecond else text + "Z"
    return _iso_reference(value)


def _iso_from_ns(ns: int) -> str:
    """``_iso_reference`` of a UTC nanosecond count, without building a Timestamp."""
    micros, nanos = divmod(ns, 1000)
    dt = _EPOCH + timedelta(microseconds=micros)
    text = dt.isoformat()[:19]
    if nanos:
        return f"{text}.{dt.microsecond:06d}{nanos:03d}Z"
    if dt.microsecond:
        return f"{text}.{dt.microsecond:06d}Z"
    return text + "Z"


def _iso_reference(value: Any) -> str | None:
    """The pandas-based formatting (the stored format's definition)."""
    if _opt(value) is None:
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.isoformat().replace("+00:00", "Z")
