"""End-to-end analysis time and peak memory on generated cases of growing size; prints the cost curve.

    .venv/bin/python bench/analyze.py [--events 1000000 3000000 10000000] [--workstations 2000]
    .venv/bin/python bench/analyze.py --lanl --events 1000000 5000000 [--hosts 10000] [--repeat 5]
                                      [--dir DIR] [--max-rss-gb 10]

``--lanl``: the generated case is an authentication-only enterprise written as LANL ``auth.txt``
(``ingest.synthetic.auth_enterprise``: the enterprise's rows repeated up to about N lines, streamed by
``write_lanl_lines``; ``--dir`` keeps and reuses them); the child streams it into a case file with
``ingest_to_case`` (``latgraph ingest --stream``; ``stream s``: the vectorised reader collapses repeated
authentications into counted rows; 10.47M lines in about 24 CPU s, docs/ingest.md LANL) and then loads
and analyses that case (target, issue 13: 50M lines in < 10 min and < 8 GB, linear). Memory and time
follow the *distinct* authentications (rows after the collapse), not the lines: by default the rows of
``--days`` are repeated about N / rows times each; ``--repeat R`` fixes that ratio instead and runs the
enterprise for as many days (at least ``--days``) as N / R distinct authentications need, so N lines
hold about N / R rows.

For each size the generator (not timed) writes a case file; then a *fresh* Python process runs the
analysis on it, so each peak is that run's own:

* ``load s``: reading the case file into the canonical frame (``ingest.load_events``, incl. IP
  resolution), as ``latgraph analyze case.parquet`` does;
* ``analyze s``: ``app.pipeline.analyze_from_events`` on that frame (rules, correlation, scoring,
  graph, paths, patient zero);
* ``CPU s``: process CPU time of the same steps (all threads), less sensitive than wall time when
  the machine is shared (the 1-minute load average at the end of the run is printed too);
* ``peak RSS``: the child's peak resident memory (:func:`peak_rss_gb`: ``VmHWM``, the kernel's exact
  high-water mark) and the peak seen by a 50 ms psutil sampler.

``--max-rss-gb G`` stops a child whose RSS passes G GB (the row then says how far it got: the stage
and its time), so a size that would need more memory than the shared machine has is measured up to
that point instead of being killed by the kernel.

Target (issue 3): 10M events analysed in under 2 minutes and under 8 GB on the 2-core machine,
cost growing about linearly (the ``CPU us/event`` column should stay flat or fall). Runs are sequential.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def child(case: Path, lanl: bool = False) -> dict[str, Any]:
    """Load and analyse one case in this process (``lanl``: stream ``auth.txt`` into a case file
    first); return timings and peaks."""
    import psutil

    proc = psutil.Process()
    peak = [proc.memory_info().rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    from app.pipeline import analyze_from_events
    from graph.config import AnalysisConfig
    from ingest import load_events

    config = AnalysisConfig()
    stream_s = stream_cpu = 0.0
    stream_peak = 0.0
    t_start = time.perf_counter()
    _stage("stream" if lanl else "load", t_start)
    if lanl:
        from ingest.stream_case import ingest_to_case

        s0, sc0 = time.perf_counter(), time.process_time()
        ingest_to_case([case], case.with_suffix(".parquet"))
        stream_s, stream_cpu = time.perf_counter() - s0, time.process_time() - sc0
        stream_peak = peak[0] / 1e9
        case = case.with_suffix(".parquet")
        _stage("load", t_start)
    t0, c0 = time.perf_counter(), time.process_time()
    events, report = load_events([case])
    t1, c1 = time.perf_counter(), time.process_time()
    _stage(f"analyze ({len(events):,} rows)", t_start)
    result = analyze_from_events(events, report, config)
    t2, c2 = time.perf_counter(), time.process_time()
    stop.set()
    thread.join()
    sev = result.hops["severity"].astype(str).value_counts().to_dict() if len(result.hops) else {}
    timings = result.summary.get("timings", {})
    return {"events": result.summary["events"], "rows": len(events),
            "event_stage_s": timings.get("event_stage_s"), "hop_stage_s": timings.get("hop_stage_s"),
            "stream_s": stream_s, "stream_cpu_s": stream_cpu,
            "stream_peak_gb": stream_peak, "load_s": t1 - t0, "analyze_s": t2 - t1,
            "load_cpu_s": c1 - c0, "analyze_cpu_s": c2 - c1, "loadavg": os.getloadavg()[0],
            "peak_rss_gb": peak_rss_gb(),
            "sampled_peak_gb": peak[0] / 1e9, "hops": len(result.hops), "severity": sev,
            "patient_zero": result.patient_zero[0].host if result.patient_zero else None}


def _run_child(cmd: list[str], max_rss_gb: float | None) -> tuple[int, str, str]:
    """Run the child; with ``max_rss_gb``, stop it as soon as its RSS exceeds that (the machine is
    shared: a run that would need more is measured up to the limit, not taken to an OOM kill).
    Returns (exit code, stdout, stderr); a stopped child's stderr ends with what it reached."""
    import psutil

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        child_ps = psutil.Process(proc.pid)
        stopped = None
        while proc.poll() is None:
            if max_rss_gb is not None:
                try:
                    rss = child_ps.memory_info().rss / 1e9
                except psutil.NoSuchProcess:
                    break
                if rss > max_rss_gb:
                    proc.kill()
                    stopped = (f"stopped: RSS {rss:.2f} GB > --max-rss-gb {max_rss_gb:g} after "
                               f"{time.perf_counter() - t0:.0f} s")
            time.sleep(0.2)
        proc.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if stopped:
        stages = [ln for ln in stderr.splitlines() if ln.startswith("stage ")]
        return 1, stdout, stderr + f"\n{stopped} (last: {stages[-1] if stages else 'start'})"
    return proc.returncode, stdout, stderr


def _stage(name: str, t0: float) -> None:
    """Progress line of the child (read by :func:`_run_child` when it stops a child)."""
    print(f"stage {name} at {time.perf_counter() - t0:.0f} s, peak RSS "
          f"{peak_rss_gb():.2f} GB", file=sys.stderr, flush=True)


def peak_rss_gb() -> float:
    """This process's own peak resident memory in GB: ``VmHWM`` of ``/proc/self/status`` (the
    high-water mark of its address space, which starts anew at ``exec``). ``getrusage``'s
    ``ru_maxrss`` is the fallback where ``/proc`` is missing; on Linux it is kept across ``exec``, so
    a child forked while this bench held a freshly generated 50M-line enterprise reported that
    parent's size (5.41 GB measured on a run whose own peak was 1.05 GB)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def main(argv: list[str] | None = None) -> int:
    """Command line entry (see module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--workstations", type=int, default=2000)
    parser.add_argument("--servers", type=int, default=40)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--lanl", action="store_true",
                        help="authentication-only enterprise written as LANL auth.txt (N = lines)")
    parser.add_argument("--hosts", type=int, default=10000, help="--lanl: hosts in the domain")
    parser.add_argument("--repeat", type=float, default=None,
                        help="--lanl: mean lines per distinct authentication (>= 1; default: as many as "
                             "reach N lines from --days of activity). With it, the enterprise runs for as "
                             "many days (at least --days) as N / repeat distinct authentications need")
    parser.add_argument("--dir", type=Path, default=None,
                        help="--lanl: keep the generated auth.txt files in DIR/lanl-N and reuse them when "
                             "present (generation is not timed, but takes minutes at 50M lines)")
    parser.add_argument("--max-rss-gb", type=float, default=None,
                        help="stop a run whose RSS exceeds this many GB (reported as failed, with the "
                             "stage it reached)")
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, lanl=args.lanl)))
        return 0

    from ingest.case import write_case
    from ingest.synthetic import simulate

    rows = []
    base = None
    with tempfile.TemporaryDirectory(prefix="latgraph-bench-") as tmp:
        for n in args.events:
            t0 = time.perf_counter()
            if args.lanl:
                from ingest.synthetic.auth_enterprise import simulate_auth, write_lanl_lines

                if base is None:
                    base = simulate_auth(args.seed, n_hosts=args.hosts, days=args.days)
                days, tag = args.days, ""
                if args.repeat is not None:   # enough distinct authentications for n / repeat
                    days = max(args.days, math.ceil(args.days * n / (args.repeat * len(base.rows))))
                    tag = f"-r{args.repeat:g}"
                where = (args.dir or Path(tmp)) / f"lanl-{n}-h{args.hosts}-d{days}-s{args.seed}{tag}"
                done = where / "meta.json"
                if done.exists():   # kept by --dir: the enterprise need not be simulated again
                    meta = json.loads(done.read_text())
                else:   # streamed: repeated authentications (bounded memory at any size)
                    sim = (base if days == args.days
                           else simulate_auth(args.seed, n_hosts=args.hosts, days=days))
                    _, _, lines = write_lanl_lines(sim, where, n, seed=args.seed, repeat=args.repeat)
                    meta = {"lines": lines, "truth_pz": sim.truth.patient_zero, "base_rows": len(sim.rows)}
                    done.write_text(json.dumps(meta))
                    del sim   # a long enterprise is large: not held while the child runs
                case, lines, truth_pz = where / "auth.txt", meta["lines"], meta["truth_pz"]
                extra = {"days": days, "base_rows": meta["base_rows"]}
            else:
                sim = simulate(args.seed, n_workstations=args.workstations, n_servers=args.servers,
                               days=args.days, target_events=n)
                case = write_case(sim.events, Path(tmp) / f"case-{n}.parquet")
                truth_pz, lines = sim.truth.patient_zero, len(sim.events)
                extra = {}
                del sim
            gen_s = time.perf_counter() - t0
            code, stdout, stderr = _run_child([sys.executable, __file__, "--child", str(case),
                                               *(["--lanl"] if args.lanl else [])], args.max_rss_gb)
            if code:
                print(f"{n}: analysis failed:\n{stderr[-3000:]}", file=sys.stderr)
                rows.append({"target": n, "error": stderr.strip().splitlines()[-1:]})
                continue
            row = json.loads(stdout.strip().splitlines()[-1])
            row.update(target=n, lines=lines, generate_s=gen_s, truth_pz=truth_pz,
                       case_mb=case.stat().st_size / 1e6, **extra)
            rows.append(row)
            print(f"{n}: {row}", file=sys.stderr)
            if args.lanl:
                case.with_suffix(".parquet").unlink(missing_ok=True)
                if args.dir is None:
                    case.unlink()
            else:
                case.unlink()
    if args.lanl:
        print("\n| auth.txt lines | days (distinct authentications) | MB | stream s (CPU s) | stream peak GB "
              "| events kept (rows) | load s (CPU s) | analyze s (CPU s) [event / hop stage s] | total s "
              "| CPU us/line | peak RSS GB | load avg | hops | patient zero (truth) |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            if "error" in r:
                print(f"| {r['target']:,} | failed: {r['error']} |")
                continue
            total = r["stream_s"] + r["load_s"] + r["analyze_s"]
            cpu = r["stream_cpu_s"] + r["load_cpu_s"] + r["analyze_cpu_s"]
            print(f"| {r['lines']:,} | {r['days']} ({r['base_rows']:,}) | {r['case_mb']:.0f} | "
                  f"{r['stream_s']:.1f} ({r['stream_cpu_s']:.1f}) | "
                  f"{r['stream_peak_gb']:.2f} | {r['events']:,} ({r['rows']:,}) | "
                  f"{r['load_s']:.1f} ({r['load_cpu_s']:.1f}) | "
                  f"{r['analyze_s']:.1f} ({r['analyze_cpu_s']:.1f}) [{r['event_stage_s']:.1f} / "
                  f"{r['hop_stage_s']:.1f}] | {total:.1f} | "
                  f"{1e6 * cpu / r['lines']:.2f} | "
                  f"{r['peak_rss_gb']:.2f} | {r['loadavg']:.1f} | {r['hops']} | {r['patient_zero']} "
                  f"({r['truth_pz']}) |")
        return 0
    print("\n| events | case MB | load s (CPU s) | analyze s (CPU s) | total s | CPU us/event "
          "| peak RSS GB (VmHWM) | sampled peak GB | load avg | hops | patient zero (truth) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['target']:,} | failed: {r['error']} |")
            continue
        total = r["load_s"] + r["analyze_s"]
        cpu = r["load_cpu_s"] + r["analyze_cpu_s"]
        print(f"| {r['events']:,} | {r['case_mb']:.0f} | {r['load_s']:.1f} ({r['load_cpu_s']:.1f}) | "
              f"{r['analyze_s']:.1f} ({r['analyze_cpu_s']:.1f}) | {total:.1f} | "
              f"{1e6 * cpu / r['events']:.2f} | {r['peak_rss_gb']:.2f} | {r['sampled_peak_gb']:.2f} | "
              f"{r['loadavg']:.1f} | {r['hops']} | {r['patient_zero']} ({r['truth_pz']}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
