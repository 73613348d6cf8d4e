"""Pure rendering of the spread graph: (AnalysisResult, ViewOptions) -> a standalone pyvis HTML page.

Filtering, capping/aggregation and the layout happen first in :mod:`app.ui.view`; pyvis only
receives at most ``max_nodes`` nodes with precomputed positions and physics disabled, so the
browser draws at once instead of simulating for minutes.

Security: host, account and service names are attacker-controlled.

* Tooltips (``title``) are built as HTML in which every data value goes through
  :func:`html.escape`; a small script then turns each title string into a DOM element (vis-network
  9 would otherwise show the markup as text). pyvis switches to an ``innerHTML`` popup on its own
  when any title contains ``href``, which is safe only because the titles are escaped.
* Labels are drawn on the canvas with ``fillText`` (never parsed as HTML) and reach the page inside
  the ``<script>`` only through Jinja's ``tojson`` filter, which escapes ``<``, ``>``, ``&`` and
  ``'``; control characters are stripped and long names shortened.
* The page loads nothing from the network: vis-network is inlined and pyvis' bootstrap CDN tags
  are removed.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd
from pyvis.network import Network

from app.ui.view import ACCOUNT, GROUP, UNKNOWN, View, ViewOptions, build_view
from graph.model import AnalysisResult

SEVERITY_COLORS: dict[str, str] = {"high": "#d62728", "medium": "#ff7f0e", "low": "#bcbd22",
                                   "info": "#b0b0b0"}
ACCOUNT_COLOR = "#4e79a7"
HOST_COLOR = "#9e9e9e"
GROUP_COLOR = "#c5b0d5"
HIGHLIGHT_COLOR = "#1f77b4"
#: Compromise-time gradient: earliest -> latest.
EARLY_RGB, LATE_RGB = (127, 0, 0), (253, 212, 158)
#: Edge kinds that show code ran or files were dropped (drawn solid; logon-only hops are dashed).
STRONG_KINDS = frozenset({"admin_share", "file_write", "service_install", "execution", "ipc_pipe"})
MAX_LABEL = 24
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: On-screen label size (CSS px) at every zoom level.
LABEL_PX = 13

LEGEND_HTML = """
<details id="latgraph-legend" style="background:#fff;border:1px solid #ccc;border-radius:4px;
 padding:2px 8px;margin:0 0 4px 0;font:12px sans-serif;line-height:1.5">
 <summary style="cursor:pointer"><b>Legend</b></summary>
 &#9733; patient-zero candidate &nbsp; &#9679; host &nbsp; &#9650; account &nbsp;
 &#9632; group of hosts/accounts<br>
 host fill: <span style="color:rgb(127,0,0)">&#9679;</span> compromised early &rarr;
 <span style="color:rgb(253,212,158)">&#9679;</span> late,
 <span style="color:#9e9e9e">&#9679;</span> not compromised<br>
 hop: <span style="color:#d62728">&#9473;</span> high <span style="color:#ff7f0e">&#9473;</span> medium
 <span style="color:#bcbd22">&#9473;</span> low <span style="color:#b0b0b0">&#9473;</span> info;
 solid = share/service/execution, dashed = logon only; width = score<br>
 <span style="color:#4e79a7">&#8230;</span> account used on host &nbsp;
 <span style="color:#1f77b4">&#9473;</span> selected path
</details>
"""

# Runs after pyvis' drawGraph(): titles -> DOM elements, screen-size labels with collision
# handling, click -> postMessage to the hosting component, readiness flags for tests and benches.
_POST_SCRIPT = """
<script>
(function () {
  function toElement(text) { var d = document.createElement("div"); d.innerHTML = text; return d; }
  var upd = [];
  nodes.forEach(function (n) {
    if (typeof n.title === "string") upd.push({id: n.id, title: toElement(n.title)});
  });
  nodes.update(upd);
  var eupd = [];
  edges.forEach(function (e) {
    if (typeof e.title === "string") eupd.push({id: e.id, title: toElement(e.title)});
  });
  edges.update(eupd);
  window.latgraphNetwork = network;

  // Labels: a fixed on-screen size whatever the zoom; where two labels would overlap only the
  // more important node (patient zero, compromised, higher score) keeps its label.
  var LABEL_PX = %(label_px)s;
  function relabel() {
    var scale = network.getScale() || 1;
    var size = LABEL_PX / scale;
    var pos = network.getPositions();
    var list = nodes.get({fields: ["id", "lg_label", "lg_rank", "size"]});
    list.sort(function (a, b) { return (b.lg_rank || 0) - (a.lg_rank || 0); });
    var cell = size * 6, grid = {}, out = [], shown = 0;
    function key(i, j) { return i + "," + j; }
    list.forEach(function (n) {
      var p = pos[n.id], text = n.lg_label || "";
      if (!p || !text) { out.push({id: n.id, label: ""}); return; }
      var w = size * (0.58 * text.length + 0.6), h = size * 1.25;
      var top = p.y + (n.size || 10) + size * 0.15;
      var b = {x1: p.x - w / 2, x2: p.x + w / 2, y1: top, y2: top + h};
      var i1 = Math.floor(b.x1 / cell), i2 = Math.floor(b.x2 / cell);
      var j1 = Math.floor(b.y1 / cell), j2 = Math.floor(b.y2 / cell), hit = false, i, j;
      for (i = i1; i <= i2 && !hit; i++) for (j = j1; j <= j2 && !hit; j++) {
        (grid[key(i, j)] || []).forEach(function (o) {
          if (b.x1 < o.x2 && o.x1 < b.x2 && b.y1 < o.y2 && o.y1 < b.y2) hit = true; });
      }
      if (hit) { out.push({id: n.id, label: ""}); return; }
      for (i = i1; i <= i2; i++) for (j = j1; j <= j2; j++) (grid[key(i, j)] = grid[key(i, j)] || []).push(b);
      shown += 1;
      out.push({id: n.id, label: text, font: {size: size}});
    });
    nodes.update(out);
    window.latgraphLabels = {shown: shown, total: list.length, px: LABEL_PX, scale: scale};
  }
  var pending = null;
  network.on("zoom", function () {
    if (pending) clearTimeout(pending);
    pending = setTimeout(function () { pending = null; relabel(); }, 120);
  });

  function post(msg) {
    window.latgraphLastClick = msg;
    if (window.parent !== window) window.parent.postMessage(msg, "*");
  }
  network.on("click", function (p) {
    if (p.nodes.length) {
      post({type: "latgraph-select", kind: "node", id: String(p.nodes[0]), hop_ids: []});
    } else if (p.edges.length) {
      var e = edges.get(p.edges[0]);
      post({type: "latgraph-select", kind: "edge", id: String(e.id), hop_ids: e.lg_hops || []});
    }
  });
  window.addEventListener("message", function (ev) {
    var m = ev.data;
    if (ev.source !== window.parent || !m || m.type !== "latgraph-focus") return;
    if (nodes.get(m.id) === null) return;
    network.selectNodes([m.id]);
    window.latgraphFocused = m.id;
  });
  network.once("afterDrawing", function () {
    relabel();
    window.latgraphDrawn = performance.now();
    if (window.parent !== window) window.parent.postMessage({type: "latgraph-ready"}, "*");
  });
})();
</script>
"""


def clean_label(text: Any) -> str:
    """A node label: text without control characters, at most :data:`MAX_LABEL` characters.

    Examples:
        >>> clean_label("PC01\\n\\x07evil")
        'PC01 evil'
    """
    s = _CONTROL.sub(" ", str(text))
    s = re.sub(r" +", " ", s)
    return s if len(s) <= MAX_LABEL else s[: MAX_LABEL - 1] + "\u2026"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word if n == 1 else word + 's'}"


def esc(value: Any) -> str:
    """HTML-escape any value for a tooltip (quotes included)."""
    return html.escape(str(value), quote=True)


def _ts(value: Any) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return "-"
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def _blend(frac: float) -> str:
    r, g, b = (round(a + (c - a) * frac) for a, c in zip(EARLY_RGB, LATE_RGB, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def _node_style(n: dict[str, Any], t0: pd.Timestamp | None, span: float) -> dict[str, Any]:
    kind = n["kind"]
    if kind == ACCOUNT:
        style = {"shape": "triangle", "color": ACCOUNT_COLOR, "size": 12}
        title = f"<b>account {esc(n['label'])}</b><br>hops: {n['hops']}<br>max score: {n['score']:.2f}"
    elif kind == GROUP:
        style = {"shape": "square", "color": GROUP_COLOR, "size": 10 + min(20, n["members"] ** 0.5)}
        title = (f"<b>group {esc(n['label'])}</b><br>{n['members']} {esc(n['member_kind'])} collapsed"
                 f" ({n['compromised']} compromised)<br>hops: {n['hops']}<br>max score: {n['score']:.2f}")
    elif kind == UNKNOWN:
        style = {"shape": "dot", "color": "#ffffff", "size": 8}
        title = f"unknown source (the logs of {esc(n['id'][len('unknown:'):])} name none)"
    else:
        comp = n.get("compromised_at")
        color = HOST_COLOR
        if comp is not None and t0 is not None:
            frac = 0.0 if span <= 0 else (pd.Timestamp(comp) - t0).total_seconds() / span
            color = _blend(min(1.0, max(0.0, frac)))
        style = {"shape": "star" if n.get("pz_rank") else "dot", "color": color,
                 "size": 30 if n.get("pz_rank") == 1 else (22 if n.get("pz_rank") else 14)}
        title = f"<b>host {esc(n['id'])}</b>"
        if n.get("pz_rank"):
            title += f"<br>patient-zero candidate #{n['pz_rank']}"
        title += f"<br>first compromised: {_ts(comp) if comp is not None else 'not compromised'}"
        title += f"<br>hops: {n['hops']}<br>max hop score: {n['score']:.2f}"
    if n.get("highlight"):
        style["borderWidth"] = 4
        style["color"] = {"background": style["color"] if isinstance(style["color"], str) else HOST_COLOR,
                          "border": HIGHLIGHT_COLOR}
    else:
        style["borderWidth"] = 1
    style["title"] = title
    return style


def _edge_style(e: dict[str, Any]) -> dict[str, Any]:
    kinds = sorted(e["kinds"])
    if e["kind"] == "account":
        style = {"color": ACCOUNT_COLOR, "width": 1, "dashes": [2, 4], "arrows": "to"}
        title = f"account {esc(e['src'][len('account:'):])} on {esc(e['dst'])}"
    else:
        strong = bool(STRONG_KINDS.intersection(kinds))
        style = {"color": SEVERITY_COLORS.get(e["severity"], "#b0b0b0"), "width": 1 + 5 * e["score"],
                 "dashes": not strong, "arrows": "to"}
        accounts = ", ".join(esc(a) for a in sorted(e["accounts"])[:10])
        more = f" (+{len(e['accounts']) - 10})" if len(e["accounts"]) > 10 else ""
        title = (f"<b>{esc(e['src'])} &rarr; {esc(e['dst'])}</b><br>severity {esc(e['severity'])},"
                 f" score {e['score']:.2f}<br>{_plural(e['count'], 'hop')}, {_plural(e['n_events'], 'event')}"
                 f"<br>accounts: {accounts or '-'}{more}<br>kinds: {esc(', '.join(kinds))}"
                 f"<br>{_ts(e['first_seen'])} &rarr; {_ts(e['last_seen'])}")
    if e.get("highlight"):
        style.update(color=HIGHLIGHT_COLOR, width=max(6.0, float(style["width"])), dashes=False)
    style["title"] = title
    return style


def _rank(n: dict[str, Any]) -> float:
    """Label priority of a node: patient zero, the selected path, compromised hosts, then score."""
    rank = float(n.get("score", 0.0)) * 10.0 + min(float(n.get("hops", 0)), 50.0) / 100.0
    if n.get("pz_rank"):
        rank += 1000.0 - float(n["pz_rank"])
    if n.get("highlight"):
        rank += 500.0
    if n.get("compromised_at") is not None:
        rank += 100.0
    if n["kind"] == GROUP:
        rank += 50.0
    return round(rank, 3)


def render(view: View, opts: ViewOptions, *, legend: bool = True, note: bool = True) -> str:
    """The pyvis HTML page for a :class:`~app.ui.view.View` (physics off, positions fixed).

    ``legend`` adds the collapsible legend above the canvas (the app shows its own legend outside
    the frame); ``note`` the "showing X of Y" line (the app shows it outside the frame instead).
    Nodes carry ``lg_label`` / ``lg_rank`` (label and its priority), edges an ``id`` (``e<N>``)
    and ``lg_hops`` (the hop ids they draw): a click posts them to the hosting component.
    """
    net = Network(height=f"{opts.height_px}px", width="100%", directed=True, cdn_resources="in_line")
    times = [pd.Timestamp(n["compromised_at"]) for n in view.nodes if n.get("compromised_at") is not None]
    t0 = min(times) if times else None
    span = (max(times) - t0).total_seconds() if times else 0.0
    for n in view.nodes:
        label = clean_label(n["label"])
        net.add_node(n["id"], label=label, lg_label=label, lg_rank=_rank(n), x=n.get("x", 0.0),
                     y=n.get("y", 0.0), physics=False, **_node_style(n, t0, span))
    for i, e in enumerate(view.edges):
        net.add_edge(e["src"], e["dst"], id=f"e{i}", lg_hops=[int(h) for h in e["hop_ids"]],
                     **_edge_style(e))
    net.options = {
        "physics": {"enabled": False},
        "edges": {"smooth": False, "arrows": {"to": {"scaleFactor": 0.5}}},
        "nodes": {"font": {"size": 12, "face": "sans-serif", "strokeWidth": 3, "strokeColor": "#ffffff"}},
        "interaction": {"hover": True, "tooltipDelay": 120, "hideEdgesOnDrag": len(view.edges) > 800,
                        "navigationButtons": False, "keyboard": False, "selectConnectedEdges": False},
    }
    page = net.generate_html()
    page = _strip_external(page)
    note_html = ('<div id="latgraph-note" style="font:12px sans-serif;color:#555;padding:2px 4px">'
                 f"{esc(view.note)}</div>") if note else ""
    page = page.replace('<div class="card" style="width: 100%">',
                        note_html + (LEGEND_HTML if legend else "")
                        + '<div class="card" style="width: 100%; position: relative">', 1)
    page = page.replace("<body>", '<body style="margin:0">', 1)
    script = _POST_SCRIPT.replace("%(label_px)s", str(LABEL_PX))
    return page.replace("</body>", script + "</body>", 1)


def _strip_external(page: str) -> str:
    """Drop pyvis' CDN bootstrap tags and its empty heading: the page must work offline."""
    page = re.sub(r"<link\s+href=\"https://cdn\.jsdelivr\.net[^>]*>", "", page, flags=re.S)
    page = re.sub(r"<script\s+src=\"https://cdn\.jsdelivr\.net[^>]*>\s*</script>", "", page, flags=re.S)
    page = re.sub(r"<center>\s*<h1>\s*</h1>\s*</center>", "", page)
    return page


def graph_html(result: AnalysisResult, opts: ViewOptions, *, legend: bool = True,
               note: bool = True) -> tuple[str, View]:
    """Filter, cap, lay out and render: the HTML page and the View it shows."""
    view = build_view(result, opts)
    return render(view, opts, legend=legend, note=note), view


def edges_table(view: View) -> pd.DataFrame:
    """The drawn edges as a table (same content as the graph, for reading, sorting and CSV)."""
    rows = [{"source": e["src"], "target": e["dst"], "type": e["kind"], "severity": e["severity"],
             "score": round(float(e["score"]), 3), "hops": e["count"], "events": e["n_events"],
             "accounts": ", ".join(sorted(e["accounts"])), "kinds": ", ".join(sorted(e["kinds"])),
             "first_seen": e["first_seen"], "last_seen": e["last_seen"],
             "hop_ids": " ".join(str(h) for h in sorted(e["hop_ids"])[:50])}
            for e in view.edges]
    cols = ["source", "target", "type", "severity", "score", "hops", "events", "accounts", "kinds",
            "first_seen", "last_seen", "hop_ids"]
    return pd.DataFrame(rows, columns=cols).sort_values(["score", "hops"], ascending=False,
                                                         ignore_index=True)
