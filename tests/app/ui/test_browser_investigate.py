"""End-to-end investigation flows in real headless chromium against a real ``latgraph ui`` server.

Click a node -> its drill-down opens; click an edge -> its evidence shows; a low hop's evidence
is reachable; the demo button asks before replacing a loaded case; a threshold change reaches
Overview, the graph and replay; page state survives page changes; and every request the browser
makes goes to the app's own server on 127.0.0.1 (all requests are recorded). Screenshots are saved
under ``tests/artifacts/ui-*.png``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.ui.graph_html import SEVERITY_COLORS
from tests.app.ui.browser import browser_page, chromium_or_skip, graph_frame, settle, shot, ui_server

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

#: Schemes that make no network request.
LOCAL_SCHEMES = ("data", "blob", "about")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The demo case written by ``latgraph simulate --seed 7`` (the UI's own demo generator)."""
    pytest.importorskip("app.pipeline", reason="app.pipeline (analytics issue) has not landed")
    import os

    from app.ui import state

    folder = tmp_path_factory.mktemp("demo")
    os.environ["LATGRAPH_DEMO_DIR"] = str(folder)
    try:
        state.DEMO_DIR = folder
        return state.demo_inputs()[0]
    finally:
        os.environ.pop("LATGRAPH_DEMO_DIR", None)


def _record(page) -> list[str]:
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.on("websocket", lambda ws: urls.append(ws.url))
    return urls


def _assert_local(urls: list[str], base: str) -> None:
    """Every request went to the app's own server (127.0.0.1:<its port>) or made none (data:, blob:)."""
    own = urlsplit(base)
    assert urls, "no request recorded"
    for u in urls:
        parts = urlsplit(u)
        if parts.scheme in LOCAL_SCHEMES:
            continue
        assert parts.hostname == "127.0.0.1" and parts.port == own.port, u


def _goto(page, title: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    heading = "Host / account drill-down" if title == "Host / account" else title
    page.get_by_role("heading", name=heading).wait_for(timeout=60000)
    settle(page)


def _open_filters(page) -> None:
    """Unfold the graph page's Filters expander (if folded)."""
    box = page.get_by_test_id("stExpander").filter(has=page.get_by_text("Filters", exact=True)).first
    if box.locator("details").get_attribute("open") is None:
        box.locator("summary").click()
    page.get_by_test_id("stRadio").filter(has_text="Layout").first.wait_for(timeout=30000)


def _frame_box(page):
    return page.locator("iframe[data-testid=latgraph-graph-frame]").first


def _click_node(frame, node_id: str) -> None:
    pos = frame.evaluate("""(id) => { const n = window.latgraphNetwork;
        return n.canvasToDOM(n.getPositions([id])[id]); }""", node_id)
    frame.locator("#mynetwork canvas").click(position=pos)


def _click_edge(frame, color: str | None = None) -> list[int]:
    """Click the middle of a hop edge (of this colour) where no node is; return the clicked hop ids.

    Where edges cross, vis-network may pick another edge than ``getEdgeAt``: the next candidate is
    tried until the clicked edge has the wanted colour.
    """
    spots = frame.evaluate("""(color) => { const n = window.latgraphNetwork, out = [];
        const edges = n.body.data.edges.get().filter(e => (e.lg_hops || []).length
            && (!color || (typeof e.color === 'string' && e.color.toLowerCase() === color)));
        for (const e of edges) {
          const p = n.getPositions([e.from, e.to]);
          for (const t of [0.5, 0.4, 0.6, 0.3, 0.7]) {
            const d = n.canvasToDOM({x: p[e.from].x + (p[e.to].x - p[e.from].x) * t,
                                     y: p[e.from].y + (p[e.to].y - p[e.from].y) * t});
            if (d.x < 5 || d.y < 5 || d.x > n.canvas.frame.clientWidth - 5
                || d.y > n.canvas.frame.clientHeight - 5 || n.getNodeAt(d) !== undefined) continue;
            if (n.getEdgeAt(d) === e.id) { out.push(d); break; }
          }
          if (out.length >= 8) break;
        }
        return out; }""", color)
    assert spots, f"no clickable edge of colour {color}"
    for pos in spots:
        frame.evaluate("window.latgraphLastClick = null")
        frame.locator("#mynetwork canvas").click(position=pos)
        frame.wait_for_function("() => window.latgraphLastClick !== null", timeout=10000)
        got = frame.evaluate("""() => { const c = window.latgraphLastClick;
            const e = c.kind === 'edge' ? window.latgraphNetwork.body.data.edges.get(c.id) : null;
            return e ? {hops: c.hop_ids, color: String(e.color).toLowerCase()} : null; }""")
        if got and (color is None or got["color"] == color):
            return [int(h) for h in got["hops"]]
    raise AssertionError(f"no click landed on an edge of colour {color}")


def _metric(page, label: str) -> str:
    return page.get_by_test_id("stMetric").filter(has_text=label).first \
        .get_by_test_id("stMetricValue").inner_text().strip()


def test_graph_click_evidence_threshold_and_state(demo):
    chromium_or_skip()
    from app.pipeline import run

    truth = run([demo])                                   # what the UI must show, from the real pipeline
    pz = truth.patient_zero[0].host
    with ui_server([str(demo)]) as url, browser_page(height=2000) as page:
        urls = _record(page)
        page.goto(url)
        page.get_by_role("heading", name="Overview").wait_for(timeout=180000)   # a loaded case opens here
        settle(page)
        sidebar = page.get_by_test_id("stSidebar").inner_text()
        assert "Case:" in sidebar and Path(demo).name in sidebar

        # ---- the graph: sandboxed, legible, click a node -> its drill-down opens
        _goto(page, "Spread graph")
        frame = graph_frame(page)
        assert _frame_box(page).get_attribute("sandbox") == "allow-scripts"    # no allow-same-origin
        labels = frame.evaluate("window.latgraphLabels")
        assert labels["px"] >= 12 and labels["shown"] >= 1
        overlap = frame.evaluate("""() => { const n = window.latgraphNetwork;
            const shown = n.body.data.nodes.get().filter(x => x.label);
            let bad = 0;
            for (let i = 0; i < shown.length; i++) for (let j = i + 1; j < shown.length; j++) {
              const a = n.body.nodes[shown[i].id].labelModule.size;
              const b = n.body.nodes[shown[j].id].labelModule.size;
              if (a.left < b.left + b.width && b.left < a.left + a.width
                  && a.top < b.top + b.height && b.top < a.top + a.height) bad++;
            }
            return bad; }""")
        assert overlap == 0, f"{overlap} overlapping labels"
        _click_node(frame, pz)
        page.get_by_role("heading", name=f"Host {pz}", exact=True).wait_for(timeout=60000)
        settle(page, timeout_s=60)
        page.get_by_test_id("stMetric").filter(has_text="Patient-zero rank").first.wait_for(timeout=60000)
        # the click must not move the threshold: a re-mounted sidebar slider once fell back to its
        # browser-side default 0.0 and re-thresholded the case, so the rank read '-'
        page.get_by_text(f"Threshold {truth.config.min_score:.2f} (sidebar)").first.wait_for(timeout=30000)
        assert _metric(page, "Patient-zero rank") == "#1"
        page.get_by_test_id("stText").filter(has_text=f"Why: {pz} ").first.wait_for(timeout=60000)
        shot(page, "graph-node-clicked")
        frame = graph_frame(page)

        # ---- click an edge -> its evidence shows
        hops = _click_edge(frame)
        page.get_by_role("heading", name=re.compile(r"^Hop .+ → .+")).wait_for(timeout=60000)
        settle(page)
        top = truth.hops[truth.hops["hop_id"].isin(hops)].sort_values("score", ascending=False).iloc[0]
        page.get_by_text(f"Hop {int(top['hop_id'])}", exact=False).first.wait_for(timeout=30000)
        page.get_by_text("Score parts").first.wait_for(timeout=30000)
        page.get_by_text(re.compile(r"Evidence: \d+ events? shown")).first.wait_for(timeout=30000)
        page.get_by_role("button", name="Download this hop's evidence (CSV)").wait_for(timeout=30000)
        shot(page, "graph-edge-evidence")

        # ---- a low hop (below the threshold) is one click away too
        _open_filters(page)
        page.get_by_test_id("stRadio").filter(has_text="Hops").get_by_text("all hops").click()
        page.get_by_text(re.compile(rf"and {len(truth.hops):,} of {len(truth.hops):,} hops")).first \
            .wait_for(timeout=60000)
        settle(page)
        page.wait_for_timeout(1500)
        frame = graph_frame(page)
        assert frame.evaluate("window.latgraphNetwork.body.data.edges.length") > 21
        low_hops = _click_edge(frame, SEVERITY_COLORS["low"])
        assert set(truth.hops[truth.hops["hop_id"].isin(low_hops)]["severity"]) == {"low"}
        page.get_by_text("severity low", exact=False).first.wait_for(timeout=60000)
        page.get_by_text("Score parts").first.wait_for(timeout=30000)
        shot(page, "graph-low-hop-evidence")

        # ---- page state holds across pages: layout, scope, selection
        page.get_by_test_id("stRadio").filter(has_text="Layout").get_by_text("hierarchical").click()
        settle(page)
        _goto(page, "Overview")
        _goto(page, "Spread graph")
        _open_filters(page)
        layout = page.get_by_test_id("stRadio").filter(has_text="Layout")
        assert layout.get_by_role("radio", name="hierarchical").is_checked()
        assert page.get_by_test_id("stRadio").filter(has_text="Hops").get_by_role(
            "radio", name="all hops").is_checked()
        page.get_by_text("severity low", exact=False).first.wait_for(timeout=30000)   # selection kept
        shot(page, "graph-state-kept")

        # ---- one threshold: move it in the sidebar, every view follows
        slider = page.get_by_test_id("stSidebar").get_by_role("slider").first
        slider.focus()
        for _ in range(4):                                 # 0.40 -> 0.60 in steps of 0.05
            page.keyboard.press("ArrowRight")
        page.get_by_text("Threshold 0.60").first.wait_for(timeout=120000)
        settle(page)
        n_above = int((truth.hops["score"] >= 0.6).sum())
        _goto(page, "Overview")
        page.get_by_text("Threshold 0.60").first.wait_for(timeout=60000)
        assert _metric(page, "Hops ≥ threshold 0.60") == f"{n_above:,}"
        shot(page, "overview-threshold-060")
        _goto(page, "Spread graph")
        _open_filters(page)
        page.get_by_test_id("stRadio").filter(has_text="Hops").get_by_text(
            "at or above the threshold").click()
        settle(page)
        page.get_by_text(re.compile(rf"and {n_above:,} of {len(truth.hops):,} hops")).first \
            .wait_for(timeout=60000)
        _goto(page, "Replay")
        page.get_by_text("Threshold 0.60").first.wait_for(timeout=60000)
        assert _metric(page, "Hops so far") == f"{n_above:,}"
        graph_frame(page)
        shot(page, "replay-threshold-060")
        page.get_by_role("button", name="⏮ First").click()
        settle(page)
        page.get_by_text(re.compile(r"Step 1 of [\d,]+")).first.wait_for(timeout=60000)
        page.get_by_role("button", name="Next hop ▶").click()
        page.get_by_text(re.compile(r"Step 2 of [\d,]+")).first.wait_for(timeout=60000)
        settle(page)
        shot(page, "replay-step-2")
    _assert_local(urls, url)


def test_demo_button_asks_before_replacing_a_loaded_case(demo):
    chromium_or_skip()
    with ui_server([str(demo)], env={"LATGRAPH_DEMO_DIR": str(Path(demo).parent)}) as url, \
            browser_page() as page:
        urls = _record(page)
        page.goto(url)
        page.get_by_role("heading", name="Overview").wait_for(timeout=180000)
        before = page.get_by_test_id("stSidebar").inner_text()
        assert "command line" in before
        _goto(page, "Load data")
        page.get_by_role("button", name="Load the demo case").click()
        page.get_by_text("Replace the loaded case").wait_for(timeout=30000)
        shot(page, "demo-confirm")
        page.get_by_role("button", name="Cancel").click()
        page.get_by_text("Replace the loaded case").wait_for(state="detached", timeout=30000)
        settle(page)
        assert "command line" in page.get_by_test_id("stSidebar").inner_text()    # still the same case
        page.get_by_role("button", name="Load the demo case").click()
        page.get_by_role("button", name="Replace with the demo").click()
        page.get_by_role("heading", name="Overview").wait_for(timeout=180000)
        settle(page)
        assert "demo case (seed 7)" in page.get_by_test_id("stSidebar").inner_text()
    _assert_local(urls, url)
