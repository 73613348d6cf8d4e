"""The writes of a push (Bolt): schema, nodes, batches of hops, account pairs, and the transaction
helpers the push runs its Cypher with.

:func:`graph.neo4j_store.push.push` plans the batches and calls these; the bulk import
(:mod:`graph.neo4j_store.bulk`) shares the schema, the node and account-pair collection and the
relationship types. Every statement is a constant of :mod:`graph.neo4j_store.cypher`, with values
only as parameters.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

from graph.neo4j_store import cypher
from graph.neo4j_store.connection import Neo4jSettings, quiet
from graph.neo4j_store.merge import BatchPlan, apply_updates, to_store
from graph.neo4j_store.rows import node_key

log = logging.getLogger("graph.neo4j_store.push")   # the push's logger, as before these moved here

#: Nodes per write before the batches.
NODE_CHUNK = 20_000


def _row_props(row: dict[str, Any]) -> dict[str, Any]:
    """The fields of a row the node and account writes read (as in the written properties)."""
    return {"src": row["src"], "dst_host": row["dst"], "account": row["account"],
            "first_seen_ns": row["first_seen_ns"], "last_seen_ns": row["last_seen_ns"]}


def _wanted_nodes(props: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (kind, name) of every node the written hops touch."""
    wanted = {("host", p["dst_host"]) for p in props}
    wanted |= {("host", p["src"]) if p["src"] is not None else ("unknown", p["dst_host"]) for p in props}
    wanted |= {("account", p["account"]) for p in props if p["account"] is not None}
    return sorted(wanted)


def _write_nodes(session: Any, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """MERGE the nodes (by their bounded key) before any hop, returning their element ids."""
    ids: dict[tuple[str, str], str] = {}
    for i in range(0, len(wanted), NODE_CHUNK):
        chunk = wanted[i:i + NODE_CHUNK]

        def named(kind: str, chunk: list[tuple[str, str]] = chunk) -> list[dict[str, str]]:
            return [{"key": node_key(n), "name": n} for k, n in chunk if k == kind]

        records = session.execute_write(_run_data, cypher.WRITE_NODES, hosts=named("host"),
                                        unknown=named("unknown"), accounts=named("account"))
        ids.update(((rec["kind"], rec["name"]), rec["id"]) for rec in records)
    return ids


def _write_batches(driver: Any, settings: Neo4jSettings, plans: Iterable[tuple[int, BatchPlan]],
                   ids: dict[tuple[str, str], str], push_id: str, writers: int) -> Iterator[int]:
    """Write the batches, ``writers`` at a time (one session each); yields 1 per committed batch.

    ``plans`` may be a generator that builds each plan: a batch is handed to a writer as soon as it is
    planned, so the next one is built while it is written. The first failure stops the rest (the
    committed batches are recorded in the checkpoint: a re-run resumes) and is raised.
    """
    sessions: list[Any] = []
    local = threading.local()
    lock = threading.Lock()

    def write(item: tuple[int, BatchPlan]) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = driver.session(database=settings.database,
                                                     notifications_min_severity="OFF")
            with lock:
                sessions.append(session)
        session.execute_write(_write_batch, item[1], ids, push_id, item[0])

    pool = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="latgraph-neo4j")
    pending: list[Future[None]] = []
    try:
        for item in plans:
            pending.append(pool.submit(write, item))
            failed = next((f for f in pending if f.done() and f.exception() is not None), None)
            if failed is not None:
                failed.result()
        for future in as_completed(pending):
            future.result()
            yield 1
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
        for session in sessions:
            session.close()


def _ensure_schema(session: Any, *, defer_relationship_indexes: bool = False) -> list[str]:
    """Create the missing constraints and indexes (one ``SHOW`` when all exist) and wait for them.

    With ``defer_relationship_indexes`` the missing relationship ones are not created but returned
    (for :func:`_create_schema` after the last batch).
    """
    names = {r["name"] for r in session.run("SHOW INDEXES YIELD name RETURN name")}
    names |= {r["name"] for r in session.run("SHOW CONSTRAINTS YIELD name RETURN name")}
    if names & set(cypher.OLD_SCHEMA):
        _migrate_keys(session, names)
    missing = [st for st in cypher.SCHEMA if st.split()[2] not in names]
    deferred = [st for st in missing if defer_relationship_indexes and st in cypher.RELATIONSHIP_SCHEMA]
    _create_schema(session, [st for st in missing if st not in deferred])
    return deferred


def _migrate_keys(session: Any, names: set[str]) -> None:
    """A store written before node keys: give every node its ``key``, drop the name constraints."""
    for label, statement in cypher.NODES_WITHOUT_KEY.items():
        rows = [{"id": r["id"], "key": node_key(r["name"])} for r in session.run(statement)
                if r["name"] is not None]
        for i in range(0, len(rows), 10_000):
            session.execute_write(_run_data, cypher.SET_KEYS, rows=rows[i:i + 10_000])
        log.info("gave %d %s node(s) their key", len(rows), label)
    for name in cypher.OLD_SCHEMA:
        if name in names:
            kind = "INDEX" if name == "latgraph_lateral_account" else "CONSTRAINT"
            session.run(f"DROP {kind} {name} IF EXISTS").consume()   # a fixed name, not data


def _create_schema(session: Any, statements: list[str]) -> None:
    """Run schema statements (``IF NOT EXISTS``) and wait until the indexes are online."""
    for statement in statements:
        session.run(statement).consume()
    if statements:
        session.run("CALL db.awaitIndexes(300)").consume()


def _write_batch(tx: Any, plan: BatchPlan, ids: dict[tuple[str, str], str], push_id: str,
                 index: int) -> None:
    """One batch's writes in one transaction: load the joined hops stored before this push, create
    the new hops, update the joined ones, record the batch in the checkpoint. Nodes are addressed
    by the element ids written before the batches."""
    if plan.updated:
        need = [{"hop_key": h.hop_key, "rel_id": h.rel_id} for h in plan.updated if h.stored is None]
        loaded = {rec["hop_key"]: rec["props"]
                  for rec in tx.run(cypher.LOAD_HOPS, quiet({"rows": need})).data()} if need else {}
        apply_updates(plan, loaded)
    if plan.created:
        rows = [{"s": ids[("host", p["src"]) if p["src"] is not None else ("unknown", p["dst_host"])],
                 "d": ids[("host", p["dst_host"])], "types": _types(p["kinds"]), "props": to_store(p)}
                for p in (h.props for h in plan.created) if p is not None]
        tx.run(cypher.CREATE_HOPS, quiet({"rows": rows})).consume()
    if plan.updated:
        rows = [{"rel_id": h.rel_id, "types": _types(h.props["kinds"]),
                 "props": to_store(h.props, update=True)} for h in plan.updated if h.props is not None]
        tx.run(cypher.UPDATE_HOPS, quiet({"rows": rows})).consume()
    tx.run(cypher.CHECKPOINT, push_id=push_id, batch=index).consume()


def _types(kinds: list[str]) -> list[str]:
    """The relationship types of a hop's kinds (from the fixed whitelist; unknown kinds have none)."""
    return [cypher.KIND_TYPES[k] for k in kinds if k in cypher.KIND_TYPES]


def _account_pairs(written: list[dict[str, Any]], ids: dict[tuple[str, str], str]
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(account, destination) and (source host, account) pairs with their min first / max last time,
    nodes as element ids."""
    auth: dict[tuple[str, str], list[int]] = {}
    used: dict[tuple[str, str], list[int]] = {}
    for p in written:
        if p["account"] is None:
            continue
        pairs = [(auth, (p["account"], p["dst_host"]))]
        if p["src"] is not None:
            pairs.append((used, (p["src"], p["account"])))
        for table, key in pairs:
            span = table.setdefault(key, [p["first_seen_ns"], p["last_seen_ns"]])
            span[0], span[1] = min(span[0], p["first_seen_ns"]), max(span[1], p["last_seen_ns"])
    return ([{"a": ids[("account", a)], "d": ids[("host", d)], "first": f, "last": la}
             for (a, d), (f, la) in auth.items()],
            [{"s": ids[("host", s)], "a": ids[("account", a)], "first": f, "last": la}
             for (s, a), (f, la) in used.items()])


def _run_consume(tx: Any, statement: str, **params: Any) -> None:
    tx.run(statement, quiet(params)).consume()


def _run_data(tx: Any, statement: str, **params: Any) -> list[dict[str, Any]]:
    return tx.run(statement, quiet(params)).data()


def _run_single(tx: Any, statement: str, **params: Any) -> dict[str, Any] | None:
    record = tx.run(statement, quiet(params)).single()
    return None if record is None else record.data()
