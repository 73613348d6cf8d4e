"""Pushing an analysis result into Neo4j: batched, parameterised, idempotent, incremental, resumable.

* **Batched:** hops go in ``UNWIND $rows`` batches, one transaction per batch.
* **Idempotent / incremental:** an incoming hop joins the stored hop of its :func:`group_key`
  (source, destination, account) whose time range comes within ``hop_gap_s`` of it, else it is
  created. Joining adds the evidence ids (:func:`evidence_id`) not stored yet, takes min/max of
  first/last time, unions kinds, techniques and rules and keeps the highest score (with its
  severity). ``n_events``: exact sum minus the evidence seen twice when the evidence lists are
  complete or disjoint; when both are capped (``max_evidence_per_hop``) and overlap, the larger
  count (a lower bound). Each incoming row's content hash (``signature``) is recorded on the hop,
  so the very same row never applies twice: re-pushing a case changes nothing.
* **Resumable:** each push has a ``push_id`` (a hash of its rows and batch size) and a
  ``(:LatgraphPush)`` checkpoint node updated in the same transaction as each batch. Re-running an
  interrupted push skips the committed batches; even if it did not, the merge rules above make a
  repeated batch a no-op.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from graph.config import AnalysisConfig
from graph.model import HOP_COLUMNS, AnalysisResult
from graph.neo4j_store import cypher
from graph.neo4j_store.connection import Neo4jSettings, Neo4jStoreError, open_driver, translate_errors

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 2000
#: A push source: a full result, a hops frame, or ``(hops, graph)`` as the pipeline hands them out.
PushSource = AnalysisResult | pd.DataFrame | tuple[pd.DataFrame, Any]


@dataclass(frozen=True)
class PushReport:
    """What one push did."""

    push_id: str
    hops: int
    batches: int
    batches_written: int
    batches_skipped: int
    hosts: int
    seconds: float

    @property
    def resumed(self) -> bool:
        """True when earlier runs had already committed some batches."""
        return self.batches_skipped > 0


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
    """Stable id of one piece of evidence: event id, source file, record id and time."""
    ts = evidence.get("ts")
    return json.dumps([_int(evidence.get("event_id")), evidence.get("source_file"),
                       _int(evidence.get("record_id")), _iso_ns(ts)], ensure_ascii=False)


def push(
    source: PushSource,
    settings: Neo4jSettings | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    merge_gap_s: float | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    _fail_after_batches: int | None = None,
) -> PushReport:
    """Write a result's hosts, accounts and hops into Neo4j.

    Args:
        source: an :class:`~graph.model.AnalysisResult`, a hops frame (:data:`HOP_COLUMNS`) or
            ``(hops, graph)``.
        settings: connection settings (default: :meth:`Neo4jSettings.from_env`).
        batch_size: hops per transaction.
        merge_gap_s: an incoming hop joins a stored hop of the same (source, destination, account)
            when their time ranges come this close (default: the result's ``hop_gap_s``).
        on_progress: called with ``(batches_done, batches_total)`` after each batch.
        _fail_after_batches: test hook: raise after this many batches were committed in this run.

    Returns:
        A :class:`PushReport`.

    Raises:
        Neo4jStoreError: the driver is missing, the server unreachable, or the login refused.
    """
    if batch_size < 1:
        raise Neo4jStoreError(f"batch size must be at least 1, got {batch_size}")
    settings = settings or Neo4jSettings.from_env()
    hops, host_rows = _split_source(source)
    if merge_gap_s is None:
        config = source.config if isinstance(source, AnalysisResult) else AnalysisConfig()
        merge_gap_s = config.hop_gap_s
    merge_gap_ns = int(merge_gap_s * 1e9)
    rows = hop_rows(hops)
    batches = [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]
    push_id = _digest([batch_size, merge_gap_ns, *(r["signature"] for r in rows)])
    started = time.perf_counter()
    written = skipped = 0
    with open_driver(settings) as driver, translate_errors(settings), \
            driver.session(database=settings.database) as session:
        for statement in cypher.SCHEMA:
            session.run(statement).consume()
        state = session.execute_write(_run_single, cypher.START_PUSH, push_id=push_id,
                                      batches_total=len(batches), rows_total=len(rows),
                                      batch_size=batch_size)
        # A finished push re-runs fully (every batch is then a no-op by the merge rules).
        done = int(state["batches_done"])
        skipped = done
        if done:
            log.info("resuming push %s after %d of %d batches", push_id, done, len(batches))
        for index in range(done, len(batches)):
            session.execute_write(_write_batch, batches[index], push_id, index + 1, merge_gap_ns)
            written += 1
            if on_progress is not None:
                on_progress(index + 1, len(batches))
            if _fail_after_batches is not None and written >= _fail_after_batches:
                raise RuntimeError(f"test hook: push interrupted after {written} batches")
        if host_rows:
            session.execute_write(_run_single, cypher.WRITE_HOSTS, rows=host_rows)
        session.execute_write(_run_single, cypher.FINISH_PUSH, push_id=push_id)
    return PushReport(push_id=push_id, hops=len(rows), batches=len(batches), batches_written=written,
                      batches_skipped=skipped, hosts=len(host_rows),
                      seconds=time.perf_counter() - started)


def hop_rows(hops: pd.DataFrame) -> list[dict[str, Any]]:
    """Hops frame -> ``$rows`` parameters (plain Python values), sorted by hop key.

    Raises:
        Neo4jStoreError: a hops column is missing or a hop has no destination or times.
    """
    missing = [c for c in HOP_COLUMNS if c != "hop_id" and c not in hops.columns]
    if missing:
        raise Neo4jStoreError(f"hops frame lacks columns {missing}")
    rows: list[dict[str, Any]] = []
    for hop in hops.to_dict("records"):  # per-hop loop: hops, not events
        dst = _text(hop["dst_host"])
        if dst is None or _opt(hop["first_seen"]) is None or _opt(hop["last_seen"]) is None:
            raise Neo4jStoreError(f"hop {hop.get('hop_id')} has no destination host or no times")
        evidence = [dict(e) for e in (() if _opt_seq(hop["evidence"]) is None else hop["evidence"])]
        ids = [evidence_id(e) for e in evidence]
        if not ids:  # no evidence listed: the hop itself is its (single) evidence
            ids = [json.dumps(["hop", _iso_ns(hop["first_seen"]), _iso_ns(hop["last_seen"])])]
            evidence = [{}]
        unique = dict(zip(ids, evidence, strict=True))
        src_host, src_ip = _text(hop["src_host"]), _text(hop["src_ip"])
        row = {
            "hop_id": _int(hop.get("hop_id")),
            "group_key": group_key(src_host, src_ip, dst, hop["account"]),
            "hop_key": hop_key(src_host, src_ip, dst, hop["account"], hop["first_seen"]),
            "src": src_host if src_host is not None else src_ip,
            "src_host": src_host,
            "src_ip": src_ip,
            "dst": dst,
            "account": _text(hop["account"]),
            "first_seen_ns": _ns(hop["first_seen"]),
            "last_seen_ns": _ns(hop["last_seen"]),
            "kinds": [str(k) for k in hop["kinds"]],
            "techniques": [str(t) for t in hop["techniques"]],
            "rules": [str(r) for r in hop["rules"]],
            "evidence_ids": list(unique),
            "evidence": [json.dumps(_evidence_json(e), ensure_ascii=False, sort_keys=True)
                         for e in unique.values()],
            "n_events": int(hop["n_events"]),
            "score": float(hop["score"]),
            "severity": str(hop["severity"]),
        }
        row["signature"] = _digest([v for k, v in row.items() if k != "hop_id"])
        rows.append(row)
    rows.sort(key=lambda r: r["hop_key"])
    return rows


def _split_source(source: PushSource) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """(hops frame, host rows) from whatever the caller has."""
    if isinstance(source, AnalysisResult):
        hosts: list[dict[str, Any]] = []
        if source.compromised is not None and len(source.compromised):
            hosts = [{"name": str(r["host"]), "score": float(r["score"]),
                      "first_seen_ns": _ns(r["first_seen"])}
                     for r in source.compromised.to_dict("records")]
        return source.hops, hosts
    if isinstance(source, pd.DataFrame):
        return source, []
    if isinstance(source, Sequence) and len(source) == 2 and isinstance(source[0], pd.DataFrame):
        return source[0], []
    raise Neo4jStoreError(f"cannot push a {type(source).__name__}: give an AnalysisResult or a hops frame")


def _write_batch(tx: Any, rows: list[dict[str, Any]], push_id: str, batches_done: int,
                 merge_gap_ns: int) -> None:
    stored = tx.run(cypher.WRITE_HOPS, rows=rows, merge_gap_ns=merge_gap_ns).data()
    for kind, statement in cypher.WRITE_KINDS.items():
        keys = [r["hop_key"] for r in stored if kind in r["kinds"]]
        if keys:
            tx.run(statement, keys=keys).consume()
    tx.run(cypher.WRITE_ACCOUNTS, keys=[r["hop_key"] for r in stored]).consume()
    tx.run(cypher.CHECKPOINT, push_id=push_id, batches_done=batches_done).consume()


def _run_single(tx: Any, statement: str, **params: Any) -> dict[str, Any] | None:
    record = tx.run(statement, **params).single()
    return None if record is None else record.data()


def _digest(parts: Any) -> str:
    """A short stable hash of JSON-able parts."""
    raw = json.dumps(parts, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _evidence_json(evidence: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": _int(evidence.get("event_id")), "source_file": _text(evidence.get("source_file")),
            "record_id": _int(evidence.get("record_id")), "rule": _text(evidence.get("rule")),
            "ts": _iso_ns(evidence.get("ts"))}


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
    value = _opt(value)
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    value = _opt(value)
    return None if value is None else int(value)


def _ns(value: Any) -> int:
    """A time as int nanoseconds since the epoch (UTC)."""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value)


def _iso_ns(value: Any) -> str | None:
    """A time as ISO 8601 UTC with nanoseconds, or None."""
    if _opt(value) is None:
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.isoformat().replace("+00:00", "Z")
