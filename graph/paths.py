"""Time-respecting paths over suspicious hops, and the spread tree.

Definitions (the Neo4j store reproduces them in Cypher; keep them crisp):

* **Suspicious hop**: ``score >= min_score`` (or a member of a routine group, :func:`path_hops`)
  and a known source (host name, or IP when that is
  all the logs give). The node of a hop's source is ``src_host`` if present else ``src_ip``.
* **Continuation**: hop ``h2`` continues hop ``h1`` iff ``h2.src == h1.dst`` and
  ``0 <= h2.first_seen - h1.first_seen <= max_path_gap_s``. Accounts may differ (credential
  switches are allowed).
* **Path**: hops ``h1..hn`` where each continues the previous and no host repeats
  (``h1.src, h1.dst, ..., hn.dst`` all distinct). A path is **maximal** when its first hop
  continues no suspicious hop and no suspicious hop continues its last hop onto a new host.
  Paths are enumerated depth-first from each start hop in (first_seen, src, dst, hop_id) order,
  successors in the same order; at most ``max_path_len`` hops and ``max_path_expansions`` search
  steps (a truncated search is logged).
* **Path score**: ``mean(hop scores) * (1 - 0.5 ** n)``: one hop 0.5x, two 0.75x, three 0.875x
  (longer chains of strong hops rank first). **Top-k**: maximal paths by score desc, then start
  time, then the host sequence.
* **Spread tree**: each compromised host (a destination or known source of a suspicious hop)
  hangs under the source of its *first* suspicious incoming hop (earliest first_seen, then higher
  score, then source name); hosts with no suspicious incoming hop are roots.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterator
from typing import Any

import networkx as nx
import pandas as pd

from graph.config import AnalysisConfig
from graph.model import Path

log = logging.getLogger(__name__)


def path_hops(hops: pd.DataFrame, min_score: float) -> pd.Series:
    """Boolean mask of the hops paths, spread and patient zero use: ``score >= min_score``, or a
    member of a routine group (routine continued from a compromised source, capped low one by one
    but one medium finding: :mod:`graph.scoring.routine`) -- spread through a compromised
    deployment server stays on the paths, flagged by the hops' ``routine_group``."""
    mask = hops["score"] >= min_score
    if "routine_group" in hops:
        mask = mask | hops["routine_group"].notna()
    return mask.fillna(False).astype(bool)


def suspicious_hops(hops: pd.DataFrame, min_score: float) -> pd.DataFrame:
    """The suspicious hops with a ``src`` node column, sorted by (first_seen, src, dst, hop_id)."""
    h = hops[path_hops(hops, min_score) & (hops["src_host"].notna() | hops["src_ip"].notna())].copy()
    h["src"] = h["src_host"].fillna(h["src_ip"]).astype(str)
    h["dst"] = h["dst_host"].astype(str)
    return h.sort_values(["first_seen", "src", "dst", "hop_id"], kind="stable").reset_index(drop=True)


class _Index:
    """Outgoing suspicious hops per host, sorted by time, for continuation look-ups."""

    def __init__(self, h: pd.DataFrame, max_gap_s: float) -> None:
        self.rows: list[dict[str, Any]] = h.to_dict("records")
        self.gap = pd.Timedelta(seconds=max_gap_s)
        self.out: dict[str, list[int]] = {}
        for i, r in enumerate(self.rows):
            self.out.setdefault(r["src"], []).append(i)
        self.times = {k: [self.rows[i]["first_seen"] for i in v] for k, v in self.out.items()}

    def successors(self, i: int) -> list[int]:
        r = self.rows[i]
        cand = self.out.get(r["dst"], [])
        times = self.times.get(r["dst"], [])
        lo = bisect.bisect_left(times, r["first_seen"])
        hi = bisect.bisect_right(times, r["first_seen"] + self.gap)
        return cand[lo:hi]

    def has_predecessor(self, i: int) -> bool:
        """Some suspicious hop into ``i``'s source starts in ``[t_i - gap, t_i]``."""
        if not hasattr(self, "_in_times"):
            self._in_times: dict[str, list[pd.Timestamp]] = {}
            for r in self.rows:   # rows are time-sorted, so each list is sorted
                self._in_times.setdefault(r["dst"], []).append(r["first_seen"])
        r = self.rows[i]
        times = self._in_times.get(r["src"], [])
        lo = bisect.bisect_left(times, r["first_seen"] - self.gap)
        hi = bisect.bisect_right(times, r["first_seen"])
        return hi > lo


def iter_paths(hops: pd.DataFrame, config: AnalysisConfig | None = None) -> Iterator[Path]:
    """Yield the maximal time-respecting paths of suspicious hops (module docstring).

    Examples:
        >>> from graph.toy import toy_hops
        >>> [p.hosts for p in iter_paths(toy_hops("A>B@0s B>C@1h C>D@2h"))]
        [('A', 'B', 'C', 'D')]
        >>> [p.hosts for p in iter_paths(toy_hops("A>B@1h B>C@0s"))]   # not time-respecting
        [('B', 'C'), ('A', 'B')]
        >>> [p.accounts for p in iter_paths(toy_hops("A>B@0s/alice B>C@1m/bob"))]  # credential switch
        [('alice', 'bob')]
    """
    config = config or AnalysisConfig()
    h = suspicious_hops(hops, config.min_score)
    if h.empty:
        return
    idx = _Index(h, config.max_path_gap_s)
    budget = [config.max_path_expansions]
    for start in range(len(idx.rows)):
        if idx.has_predecessor(start):
            continue
        yield from _dfs(idx, [start], {idx.rows[start]["src"], idx.rows[start]["dst"]}, config, budget)
        if budget[0] <= 0:
            log.warning("path search truncated after %d steps (max_path_expansions)",
                        config.max_path_expansions)
            return


def _dfs(idx: _Index, chain: list[int], seen: set[str], config: AnalysisConfig,
         budget: list[int]) -> Iterator[Path]:
    budget[0] -= 1
    nxt = [] if len(chain) >= config.max_path_len else [
        j for j in idx.successors(chain[-1]) if idx.rows[j]["dst"] not in seen]
    if not nxt or budget[0] <= 0:
        yield make_path([idx.rows[i] for i in chain])
        return
    for j in nxt:
        dst = idx.rows[j]["dst"]
        seen.add(dst)
        chain.append(j)
        yield from _dfs(idx, chain, seen, config, budget)
        chain.pop()
        seen.discard(dst)
        if budget[0] <= 0:
            return


def make_path(rows: list[dict[str, Any]]) -> Path:
    """A :class:`~graph.model.Path` from consecutive hop rows (scored per the module docstring)."""
    scores = [float(r["score"]) for r in rows]
    n = len(rows)
    return Path(
        hosts=(rows[0]["src"], *(r["dst"] for r in rows)),
        accounts=tuple("" if pd.isna(r["account"]) else str(r["account"]) for r in rows),
        hop_ids=tuple(int(r["hop_id"]) for r in rows),
        start=rows[0]["first_seen"].to_pydatetime(warn=False),
        end=max(r["last_seen"] for r in rows).to_pydatetime(warn=False),
        score=sum(scores) / n * (1.0 - 0.5 ** n),
    )


def top_paths(hops: pd.DataFrame, config: AnalysisConfig | None = None) -> list[Path]:
    """The ``top_k_paths`` best maximal paths (score desc, start, hosts).

    Examples:
        >>> from graph.toy import toy_hops
        >>> [(p.hosts, round(p.score, 3)) for p in top_paths(toy_hops("A>B@0s B>C@1h X>Y@0s=0.5"))]
        [(('A', 'B', 'C'), 0.675), (('X', 'Y'), 0.25)]
    """
    config = config or AnalysisConfig()
    paths = sorted(iter_paths(hops, config), key=lambda p: (-p.score, p.start, p.hosts))
    return paths[: config.top_k_paths]


def compromised_hosts(hops: pd.DataFrame, config: AnalysisConfig | None = None) -> pd.DataFrame:
    """Hosts touched by suspicious hops (scored ``>= min_score``; unknown-source hops count for
    their destination), with first compromise time and the hop that did it.

    Returns:
        Frame ``host, first_seen, score, via_hop_id, parent`` sorted by (first_seen, host);
        ``score`` = best suspicious hop score into or out of the host; ``via_hop_id``/``parent``
        are missing for roots (hosts with no suspicious incoming hop; ``first_seen`` is then
        their first suspicious outgoing hop).

    Examples:
        >>> from graph.toy import toy_hops
        >>> compromised_hosts(toy_hops("A>B@0s B>C@1h"))[["host", "parent"]].values.tolist()
        [['A', None], ['B', 'A'], ['C', 'B']]
    """
    config = config or AnalysisConfig()
    sus = hops[path_hops(hops, config.min_score)]
    cols = ["host", "first_seen", "score", "via_hop_id", "parent"]
    if sus.empty:
        return pd.DataFrame({c: [] for c in cols})
    src = sus["src_host"].fillna(sus["src_ip"])
    inc = pd.DataFrame({"host": sus["dst_host"].astype(str), "first_seen": sus["first_seen"],
                        "score": sus["score"], "via_hop_id": sus["hop_id"],
                        "parent": src.astype(object).where(src.notna(), None)})
    inc = inc.sort_values(["host", "first_seen", "score", "parent"], ascending=[True, True, False, True],
                          na_position="last")
    first_in = inc.drop_duplicates("host")
    out = pd.DataFrame({"host": src[src.notna()].astype(str), "first_seen": sus["first_seen"][src.notna()],
                        "score": sus["score"][src.notna()]})
    roots = out[~out["host"].isin(first_in["host"])].sort_values(["host", "first_seen"])
    roots = roots.groupby("host", as_index=False).agg(first_seen=("first_seen", "min"))
    roots["via_hop_id"] = None
    roots["parent"] = None
    best = pd.concat([inc[["host", "score"]], out[["host", "score"]]]).groupby("host")["score"].max()
    res = pd.concat([first_in.drop(columns="score"), roots], ignore_index=True)
    res["score"] = res["host"].map(best).astype(float)
    res["via_hop_id"] = res["via_hop_id"].astype("Int64")
    res["parent"] = res["parent"].astype(object).where(res["parent"].notna(), None)
    return res.sort_values(["first_seen", "host"]).reset_index(drop=True)[cols]


def spread_tree(hops: pd.DataFrame, config: AnalysisConfig | None = None) -> nx.DiGraph:
    """The spread tree as a ``networkx.DiGraph``: ``parent -> host`` edges carrying ``hop_id`` and
    ``first_seen``; every compromised host is a node with ``first_seen`` and ``score``.

    Examples:
        >>> from graph.toy import toy_hops
        >>> sorted(spread_tree(toy_hops("A>B@0s A>C@1m B>C@2m")).edges())
        [('A', 'B'), ('A', 'C')]
    """
    comp = compromised_hosts(hops, config)
    tree = nx.DiGraph()
    for r in comp.to_dict("records"):
        tree.add_node(r["host"], first_seen=r["first_seen"], score=r["score"])
    for r in comp.to_dict("records"):
        if r["parent"] is not None:
            tree.add_edge(r["parent"], r["host"], hop_id=int(r["via_hop_id"]), first_seen=r["first_seen"])
    return tree
