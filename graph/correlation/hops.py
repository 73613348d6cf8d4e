"""Correlation step 6 (:mod:`graph.correlate`) and the hops frame: hop rows -> aggregated hops.

:func:`hop_rows` groups placed evidence rows into hops (``hop_id``); :func:`aggregate_hops` makes
one row per hop (:data:`graph.model.HOP_COLUMNS` plus :data:`EVIDENCE_FEATURES`), with the
evidence items; :func:`group_tuples` and :func:`event_counts` serve the findings and the graph too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.config import AnalysisConfig
from graph.correlation.common import _b, _rule_table
from graph.evidence_items import evidence_items
from graph.fields import shared
from graph.model import HOP_COLUMNS
from graph.rules import RULES
from ingest.compact import take_rows

#: Feature columns the event stage adds after :data:`graph.model.HOP_COLUMNS` (documented in
#: docs/analysis.md): evidence features here, scoring features in graph.scoring.
EVIDENCE_FEATURES = ("strength", "lateral", "local_only", "services", "images", "src_resolved_by",
                     "auth_packages")
#: Columns of the hop rows (:func:`hop_rows`): what :func:`aggregate_hops` and the findings read.
ROW_COLUMNS = ("event_index", "ts", "rule_id", "weight", "kind", "side", "lateral", "local_marker", "host",
               "src_host", "src_ip", "dst_host", "account", "src_resolved_by", "service_name", "process",
               "auth_package", "repeats")


def hop_rows(ev: pd.DataFrame, config: AnalysisConfig) -> pd.DataFrame:
    """Step 6: the rows that belong to a hop (:data:`ROW_COLUMNS` of ``ev``, ``account`` as the hop's),
    in hop order, with ``hop_id``."""
    src_key = ev["src_host"].fillna(ev["src_ip"]).astype("string")
    keep = ev["dst_host"].notna() & (src_key.notna() | ev["lateral"]) & ~ev["context_only"]
    keep &= ~(src_key.notna() & src_key.eq(ev["dst_host"]).fillna(False))
    keep &= ~(ev["src_ip"].notna() & ev["src_host"].isna()
              & ev["src_ip"].isin(["127.0.0.1", "::1"]).fillna(False))
    # the keys on their own first: the kept rows are copied once, already in hop order
    keys = pd.DataFrame({"ts": ev["ts"], "src_key": src_key.fillna(""), "dst_host": ev["dst_host"],
                         "account": ev["account"]})[keep.to_numpy(dtype=bool)]
    keys["account"] = _borrow_account(keys, config)
    keys["acct_key"] = keys["account"].fillna("").astype("string")
    keys = keys.sort_values(["src_key", "dst_host", "acct_key", "ts"], kind="stable")
    same = (_b(keys["src_key"].eq(keys["src_key"].shift()))
            & _b(keys["dst_host"].eq(keys["dst_host"].shift()))
            & _b(keys["acct_key"].eq(keys["acct_key"].shift())))
    gap = keys["ts"].diff().dt.total_seconds().to_numpy()
    gap = np.isnan(gap) | (gap > config.hop_gap_s)
    keys["_seq"] = np.cumsum(~same | gap)
    first = keys.groupby("_seq").agg(first_seen=("ts", "min"), src_key=("src_key", "first"),
                                     dst_host=("dst_host", "first"), acct_key=("acct_key", "first"))
    order = first.sort_values(["first_seen", "src_key", "dst_host", "acct_key"], kind="stable")
    hop_of_seq = pd.Series(np.arange(len(order), dtype="int64"), index=order.index)
    account, hop_id = keys["account"], keys["_seq"].map(hop_of_seq).to_numpy()
    del keys, first, order   # the keys' text goes before the rows are copied
    # only the columns read later, copied once, already in hop order
    rows = take_rows(ev, [c for c in ROW_COLUMNS if c in ev.columns], ev.index.get_indexer(account.index))
    rows.index = account.index
    rows["account"] = account
    rows["hop_id"] = hop_id
    return rows


def _borrow_account(rows: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """Rows without an account take the account of the nearest row with one for the same (source,
    destination) within ``hop_gap_s`` (a 7045 next to the 4697 that names the installer)."""
    acct = rows["account"].astype("string")
    miss = acct.isna()
    has = rows[~miss]
    if not miss.any() or has.empty:
        return acct
    left = rows.loc[miss, ["ts", "src_key", "dst_host"]].assign(_i=rows.index[miss]).sort_values("ts")
    right = has[["ts", "src_key", "dst_host", "account"]].rename(columns={"account": "_a"}).sort_values("ts")
    m = pd.merge_asof(left, right, on="ts", by=["src_key", "dst_host"], direction="nearest",
                      tolerance=pd.Timedelta(seconds=config.hop_gap_s))
    m = m[m["_a"].notna()]
    acct.loc[m["_i"].to_numpy()] = m["_a"].astype("string").to_numpy()
    return acct


def aggregate_hops(rows: pd.DataFrame, tags: pd.DataFrame, config: AnalysisConfig,
                   events: pd.DataFrame) -> pd.DataFrame:
    """Hop rows (with ``hop_id``) -> the hops frame: :data:`HOP_COLUMNS` (score 0, severity
    "info" until scoring) plus :data:`EVIDENCE_FEATURES`. ``events``: the frame the rows' ``event_index``
    points into (the evidence items' event ids, files, record ids and fields are read there).

    ``strength`` = 1 - prod(1 - weight) over the *distinct* rules that fired on the hop's events
    (noisy-or: independent pieces of evidence add up; repeats of one rule do not).
    """
    if rows.empty:
        return empty_hops()
    g = rows.groupby("hop_id", sort=True)
    hops = g.agg(first_seen=("ts", "min"), last_seen=("ts", "max"),
                 src_host=("src_host", "first"), src_ip=("src_ip", "first"),
                 dst_host=("dst_host", "first"), account=("account", "first"),
                 src_resolved_by=("src_resolved_by", "first"))
    hops.insert(2, "n_events", event_counts(rows).groupby(rows["hop_id"]).sum().reindex(hops.index))
    # rules of every tag on the hop's events (not only the primary rule)
    ht = tags.merge(rows[["event_index", "hop_id"]], on="event_index")
    ht = ht.drop_duplicates(["hop_id", "rule_id"]).sort_values(["hop_id", "rule_id"])
    rt = _rule_table().set_index("rule_id")
    ht = ht[~ht["rule_id"].map(rt["context_only"]).astype(bool)]
    ht["w"] = ht["rule_id"].map(rt["weight"]).astype(float)
    hops["rules"] = _tuples(ht["rule_id"], ht["hop_id"])
    log_keep = np.log1p(-ht["w"].clip(upper=0.999))
    hops["strength"] = 1.0 - np.exp(log_keep.groupby(ht["hop_id"]).sum())
    attack = {r.id: r.attack for r in RULES.values()}
    tech = ht[["hop_id", "rule_id"]].assign(t=ht["rule_id"].map(attack)).explode("t")
    tech = tech.drop_duplicates(["hop_id", "t"]).sort_values(["hop_id", "t"])
    hops["techniques"] = _tuples(tech["t"], tech["hop_id"])
    kinds = rows[["hop_id", "kind"]].drop_duplicates().sort_values(["hop_id", "kind"])
    hops["kinds"] = _tuples(kinds["kind"], kinds["hop_id"])
    hops["lateral"] = g["lateral"].any()
    lat = rows.loc[rows["lateral"].to_numpy(dtype=bool), ["hop_id", "local_marker"]]
    hops["local_only"] = (hops["src_host"].isna() & hops["src_ip"].isna()
                          & lat.groupby("hop_id")["local_marker"].all().reindex(hops.index)
                          .fillna(False).astype(bool))
    # services *installed* (a DC's 4769 carries the ticket's ServiceName, the target's machine
    # account: not a service, and it would make every destination a new tool signature)
    svc = rows[rows["service_name"].notna() & rows["kind"].eq("service_install")][["hop_id", "service_name"]]
    svc = svc.assign(v=svc["service_name"].str.lower()).drop_duplicates(["hop_id", "v"])
    svc = svc.sort_values(["hop_id", "v"])
    hops["services"] = _tuples(svc["v"], svc["hop_id"])
    exe = rows[rows["kind"].eq("execution") & rows["process"].notna()][["hop_id", "process"]]
    exe = exe.assign(v=exe["process"].str.lower().str.split("\\").str[-1]).drop_duplicates(["hop_id", "v"])
    exe = exe.sort_values(["hop_id", "v"])
    hops["images"] = _tuples(exe["v"], exe["hop_id"])
    pkg = rows[rows["auth_package"].notna()][["hop_id", "auth_package"]]
    pkg = pkg.assign(v=pkg["auth_package"].str.lower()).drop_duplicates(["hop_id", "v"])
    pkg = pkg.sort_values(["hop_id", "v"])
    hops["auth_packages"] = _tuples(pkg["v"], pkg["hop_id"])
    for c in ("rules", "techniques", "kinds", "services", "images", "auth_packages"):
        hops[c] = [v if isinstance(v, tuple) else () for v in hops[c].tolist()]
    del g, ht, tech, kinds, lat, svc, exe, pkg, log_keep   # let go before the evidence items are built
    hops["evidence"] = _evidence_lists(rows, events, config.max_evidence_per_hop).reindex(hops.index)
    hops = hops.reset_index()
    hops["score"] = 0.0
    hops["severity"] = "info"
    for c in ("src_host", "src_ip", "dst_host", "account", "src_resolved_by"):
        hops[c] = hops[c].astype("string")
    return hops[list(HOP_COLUMNS) + list(EVIDENCE_FEATURES)]


def event_counts(rows: pd.DataFrame) -> pd.Series:
    """Events each row stands for (``repeats``, missing = 1: ``ingest.schema``), int64."""
    if "repeats" not in rows.columns:
        return pd.Series(1, index=rows.index, dtype="int64")
    return rows["repeats"].fillna(1).astype("int64")


def group_tuples(keys: pd.Series | np.ndarray, values: pd.Series | np.ndarray) -> pd.Series:
    """Tuples of plain Python values per key, keeping the given order within a key (stable sort).

    Linear apart from one stable argsort: ``np.split`` at key boundaries, no per-group pandas calls.

    Examples:
        >>> group_tuples(np.array([2, 1, 2]), np.array(["a", "b", "c"], dtype=object)).to_dict()
        {1: ('b',), 2: ('a', 'c')}
    """
    k = np.asarray(keys)
    v = (values.astype(object).to_numpy() if isinstance(values, pd.Series)
         else np.asarray(values, dtype=object))
    if len(k) == 0:
        return pd.Series([], dtype=object)
    order = np.argsort(k, kind="stable")
    k, v = k[order], v[order]
    bounds = np.flatnonzero(k[1:] != k[:-1]) + 1
    starts = np.r_[0, bounds]
    ends = np.r_[bounds, len(k)]
    items = v.tolist()
    return pd.Series([tuple(items[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)],
                     index=k[starts], dtype=object)


def _tuples(values: pd.Series, by: pd.Series) -> pd.Series:
    """Group ``values`` (already in the wanted order; strings) into tuples per ``by``; equal tuples
    are one object (most hops of a large case share a few rule / kind tuples)."""
    out = group_tuples(by.to_numpy(), np.array([*shared(values.astype(object).tolist()), None],
                                                dtype=object)[:-1])
    items = np.empty(len(out), dtype=object)
    items[:] = shared(out.tolist())
    return pd.Series(items, index=out.index, dtype=object)


def _evidence_lists(rows: pd.DataFrame, events: pd.DataFrame, cap: int) -> pd.Series:
    """Per hop, a tuple of evidence dicts: the ``cap`` strongest events (then earliest), in time order.
    The event's id, file, record id and fields are its own (never rewritten by correlation): read from
    ``events`` for the items kept only."""
    # only the columns the order reads: the sorts below copy what they are given
    r = rows[["hop_id", "weight", "ts", "event_index", "rule_id", "host"]]
    r = r.sort_values(["hop_id", "weight", "ts"], ascending=[True, False, True])
    r = r[r.groupby("hop_id").cumcount().to_numpy() < cap].sort_values(["hop_id", "ts", "event_index"])
    return evidence_items(r["hop_id"].to_numpy(), r, events)


def empty_hops() -> pd.DataFrame:
    """A hops frame with no rows (all columns, sensible dtypes)."""
    cols = list(HOP_COLUMNS) + list(EVIDENCE_FEATURES)
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    for c in ("first_seen", "last_seen"):
        frame[c] = pd.Series([], dtype="datetime64[ns, UTC]")
    for c in ("hop_id", "n_events"):
        frame[c] = pd.Series([], dtype="int64")
    for c in ("score", "strength"):
        frame[c] = pd.Series([], dtype="float64")
    for c in ("lateral", "local_only"):
        frame[c] = pd.Series([], dtype=bool)
    for c in ("src_host", "src_ip", "dst_host", "account", "severity", "src_resolved_by"):
        frame[c] = pd.Series([], dtype="string")
    return frame
