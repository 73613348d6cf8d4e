"""A case into a brand-new Neo4j database with the server's bulk importer (``neo4j-admin database
import full``), storing exactly the graph a Bolt :func:`~graph.neo4j_store.push.push` would store.

The importer writes the store files directly (no transactions, no Cypher): for a first push of a
large case it is the fast path. It needs the database to be new and offline (the server stopped, or
a database the server has never started), on the machine that runs the importer.

1. The rows and the plan are the push's own (:func:`~graph.neo4j_store.rows.hop_rows`,
   :class:`~graph.neo4j_store.merge.Planner` into an empty store: rows of one hop joined in Python),
   so every stored property is the one :func:`push` would write.
2. Node and relationship CSV files are written (every string quoted, quotes doubled, so names and
   file paths from the logs are data: commas, quotes, line breaks and Cypher text included).
3. The importer runs; it refuses an existing database (no ``--overwrite-destination``): a real case
   is never replaced.
4. The checkpoint node says ``imported`` (with ``empty_lists``, how many hops and findings have an
   empty list). The first connection after the server started (:func:`finish_imports`, run by every
   ``push``, ``paths``, ``query`` and ``load_result``) gives the empty lists the importer cannot
   write (it stores an empty array as no property; no pass at all when there are none), creates the
   constraints and indexes and marks the push ``done``. Until then, ``paths`` and ``query`` see an
   unfinished push.

Later pushes over Bolt are incremental on top (the imported hops carry their signatures and keys).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graph.neo4j_store import cypher
from graph.neo4j_store.connection import Neo4jStoreError
from graph.neo4j_store.findings import finding_rows
from graph.neo4j_store.merge import Planner
from graph.neo4j_store.rows import hop_rows, node_key, push_id_of
from graph.neo4j_store.stored_text import _iso_from_ns, _iso_many, evidence_text

__all__ = ["ARRAY_DELIMITER", "BulkImportError", "BulkReport", "bulk_import", "finish_imports"]

#: The importer's array delimiter; no element of a stored list may contain it.
ARRAY_DELIMITER = ";"
#: Lists the importer cannot store when empty (it writes no property): set after the import.
EMPTY_LISTS = {"LATERAL": ("kinds", "techniques", "rules"), "Finding": ("attack", "rules", "hop_keys")}


class BulkImportError(Neo4jStoreError):
    """The bulk import cannot run or failed (the message says why and what to do)."""


@dataclass(frozen=True)
class BulkReport:
    """What one bulk import did (times in seconds)."""

    push_id: str
    hops: int
    relationships: int
    nodes: int
    csv_bytes: int
    rows_seconds: float
    csv_seconds: float
    import_seconds: float
    seconds: float
    directory: Path | None
    #: True when a written value held a line break (a name from the logs): the importer then parses
    #: every file with ``--multiline-fields`` (about half its speed), else line by line.
    multiline: bool = False


def bulk_import(source: Any, neo4j_home: Path, *, database: str = "neo4j",
                admin: Sequence[str] | None = None, batch_size: int | None = None,
                merge_gap_s: float | None = None, work_dir: Path | None = None,
                keep_files: bool = False, env: dict[str, str] | None = None) -> BulkReport:
    """Import a case into the brand-new database ``database`` of the Neo4j installation ``neo4j_home``.

    Args:
        source: an :class:`~graph.model.AnalysisResult`, a hops frame, or ``(hops, graph)``.
        neo4j_home: the Neo4j home (``NEO4J_HOME``: its ``data/databases`` receives the store).
        database: the database to create (it must not exist yet).
        admin: the ``neo4j-admin`` command (default ``NEO4J_HOME/bin/neo4j-admin``, else the one on
            ``PATH``); a list, e.g. ``["java", "-cp", ..., "org.neo4j.cli.AdminTool"]``.
        batch_size: the batch size of the push id (the one a Bolt re-push with that batch size
            recognises); default :data:`~graph.neo4j_store.push.DEFAULT_BATCH_SIZE`.
        merge_gap_s: as for :func:`push` (default: the result's ``hop_gap_s``).
        work_dir: where the CSV files go (default: a temporary directory, removed afterwards).
        keep_files: keep the CSV files (in ``work_dir``).
        env: extra environment for the importer (e.g. ``JAVA_OPTS``).

    Raises:
        BulkImportError: no importer, an existing database, a list element holding the array
            delimiter, or the importer failed (its last output lines are in the message).
    """
    from graph.neo4j_store.push import _no_cyclic_gc

    with _no_cyclic_gc():
        return _bulk_import(source, Path(neo4j_home), database=database, admin=admin, batch_size=batch_size,
                            merge_gap_s=merge_gap_s, work_dir=work_dir, keep_files=keep_files, env=env)


def _bulk_import(source: Any, neo4j_home: Path, *, database: str, admin: Sequence[str] | None,
                 batch_size: int | None, merge_gap_s: float | None, work_dir: Path | None, keep_files: bool,
                 env: dict[str, str] | None) -> BulkReport:
    """:func:`bulk_import` with the garbage collector off."""
    from graph.neo4j_store.push import DEFAULT_BATCH_SIZE, _case_parts, group_batches

    started = time.perf_counter()
    command = _admin_command(neo4j_home, admin)
    Path(neo4j_home).mkdir(parents=True, exist_ok=True)
    hops, host_rows, findings, merge_gap_ns, digest = _case_parts(source, merge_gap_s)
    batch_size = batch_size or DEFAULT_BATCH_SIZE
    rows = hop_rows(hops)
    batches = group_batches(rows, batch_size)
    push_id = push_id_of(batch_size, merge_gap_ns, digest)
    planner = Planner(merge_gap_ns)
    hops_props = [h.props for h in planner.plan(rows).created if h.props is not None]
    hop_keys = {int(r["hop_id"]): planner.placed.get(r["signature"], r["hop_key"])
                for r in rows if r["hop_id"] is not None}
    found = finding_rows(findings, hop_keys) if findings is not None and len(findings) else []
    rows_seconds = time.perf_counter() - started

    t = time.perf_counter()
    own_dir = work_dir is None
    directory = Path(tempfile.mkdtemp(prefix="latgraph-import-")) if own_dir else Path(work_dir)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        files, n_nodes, n_rels, multiline = _write_csv(directory, hops_props, host_rows, found, push_id,
                                                       digest, len(batches), len(rows), batch_size)
        csv_bytes = sum(p.stat().st_size for p in directory.glob("*.csv"))
        csv_seconds = time.perf_counter() - t
        t = time.perf_counter()
        # The database name first: --nodes / --relationships take several values each.
        args = [*command, "database", "import", "full", database, "--id-type=string",
                f"--multiline-fields={'true' if multiline else 'false'}",
                f"--array-delimiter={ARRAY_DELIMITER}",
                f"--report-file={directory / 'import.report'}",
                *(f"--nodes={f}" for f in files["nodes"]), *(f"--relationships={f}" for f in files["rels"])]
        run_env = {**os.environ, "NEO4J_HOME": str(neo4j_home), **(env or {})}
        if (Path(neo4j_home) / "conf").is_dir():
            run_env.setdefault("NEO4J_CONF", str(Path(neo4j_home) / "conf"))
        done = subprocess.run(args, env=run_env, capture_output=True, text=True, errors="replace")
        import_seconds = time.perf_counter() - t
        if done.returncode != 0 or "IMPORT DONE" not in done.stdout + done.stderr:
            lines = [x for x in (done.stdout + done.stderr).strip().splitlines() if not x.startswith("\tat ")]
            tail = "\n".join(lines[-15:])
            if "already exist" in done.stdout + done.stderr:
                raise BulkImportError(f"database {database!r} already exists in {neo4j_home}: the bulk "
                                      "import only writes a brand-new database and never replaces one "
                                      "(push into it over Bolt instead, or give another --database)")
            raise BulkImportError(f"neo4j-admin database import of {database!r} into {neo4j_home} failed "
                                  f"(exit {done.returncode}); a database that exists is never replaced: "
                                  f"push into it over Bolt instead. Importer output:\n{tail}")
    finally:
        if own_dir and not keep_files:
            shutil.rmtree(directory, ignore_errors=True)
    return BulkReport(push_id=push_id, hops=len(rows), relationships=n_rels, nodes=n_nodes,
                      csv_bytes=csv_bytes, rows_seconds=rows_seconds, csv_seconds=csv_seconds,
                      import_seconds=import_seconds, seconds=time.perf_counter() - started,
                      directory=None if own_dir and not keep_files else directory, multiline=multiline)


def _admin_command(neo4j_home: Path, admin: Sequence[str] | None) -> list[str]:
    """The importer command: the given one, ``NEO4J_HOME/bin/neo4j-admin``, or ``neo4j-admin`` on PATH."""
    if admin:
        return list(admin)
    local = Path(neo4j_home) / "bin" / "neo4j-admin"
    if local.is_file():
        return [str(local)]
    found = shutil.which("neo4j-admin")
    if found:
        return [found]
    raise BulkImportError(f"no neo4j-admin: neither {local} nor one on PATH (give --neo4j-admin)")


def _q(value: Any) -> str:
    """One CSV field: None = empty (no property), strings quoted with quotes doubled, numbers as text."""
    if type(value) is str:
        return '"' + value.replace('"', '""') + '"'
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _array(values: Iterable[Any] | None, what: str) -> str:
    """A string-array field (empty list = empty field: set by :func:`finish_imports`)."""
    if values is None:
        return ""
    items = [str(v) for v in values]
    for item in items:
        if ARRAY_DELIMITER in item or item == "":
            raise BulkImportError(f"{what} holds {item!r}, which the importer's arrays cannot carry "
                                  f"(empty, or with {ARRAY_DELIMITER!r}): push over Bolt instead")
    return _q(ARRAY_DELIMITER.join(items)) if items else ""


def _dt(ns: int | None) -> str:
    return "" if ns is None else _iso_from_ns(int(ns))


#: LATERAL columns: (property, CSV type, kind): kind "s" scalar, "a" string array.
_LATERAL = (("hop_key", "", "s"), ("group_key", "", "s"), ("n_events", ":long", "s"),
            ("signatures", ":string[]", "a"), ("evidence", "", "s"), ("first_seen_ns", ":long", "s"),
            ("last_seen_ns", ":long", "s"), ("kinds", ":string[]", "a"), ("techniques", ":string[]", "a"),
            ("rules", ":string[]", "a"), ("severity", "", "s"), ("score", ":double", "s"),
            ("hop_id", ":long", "s"), ("src", "", "s"), ("src_host", "", "s"), ("src_ip", "", "s"),
            ("dst_host", "", "s"), ("account", "", "s"), ("evidence_complete", ":boolean", "s"))
_FINDING = (("key", "", "s"), ("host", "", "s"), ("account", "", "s"), ("first_seen_ns", ":long", "s"),
            ("last_seen_ns", ":long", "s"), ("count", ":long", "s"), ("rule", "", "s"), ("title", "", "s"),
            ("level", "", "s"), ("reason", "", "s"), ("attack", ":string[]", "a"),
            ("rules", ":string[]", "a"), ("fields", "", "s"), ("evidence", "", "s"),
            ("hop_keys", ":string[]", "a"), ("signature", "", "s"))


def _write_csv(directory: Path, hops_props: list[dict[str, Any]], host_rows: list[dict[str, Any]],
               found: list[dict[str, Any]], push_id: str, digest: str, n_batches: int, n_rows: int,
               batch_size: int) -> tuple[dict[str, list[str]], int, int, bool]:
    """Write the node and relationship files; returns the importer arguments, the counts and whether
    a record holds a line break (inside a quoted value: the importer must then parse multi-line fields)."""
    from graph.neo4j_store.writes import _account_pairs, _types, _wanted_nodes

    multiline = False

    def write(name: str, header: str, lines: Iterable[str]) -> str:
        nonlocal multiline
        path = directory / name
        with path.open("w", encoding="utf-8", newline="") as out:
            out.write(header + "\n")
            for line in lines:
                if not multiline and ("\n" in line or "\r" in line):
                    multiline = True
                out.write(line + "\n")
        return str(path)

    wanted = _wanted_nodes(hops_props)
    hosts = {name for kind, name in wanted if kind == "host"}
    facts = {r["name"]: r for r in host_rows}
    hosts |= set(facts) | {f["props"]["host"] for f in found}
    unknown = sorted(name for kind, name in wanted if kind == "unknown")
    accounts = sorted(name for kind, name in wanted if kind == "account")
    ids: dict[tuple[str, str], str] = {("host", h): "H:" + node_key(h) for h in hosts}
    ids.update((("unknown", u), "U:" + node_key(u)) for u in unknown)
    ids.update((("account", a), "A:" + node_key(a)) for a in accounts)

    def host_line(name: str) -> str:
        fact = facts.get(name)
        if fact is None:
            return f"{_q(ids[('host', name)])},{_q(node_key(name))},{_q(name)},,,"
        return (f"{_q(ids[('host', name)])},{_q(node_key(name))},{_q(name)},{_q(float(fact['score']))},"
                f"{_q(int(fact['first_seen_ns']))},{_dt(fact['first_seen_ns'])}")

    nodes = [
        "Host=" + write("hosts.csv", ":ID,key,name,compromised_score:double,compromised_first_seen_ns:long,"
                        "compromised_first_seen:datetime", (host_line(h) for h in sorted(hosts))),
        "UnknownSource=" + write("unknown.csv", ":ID,key,dst",
                                 (f"{_q(ids[('unknown', u)])},{_q(node_key(u))},{_q(u)}" for u in unknown)),
        "Account=" + write("accounts.csv", ":ID,key,name",
                           (f"{_q(ids[('account', a)])},{_q(node_key(a))},{_q(a)}" for a in accounts)),
    ]
    rels: list[str] = []
    n_rels = 0

    def lateral_lines() -> Iterable[str]:
        # The properties merge.to_store gives (the columns of _LATERAL, in order; the whole-graph test
        # compares with a Bolt push), the times formatted in one vectorised pass, each kinds /
        # techniques / rules list encoded once per distinct value.
        firsts = _iso_many([p["first_seen_ns"] for p in hops_props])
        lasts = _iso_many([p["last_seen_ns"] for p in hops_props])
        lists: dict[tuple[str, ...], str] = {}

        def arr(values: list[str], what: str) -> str:
            key = tuple(values)
            text = lists.get(key)
            if text is None:
                text = lists[key] = _array(key, what)
            return text

        for p, first, last in zip(hops_props, firsts, lasts, strict=True):
            start = ids[("host", p["src"]) if p["src"] is not None else ("unknown", p["dst_host"])]
            hop_id = p["hop_id"]
            yield ",".join((
                _q(start), _q(ids[("host", p["dst_host"])]), _q(p["hop_key"]), _q(p["group_key"]),
                str(p["n_events"]), _array(p["signatures"], "signatures"), _q(evidence_text(p["evidence"])),
                str(p["first_seen_ns"]), str(p["last_seen_ns"]), arr(p["kinds"], "kinds"),
                arr(p["techniques"], "techniques"), arr(p["rules"], "rules"), _q(p["severity"]),
                _q(float(p["score"])), "" if hop_id is None else str(int(hop_id)), _q(p["src"]),
                _q(p["src_host"]), _q(p["src_ip"]), _q(p["dst_host"]), _q(p["account"]),
                "false" if p.get("evidence_complete") is False else "", first, last))

    header = ":START_ID,:END_ID," + ",".join(n + t for n, t, _ in _LATERAL) + \
        ",first_seen:datetime,last_seen:datetime"
    rels.append("LATERAL=" + write("lateral.csv", header, lateral_lines()))
    n_rels += len(hops_props)
    typed = [(ids[("host", p["src"]) if p["src"] is not None else ("unknown", p["dst_host"])],
              ids[("host", p["dst_host"])], t, p["hop_key"]) for p in hops_props for t in _types(p["kinds"])]
    rels.append(write("typed.csv", ":START_ID,:END_ID,:TYPE,hop_key",
                      (f"{_q(s)},{_q(d)},{t},{_q(k)}" for s, d, t, k in typed)))
    n_rels += len(typed)
    auth, used = _account_pairs(hops_props, ids)
    rels.append("AUTHENTICATED_TO=" + write(
        "auth.csv", ":START_ID,:END_ID,first_seen_ns:long,last_seen_ns:long",
        (f"{_q(p['a'])},{_q(p['d'])},{p['first']},{p['last']}" for p in auth)))
    rels.append("USED_ACCOUNT=" + write(
        "used.csv", ":START_ID,:END_ID,first_seen_ns:long,last_seen_ns:long",
        (f"{_q(p['s'])},{_q(p['a'])},{p['first']},{p['last']}" for p in used)))
    n_rels += len(auth) + len(used)

    def finding_lines() -> Iterable[str]:
        for f in found:
            p = f["props"]
            cells = [_q("F:" + p["key"])]
            for name, _, kind in _FINDING:
                cells.append(_array(p.get(name), f"finding {p['key']} {name}") if kind == "a"
                             else _q(p.get(name)))
            cells += [_dt(p["first_seen_ns"]), _dt(p["last_seen_ns"])]
            yield ",".join(cells)

    nodes.append("Finding=" + write("findings.csv", ":ID," + ",".join(n + t for n, t, _ in _FINDING) +
                                    ",first_seen:datetime,last_seen:datetime", finding_lines()))
    rels.append("HAS_FINDING=" + write(
        "has_finding.csv", ":START_ID,:END_ID",
        (f"{_q(ids[('host', f['props']['host'])])},{_q('F:' + f['props']['key'])}" for f in found)))
    n_rels += len(found)
    now = _iso_from_ns(time.time_ns())
    # Hops and findings with an empty list (stored as no property by the importer): when none,
    # finish_imports skips the pass over every relationship that gives them their [].
    empty = sum(1 for p in hops_props if not (p["kinds"] and p["techniques"] and p["rules"]))
    empty += sum(1 for f in found for k in EMPTY_LISTS["Finding"] if not f["props"].get(k))
    nodes.append("LatgraphPush=" + write(
        "push.csv", ":ID,push_id,status,method,case_digest,batches_total:long,batches_done:long,done:long[],"
        "rows_total:long,batch_size:long,runs:long,started_at:datetime,updated_at:datetime,empty_lists:long",
        [",".join([_q("P:" + push_id), _q(push_id), _q("imported"), _q("bulk-import"), _q(digest),
                   str(n_batches), str(n_batches), _q(ARRAY_DELIMITER.join(map(str, range(n_batches)))),
                   str(n_rows), str(batch_size), "1", now, now, str(empty)])]))
    n_nodes = len(hosts) + len(unknown) + len(accounts) + len(found) + 1
    return {"nodes": nodes, "rels": rels}, n_nodes, n_rels, multiline


def finish_imports(session: Any) -> int:
    """Finish the bulk imports the store holds (checkpoint status ``imported``): the empty lists the
    importer could not write, the constraints and indexes, status ``done``. Returns how many.

    Run by every push and every answer (``paths``, ``query``, ``load_result``) before anything else;
    a store without imports costs one indexed read.
    """
    from graph.neo4j_store.writes import _ensure_schema

    pending = session.run(cypher.IMPORTED_PUSHES).data()
    if not pending:
        return 0
    # Imports that counted no empty list need no pass over the relationships (older ones did not count).
    if any(p["empty_lists"] is None or p["empty_lists"] > 0 for p in pending):
        for statement in cypher.EMPTY_LIST_FIXES:
            session.run(statement).consume()
    _ensure_schema(session)
    for p in pending:
        session.run(cypher.FINISH_IMPORT, push_id=p["push_id"]).consume()
    return len(pending)
