"""Correlation step 4 (:mod:`graph.correlate`): IP -> host name hints and source resolution.

A source known only by IP (and a source-side destination that is an IP) is named from hints in the
data, per UTC day: events naming both, PsExec pipe names, source-side rows near a target row.
"""

from __future__ import annotations

import pandas as pd

from graph.config import AnalysisConfig
from graph.correlation.common import _IPV4, short_host
from graph.rules import SOURCE, TARGET

_PIPE_CLIENT = r"^[^-]+-([A-Za-z0-9_.]+)-\d+-(?:stdin|stdout|stderr)$"


def _resolve_ips(ev: pd.DataFrame, events: pd.DataFrame, config: AnalysisConfig,
                 pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Step 4: name sources (and source-side destinations) known only by IP."""
    hints = ip_hints(ev, events, config, pairs=pairs)
    if hints.empty:
        return ev
    ev = ev.copy(deep=False)   # copy-on-write: a column set here is copied then
    day = _hint_day(ev["ts"], config)
    need = (ev["src_host"].isna() & ev["src_ip"].notna()).to_numpy(dtype=bool)
    keys = pd.MultiIndex.from_arrays([ev.loc[need, "src_ip"].astype("string"), day[need]])
    ev.loc[need, "src_host"] = _lookup(hints, keys)
    got = need & ev["src_host"].notna().to_numpy(dtype=bool)
    ev.loc[got, "src_resolved_by"] = (ev.loc[got, "src_resolved_by"].fillna("event") + "+ip_hint")
    is_ip = (ev["side"].eq(SOURCE) & ev["dst_host"].notna()
             & ev["dst_host"].str.match(_IPV4).fillna(False)).to_numpy(dtype=bool)
    if is_ip.any():
        keys = pd.MultiIndex.from_arrays([ev.loc[is_ip, "dst_host"].astype("string"), day[is_ip]])
        named = _lookup(hints, keys)
        ev.loc[is_ip, "dst_host"] = ev.loc[is_ip, "dst_host"].where(pd.isna(named), named)
    return ev


def _lookup(hints: pd.Series, keys: pd.MultiIndex) -> pd.api.extensions.ExtensionArray:
    """``hints`` at each of ``keys`` (missing where it has none), as a ``string`` array: an index
    look-up (the same as ``keys.map(hints)``, without a Python call per key)."""
    if not hints.index.is_unique:
        return pd.array(keys.map(hints), dtype="string")
    return pd.array(hints.array.take(hints.index.get_indexer(keys), allow_fill=True), dtype="string")


_ALL_DAYS = pd.Timestamp("1970-01-01", tz="UTC")
#: Loopback addresses that never give an IP -> name hint.
_LOOPBACK_IPS: tuple[str, ...] = ("127.0.0.1", "::1")


def _hint_day(ts: pd.Series, config: AnalysisConfig) -> pd.Series:
    """The hint scope of each timestamp: its UTC day, or one constant (``ip_hints_by_day`` off)."""
    if config.ip_hints_by_day:
        return ts.dt.floor("D")
    return pd.Series(_ALL_DAYS, index=ts.index, dtype=ts.dtype)


def hint_pairs(events: pd.DataFrame, config: AnalysisConfig) -> pd.DataFrame:
    """The events' own IP/name pairs, counted: ``(ip, name, day, n)`` for every event naming both an
    IP and a host for the same end (``src_ip``+``src_host``, ``dst_ip``+``dst_host``; loopback
    addresses left out). ``name`` is as logged; ``day`` is :func:`_hint_day`."""
    parts: list[pd.DataFrame] = []
    day = _hint_day(events["ts"], config)
    for ip_col, name_col in (("src_ip", "src_host"), ("dst_ip", "dst_host")):
        pairs = events[[ip_col, name_col]].assign(day=day).dropna()
        pairs = pairs[~pairs[ip_col].isin(list(_LOOPBACK_IPS)).to_numpy(dtype=bool)]
        counts = pairs.value_counts().reset_index()
        parts.append(pd.DataFrame({"ip": counts[ip_col].astype("string"), "name": counts[name_col],
                                   "day": counts["day"], "n": counts["count"]}))
    return pd.concat(parts, ignore_index=True)


def ip_hints(ev: pd.DataFrame, events: pd.DataFrame, config: AnalysisConfig, *,
             pairs: pd.DataFrame | None = None) -> pd.Series:
    """IP -> host name hints found in the data, per UTC day (step 4 of the module docstring).

    Hints: events naming both an IP and a host for the same end (``src_ip``+``src_host``,
    ``dst_ip``+``dst_host``), PsExec pipe names (``<svc>-<CLIENT>-<pid>-stdin``), and source-side
    rows towards D within ``source_join_window_s`` of a target row on D from the IP. Hints only
    apply on the UTC day they were seen (addresses move between machines: DHCP, labs).

    ``pairs``: :func:`hint_pairs` of the whole case, computed elsewhere (default: of ``events``).

    Returns:
        Series indexed by (ip, day) with the most frequent host name that day (ties: name order).
    """
    parts: list[pd.DataFrame] = [hint_pairs(events, config) if pairs is None else pairs]
    pipes = ev[ev["target_name"].notna() & ev["src_ip"].notna()]
    client = pipes["target_name"].astype("string").str.extract(_PIPE_CLIENT, expand=False)
    parts.append(pd.DataFrame({"ip": pipes["src_ip"], "name": client, "day": _hint_day(pipes["ts"], config),
                               "n": 1}))
    tgt = ev[ev["side"].eq(TARGET) & ev["src_host"].isna() & ev["src_ip"].notna()]
    src = ev[ev["side"].eq(SOURCE) & ev["dst_host"].notna() & ev["src_host"].notna()]
    if len(tgt) and len(src):
        m = pd.merge_asof(tgt[["ts", "dst_host", "src_ip"]].sort_values("ts"),
                          src[["ts", "dst_host", "src_host"]].sort_values("ts"), on="ts",
                          by="dst_host", direction="nearest",
                          tolerance=pd.Timedelta(seconds=config.source_join_window_s))
        parts.append(pd.DataFrame({"ip": m["src_ip"], "name": m["src_host"],
                                   "day": _hint_day(m["ts"], config), "n": 1}))
    h = pd.concat(parts, ignore_index=True).dropna()
    if h.empty:
        return pd.Series([], dtype="string")
    h["ip"] = h["ip"].astype("string")
    h["name"] = short_host(h["name"])
    h = h.dropna()
    h = h[~h["name"].str.match(_IPV4).fillna(False) & h["name"].ne(h["ip"])]
    h = h[~h["ip"].isin(["127.0.0.1", "::1"]).to_numpy(dtype=bool)]
    counts = h.groupby(["ip", "day", "name"])["n"].sum().reset_index()
    counts = counts.sort_values(["ip", "day", "n", "name"], ascending=[True, True, False, True])
    best = counts.drop_duplicates(["ip", "day"])
    index = pd.MultiIndex.from_arrays([best["ip"].astype("string"), best["day"]])
    return pd.Series(best["name"].to_numpy(), index=index, dtype="string")
