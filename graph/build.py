"""The host-account graph: scored hops -> ``networkx.MultiDiGraph`` (attributes: graph.model).

One edge per (u, v, kind) aggregated over hops: ``host:SRC -> host:DST`` for hops with a known
source and ``account:NAME -> host:DST`` for hops with an account, keyed by the
:class:`~graph.model.EdgeKind` value. Node and edge attribute names are the ``NODE_*`` /
``EDGE_*`` constants of :mod:`graph.model`.
"""

from __future__ import annotations

from typing import Any

import networkx as nx
import pandas as pd

from graph.correlate import group_tuples
from graph.model import (
    EDGE_ACCOUNTS,
    EDGE_COUNT,
    EDGE_FIRST_SEEN,
    EDGE_HOP_IDS,
    EDGE_KIND,
    EDGE_LAST_SEEN,
    EDGE_N_EVENTS,
    EDGE_RELATION,
    EDGE_SCORE,
    EDGE_SEVERITY,
    NODE_COMPROMISED,
    NODE_FIRST_COMPROMISED,
    NODE_IS_IP,
    NODE_NAME,
    NODE_PATIENT_ZERO_RANK,
    NODE_SCORE,
    NODE_TYPE,
    PatientZero,
    account_node,
    host_node,
)

_SEV_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3}


def build_graph(hops: pd.DataFrame, compromised: pd.DataFrame | None = None,
                patient_zero: list[PatientZero] | None = None) -> nx.MultiDiGraph:
    """Build the host-account graph from a scored hops frame.

    Args:
        hops: scored hops frame (:data:`graph.model.HOP_COLUMNS`).
        compromised: optional ``graph.paths.compromised_hosts`` frame (marks host nodes).
        patient_zero: optional ranked candidates (marks ``patient_zero_rank``, 1 = best).

    Returns:
        A new ``MultiDiGraph``; the input is not changed.

    Examples:
        >>> from graph.toy import toy_hops
        >>> G = build_graph(toy_hops("A>B@0s/alice A>B@1h/alice"))
        >>> sorted(G.nodes)
        ['account:alice', 'host:A', 'host:B']
        >>> G.edges["host:A", "host:B", "logon"]["count"], G.edges["host:A", "host:B", "logon"]["hop_ids"]
        (2, (0, 1))
    """
    G = nx.MultiDiGraph()
    if hops.empty:
        return G
    h = hops.copy(deep=False)   # copy-on-write: a column set here is copied then
    h["src"] = h["src_host"].fillna(h["src_ip"])
    ex = h[["hop_id", "src", "dst_host", "account", "first_seen", "last_seen", "score", "severity",
            "n_events", "kinds"]].explode("kinds").rename(columns={"kinds": "kind"})
    ex = ex[ex["kind"].notna()]
    best: dict[str, float] = {}
    for col, make in (("dst_host", host_node), ("src", host_node), ("account", account_node)):
        part = h[h[col].notna()]
        top = part["score"].groupby(part[col].astype(str).to_numpy()).max()
        for name, score in zip(top.index.tolist(), top.tolist(), strict=True):
            node = make(name)
            best[node] = max(best.get(node, 0.0), float(score))
    hosts = pd.concat([h["dst_host"], h["src"]]).dropna().astype(str).unique().tolist()
    G.add_nodes_from((host_node(n), {
        NODE_TYPE: "host", NODE_NAME: n, NODE_IS_IP: n.replace(".", "").isdigit() or ":" in n,
        NODE_SCORE: best.get(host_node(n), 0.0), NODE_COMPROMISED: False, NODE_FIRST_COMPROMISED: None,
        NODE_PATIENT_ZERO_RANK: None}) for n in hosts)
    accounts = h["account"].dropna().astype(str).unique().tolist()
    G.add_nodes_from((account_node(n), {NODE_TYPE: "account", NODE_NAME: n,
                                        NODE_SCORE: best.get(account_node(n), 0.0)}) for n in accounts)
    _add_edges(G, ex[ex["src"].notna()], "src", host_node, "host_host")
    _add_edges(G, ex[ex["account"].notna()], "account", account_node, "account_host")
    if compromised is not None:
        for r in compromised.to_dict("records"):
            node = host_node(r["host"])
            if node in G:
                G.nodes[node][NODE_COMPROMISED] = True
                G.nodes[node][NODE_FIRST_COMPROMISED] = r["first_seen"]
    for rank, pz in enumerate(patient_zero or (), start=1):
        node = host_node(pz.host)
        if node in G:
            G.nodes[node][NODE_PATIENT_ZERO_RANK] = rank
    return G


def _add_edges(G: nx.MultiDiGraph, ex: pd.DataFrame, col: str, make: Any, relation: str) -> None:
    """Aggregate exploded (hop, kind) rows into one edge per (u, v, kind): sorted arrays, one split."""
    if ex.empty:
        return
    ex = ex.assign(u=ex[col].astype(str), v=ex["dst_host"].astype(str), kind=ex["kind"].astype(str),
                   sev=ex["severity"].astype(str).map(_SEV_RANK).fillna(0).astype(int))
    ex = ex.sort_values(["u", "v", "kind", "first_seen", "hop_id"], kind="stable")
    g = ex.groupby(["u", "v", "kind"], sort=False)
    agg = g.agg(count=("hop_id", "size"), n_events=("n_events", "sum"),
                first_seen=("first_seen", "min"), last_seen=("last_seen", "max"),
                score=("score", "max"), sev=("sev", "max"))
    key = g.ngroup().to_numpy()
    hop_ids = group_tuples(key, ex["hop_id"].astype(int).to_numpy()).tolist()
    accounts = group_tuples(key, ex["account"].astype(object).where(ex["account"].notna(), None)
                            .to_numpy()).tolist()
    inv = {v: k for k, v in _SEV_RANK.items()}
    edges = []
    for n, ((u, v, kind), cnt, nev, fs, ls, sc, sev) in enumerate(zip(
            agg.index, agg["count"].tolist(), agg["n_events"].tolist(), agg["first_seen"].tolist(),
            agg["last_seen"].tolist(), agg["score"].tolist(), agg["sev"].tolist(), strict=True)):
        edges.append((make(u), host_node(v), kind, {
            EDGE_KIND: kind, EDGE_RELATION: relation, EDGE_COUNT: int(cnt), EDGE_N_EVENTS: int(nev),
            EDGE_FIRST_SEEN: fs, EDGE_LAST_SEEN: ls, EDGE_SCORE: float(sc), EDGE_SEVERITY: inv[int(sev)],
            EDGE_HOP_IDS: hop_ids[n],
            EDGE_ACCOUNTS: tuple(sorted({a for a in accounts[n] if a is not None})),
        }))
    G.add_edges_from(edges)
