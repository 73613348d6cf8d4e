"""Time to first render of the spread graph for 200, 2,000 and 20,000-host cases.

For each case: build a result (the UI tests' hand-made enterprise: an attack chain, a deployment
server touching every workstation, background logons), run the UI's view pipeline (filter, cap +
aggregate, precomputed layout, pyvis HTML), write the standalone HTML, and load it in Debian's
chromium with Playwright: the browser time is ``performance.now()`` when vis-network fires its
first ``afterDrawing`` (physics is off, so drawn = stable). Prints a table.

    .venv/bin/python bench/ui.py [--sizes 200,2000,20000] [--max-nodes 300] [--baseline]

``--baseline`` adds pyvis' default for the 200-host case (every node, physics on, no layout) and
waits for ``stabilizationIterationsDone``, for comparison.

**Time to first patient zero** (issue 15: <= 10 s for a 1M-event case on the 2-core machine):

    .venv/bin/python bench/ui.py --first-pz 1000000 [--repeat 3] [--case DIR]

generates ``latgraph simulate --events N`` once (or uses ``--case``), then per repeat starts a real
``latgraph ui CASE`` server (its start-up until ``/_stcore/health`` answers is reported apart),
opens it in chromium and times from navigation until Overview shows "Most likely patient zero";
the progress texts seen on the way (sampled every 100 ms) and the app's own stage timings are
printed, with the median of the repeats and the 1-minute load average before and after (the
machine is shared: read the figures with the load), and the CPU seconds the server process used
from navigation to patient zero (``/proc``; the load-independent figure). Every repeat starts a new
server, so each figure is a fresh analysis of the events (reading, rules, correlation, scores,
paths): no result is cached between runs.

``latgraph ui CASE`` starts analysing the case as the server boots (``app/ui/background.py``), as it
does for any analyst who runs the command and then opens the page: part of the analysis is done
before the browser navigates. So each run also prints the time **from the ``latgraph ui`` command**
(spawning the server) to patient zero, which includes the server start and the browser start, and
the CPU seconds the server used since its start.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.ui.graph_html import render  # noqa: E402
from app.ui.view import ALL_SEVERITIES, ViewOptions, build_view  # noqa: E402
from tests.app.ui.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.app.ui.fixtures import spread_result  # noqa: E402


def browser_ms(page, path: Path, *, physics: bool = False, timeout_ms: int = 300_000) -> float:
    """Milliseconds from navigation start until the graph is drawn (or stabilised, with physics)."""
    page.goto(path.as_uri())
    if physics:
        page.wait_for_function("typeof window.latgraphStable === 'number'", timeout=timeout_ms)
        return float(page.evaluate("window.latgraphStable"))
    page.wait_for_function("typeof window.latgraphDrawn === 'number'", timeout=timeout_ms)
    return float(page.evaluate("window.latgraphDrawn"))


def baseline_html(result) -> str:
    """pyvis as commonly used: every hop host, physics on, no precomputed layout."""
    from pyvis.network import Network

    net = Network(height="650px", width="100%", directed=True, cdn_resources="in_line")
    hops = result.hops
    src = hops["src_host"].fillna(hops["src_ip"]).fillna("?").astype(str)
    for name in sorted(set(src) | set(hops["dst_host"].astype(str))):
        net.add_node(name, label=name)
    for s, d in zip(src, hops["dst_host"].astype(str), strict=True):
        net.add_edge(s, d)
    page = net.generate_html()
    hook = ('network.once("stabilizationIterationsDone", function () {'
            ' window.latgraphStable = performance.now(); });\n return network;')
    page = page.replace("return network;", hook, 1)
    return page.replace("</body>", "<script>window.latgraphNetwork = network;</script></body>", 1)


def server_cpu_s(port: int) -> float | None:
    """CPU seconds (user + system, its threads and waited-for children) used so far by the
    ``latgraph ui`` server listening on ``port`` (Linux ``/proc``), or None when not found. Unlike
    wall time, this does not grow with the load other processes put on the machine."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    needle = f"--server.port\x00{port}\x00".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if needle not in f.read():
                    continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        return sum(int(x) for x in fields[11:15]) / tick    # utime stime cutime cstime
    return None


def first_pz(n_events: int, repeat: int, case: Path | None) -> None:
    """Time to the first patient zero of a ``latgraph ui CASE`` session (see the module docstring)."""
    import os
    import re
    import statistics
    import subprocess

    from playwright.sync_api import sync_playwright

    from tests.app.ui.browser import ui_server

    if case is None:
        case = Path(tempfile.mkdtemp(prefix="latgraph-bench-ui-case-"))
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from app.cli import cli; cli()", "simulate", "--events",
                        str(n_events), "--out", str(case)], cwd=ROOT, check=True, capture_output=True)
        print(f"generated {case} in {time.perf_counter() - t:.1f} s (not timed)")
    inputs = [str(case / "events") if (case / "events").is_dir() else str(case)]
    rows, totals, cpus, spawns = [], [], [], []
    for i in range(repeat):
        load0 = os.getloadavg()[0]
        t_spawn = time.perf_counter()
        with ui_server(inputs) as url, sync_playwright() as p:
            t_up = time.perf_counter() - t_spawn
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            seen: list[str] = []
            stamps: list[float] = []
            port = int(url.rsplit(":", 1)[1])
            cpu0 = server_cpu_s(port)
            t0 = time.perf_counter()
            page.goto(url)
            metric = page.get_by_test_id("stMetric").filter(has_text="Most likely patient zero")
            while not metric.count():
                texts = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stProgress"]')]
                                           .map(e => e.innerText.trim()).filter(Boolean)""")
                for text in texts:
                    if not seen or seen[-1] != text:
                        seen.append(text)
                        stamps.append(time.perf_counter() - t0)
                if time.perf_counter() - t0 > 600:
                    raise RuntimeError("no patient zero after 600 s")
                time.sleep(0.1)
            elapsed = time.perf_counter() - t0
            from_spawn = time.perf_counter() - t_spawn
            cpu1 = server_cpu_s(port)
            cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
            pz = metric.get_by_test_id("stMetricValue").inner_text().strip()
            caption = page.get_by_text(re.compile(r"^Loaded in ")).first.inner_text()
            browser.close()
        load1 = os.getloadavg()[0]
        totals.append(elapsed)
        if cpu is not None:
            cpus.append(cpu)
        rows.append((i + 1, elapsed, t_up, pz, caption, load0, load1, seen, stamps, cpu, from_spawn, cpu1))
        spawns.append(from_spawn)
    for n, elapsed, t_up, pz, caption, load0, load1, seen, stamps, cpu, from_spawn, cpu_all in rows:
        used = "" if cpu is None else f"; the server used {cpu:.1f} CPU s for it"
        print(f"run {n}: first patient zero {pz} after {elapsed:.1f} s{used} (server start {t_up:.1f} s "
              f"before; load average {load0:.1f} -> {load1:.1f})")
        whole = "" if cpu_all is None else f"; server CPU since its start {cpu_all:.1f} s"
        print(f"       from the `latgraph ui` command to patient zero: {from_spawn:.1f} s{whole}")
        print(f"       app: {caption}")
        stages = [re.sub(r" · [\d.]+ s$", "", t) for t in seen]
        print("       progress seen: " + " | ".join(dict.fromkeys(stages)))
        if stamps:
            print(f"       first progress text after {stamps[0]:.1f} s (session start, imports), last at "
                  f"{stamps[-1]:.1f} s, patient zero on screen at {elapsed:.1f} s")
    print(f"median {statistics.median(totals):.1f} s over {len(totals)} run(s) "
          f"(min {min(totals):.1f}, max {max(totals):.1f}); {os.cpu_count()} cores")
    print(f"from the `latgraph ui` command (server start, browser start, navigation) to patient zero: "
          f"median {statistics.median(spawns):.1f} s (min {min(spawns):.1f}, max {max(spawns):.1f})")
    if cpus:
        print(f"server CPU seconds from navigation to patient zero (fresh analysis of the events, no "
              f"cache): median {statistics.median(cpus):.1f} (min {min(cpus):.1f}, max {max(cpus):.1f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200,2000,20000")
    ap.add_argument("--max-nodes", type=int, default=300)
    ap.add_argument("--baseline", action="store_true")
    ap.add_argument("--baseline-max", type=int, default=2000, help="largest case for the baseline")
    ap.add_argument("--first-pz", type=int, default=0, metavar="N",
                    help="time to the first patient zero of a latgraph ui session on an N-event case")
    ap.add_argument("--repeat", type=int, default=3, help="runs for --first-pz (median reported)")
    ap.add_argument("--case", type=Path, help="--first-pz on this simulate output (or case file) instead")
    args = ap.parse_args()
    if args.first_pz or args.case:
        first_pz(args.first_pz or 1_000_000, args.repeat, args.case)
        return
    from playwright.sync_api import sync_playwright

    out = Path(tempfile.mkdtemp(prefix="latgraph-bench-ui-"))
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        for n in (int(s) for s in args.sizes.split(",")):
            result = spread_result(n)
            opts = ViewOptions(severities=ALL_SEVERITIES, max_nodes=args.max_nodes)
            t0 = time.perf_counter()
            view = build_view(result, opts)
            t1 = time.perf_counter()
            html = render(view, opts)
            t2 = time.perf_counter()
            path = out / f"graph-{n}.html"
            path.write_text(html, encoding="utf-8")
            ms = browser_ms(page, path)
            drawn = page.evaluate("window.latgraphNetwork.body.data.nodes.length")
            rows.append((f"{n:,} hosts", f"{len(result.hops):,}", f"{view.total_nodes:,}", f"{drawn:,}",
                         f"{len(view.edges):,}", f"{(t1 - t0) * 1000:,.0f}", f"{(t2 - t1) * 1000:,.0f}",
                         f"{len(html) / 1e6:.2f}", f"{ms:,.0f}"))
            if args.baseline and n <= args.baseline_max:
                path = out / f"baseline-{n}.html"
                path.write_text(baseline_html(result), encoding="utf-8")
                ms = browser_ms(page, path, physics=True)
                rows.append((f"{n:,} baseline", f"{len(result.hops):,}", "-", "all", "-", "-", "-",
                             f"{path.stat().st_size / 1e6:.2f}", f"{ms:,.0f}"))
        browser.close()
    head = ("case", "hops", "nodes", "drawn", "edges", "view ms", "pyvis ms", "HTML MB", "browser ms")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    print(f"(max_nodes={args.max_nodes}; HTML files in {out})")


if __name__ == "__main__":
    main()
