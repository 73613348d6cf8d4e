"""Neo4j push rate for a generated case (prints its figures; asserts nothing).

Usage::

    .venv/bin/python bench/neo4j.py                  # ~1M events, ~4.7k hops; starts the test server
    .venv/bin/python bench/neo4j.py --workstations 600 --days 5 --events 3000000   # ~50k hops
    .venv/bin/python bench/neo4j.py --runs 3 --no-cypher       # 3 push/re-push rounds, medians
    .venv/bin/python bench/neo4j.py --uri bolt://host:7687 --password ...   # an existing, EMPTY database
    .venv/bin/python bench/neo4j.py --bulk-import --workstations 600 --days 5 --events 3000000
        # also a first push with neo4j-admin database import into a brand-new database (the test
        # server's Neo4j), then the server started on it, the import finished, re-pushes over Bolt

The case: ``ingest.synthetic.simulate(seed, n_workstations=, days=, target_events=)`` analysed by
``app.pipeline``; the pushed hops frame is the pipeline's own. Every run pushes into an EMPTY
database (no node, no relationship, no latgraph constraint or index): run 1 into the brand-new
database of a freshly started server (its JVM still compiling the code paths: the cost a test
server pays, not a running one), later runs into the same database wiped and its schema dropped, on
the now warm server (what a push into a new, empty database of a running Neo4j costs). Each run
then pushes the case again. Figures: hops (and relationships) per second of the first push and of
the idempotent re-push (with a check that node and relationship counts are unchanged), the CPU
seconds of the client and of the server for each (wall time follows the load of a shared machine;
CPU time is the cost of the push), the medians over the warm runs, the 1-minute load average, and
the Cypher path / patient-zero times. ``--bulk-import`` adds (``--no-bolt``: only) the bulk
importer's first push into a brand-new database, the test server started on it, and re-pushes.

Fresh and warm: run 1 is printed apart (a fresh JVM compiling Neo4j's write path). Before run 2 the
server is warmed as a long-running one is: ``--warmup N`` (default 3) first pushes of another case
(seed + 1, same sizes, analysed in a child process first) into the database, emptied after each.
The first-push target (>= 10,000 hops/s) is read on the warm runs' median.

The server (``--server-memory``, default ``4g``) is sized as ``neo4j-admin server
memory-recommendation`` says for that budget (heap 2g, page cache 512m, G1 as Neo4j's neo4j.conf);
``--server-memory test`` starts the tests' small server (heap 1g, serial GC, page cache 64m).

Measured 2026-12-03 (docs/neo4j.md, "sixth pass"), 49,770 hops, ``--runs 3 --no-cypher
--bulk-import``, load 1.3-1.7: fresh 13.3 s = 3,738 hops/s (client 3.6 + server 22.3 CPU-s), warm
4.6 / 4.5 s = 10,831 / 11,086 hops/s (client 2.7 / 2.6 + server 5.3 / 4.9 CPU-s), re-push 0.3 s =
188,534-192,795 hops/s, bulk import + finish 8.3-8.4 s = 5,921-6,000 hops/s. Target met on the warm
server.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

# This file is called neo4j.py: replace its own folder on sys.path (which would shadow the neo4j
# driver package) by the repository root.
sys.path[0] = str(Path(__file__).resolve().parents[1])


def counts(settings: Any) -> tuple[int, int]:
    from graph.neo4j_store import open_driver
    from graph.neo4j_store.cypher import COUNTS

    with open_driver(settings) as driver, driver.session(database=settings.database) as session:
        rec = session.run(COUNTS).single()
        return int(rec["nodes"]), int(rec["rels"])


def wipe(settings: Any) -> None:
    """Make the database empty again: every node and relationship, then latgraph's constraints and
    indexes (a push into an empty database builds its relationship indexes after the load)."""
    from graph.neo4j_store import open_driver
    from graph.neo4j_store.cypher import SCHEMA

    with open_driver(settings) as driver, driver.session(database=settings.database) as session:
        # Relationships first: detaching a host with 100k relationships at once exceeds the test
        # server's transaction memory.
        session.run("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 5000 ROWS").consume()
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS").consume()
        for statement in SCHEMA:   # fixed names from the constant schema, never data
            kind, name = statement.split()[1:3]
            session.run(f"DROP {kind} {name} IF EXISTS").consume()


def case(seed: int, workstations: int, days: int, events: int) -> Any:
    """The analysed generated case, :func:`slim` (run in a child process for the warm-up case)."""
    from app.pipeline import analyze_from_events
    from ingest.report import IngestReport
    from ingest.synthetic import simulate

    sim = simulate(seed, n_workstations=workstations, days=days, target_events=events)
    return slim(analyze_from_events(sim.events, IngestReport()))


def slim(result: Any) -> Any:
    """The result without its events, tags and graph (a push reads none of them): two 6M-event cases
    in one process stay within a few GB."""
    import dataclasses

    import networkx as nx

    return dataclasses.replace(result, events=result.events.iloc[:0], tags=result.tags.iloc[:0],
                               graph=nx.MultiDiGraph())


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def cpu_seconds() -> tuple[float, float]:
    """(CPU seconds of this process, of its child processes: the test server's JVM when it started one).

    On a shared machine wall time follows the load; CPU time says what the push itself costs.
    """
    import psutil

    me = psutil.Process()
    own = me.cpu_times()
    children = 0.0
    for child in me.children(recursive=True):
        try:
            t = child.cpu_times()
            children += t.user + t.system
        except psutil.Error:
            pass
    return own.user + own.system, children


def timed_push(result: Any, settings: Any, batch_kw: dict[str, Any]) -> tuple[Any, float, float, float]:
    """push() with its wall time and the client / server CPU seconds it took."""
    from graph.neo4j_store import push

    c0, s0 = cpu_seconds()
    t = time.perf_counter()
    report = push(result, settings, **batch_kw)
    wall = time.perf_counter() - t
    c1, s1 = cpu_seconds()
    return report, wall, c1 - c0, s1 - s0


def server_memory(choice: str) -> Any:
    """The test server's memory for ``--server-memory``: None (the tests' small server) for ``test``,
    else what Neo4j recommends for that memory budget (``neo4j-admin server memory-recommendation``)."""
    from tests.neo4j.server import recommended_memory

    if choice == "test":
        print("server memory: the tests' (heap 1g, serial GC, page cache 64m)")
        return None
    memory = recommended_memory(choice)
    print(f"server memory: Neo4j's recommendation for {choice} (neo4j-admin server memory-recommendation): "
          f"heap {memory.heap} (initial = max), page cache {memory.pagecache}, G1 GC")
    return memory


def bulk_bench(result: Any, runs: int, memory: Any = None) -> None:
    """First push by ``neo4j-admin database import full`` into a brand-new database, per run: the import
    (rows, CSV files, the importer: its CPU counted), the test server started on the new store (not
    part of the push: a server starts once), the import finished by the first connection (empty
    lists, constraints and indexes), then a re-push (whole case recognised) and a row-by-row one."""
    import resource

    from graph.neo4j_store import Neo4jSettings
    from graph.neo4j_store.bulk import bulk_import, finish_imports
    from tests.neo4j.server import admin_command, running_server

    hops = len(result.hops)
    for run in range(1, runs + 1):
        print(f"run {run} (bulk import): {load()}")
        tmp = tempfile.TemporaryDirectory(prefix="latgraph-bench-bulk-")
        home = Path(tmp.name) / "home"
        own0, kids0 = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
        report = bulk_import(result, home, admin=admin_command())
        own1, kids1 = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
        importer = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
        print(f"  bulk import: {report.hops:,} hops, {report.relationships:,} relationships, "
              f"{report.nodes:,} nodes, {report.csv_bytes / 1e6:.0f} MB of CSV: {report.seconds:.1f} s = "
              f"{report.hops / report.seconds:,.0f} hops/s (rows + plan {report.rows_seconds:.1f} s, CSV "
              f"{report.csv_seconds:.1f} s, importer {report.import_seconds:.1f} s; multi-line fields: "
              f"{report.multiline}); CPU: client "
              f"{own1 - own0:.1f} s, importer {importer:.1f} s")
        t = time.perf_counter()
        with running_server(Path(tmp.name), home=home, memory=memory,
                            timeout_s=float(os.environ.get("LATGRAPH_NEO4J_START_TIMEOUT", "600"))) as server:
            print(f"  server start on the imported store: {time.perf_counter() - t:.1f} s")
            settings = Neo4jSettings(uri=server.uri, user=server.user, password=server.password)
            from graph.neo4j_store import open_driver

            c0, s0 = cpu_seconds()
            t = time.perf_counter()
            with open_driver(settings) as driver, driver.session(database=settings.database) as session:
                finish_imports(session)
            finish = time.perf_counter() - t
            c1, s1 = cpu_seconds()
            total = report.seconds + finish
            print(f"  import finished (empty lists, constraints, indexes): {finish:.1f} s; CPU: client "
                  f"{c1 - c0:.1f} s, server {s1 - s0:.1f} s; import + finish {total:.1f} s = "
                  f"{hops / total:,.0f} hops/s; counts: {counts(settings)}")
            again_report, again, c2, s2 = timed_push(result, settings, {})
            print(f"  re-push: {again:.1f} s = {hops / again:,.0f} hops/s (whole case recognised: "
                  f"{again_report.repeated}); CPU: client {c2:.1f} s, server {s2:.1f} s")
            check_report, check, c3, s3 = timed_push(result, settings, {"recheck": True})
            print(f"  re-push checked row by row (--recheck): {check:.1f} s = {hops / check:,.0f} hops/s; "
                  f"unchanged rows {check_report.unchanged:,}; CPU: client {c3:.1f} s, server {s3:.1f} s")
        tmp.cleanup()
    print(f"after: {load()}")


def main() -> None:
    from app.pipeline import analyze_from_events
    from ingest.report import IngestReport
    from ingest.synthetic import simulate

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="target events of the case")
    parser.add_argument("--workstations", type=int, default=60, help="simulated workstations")
    parser.add_argument("--days", type=int, default=3, help="simulated days")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=None, help="default: push()'s default")
    parser.add_argument("--writers", type=int, default=None, help="concurrent writer transactions "
                        "(default: push()'s default)")
    parser.add_argument("--runs", type=int, default=1, help="wipe + push + re-push rounds")
    parser.add_argument("--no-cypher", action="store_true", help="skip the path / patient-zero queries")
    parser.add_argument("--uri", default=None)
    parser.add_argument("--user", default="neo4j")
    parser.add_argument("--password", default=None)
    parser.add_argument("--bulk-import", action="store_true",
                        help="also a first push with neo4j-admin database import into a brand-new database")
    parser.add_argument("--no-bolt", action="store_true", help="with --bulk-import: skip the Bolt runs")
    parser.add_argument("--server-memory", default="4g",
                        help="the started server's memory: what Neo4j recommends for this budget (e.g. 4g, "
                             "8g: heap, page cache; G1 GC as Neo4j's neo4j.conf), or 'test' for the "
                             "tests' small server (1g heap, serial GC, 64m page cache). Default: 4g")
    parser.add_argument("--warmup", type=int, default=3,
                        help="after run 1 (fresh server), first pushes of another case (seed + 1, same "
                             "sizes) into the emptied database before the warm runs (0: none)")
    args = parser.parse_args()
    memory = None if args.uri else server_memory(args.server_memory)

    warmup = None
    if not args.no_bolt and args.warmup > 0 and args.runs > 1 and not args.uri:
        # In a child process first: the parent then holds only its hops, not a second analysis' peak.
        t = time.perf_counter()
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
            warmup = pool.submit(case, args.seed + 1, args.workstations, args.days, args.events).result()
        print(f"warm-up case (seed {args.seed + 1}): {len(warmup.hops):,} hops in "
              f"{time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    sim = simulate(args.seed, n_workstations=args.workstations, days=args.days, target_events=args.events)
    result = slim(analyze_from_events(sim.events, IngestReport()))
    hops = result.hops
    print(f"case: {len(sim.events):,} events -> {len(hops):,} hops "
          f"({int(hops['n_events'].sum()):,} events in hops, "
          f"{sum(len(e) for e in hops['evidence']):,} evidence refs; "
          f"{0 if result.findings is None else len(result.findings):,} findings) "
          f"in {time.perf_counter() - t:.1f} s")
    del sim
    batch_kw: dict[str, Any] = {} if args.batch_size is None else {"batch_size": args.batch_size}
    if args.writers is not None:
        batch_kw["writers"] = args.writers
    n_findings = 0 if result.findings is None else len(result.findings)

    if not args.no_bolt:
        bolt_bench(result, args, batch_kw, n_findings, warmup, memory)
        del warmup
    if args.bulk_import:
        bulk_bench(result, args.runs, memory)


def warm_up(other: Any, settings: Any, batch_kw: dict[str, Any], pushes: int) -> None:
    """What a long-running server has done before an analyst's push: ``pushes`` first pushes of
    another case into the database, each emptied afterwards (its server CPU shows the JIT warming)."""
    for i in range(1, pushes + 1):
        report, first, c_cpu, s_cpu = timed_push(other, settings, batch_kw)
        print(f"  warm-up push {i} of another case ({report.hops:,} hops) into the emptied database: "
              f"{first:.1f} s; CPU: client {c_cpu:.1f} s, server {s_cpu:.1f} s; {load()}")
        wipe(settings)


def bolt_bench(result: Any, args: argparse.Namespace, batch_kw: dict[str, Any], n_findings: int,
               warmup: Any = None, memory: Any = None) -> None:
    """``args.runs`` rounds of: an empty database, the first push, an unchanged re-push, a re-push
    checked row by row. Run 1 goes to the freshly started server; before run 2 the server is warmed
    by ``args.warmup`` pushes of ``warmup`` (another case) into the database, emptied after each.
    The fresh run is printed apart; medians over the warm-server runs (all runs when there is only
    one)."""
    from graph.neo4j_store import Neo4jSettings, cypher_paths, cypher_patient_zero

    hops = result.hops
    if args.uri:
        server_cm = nullcontext(Neo4jSettings(uri=args.uri, user=args.user, password=args.password))
    else:
        from tests.neo4j.server import running_server

        tmp = tempfile.TemporaryDirectory(prefix="latgraph-bench-neo4j-")
        server_cm = running_server(Path(tmp.name), memory=memory,
                                   timeout_s=float(os.environ.get("LATGRAPH_NEO4J_START_TIMEOUT", "600")))

    with server_cm as server:
        settings = server if isinstance(server, Neo4jSettings) else Neo4jSettings(
            uri=server.uri, user=server.user, password=server.password)
        firsts: list[float] = []
        agains: list[float] = []
        cpus: list[tuple[float, float, float, float]] = []
        for run in range(1, args.runs + 1):
            if run > 1:
                wipe(settings)
            if run == 2 and warmup is not None:
                warm_up(warmup, settings, batch_kw, args.warmup)
            state = "fresh server JVM" if run == 1 and not args.uri else "warm server"
            print(f"run {run} ({state}): {load()}")
            nodes0, rels0 = counts(settings)
            report, first, c_cpu, s_cpu = timed_push(result, settings, batch_kw)
            nodes1, rels1 = counts(settings)
            rels = rels1 - rels0
            print(f"  first push: {report.hops:,} hops in {report.batches} batch(es): {first:.1f} s = "
                  f"{report.hops / first:,.0f} hops/s ({rels / first:,.0f} rel/s; {rels:,} relationships, "
                  f"{nodes1 - nodes0:,} nodes); CPU: client {c_cpu:.1f} s, server {s_cpu:.1f} s")
            again_report, again, c_cpu2, s_cpu2 = timed_push(result, settings, batch_kw)
            print(f"  re-push (idempotent, changes nothing): {again:.1f} s = "
                  f"{report.hops / again:,.0f} hops/s; "
                  f"unchanged rows {again_report.unchanged:,} "
                  f"(whole case recognised: {again_report.repeated}); "
                  f"counts unchanged: {counts(settings) == (nodes1, rels1)}; CPU: client {c_cpu2:.1f} s, "
                  f"server {s_cpu2:.1f} s")
            check_report, check, c_cpu3, s_cpu3 = timed_push(result, settings, {**batch_kw, "recheck": True})
            print(f"  re-push checked row by row (--recheck): {check:.1f} s = "
                  f"{report.hops / check:,.0f} hops/s; unchanged rows {check_report.unchanged:,}; "
                  f"counts unchanged: {counts(settings) == (nodes1, rels1)}; CPU: client {c_cpu3:.1f} s, "
                  f"server {s_cpu3:.1f} s")
            firsts.append(first)
            agains.append(again)
            cpus.append((c_cpu, s_cpu, c_cpu2, s_cpu2))
        # Run 1 went to a freshly started server (unless --uri): the medians are of the warm runs.
        warm = slice(1 if len(firsts) > 1 and not args.uri else 0, None)
        if warm.start:
            print(f"fresh server (run 1): first push {firsts[0]:.1f} s "
                  f"({len(hops) / firsts[0]:,.0f} hops/s), CPU client {cpus[0][0]:.1f} s + server "
                  f"{cpus[0][1]:.1f} s")
        firsts, agains, cpus = firsts[warm], agains[warm], cpus[warm]
        which = "warm-server runs" if warm.start else "runs"
        first, again = statistics.median(firsts), statistics.median(agains)
        print(f"case {len(hops):,} hops; median of {len(firsts)} {which}: first push {first:.1f} s "
              f"({len(hops) / first:,.0f} hops/s, {rels / first:,.0f} rel/s), re-push {again:.1f} s "
              f"({len(hops) / again:,.0f} hops/s); after: {load()}")
        med = [statistics.median(c[i] for c in cpus) for i in range(4)]
        # What an idle 2-core machine would give, from CPU time alone (wall time on a shared machine
        # follows its load): without any overlap of client and server work (client + server CPU),
        # and with perfect overlap on 2 cores (the largest of client, server, and half the sum).
        def estimate(c: float, s: float) -> str:
            return (f"{len(hops) / max(c + s, 1e-9):,.0f} (no overlap) to "
                    f"{len(hops) / max(c, s, (c + s) / 2, 1e-9):,.0f} (full overlap) hops/s")
        print(f"median CPU: first push client {med[0]:.1f} s + server {med[1]:.1f} s, re-push client "
              f"{med[2]:.1f} s + server {med[3]:.1f} s; idle 2-core estimate: first push "
              f"{estimate(med[0], med[1])}, re-push {estimate(med[2], med[3])}; {n_findings:,} findings")
        if args.no_cypher:
            return
        t = time.perf_counter()
        paths = cypher_paths(settings, result.config)
        t_paths = time.perf_counter() - t
        t = time.perf_counter()
        pz = cypher_patient_zero(settings, result.config)
        t_pz = time.perf_counter() - t
        same = [p.hosts for p in paths] == [p.hosts for p in result.paths] and \
            [p.host for p in pz] == [p.host for p in result.patient_zero]
        print(f"cypher paths: {len(paths)} in {t_paths:.1f} s; patient zero: {len(pz)} in {t_pz:.1f} s; "
              f"same as in-memory: {same}")


if __name__ == "__main__":
    main()
