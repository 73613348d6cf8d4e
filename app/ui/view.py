"""The view model behind the spread graph: filter, focus, cap/aggregate and lay out the hops.

Pure functions from an :class:`~graph.model.AnalysisResult` and a :class:`ViewOptions` to a
:class:`View` (plain node and edge dicts with positions). :mod:`app.ui.graph_html` turns a View
into pyvis HTML; the pages show the same View as a table. Nothing here imports Streamlit.

Why cap and aggregate here: pyvis/vis-network needs minutes for ~1,500 nodes with physics on
(pyvis #204) and BloodHound's old UI locked up at ~4k nodes (PEERS.md 0.6). So the view keeps at
most ``max_nodes`` nodes, chosen by importance (patient zero, highlighted path, focus, compromised
hosts, then the highest hop score), collapses the rest into group nodes (per /24 for IPs, per name
prefix such as ``WS*`` for hosts, per prefix for accounts) and precomputes positions, so the
browser draws with physics off.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import networkx as nx
import pandas as pd

from graph.model import AnalysisResult

SEVERITY_ORDER: dict[str, int] = {"high": 3, "medium": 2, "low": 1, "info": 0}
ALL_SEVERITIES: tuple[str, ...] = ("high", "medium", "low", "info")
#: Node kinds in a View.
HOST, ACCOUNT, GROUP, UNKNOWN = "host", "account", "group", "unknown"
#: At most this many group nodes; smaller groups fold into one "other" group per node kind.
MAX_GROUPS = 40
_UNKNOWN_PREFIX = "unknown:"


@dataclass(frozen=True)
class ViewOptions:
    """What the spread graph shows. Hashable, so it can key a cache."""

    severities: tuple[str, ...] = ("high", "medium", "low")
    kinds: tuple[str, ...] = ()                 # EdgeKind values; empty = all kinds
    start: datetime | None = None               # hops overlapping [start, end]
    end: datetime | None = None
    until: datetime | None = None               # replay: only what happened up to this moment
    search: str = ""                            # substring of a host or account name
    focus: str | None = None                    # a host: show only its k-hop neighbourhood
    focus_depth: int = 1
    highlight_hop_ids: tuple[int, ...] = ()     # a selected path
    only_hop_ids: tuple[int, ...] = ()          # restrict to these hops (e.g. one path); empty = all
    show_accounts: bool = True
    max_nodes: int = 300
    layout: str = "spring"                      # "spring" | "hierarchical" (left to right)
    height_px: int = 650


@dataclass
class View:
    """Nodes and edges ready to draw (and to show as a table)."""

    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)
    total_nodes: int = 0        # before the cap
    total_hops: int = 0         # hops in the result
    shown_hops: int = 0         # hops passing the filters
    grouped_nodes: int = 0      # nodes folded into group nodes

    @property
    def note(self) -> str:
        """The "showing X of Y" sentence shown above the graph."""
        text = (f"Showing {len(self.nodes):,} of {self.total_nodes:,} nodes and "
                f"{self.shown_hops:,} of {self.total_hops:,} hops")
        if self.grouped_nodes:
            text += f"; {self.grouped_nodes:,} lower-scoring nodes are collapsed into group nodes"
        return text + "."


def filter_hops(result: AnalysisResult, opts: ViewOptions) -> pd.DataFrame:
    """The hops that pass the view's severity, kind, time, search and focus filters."""
    hops = result.hops
    if hops is None or hops.empty:
        return hops.iloc[0:0] if hops is not None else pd.DataFrame()
    mask = hops["severity"].astype(str).isin(opts.severities)
    if opts.only_hop_ids:
        mask &= hops["hop_id"].isin(opts.only_hop_ids)
    if opts.kinds:
        wanted = set(opts.kinds)
        mask &= hops["kinds"].map(lambda ks: bool(wanted.intersection(ks)))
    if opts.start is not None:
        mask &= hops["last_seen"] >= pd.Timestamp(opts.start)
    if opts.end is not None:
        mask &= hops["first_seen"] <= pd.Timestamp(opts.end)
    if opts.until is not None:
        mask &= hops["first_seen"] <= pd.Timestamp(opts.until)
    if opts.search.strip():
        needle = opts.search.strip().lower()
        hit = pd.Series(False, index=hops.index)
        for col in ("src_host", "src_ip", "dst_host", "account"):
            hit |= hops[col].astype("string").str.lower().str.contains(needle, regex=False).fillna(False)
        mask &= hit
    out = hops[mask.astype(bool)]
    if opts.focus:
        out = _focus(out, opts.focus.strip().upper(), max(1, opts.focus_depth))
    return out


def _source(row: dict[str, Any]) -> str:
    """The source node name of a hop: host, else IP, else an unknown-source node per target."""
    for col in ("src_host", "src_ip"):
        value = row.get(col)
        if value is not None and value == value and value is not pd.NA and str(value):
            return str(value)
    return f"{_UNKNOWN_PREFIX}{row['dst_host']}"


def _focus(hops: pd.DataFrame, host: str, depth: int) -> pd.DataFrame:
    """Hops inside the ``depth``-hop (undirected) neighbourhood of ``host``."""
    g = nx.Graph()
    srcs = [_source(r) for r in hops[["src_host", "src_ip", "dst_host"]].to_dict("records")]
    g.add_edges_from(zip(srcs, hops["dst_host"].astype(str), strict=True))
    if host not in g:
        return hops.iloc[0:0]
    keep = set(nx.single_source_shortest_path_length(g, host, cutoff=depth))
    mask = [s in keep and d in keep for s, d in zip(srcs, hops["dst_host"].astype(str), strict=True)]
    return hops[mask]


def build_view(result: AnalysisResult, opts: ViewOptions) -> View:
    """Filter, aggregate, cap and lay out the hops of ``result`` for drawing."""
    hops = filter_hops(result, opts)
    view = View(total_hops=len(result.hops), shown_hops=len(hops))
    if hops.empty:
        return view
    compromised = _compromised(result, opts.until)
    pz = {p.host: i for i, p in enumerate(result.patient_zero)}
    highlight = set(opts.highlight_hop_ids)

    recs = hops.to_dict("records")
    host_edges: dict[tuple[str, str], dict[str, Any]] = {}
    acct_edges: dict[tuple[str, str], dict[str, Any]] = {}
    nodes: dict[str, dict[str, Any]] = {}
    for r in recs:  # one loop per hop (hops are few compared with events)
        src, dst = _source(r), str(r["dst_host"])
        score, sev = float(r["score"]), str(r["severity"])
        hot = int(r["hop_id"]) in highlight
        _node(nodes, src, UNKNOWN if src.startswith(_UNKNOWN_PREFIX) else HOST, score, hot)
        _node(nodes, dst, HOST, score, hot)
        _merge(host_edges, (src, dst), r, score, sev, hot)
        acct = r.get("account")
        if opts.show_accounts and isinstance(acct, str) and acct:
            _node(nodes, f"account:{acct}", ACCOUNT, score, hot, label=acct)
            _merge(acct_edges, (f"account:{acct}", dst), r, score, sev, hot)
    for name, n in nodes.items():
        if n["kind"] == HOST and name in compromised:
            n["compromised_at"] = compromised[name]
        if n["kind"] == HOST and name in pz:
            n["pz_rank"] = pz[name] + 1
    view.total_nodes = len(nodes)
    edges = [dict(e, kind="hop") for e in host_edges.values()]
    edges += [dict(e, kind="account") for e in acct_edges.values()]
    if len(nodes) > opts.max_nodes:
        nodes, edges, view.grouped_nodes = _aggregate(nodes, edges, opts)
    _layout(nodes, edges, opts.layout)
    view.nodes = list(nodes.values())
    view.edges = edges
    return view


def _compromised(result: AnalysisResult, until: datetime | None) -> dict[str, pd.Timestamp]:
    """Host -> first compromise time (only up to ``until`` in replay)."""
    comp = result.compromised
    if comp is None or comp.empty:
        return {}
    if until is not None:
        comp = comp[comp["first_seen"] <= pd.Timestamp(until)]
    return dict(zip(comp["host"].astype(str), comp["first_seen"], strict=True))


def _node(nodes: dict[str, dict[str, Any]], name: str, kind: str, score: float, hot: bool,
          label: str | None = None) -> None:
    n = nodes.get(name)
    if n is None:
        nodes[name] = {"id": name, "label": label or ("?" if kind == UNKNOWN else name), "kind": kind,
                       "score": score, "hops": 1, "highlight": hot, "members": 1}
    else:
        n["score"] = max(n["score"], score)
        n["hops"] += 1
        n["highlight"] = n["highlight"] or hot


def _merge(edges: dict[tuple[str, str], dict[str, Any]], key: tuple[str, str], r: dict[str, Any],
           score: float, sev: str, hot: bool) -> None:
    e = edges.get(key)
    if e is None:
        edges[key] = {"src": key[0], "dst": key[1], "score": score, "severity": sev, "count": 1,
                      "hop_ids": [int(r["hop_id"])], "kinds": set(r["kinds"]),
                      "accounts": {str(r["account"])} if isinstance(r.get("account"), str) else set(),
                      "first_seen": r["first_seen"], "last_seen": r["last_seen"],
                      "n_events": int(r["n_events"]), "highlight": hot}
        return
    e["score"] = max(e["score"], score)
    if SEVERITY_ORDER.get(sev, 0) > SEVERITY_ORDER.get(e["severity"], 0):
        e["severity"] = sev
    e["count"] += 1
    e["hop_ids"].append(int(r["hop_id"]))
    e["kinds"].update(r["kinds"])
    if isinstance(r.get("account"), str):
        e["accounts"].add(str(r["account"]))
    e["first_seen"] = min(e["first_seen"], r["first_seen"])
    e["last_seen"] = max(e["last_seen"], r["last_seen"])
    e["n_events"] += int(r["n_events"])
    e["highlight"] = e["highlight"] or hot


def _importance(n: dict[str, Any], focus: str | None) -> float:
    if n.get("pz_rank") or n["highlight"] or (focus and n["id"] == focus.strip().upper()):
        return 100.0
    return (10.0 if "compromised_at" in n else 0.0) + n["score"] + min(n["hops"], 50) / 1000.0


def group_key(n: dict[str, Any]) -> str:
    """The group a node folds into when capped: /24 for IPs, name prefix otherwise.

    Examples:
        >>> group_key({"kind": "host", "id": "10.1.2.77"})
        'group:host:10.1.2.0/24'
        >>> group_key({"kind": "host", "id": "WS0042"})
        'group:host:WS*'
        >>> group_key({"kind": "account", "id": "account:svc_backup2", "label": "svc_backup2"})
        'group:account:svc*'
    """
    name = str(n.get("label") if n["kind"] == ACCOUNT else n["id"])
    ip = re.fullmatch(r"(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}", name)
    if ip:
        return f"group:{n['kind']}:{ip.group(1)}.0/24"
    prefix = re.match(r"[A-Za-z]+", name)
    stem = prefix.group(0)[:12] if prefix else name[:3]
    return f"group:{n['kind']}:{stem}*"


def _aggregate(nodes: dict[str, dict[str, Any]], edges: list[dict[str, Any]],
               opts: ViewOptions) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]], int]:
    """Keep the most important nodes, fold the others into group nodes, re-aggregate edges."""
    ranked = sorted(nodes.values(), key=lambda n: (-_importance(n, opts.focus), n["id"]))
    budget = max(1, opts.max_nodes - MAX_GROUPS)
    keep = {n["id"] for n in ranked[:budget]}
    folded = [n for n in ranked[budget:]]
    sizes: dict[str, int] = {}
    for n in folded:
        sizes[group_key(n)] = sizes.get(group_key(n), 0) + 1
    big = set(sorted(sizes, key=lambda k: -sizes[k])[:MAX_GROUPS - 2])
    mapping: dict[str, str] = {}
    out = {k: nodes[k] for k in keep}
    for n in folded:
        g = group_key(n)
        if g not in big:
            g = f"group:{n['kind']}:other"
        mapping[n["id"]] = g
        grp = out.get(g)
        if grp is None:
            kind_name = "accounts" if n["kind"] == ACCOUNT else "hosts"
            stem = g.split(":", 2)[2]
            out[g] = {"id": g, "label": stem, "kind": GROUP, "member_kind": kind_name, "score": n["score"],
                      "hops": n["hops"], "highlight": False, "members": 1,
                      "compromised": int("compromised_at" in n)}
        else:
            grp["members"] += 1
            grp["score"] = max(grp["score"], n["score"])
            grp["hops"] += n["hops"]
            grp["compromised"] += int("compromised_at" in n)
    merged: dict[tuple[str, str, str], dict[str, Any]] = {}
    for e in edges:
        src, dst = mapping.get(e["src"], e["src"]), mapping.get(e["dst"], e["dst"])
        if src == dst and src.startswith("group:"):
            continue  # traffic inside one group: counted in the group's tooltip via "hops"
        key = (src, dst, e["kind"])
        m = merged.get(key)
        if m is None:
            merged[key] = dict(e, src=src, dst=dst, hop_ids=list(e["hop_ids"]), kinds=set(e["kinds"]),
                               accounts=set(e["accounts"]))
        else:
            m["score"] = max(m["score"], e["score"])
            if SEVERITY_ORDER.get(e["severity"], 0) > SEVERITY_ORDER.get(m["severity"], 0):
                m["severity"] = e["severity"]
            m["count"] += e["count"]
            m["hop_ids"].extend(e["hop_ids"])
            m["kinds"] |= e["kinds"]
            m["accounts"] |= e["accounts"]
            m["first_seen"] = min(m["first_seen"], e["first_seen"])
            m["last_seen"] = max(m["last_seen"], e["last_seen"])
            m["n_events"] += e["n_events"]
            m["highlight"] = m["highlight"] or e["highlight"]
    return out, list(merged.values()), len(folded)


def _layout(nodes: dict[str, dict[str, Any]], edges: list[dict[str, Any]], mode: str) -> None:
    """Set ``x``/``y`` (pixels) on every node: spring (fixed iterations) or layered left to right."""
    if not nodes:
        return
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from((e["src"], e["dst"]) for e in edges if e["src"] in nodes and e["dst"] in nodes)
    if mode == "hierarchical":
        pos = _layered(g, nodes)
    else:
        n = len(nodes)
        iterations = 50 if n <= 300 else 30
        pos = nx.spring_layout(g.to_undirected(as_view=True), seed=7, iterations=iterations,
                               k=1.5 / math.sqrt(n))
        scale = 120.0 * math.sqrt(n) + 200.0
        pos = {k: (float(v[0]) * scale, float(v[1]) * scale) for k, v in pos.items()}
    for name, (x, y) in pos.items():
        nodes[name]["x"], nodes[name]["y"] = round(x, 1), round(y, 1)


def _layered(g: nx.DiGraph, nodes: dict[str, dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Left-to-right layers: a host's layer is its BFS depth from the earliest sources."""
    hosts = g.subgraph([k for k, n in nodes.items() if n["kind"] != ACCOUNT])
    roots = [k for k in hosts if hosts.in_degree(k) == 0]
    if not roots and len(hosts):
        roots = [min(hosts, key=lambda k: (nodes[k].get("pz_rank", 1e9), -nodes[k]["score"], k))]
    level: dict[str, int] = {}
    frontier = sorted(roots)
    for r in frontier:
        level[r] = 0
    while frontier:
        nxt = []
        for u in frontier:
            for v in sorted(hosts.successors(u)):
                if v not in level:
                    level[v] = level[u] + 1
                    nxt.append(v)
        frontier = nxt
    for k in hosts:
        level.setdefault(k, 0)
    for k, n in nodes.items():  # accounts sit half a step left of the first host they log on to
        if n["kind"] == ACCOUNT:
            targets = [level.get(v, 0) for v in g.successors(k)]
            level[k] = (min(targets) if targets else 0) - 0.5
    columns: dict[float, list[str]] = {}
    for k in sorted(nodes, key=lambda k: (level[k], -nodes[k]["score"], k)):
        columns.setdefault(level[k], []).append(k)
    pos: dict[str, tuple[float, float]] = {}
    x = 0.0
    for lv in sorted(columns):  # a crowded layer wraps into sub-columns of at most 25 nodes
        members = columns[lv]
        n_sub = math.ceil(len(members) / 25)
        rows = math.ceil(len(members) / n_sub)
        for i, k in enumerate(members):
            sub, row = divmod(i, rows)
            pos[k] = (x + sub * 90.0, (row - (rows - 1) / 2) * 60.0)
        x += (n_sub - 1) * 90.0 + 240.0
    return pos
