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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import networkx as nx
import numpy as np
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
    min_score: float | None = None              # only hops scoring at least this (the threshold)
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
        def of(n: int, total: int, word: str) -> str:
            return f"{n:,} of {total:,} {word if total == 1 else word + 's'}"

        text = (f"Showing {of(len(self.nodes), self.total_nodes, 'node')} and "
                f"{of(self.shown_hops, self.total_hops, 'hop')}")
        if self.grouped_nodes == 1:
            text += "; 1 lower-scoring node is collapsed into a group node"
        elif self.grouped_nodes:
            text += f"; {self.grouped_nodes:,} lower-scoring nodes are collapsed into group nodes"
        return text + "."


def filter_hops(result: AnalysisResult, opts: ViewOptions) -> pd.DataFrame:
    """The hops that pass the view's severity, kind, time, search and focus filters."""
    hops = result.hops
    if hops is None or hops.empty:
        return hops.iloc[0:0] if hops is not None else pd.DataFrame()
    mask = hops["severity"].astype(str).isin(opts.severities)
    if opts.min_score is not None:
        mask &= hops["score"].astype(float) >= float(opts.min_score)
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


def sources(hops: pd.DataFrame) -> pd.Series:
    """Source node name per hop: the host, else the IP, else an unknown-source node per target."""
    src = hops["src_host"].astype("string").replace("", pd.NA)
    src = src.fillna(hops["src_ip"].astype("string").replace("", pd.NA))
    return src.fillna(_UNKNOWN_PREFIX + hops["dst_host"].astype("string")).astype(str)


def _focus(hops: pd.DataFrame, host: str, depth: int) -> pd.DataFrame:
    """Hops inside the ``depth``-hop (undirected) neighbourhood of ``host``."""
    src, dst = sources(hops), hops["dst_host"].astype(str)
    g = nx.Graph()
    g.add_edges_from(zip(src, dst, strict=True))
    if host not in g:
        return hops.iloc[0:0]
    keep = set(nx.single_source_shortest_path_length(g, host, cutoff=depth))
    return hops[(src.isin(keep) & dst.isin(keep)).to_numpy()]


def build_view(result: AnalysisResult, opts: ViewOptions) -> View:
    """Filter, aggregate, cap and lay out the hops of ``result`` for drawing (vectorised)."""
    hops = filter_hops(result, opts)
    view = View(total_hops=len(result.hops), shown_hops=len(hops))
    if hops.empty:
        return view
    base = pd.DataFrame({
        "dst": hops["dst_host"].astype(str).to_numpy(),
        "score": hops["score"].astype(float).to_numpy(),
        "sev": hops["severity"].astype(str).map(SEVERITY_ORDER).fillna(0).astype(int).to_numpy(),
        "hop_id": hops["hop_id"].astype(int).to_numpy(),
        "kinds": hops["kinds"].to_numpy(),
        "account": hops["account"].astype("string").to_numpy(),
        "first_seen": hops["first_seen"].reset_index(drop=True),
        "last_seen": hops["last_seen"].reset_index(drop=True),
        "n_events": hops["n_events"].astype(int).to_numpy(),
        "hot": hops["hop_id"].isin(opts.highlight_hop_ids).to_numpy(),
    })
    parts = [base.assign(src=sources(hops).to_numpy(), kind="hop")]
    if opts.show_accounts:
        acc = base[base["account"].notna() & (base["account"] != "")]
        parts.append(acc.assign(src=("account:" + acc["account"].astype(str)).to_numpy(), kind="account"))
    edges = pd.concat(parts, ignore_index=True)
    nodes = _nodes(edges, result, opts)
    view.total_nodes = len(nodes)
    if len(nodes) > opts.max_nodes:
        nodes, edges, view.grouped_nodes = _aggregate(nodes, edges, opts)
    node_dicts = {r["id"]: r for r in _records(nodes)}
    edge_dicts = _merge_edges(edges)
    _layout(node_dicts, edge_dicts, opts.layout)
    view.nodes = list(node_dicts.values())
    view.edges = edge_dicts
    return view


def _nodes(edges: pd.DataFrame, result: AnalysisResult, opts: ViewOptions) -> pd.DataFrame:
    """One row per node: id, kind, label, score, hops, highlight, compromised_at, pz_rank."""
    hop_rows = edges[edges["kind"] == "hop"]
    ends = pd.concat([edges[["src", "score", "hot"]].rename(columns={"src": "id"}),
                      hop_rows[["dst", "score", "hot"]].rename(columns={"dst": "id"})], ignore_index=True)
    nodes = ends.groupby("id", sort=False).agg(score=("score", "max"), hops=("score", "size"),
                                               highlight=("hot", "any")).reset_index()
    ids = nodes["id"].astype(str)
    is_acct, is_unknown = ids.str.startswith("account:"), ids.str.startswith(_UNKNOWN_PREFIX)
    nodes["kind"] = np.where(is_acct, ACCOUNT, np.where(is_unknown, UNKNOWN, HOST))
    nodes["label"] = np.where(is_acct, ids.str.slice(len("account:")), np.where(is_unknown, "?", ids))
    nodes["members"] = 1
    host = nodes["kind"] == HOST
    comp = _compromised(result, opts.until)
    nodes["compromised_at"] = ids.map(comp).where(host)
    pz = {p.host: i + 1 for i, p in enumerate(result.patient_zero)}
    nodes["pz_rank"] = ids.map(pz).where(host)
    return nodes


def _records(nodes: pd.DataFrame) -> list[dict[str, Any]]:
    """Node rows as dicts without missing optional fields."""
    out = []
    for r in nodes.to_dict("records"):
        rec = {k: v for k, v in r.items() if not (k in _OPTIONAL and _missing(v))}
        if "pz_rank" in rec:
            rec["pz_rank"] = int(rec["pz_rank"])
        out.append(rec)
    return out


_OPTIONAL = ("compromised_at", "pz_rank", "member_kind", "compromised")


def _missing(v: Any) -> bool:
    return v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and v != v)


def _merge_edges(edges: pd.DataFrame) -> list[dict[str, Any]]:
    """Aggregate edge rows per (source, target, kind) into drawable edge dicts."""
    if edges.empty:
        return []
    grouped = edges.groupby(["src", "dst", "kind"], sort=False)
    agg = grouped.agg(score=("score", "max"), sev=("sev", "max"), count=("score", "size"),
                      first_seen=("first_seen", "min"), last_seen=("last_seen", "max"),
                      n_events=("n_events", "sum"), highlight=("hot", "any")).reset_index()
    keys = ["src", "dst", "kind"]
    hop_ids = grouped["hop_id"].agg(list)
    # distinct kinds / accounts per edge: explode + de-duplicate first, so big groups stay cheap
    kinds = (edges[[*keys, "kinds"]].explode("kinds").dropna().drop_duplicates()
             .groupby(keys, sort=False)["kinds"].agg(set))
    accounts = (edges[[*keys, "account"]].dropna().drop_duplicates()
                .groupby(keys, sort=False)["account"].agg(lambda a: set(a.astype(str))))
    index = pd.MultiIndex.from_frame(agg[keys])
    hop_ids, kinds, accounts = (hop_ids.reindex(index).to_numpy(), kinds.reindex(index).to_numpy(),
                                accounts.reindex(index).to_numpy())
    names = {v: k for k, v in SEVERITY_ORDER.items()}
    out = []
    for i, r in enumerate(agg.to_dict("records")):
        out.append({"src": r["src"], "dst": r["dst"], "kind": r["kind"], "score": float(r["score"]),
                    "severity": names.get(int(r["sev"]), "info"), "count": int(r["count"]),
                    "hop_ids": hop_ids[i],
                    "kinds": kinds[i] if isinstance(kinds[i], set) else set(),
                    "accounts": accounts[i] if isinstance(accounts[i], set) else set(),
                    "first_seen": r["first_seen"], "last_seen": r["last_seen"],
                    "n_events": int(r["n_events"]), "highlight": bool(r["highlight"])})
    return out


def _compromised(result: AnalysisResult, until: datetime | None) -> dict[str, pd.Timestamp]:
    """Host -> first compromise time (only up to ``until`` in replay)."""
    comp = result.compromised
    if comp is None or comp.empty:
        return {}
    if until is not None:
        comp = comp[comp["first_seen"] <= pd.Timestamp(until)]
    return dict(zip(comp["host"].astype(str), comp["first_seen"], strict=True))


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
    frame = pd.DataFrame([{"kind": n["kind"], "id": n["id"], "label": n.get("label", n["id"])}])
    return str(group_keys(frame).iloc[0])


def group_keys(nodes: pd.DataFrame) -> pd.Series:
    """:func:`group_key` for a frame of nodes (columns kind, id, label)."""
    name = nodes["label"].where(nodes["kind"] == ACCOUNT, nodes["id"]).astype(str)
    ip = name.str.extract(r"^(\d{1,3}\.\d{1,3}\.\d{1,3})\.\d{1,3}$", expand=False)
    prefix = name.str.extract(r"^([A-Za-z]+)", expand=False).str.slice(0, 12)
    stem = (ip + ".0/24").fillna(prefix.fillna(name.str.slice(0, 3)) + "*")
    return "group:" + nodes["kind"].astype(str) + ":" + stem


def _aggregate(nodes: pd.DataFrame, edges: pd.DataFrame,
               opts: ViewOptions) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Keep the most important nodes, fold the others into group nodes, remap the edges."""
    focus = (opts.focus or "").strip().upper()
    pinned = nodes["pz_rank"].notna() | nodes["highlight"] | (nodes["id"] == focus)
    importance = np.where(pinned, 100.0, 0.0) + np.where(nodes["compromised_at"].notna(), 10.0, 0.0) \
        + nodes["score"] + nodes["hops"].clip(upper=50) / 1000.0
    ranked = nodes.assign(_imp=importance).sort_values(["_imp", "id"], ascending=[False, True])
    budget = max(1, opts.max_nodes - MAX_GROUPS)
    keep, folded = ranked.iloc[:budget], ranked.iloc[budget:].copy()
    folded["group"] = group_keys(folded)
    sizes = folded["group"].value_counts()
    big = set(sizes.index[: MAX_GROUPS - 2])
    folded.loc[~folded["group"].isin(big), "group"] = "group:" + folded["kind"].astype(str) + ":other"
    groups = folded.groupby("group", sort=False).agg(
        score=("score", "max"), hops=("hops", "sum"), members=("id", "size"),
        compromised=("compromised_at", "count"), member_kind=("kind", "first")).reset_index()
    groups = groups.rename(columns={"group": "id"})
    groups["label"] = groups["id"].str.split(":", n=2).str[2]
    groups["member_kind"] = np.where(groups["member_kind"] == ACCOUNT, "accounts", "hosts")
    groups["kind"], groups["highlight"] = GROUP, False
    mapping = dict(zip(folded["id"], folded["group"], strict=True))
    src = edges["src"].map(mapping).fillna(edges["src"])
    dst = edges["dst"].map(mapping).fillna(edges["dst"])
    inside = (src == dst) & src.str.startswith("group:")
    edges = edges.assign(src=src, dst=dst)[~inside]  # traffic inside one group: in its tooltip's hop count
    out = pd.concat([keep.drop(columns="_imp"), groups], ignore_index=True)
    return out, edges, len(folded)


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
