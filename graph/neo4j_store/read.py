"""Reading a stored case back: the hops frame (and the graph) as the in-memory analysis has them.

``hop_id`` is re-assigned on load in (first_seen, source, destination, account) order, the order
in which :mod:`graph.correlate` numbers hops, so a case pushed once loads back with its own ids
(after incremental pushes the ids are simply renumbered); ``hop_key`` links stored and loaded hops.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pandas as pd

from graph.model import HOP_COLUMNS
from graph.neo4j_store import cypher
from graph.neo4j_store.connection import Neo4jSettings, Neo4jStoreError, open_driver, translate_errors

log = logging.getLogger(__name__)

#: The statement that reads every stored hop (in hop-id order).
READ_HOPS_STATEMENT = cypher.READ_HOPS

#: Columns of :func:`load_hops`: the hops frame plus the store's hop key.
LOADED_COLUMNS: tuple[str, ...] = (*HOP_COLUMNS, "hop_key")


class IncompletePushError(Neo4jStoreError):
    """The store holds a push that did not finish: its hops, paths and patient zero are partial."""


def incomplete_pushes(session: Any) -> list[dict[str, Any]]:
    """The checkpoints (``LatgraphPush``) of pushes that started and did not finish."""
    return session.run(cypher.INCOMPLETE_PUSHES).data()


def incomplete_message(pushes: list[dict[str, Any]]) -> str:
    """What is incomplete and what to do, for an error or a warning.

    Examples:
        >>> text = incomplete_message([{"push_id": "ab12", "status": "running", "batches_done": 3,
        ...                             "batches_total": 8, "updated_at": "2026-12-03T05:00:00Z"}])
        >>> "push ab12: 3 of 8 batches committed" in text and "re-run" in text
        True
    """
    parts = [f"push {p['push_id']}: {p.get('batches_done') or 0} of {p.get('batches_total') or '?'} batches "
             f"committed, last at {p.get('updated_at')}" for p in pushes]
    many = "unfinished pushes" if len(pushes) > 1 else "an unfinished push"
    return (f"the Neo4j store holds {many} ({'; '.join(parts)}): its answers may miss hops (a wrong "
            "patient zero); re-run the same `latgraph neo4j push` to finish it (it resumes), or wait "
            "for a running push to end")


def check_complete(session: Any, allow_incomplete: bool = False) -> str | None:
    """Refuse to answer from a half-finished push.

    Returns:
        None when every push finished; the warning text when some did not and
        ``allow_incomplete`` is true (the caller shows it).

    Raises:
        IncompletePushError: some push did not finish and ``allow_incomplete`` is false.
    """
    from graph.neo4j_store.bulk import finish_imports

    finish_imports(session)   # a bulk import is finished by the first connection after it
    pushes = incomplete_pushes(session)
    if not pushes:
        return None
    message = incomplete_message(pushes)
    if not allow_incomplete:
        raise IncompletePushError(message + " (or accept partial answers with --allow-incomplete)")
    log.warning("%s", message)
    return message


def load_hops(settings: Neo4jSettings | None = None) -> pd.DataFrame:
    """The stored hops as a hops frame (:data:`HOP_COLUMNS` + ``hop_key``), earliest first."""
    settings = settings or Neo4jSettings.from_env()
    with open_driver(settings) as driver, translate_errors(settings), \
            driver.session(database=settings.database) as session:
        records = session.run(cypher.READ_HOPS).data()
    return hops_from_records(records)


def hops_from_records(records: list[dict[str, Any]]) -> pd.DataFrame:
    """``READ_HOPS`` records -> hops frame with dtypes as the in-memory analysis produces."""
    rows = []
    for hop_id, rec in enumerate(records):
        evidence = tuple(_evidence(item) for item in _evidence_list(rec["evidence"]))
        rows.append({
            "hop_id": hop_id,
            "src_host": rec["src_host"],
            "src_ip": rec["src_ip"],
            "dst_host": rec["dst_host"],
            "account": rec["account"],
            "first_seen": rec["first_seen_ns"],
            "last_seen": rec["last_seen_ns"],
            "kinds": tuple(sorted(rec["kinds"] or ())),
            "techniques": tuple(sorted(rec["techniques"] or ())),
            "rules": tuple(sorted(rec["rules"] or ())),
            "evidence": tuple(e for e in evidence if e),
            "n_events": int(rec["n_events"]),
            "score": float(rec["score"]),
            "severity": rec["severity"],
            "hop_key": rec["hop_key"],
        })
    frame = pd.DataFrame(rows, columns=list(LOADED_COLUMNS))
    for col in ("first_seen", "last_seen"):
        frame[col] = pd.to_datetime(frame[col].astype("int64"), unit="ns", utc=True)
    for col in ("src_host", "src_ip", "dst_host", "account", "severity", "hop_key"):
        frame[col] = frame[col].astype("string")
    frame["hop_id"] = frame["hop_id"].astype("int64")
    frame["n_events"] = frame["n_events"].astype("int64")
    frame["score"] = frame["score"].astype("float64")
    return frame


def _evidence_list(stored: Any) -> list[Any]:
    """The evidence items of a stored hop: one JSON array string (this version) or a list of JSON
    object strings (stores written before it)."""
    if stored is None:
        return []
    if isinstance(stored, str):
        return json.loads(stored)
    return [json.loads(text) for text in stored]


def _evidence(data: dict[str, Any]) -> dict[str, Any]:
    """One stored evidence object -> the evidence dict of the hops frame (ts as Timestamp; the
    placeholder of a hop stored without evidence -> empty)."""
    if not data or all(v is None for v in data.values()):
        return {}
    data = dict(data)
    ts = data.get("ts")
    data["ts"] = None if ts is None else pd.Timestamp(ts)
    return data
