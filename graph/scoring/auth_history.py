"""Time-respecting history look-ups of the authentication signals (:mod:`graph.scoring.auth`): was a
key seen before (or after) a hop, how old a key is, on how many earlier days, first contacts, bursts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.config import AnalysisConfig


def _first_in_group(keys: list[pd.Series]) -> np.ndarray:
    """True for the earliest hop of each key combination (hops are in time order; NA keys: False)."""
    frame = pd.concat(keys, axis=1)
    ok = frame.notna().all(axis=1).to_numpy()
    first = ~frame.duplicated(keep="first").to_numpy()
    return ok & first


def _seen_before(left: pd.DataFrame, right: pd.DataFrame, on: list[str], window_s: float | None = None,
                 direction: str = "backward") -> np.ndarray:
    """For each left row, whether a right row with the same keys started strictly before it
    (within ``window_s`` when given)."""
    out = np.zeros(len(left), dtype=bool)
    lk = left.dropna(subset=on)
    rk = right.dropna(subset=on)
    if lk.empty or rk.empty:
        return out
    lk = lk.assign(_pos=np.flatnonzero(left[on].notna().all(axis=1).to_numpy())).sort_values("t")
    rk = rk[[*on, "t"]].assign(_hit=True).sort_values("t")
    tol = None if window_s is None else pd.Timedelta(seconds=window_s)
    m = pd.merge_asof(lk[[*on, "t", "_pos"]], rk, on="t", by=on, direction=direction,
                      allow_exact_matches=False, tolerance=tol)
    out[m["_pos"].to_numpy()] = m["_hit"].fillna(False).to_numpy(dtype=bool)
    return out


def _aged(t: pd.Series, key: pd.Series, first: pd.Series, age: pd.Timedelta) -> np.ndarray:
    """Whether ``key`` was first active at least ``age`` before ``t`` (unknown key: False)."""
    if first.empty:
        return np.zeros(len(t), dtype=bool)
    since = pd.to_datetime(key.astype(object).map(first.to_dict()), utc=True)
    return ((t - since) >= age).fillna(False).to_numpy(dtype=bool)


def _bursts(key: pd.Series, t: pd.Series, first: np.ndarray, config: AnalysisConfig,
            habitual: np.ndarray | None = None) -> np.ndarray:
    """First contacts of ``key`` (``first``) with at least ``auth_burst_min`` first contacts of the
    same key within ``auth_burst_window_s`` either side, and at least twice the key's largest such
    count on any earlier day (a deployment server's nightly sweep is its own habit). ``habitual``
    hops (first contacts are the routine of their seat and account: helpdesk, administrators)
    need at least twice the key's largest number of first contacts on any earlier *day*."""
    out = np.zeros(len(key), dtype=bool)
    ok = first & key.notna().to_numpy()
    if not ok.any():
        return out
    pos = np.flatnonzero(ok)
    tt = t.iloc[pos]
    secs = ((tt - t.min()) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)
    codes = pd.factorize(key.iloc[pos])[0].astype(float)
    k = codes * 1e10 + secs
    srt = np.sort(k)
    w = config.auth_burst_window_s
    cnt = np.searchsorted(srt, k + w, side="right") - np.searchsorted(srt, k - w, side="left")
    g = pd.DataFrame({"c": codes, "day": tt.dt.floor("D").to_numpy(), "n": cnt})
    daily = g.groupby(["c", "day"])["n"].max().reset_index().sort_values(["c", "day"])
    daily["prev"] = daily.groupby("c")["n"].shift().fillna(0)
    daily["prev"] = daily.groupby("c")["prev"].cummax()
    prev = pd.MultiIndex.from_frame(g[["c", "day"]]).map(daily.set_index(["c", "day"])["prev"])
    out[pos] = cnt >= np.maximum(config.auth_burst_min, 2 * np.asarray(prev, dtype=float))
    if habitual is not None and habitual[pos].any():
        total = g.groupby(["c", "day"]).size().rename("n").reset_index().sort_values(["c", "day"])
        total["prev"] = total.groupby("c")["n"].shift().fillna(0)
        total["prev"] = total.groupby("c")["prev"].cummax()
        prev_total = pd.MultiIndex.from_frame(g[["c", "day"]]).map(total.set_index(["c", "day"])["prev"])
        out[pos] &= ~habitual[pos] | (cnt >= 2 * np.asarray(prev_total, dtype=float))
    return out


def _days_with(f: pd.DataFrame, mask: np.ndarray, keys: list[str]) -> np.ndarray:
    """For each hop of ``f`` (time order), on how many distinct earlier UTC days the same ``keys``
    had a hop in ``mask``."""
    out = np.zeros(len(f), dtype=float)
    day = f["t"].dt.floor("D")
    hit = f.loc[mask, keys].assign(day=day[mask]).dropna().drop_duplicates()
    if hit.empty:
        return out
    hit = hit.assign(k=hit.groupby(keys).cumcount() + 1.0).sort_values("day")
    left = f[keys].assign(day=day, _pos=np.arange(len(f))).dropna(subset=keys).sort_values("day")
    m = pd.merge_asof(left, hit, on="day", by=keys, direction="backward", allow_exact_matches=False)
    out[m["_pos"].to_numpy()] = m["k"].fillna(0.0).to_numpy(dtype=float)
    return out


def _seen_after(left: pd.DataFrame, right: pd.DataFrame, on: list[str], window_s: float) -> np.ndarray:
    """For each left row, whether a right row with the same keys starts strictly after it, within
    ``window_s``."""
    return _seen_before(left, right, on, window_s, direction="forward")
