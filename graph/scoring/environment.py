"""Environments: the unit every baseline is computed in, so unrelated data never moves a score.

Rarity, fan-out baselines, habits and the "compromised source" rule compare a hop with the rest of
the data. "The rest of the data" must be the hop's own environment, not whatever else was loaded
next to it: a lab recording from 2019 and one from 2021 that both have an ``administrator`` and a
``WIN10`` must not lower each other's rarity or lend each other habits.

**Rule.** An environment is a connected component of the host graph of the hops (a hop links its
source node -- host name, else IP -- with its destination), split in time wherever the component
has no hop for more than ``environment_gap_s`` (7 days): a component's own time span, never
another's. Every baseline-relative feature (rarity, fan-out, habit, routine groups, admin first
contacts) is computed per environment: host and account keys are scoped to it. Data that shares
no host with a case and is more than ``environment_gap_s`` away from it in time cannot change the
case's scores; data that names the same hosts within the same time span is the same environment
(the analysis cannot tell it apart). Absolute thresholds (``fanout_hosts``) stay absolute.
"""

from __future__ import annotations

import dataclasses

import networkx as nx
import numpy as np
import pandas as pd

from graph.config import AnalysisConfig

#: Columns whose values name hosts or accounts (scoped per environment by :func:`scoped`).
KEY_COLUMNS = ("src_host", "src_ip", "dst_host", "account")


def environments(hops: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """Environment number per hop (0, 1, ... in order of the environments' first hop).

    Examples:
        >>> from graph.toy import toy_hops
        >>> environments(toy_hops("A>B@0s B>C@1h X>Y@0s A>B@30d"), AnalysisConfig()).tolist()
        [0, 0, 1, 2]
    """
    if hops.empty:
        return pd.Series([], dtype="int64", name="environment")
    src = hops["src_host"].fillna(hops["src_ip"]).astype(object)
    dst = hops["dst_host"].astype(object)
    g = nx.Graph()
    g.add_nodes_from(("d", d) for d in dst.dropna().unique())
    both = src.notna() & dst.notna()
    g.add_edges_from(zip((("d", s) for s in src[both]), (("d", d) for d in dst[both]), strict=True))
    comp: dict[object, int] = {}
    for k, nodes in enumerate(nx.connected_components(g)):
        for n in nodes:
            comp[n[1]] = k
    c = dst.map(comp).fillna(-1).astype("int64")
    frame = pd.DataFrame({"c": c.to_numpy(), "t": hops["first_seen"].to_numpy()}, index=hops.index)
    frame = frame.sort_values(["c", "t"], kind="stable")
    gap = frame.groupby("c")["t"].diff() > pd.Timedelta(seconds=config.environment_gap_s)
    new = (frame["c"] != frame["c"].shift()) | gap
    seg = new.cumsum()
    first = frame.groupby(seg)["t"].transform("min")
    order = pd.DataFrame({"first": first, "seg": seg}).drop_duplicates("seg").sort_values(["first", "seg"])
    rank = pd.Series(np.arange(len(order)), index=order["seg"].to_numpy())
    return seg.map(rank).reindex(hops.index).astype("int64").rename("environment")


def scoped(hops: pd.DataFrame, env: pd.Series, config: AnalysisConfig) -> tuple[pd.DataFrame, AnalysisConfig]:
    """``hops`` with host and account names prefixed by their environment (``"3|WS01"``) and a
    config whose allowlists name the prefixed hosts/accounts, when there is more than one
    environment; otherwise ``hops`` and ``config`` unchanged (the common case costs nothing)."""
    envs = env.unique()
    if len(envs) <= 1:
        return hops, config
    prefix = env.astype(str) + "|"
    out = hops.copy(deep=False)   # copy-on-write: a column set here is copied then
    for col in KEY_COLUMNS:
        v = out[col]
        out[col] = (prefix + v.astype("string")).where(v.notna(), pd.NA).astype("string")
    tags = [f"{e}|" for e in envs]
    cfg = dataclasses.replace(
        config,
        allowlist_hosts=frozenset(t + h for t in tags for h in config.allowlist_hosts),
        allowlist_accounts=frozenset(t + a for t in tags for a in config.allowlist_accounts))
    return out, cfg
