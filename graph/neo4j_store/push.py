"""Pushing an analysis result into Neo4j: batched, parameterised, idempotent, incremental, resumable.

* **Batched, concurrent:** hops go in ``UNWIND $rows`` batches, one transaction per batch, cut only
  between (source, destination, account) groups so that batches are independent and ``writers``
  of them are written at the same time. Before any write: one lookup of the stored hops of every
  group of the push (:data:`cypher.LOOKUP_GROUPS`, nothing into an empty store), the plan of every
  batch (:class:`graph.neo4j_store.merge.Planner`: no-op, join or create per row) and the nodes.
  Per batch only the writes needed: a plain ``CREATE`` for new hops, an update for joined ones
  (after loading their properties), the checkpoint. After the batches: the account relationships,
  host facts and findings.
* **Idempotent / incremental:** an incoming hop joins the hop of its :func:`group_key`
  (source, destination, account) whose time range comes within ``hop_gap_s`` of it, else it is
  created. Joining adds the evidence ids (:func:`evidence_id`) not stored yet, takes min/max of
  first/last time, unions kinds, techniques and rules and keeps the highest score (with its
  severity). ``n_events``: exact sum minus the evidence seen twice when the evidence lists are
  complete or disjoint; when both are capped (``max_evidence_per_hop``) and overlap, the larger
  count (a lower bound). Each incoming row's content hash (``signature``) is recorded on the hop,
  so the very same row never applies twice: re-pushing a case changes nothing (and writes
  nothing but the checkpoint).
* **Unchanged re-push:** a finished push records the case's content hash
  (:func:`~graph.neo4j_store.rows.case_digest`) on its checkpoint; a push of the case the store's
  last finished push wrote (no push unfinished) reads and writes nothing else (``recheck=True``
  checks every row anyway).
* **Resumable:** each push has a ``push_id`` (a hash of its rows and batch size) and a
  ``(:LatgraphPush)`` checkpoint node updated in the same transaction as each batch. Re-running an
  interrupted push skips the committed batches; even if it did not, the merge rules above make a
  repeated batch a no-op.
"""

from __future__ import annotations

import gc
import itertools
import logging
import operator
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from graph.config import AnalysisConfig
from graph.model import AnalysisResult
from graph.neo4j_store import cypher
from graph.neo4j_store.bulk import finish_imports
from graph.neo4j_store.connection import Neo4jSettings, Neo4jStoreError, open_driver, translate_errors
from graph.neo4j_store.findings import write_findings
from graph.neo4j_store.merge import BatchPlan, Planner
from graph.neo4j_store.rows import (
    RowSource,
    _ns,
    case_digest,
    check_frame,
    cut_by_group,
    evidence_id,
    group_key,
    hop_key,
    hop_rows,
    node_key,
    push_id_of,
)
from graph.neo4j_store.writes import (
    _account_pairs,
    _create_schema,
    _ensure_schema,
    _row_props,
    _run_consume,
    _run_single,
    _wanted_nodes,
    _write_batches,
    _write_nodes,
)

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_WRITERS", "PushReport", "evidence_id", "group_batches", "group_key",
           "hop_key", "hop_rows", "push"]

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 2000
#: Batches written at the same time (each in its own transaction).
DEFAULT_WRITERS = 2
#: Groups per lookup read before the first batch.
LOOKUP_CHUNK = 20_000
#: Account relationship pairs per write after the batches (nodes per write: ``writes.NODE_CHUNK``).
ACCOUNT_CHUNK = 20_000
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
    #: Rows of the batches written in this run that became new hops / joined a hop / were no-ops.
    created: int = 0
    joined: int = 0
    unchanged: int = 0
    #: True when the push repeated the store's last finished push (same case digest): nothing was
    #: read but that checkpoint, nothing written.
    repeated: bool = False

    @property
    def resumed(self) -> bool:
        """True when earlier runs had already committed some batches."""
        return self.batches_skipped > 0


def push(
    source: PushSource,
    settings: Neo4jSettings | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    merge_gap_s: float | None = None,
    writers: int = DEFAULT_WRITERS,
    on_progress: Callable[[int, int], None] | None = None,
    recheck: bool = False,
    _fail_after_batches: int | None = None,
) -> PushReport:
    """Write a result's hosts, accounts, hops (and findings) into Neo4j.

    Args:
        source: an :class:`~graph.model.AnalysisResult`, a hops frame (:data:`HOP_COLUMNS`) or
            ``(hops, graph)``.
        settings: connection settings (default: :meth:`Neo4jSettings.from_env`).
        batch_size: hops per transaction (a batch never splits the rows of one (source, destination,
            account) group, so a batch can be larger when one group has more rows).
        merge_gap_s: an incoming hop joins a stored hop of the same (source, destination, account)
            when their time ranges come this close (default: the result's ``hop_gap_s``).
        writers: batches written at the same time, each in its own transaction and session (the
            batches touch disjoint groups, so the order they commit in does not matter).
        on_progress: called with ``(batches_done, batches_total)`` after each batch.
        recheck: check every row against the store even when the case is the one the store's last
            finished push wrote (by default such a re-push writes nothing: see :func:`case_digest`).
        _fail_after_batches: test hook: write only this many batches in this run, then raise.

    Returns:
        A :class:`PushReport`.

    Raises:
        Neo4jStoreError: the driver is missing, the server unreachable, or the login refused.
    """
    if batch_size < 1:
        raise Neo4jStoreError(f"batch size must be at least 1, got {batch_size}")
    if writers < 1:
        raise Neo4jStoreError(f"writers must be at least 1, got {writers}")
    with _no_cyclic_gc():
        return _push(source, settings, batch_size=batch_size, merge_gap_s=merge_gap_s, writers=writers,
                     on_progress=on_progress, recheck=recheck, fail_after_batches=_fail_after_batches)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The cyclic garbage collector off while a push builds its rows and plans: they are millions of
    small acyclic objects, and with the collector on, its repeated full passes over them took half
    of the client's CPU time (measured on the 49,770-hop case: rows + plans 5.7 -> 2.8 CPU-s).
    Reference counting still frees everything; the collector runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _push(source: PushSource, settings: Neo4jSettings | None, *, batch_size: int, merge_gap_s: float | None,
          writers: int, on_progress: Callable[[int, int], None] | None, recheck: bool,
          fail_after_batches: int | None) -> PushReport:
    """:func:`push` with the arguments checked."""
    settings = settings or Neo4jSettings.from_env()
    started = time.perf_counter()
    hops, host_rows, findings, merge_gap_ns, digest = _case_parts(source, merge_gap_s)
    # Notifications off: on a fresh database the server warns that the property keys the lookup
    # reads do not exist yet (the statements are constants; the warnings say nothing to a user).
    with open_driver(settings) as driver, translate_errors(settings), \
            driver.session(database=settings.database, notifications_min_severity="OFF") as session:
        last = session.execute_read(_run_single, cypher.LAST_PUSH)
        if last and last["imported"]:   # a bulk import into this (new) database: finish it first
            finish_imports(session)
            last = session.execute_read(_run_single, cypher.LAST_PUSH)
        if not recheck and last and last["push_id"] is not None and last["case_digest"] == digest \
                    and not last["unfinished"]:
            # The very same case was the last push to finish: every row is stored as it is, and
            # nothing is written (not even a run count: no transaction to commit).
            batches_total = int(last["batches_total"] or 0)
            if on_progress is not None and batches_total:
                on_progress(batches_total, batches_total)
            return PushReport(push_id=last["push_id"], hops=len(hops), batches=batches_total,
                              batches_written=0, batches_skipped=0, hosts=len(host_rows),
                              seconds=time.perf_counter() - started, unchanged=len(hops), repeated=True)
        return _push_rows(session, driver, settings, hops, host_rows, findings, digest, started,
                          batch_size=batch_size, merge_gap_ns=merge_gap_ns, writers=writers,
                          on_progress=on_progress, fail_after_batches=fail_after_batches)


def _push_rows(session: Any, driver: Any, settings: Neo4jSettings, hops: pd.DataFrame,
               host_rows: list[dict[str, Any]], findings: pd.DataFrame | None, digest: str, started: float,
               *, batch_size: int, merge_gap_ns: int, writers: int,
               on_progress: Callable[[int, int], None] | None, fail_after_batches: int | None) -> PushReport:
    """The push, row by row: plan every batch against the stored hops, write what changes.

    Into an empty store every row is written: the nodes come from the frame's names, and each
    batch's rows are built and planned while the batches before it are being written (the client's
    work overlaps the server's). Otherwise every batch is planned first, and only the nodes of the
    hops written are written."""
    check_frame(hops)   # before anything is written (the row source reads the frame aside)
    empty = not session.execute_read(_run_single, cypher.HAS_HOPS)["has_hops"]
    with _aside(driver, settings) as aside:
        # The server checks (and creates) the schema while the client reads the frame. Into an
        # empty store the relationship indexes are built once, after the last batch.
        schema = aside(_ensure_schema, defer_relationship_indexes=empty)
        source = RowSource(hops)
        batches = source.batches(batch_size)
        deferred = schema.result()
    # The same case (its digest) pushed with the same batch size and gap is the same push: a re-run
    # of an interrupted one resumes it.
    push_id = push_id_of(batch_size, merge_gap_ns, digest)
    tally = {"created": 0, "joined": 0, "unchanged": 0}
    state = session.execute_write(_run_single, cypher.START_PUSH, push_id=push_id,
                                  batches_total=len(batches), rows_total=len(source),
                                  batch_size=batch_size)
    # A finished push re-runs fully (every batch is then a no-op by the merge rules).
    done = set(int(i) for i in state["done"] or ()) & set(range(len(batches)))
    resuming = state["previous"] not in (None, "done") and bool(done)
    if done:
        log.info("resuming push %s after %d of %d batches", push_id, len(done), len(batches))
    planner = Planner(merge_gap_ns)
    if not empty:   # the stored hops of every group still to push, in a few large reads
        groups = sorted({source.group_keys[i] for b, batch in enumerate(batches) if b not in done
                         for i in batch})
        for i in range(0, len(groups), LOOKUP_CHUNK):
            found = session.execute_read(_run_single, cypher.LOOKUP_GROUPS,
                                         groups=groups[i:i + LOOKUP_CHUNK])
            planner.add_stored([dict(zip(cypher.LOOKUP_FIELDS, h, strict=True)) for h in found["hops"]])
    rows: list[dict[str, Any]] = []      # every row, in push order (findings name hops by them)
    written: list[dict[str, Any]] = []   # what the written hops touch (nodes, account pairs)
    progress = [len(done)]               # batches done, planned as no-ops, or committed

    def planned() -> Iterator[tuple[int, BatchPlan]]:
        """Each batch's rows built and planned, in order (no group spans two batches, so no plan
        depends on another batch's writes); the batches that write something."""
        for index, batch in enumerate(batches):
            batch_rows = source.rows(batch)
            rows.extend(batch_rows)
            if index in done:
                continue
            plan = planner.plan(batch_rows)
            tally["created"] += len(plan.created)
            tally["unchanged"] += plan.unchanged
            tally["joined"] += len(batch_rows) - len(plan.created) - plan.unchanged
            # New hops as planned, and the rows joining stored hops (the stored part was accounted
            # for when it was pushed).
            written.extend(h.props for h in plan.created if h.props is not None)
            written.extend(_row_props(r) for h in plan.updated for r in h.rows)
            if plan.writes:
                yield index, plan
            else:
                progress[0] += 1

    if empty:
        ids = _write_nodes(session, source.names())
        plans: Iterable[tuple[int, BatchPlan]] = planned()
    else:
        plans = list(planned())
        ids = _write_nodes(session, _wanted_nodes(
            written + ([_row_props(r) for r in rows] if resuming else [])))
        if on_progress is not None and progress[0]:
            on_progress(progress[0], len(batches))
    if fail_after_batches is not None:
        plans = itertools.islice(plans, fail_after_batches)
    for count in _write_batches(driver, settings, plans, ids, push_id, writers):
        progress[0] += count
        if on_progress is not None:
            on_progress(min(progress[0], len(batches)), len(batches))
    if fail_after_batches is not None:
        raise RuntimeError(f"test hook: push interrupted after {fail_after_batches} batches")
    # All rows when resuming: the account pairs of the batches committed by the interrupted run.
    account_source = written + ([_row_props(r) for r in rows] if resuming else [])
    with _aside(driver, settings) as aside:
        # The deferred relationship indexes are built while the account pairs, host facts and
        # findings (no LATERAL relationship among them) are written; the push is done once both are.
        indexes = aside(_create_schema, deferred) if deferred else None
        if account_source:
            auth, used = _account_pairs(account_source, ids)
            for i in range(0, max(len(auth), len(used)), ACCOUNT_CHUNK):
                session.execute_write(_run_consume, cypher.WRITE_ACCOUNTS, auth=auth[i:i + ACCOUNT_CHUNK],
                                      used=used[i:i + ACCOUNT_CHUNK])
        if host_rows:
            session.execute_write(_run_consume, cypher.WRITE_HOSTS, rows=host_rows)
        if findings is not None and len(findings):
            write_findings(session, findings, hops, rows, planner.placed)
        if indexes is not None:
            indexes.result()
    session.execute_write(_run_consume, cypher.FINISH_PUSH, push_id=push_id, case_digest=digest)
    return PushReport(push_id=push_id, hops=len(rows), batches=len(batches),
                      batches_written=len(batches) - len(done), batches_skipped=len(done),
                      hosts=len(host_rows), seconds=time.perf_counter() - started, **tally)


@contextmanager
def _aside(driver: Any, settings: Neo4jSettings) -> Iterator[Callable[..., Future[Any]]]:
    """``aside(fn, *args)`` runs ``fn(session, *args)`` in a thread on a second session: the server
    works on it while this thread goes on (the caller waits for the future's result)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="latgraph-neo4j-aside")
    session = driver.session(database=settings.database, notifications_min_severity="OFF")
    try:
        yield lambda fn, *args, **kw: pool.submit(fn, session, *args, **kw)
    finally:
        pool.shutdown(wait=True)
        session.close()


def group_batches(rows: list[dict[str, Any]], batch_size: int) -> list[list[dict[str, Any]]]:
    """Rows (in :func:`hop_rows` order: by group) cut into batches of about ``batch_size`` rows, never
    between two rows of one group (batches are then independent: they can be written in any order).

    Examples:
        >>> rows = [{"group_key": g} for g in "aabbbc"]
        >>> [[r["group_key"] for r in b] for b in group_batches(rows, 2)]
        [['a', 'a'], ['b', 'b', 'b'], ['c']]
    """
    return cut_by_group(rows, operator.itemgetter("group_key"), batch_size)


def _case_parts(source: PushSource, merge_gap_s: float | None
                ) -> tuple[pd.DataFrame, list[dict[str, Any]], pd.DataFrame | None, int, str]:
    """What a push (Bolt or bulk) writes: hops, host rows, findings, the merge gap in ns (the
    case's ``hop_gap_s`` when None) and the case digest."""
    hops, host_rows = _split_source(source)
    findings = source.findings if isinstance(source, AnalysisResult) else None
    if merge_gap_s is None:
        config = source.config if isinstance(source, AnalysisResult) else AnalysisConfig()
        merge_gap_s = config.hop_gap_s
    merge_gap_ns = int(merge_gap_s * 1e9)
    return hops, host_rows, findings, merge_gap_ns, case_digest(hops, host_rows, findings, merge_gap_ns)


def _split_source(source: PushSource) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """(hops frame, host rows) from whatever the caller has."""
    if isinstance(source, AnalysisResult):
        hosts: list[dict[str, Any]] = []
        if source.compromised is not None and len(source.compromised):
            hosts = [{"key": node_key(str(r["host"])), "name": str(r["host"]), "score": float(r["score"]),
                      "first_seen_ns": _ns(r["first_seen"])}
                     for r in source.compromised.to_dict("records")]
        return source.hops, hosts
    if isinstance(source, pd.DataFrame):
        return source, []
    if isinstance(source, Sequence) and len(source) == 2 and isinstance(source[0], pd.DataFrame):
        return source[0], []
    raise Neo4jStoreError(f"cannot push a {type(source).__name__}: give an AnalysisResult or a hops frame")
