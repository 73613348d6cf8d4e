"""Event stage on both engines (pandas, Spark local[*]) over generated cases: time and peak memory.

Usage::

    .venv/bin/python bench/engines.py                     # 1M and 10M events, both engines
    .venv/bin/python bench/engines.py --sizes 1000000 --engines spark --driver-memory 6g

Each size is generated once with :func:`ingest.synthetic.simulate` (``target_events``) and written
as a case file (Parquet) under ``--workdir``. Each (engine, size) then runs in a fresh child
process, from the case file to the hops frame with features (the event stage), followed by the
shared hop stage:

* pandas: ``read_case`` -> ``pandas_event_stage`` -> ``hop_stage``;
* spark: session start -> ``event_stage_from_storage`` (Spark lists the Parquet files; its tasks
  read the row groups with pyarrow and run the rules, ``graph/spark/scan.py``) -> the Spark event
  stage -> hops collected to the driver -> ``hop_stage``.

CPU seconds are the child's whole process tree (user + system of Python, the JVM Spark starts and
pyspark's Python workers, read with psutil at each step boundary, see :func:`tree_cpu_s`), so
Spark's work on its executor threads and in its Python workers is counted, not only the driver's
Python: each live process's own time plus the time of its ended (reaped) descendants; the child
is the subreaper of its tree, so workers orphaned by a stopped daemon are counted too.
``session`` (JVM start-up) is reported apart from the event stage; for Spark the event stage is
also split into its steps (rules, collect, placement, episodes, aggregate, finish, presence,
features; see ``graph.spark.stage._spark_hops``). ``--max-driver-rows 0`` runs the correlation as
Spark plans instead of on the driver (the path for more tagged events than the driver holds).

Per-step figures can still lose the time of a Python worker that ends without being waited for
(its parent gone or ignoring it); a negative step shows it (seen once: ``presence`` -5.7 CPU-s in
the 10M run of docs/spark.md).

Measured (docs/spark.md, 2026-12-03, ``--sizes 10000000 --timeout 3000``, load 8-10): event stage
pandas 24.1 CPU-s, Spark 44.2 CPU-s (1.83x; rules 31.7, collect 3.0, placement 5.6, aggregate
2.2, features 1.5), the same 85,643 hops and patient zero WS0449; an earlier run of the same
code without the lz4-packed tables, load 3.5-7: 21.8 vs 48.1 (2.21x).

Peak memory is the largest sum of RSS over the child's process tree (Python + the JVM Spark
starts), sampled every 0.2 s with psutil. Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_case(n: int, workdir: Path, seed: int = 11) -> Path:
    """The case file for ``n`` target events (generated once, then reused)."""
    from ingest.case import write_case
    from ingest.synthetic import simulate

    path = workdir / f"case_{n}.parquet"
    if not path.exists():
        t = time.perf_counter()
        sim = simulate(seed, n_workstations=max(60, n // 20_000), n_servers=12, days=5, target_events=n)
        write_case(sim.events, path)
        print(f"generated {len(sim.events):,} events -> {path} in {time.perf_counter() - t:.1f}s", flush=True)
    return path


def become_subreaper() -> bool:
    """Make this process the Linux child subreaper of its descendants (``PR_SET_CHILD_SUBREAPER``):
    a process whose parent ends before it (a pyspark Python worker whose daemon was stopped) is
    re-parented here instead of to init, so :func:`tree_cpu_s` still counts it. False if the
    kernel call is unavailable."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0   # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def tree_cpu_s() -> float:
    """CPU seconds (user + system) used so far by this process and all its descendants, live or ended.

    Summed over this process and every *live* descendant (the Spark JVM is a child of the Python
    driver; pyspark's Python workers are children of its daemon, a child of the JVM): each one's own
    user + system time plus ``children_user + children_system``, the time of its descendants that
    have ended and been reaped (waited for). The two never overlap (a process is counted either
    live, by itself, or ended, in its parent's children times), so Python workers that pyspark
    forks and that exit between two readings are still counted. Orphans (see
    :func:`become_subreaper`) that ended are reaped here first, so their time moves into this
    process's children times.
    """
    me = psutil.Process()
    for p in me.children():
        try:
            if p.status() == psutil.STATUS_ZOMBIE and "java" not in p.name():
                os.waitpid(p.pid, os.WNOHANG)
        except (psutil.Error, ChildProcessError):
            pass
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def child(engine: str, case: str, driver_memory: str, master: str,
          conf: dict[str, str] | None = None, max_driver_rows: int | None = None) -> None:
    """Run one engine on one case file; print a JSON line with the timings (wall and CPU s)."""
    from graph.config import AnalysisConfig
    from graph.engine import hop_stage

    become_subreaper()
    cfg = AnalysisConfig()
    out: dict[str, object] = {"engine": engine}
    steps: dict[str, list[float]] = {}
    last = [tree_cpu_s(), time.perf_counter()]

    def step(name: str) -> None:
        cpu, wall = tree_cpu_s(), time.perf_counter()
        steps[name] = [round(cpu - last[0], 1), round(wall - last[1], 1)]
        last[:] = [cpu, wall]

    c0 = tree_cpu_s()
    t0 = time.perf_counter()
    if engine == "pandas":
        from graph.engine import pandas_event_stage
        from ingest.case import read_case

        events = read_case(case)
        out["events"] = len(events)
        t1 = time.perf_counter()
        out["read_s"] = round(t1 - t0, 2)
        c1 = tree_cpu_s()
        hops = pandas_event_stage(events, cfg).hops
    else:
        from graph.spark.session import spark_session
        from graph.spark.stage import event_stage_from_storage

        spark = spark_session(master, driver_memory=driver_memory, conf=conf)
        t1 = time.perf_counter()
        out["session_s"] = round(t1 - t0, 2)
        c1 = tree_cpu_s()
        out["session_cpu_s"] = round(c1 - c0, 1)
        last[:] = [c1, t1]
        hops = event_stage_from_storage(spark, case, cfg, on_step=step, max_driver_rows=max_driver_rows)
    t2 = time.perf_counter()
    c2 = tree_cpu_s()
    out["event_stage_s"] = round(t2 - t1, 2)
    out["event_stage_cpu_s"] = round(c2 - c1, 1)
    if steps:
        out["steps_cpu_wall_s"] = steps
    hs = hop_stage(hops, cfg)
    t3 = time.perf_counter()
    out.update(hop_stage_s=round(t3 - t2, 2), total_s=round(t3 - t0, 2),
               total_cpu_s=round(tree_cpu_s() - c0, 1), hops=len(hops),
               patient_zero=hs.patient_zero[0].host if hs.patient_zero else None)
    print("RESULT " + json.dumps(out), flush=True)


def measure(engine: str, case: Path, driver_memory: str, master: str, timeout_s: float,
            spark_conf: list[str] | None = None, max_driver_rows: int | None = None) -> dict[str, object]:
    """Run :func:`child` in a subprocess; sample the process tree's RSS until it ends."""
    cmd = [sys.executable, __file__, "--child", engine, str(case), "--driver-memory", driver_memory,
           "--master", master, *[f"--spark-conf={kv}" for kv in spark_conf or []],
           *([f"--max-driver-rows={max_driver_rows}"] if max_driver_rows is not None else [])]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        if time.perf_counter() - t > timeout_s:
            for p in root.children(recursive=True):
                p.kill()
            proc.kill()
            return {"engine": engine, "error": f"stopped after {timeout_s:.0f}s",
                    "peak_rss_gb": round(peak / 2**30, 2)}
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                total += p.memory_info().rss
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.2)
    stdout = proc.stdout.read() if proc.stdout else ""
    line = next((x for x in stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return {"engine": engine, "error": f"exit code {proc.returncode}",
                "peak_rss_gb": round(peak / 2**30, 2)}
    res = json.loads(line[len("RESULT "):])
    res["wall_s"] = round(time.perf_counter() - t, 2)
    res["peak_rss_gb"] = round(peak / 2**30, 2)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--engines", default="pandas,spark")
    ap.add_argument("--workdir", default="/tmp/latgraph-bench")
    ap.add_argument("--driver-memory", default="6g")
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per (engine, size) run")
    ap.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                    help="extra Spark setting (repeatable), e.g. spark.driver.extraJavaOptions=")
    ap.add_argument("--max-driver-rows", type=int, default=None,
                    help="Spark: most tagged events correlated on the driver (0: correlation on Spark)")
    ap.add_argument("--child", nargs=2, metavar=("ENGINE", "CASE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        conf = dict(kv.split("=", 1) for kv in args.spark_conf)
        child(args.child[0], args.child[1], args.driver_memory, args.master, conf, args.max_driver_rows)
        return
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"cpus={os.cpu_count()} ram={psutil.virtual_memory().total / 2**30:.0f}GB "
          f"load={os.getloadavg()[0]:.1f} master={args.master} driver_memory={args.driver_memory} "
          f"spark_conf={args.spark_conf} max_driver_rows={args.max_driver_rows}")
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        case = make_case(n, workdir)
        for engine in args.engines.split(","):
            res = measure(engine, case, args.driver_memory, args.master, args.timeout, args.spark_conf,
                          args.max_driver_rows)
            res["size"] = n
            rows.append(res)
            print(json.dumps(res), flush=True)
    print(f"\n{'size':>10} {'engine':>7} {'event stage s':>14} {'event CPU s':>12} {'total s':>8} "
          f"{'total CPU s':>12} {'wall s':>7} {'peak RSS GB':>11} {'hops':>8}  note")
    for r in rows:
        print(f"{r['size']:>10,} {r['engine']:>7} {r.get('event_stage_s', '-')!s:>14} "
              f"{r.get('event_stage_cpu_s', '-')!s:>12} {r.get('total_s', '-')!s:>8} "
              f"{r.get('total_cpu_s', '-')!s:>12} {r.get('wall_s', '-')!s:>7} {r['peak_rss_gb']:>11} "
              f"{r.get('hops', '-')!s:>8}  {r.get('error', '')}")
    print(f"load={os.getloadavg()[0]:.1f} (1-min average at the end)")


if __name__ == "__main__":
    main()
