"""Fan-out: how many distinct destinations a source (or an account) reaches in a sliding window."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.config import AnalysisConfig


def window_counts(key: pd.Series, dst: pd.Series, ts: pd.Series, window_s: float) -> pd.Series:
    """Distinct destinations of ``key`` whose contact starts in ``(t - window_s, t]``, per hop.

    A destination counts once per window: a hop to a destination the same key already contacted
    less than ``window_s`` earlier is not a new contact (hops are episodes separated by at least
    ``hop_gap_s >= window_s``, so this is the exact sliding distinct count). Linear after one
    sort: searchsorted on (key, time), no pairwise comparison.

    Examples:
        >>> import pandas as pd
        >>> t = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:01", "2024-01-01 00:02",
        ...                     "2024-01-01 00:30"], utc=True)
        >>> window_counts(pd.Series(list("AAAA")), pd.Series(list("BCDE")), pd.Series(t), 300).tolist()
        [1, 2, 3, 1]
    """
    out = pd.Series(0, index=key.index, dtype="int64")
    ok = key.notna() & dst.notna()
    if not ok.any():
        return out
    codes, _ = pd.factorize(key[ok])
    t = ts[ok]
    secs = np.floor(((t - t.min()) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)).astype("int64")
    comb = codes.astype("int64") * (1 << 40) + secs
    f = pd.DataFrame({"comb": comb, "pair": pd.factorize(pd.Series(codes).astype(str) + "\x00"
                                                          + dst[ok].astype(str).to_numpy())[0]})
    f = f.sort_values("comb", kind="stable")
    prev = f.groupby("pair")["comb"].shift()
    new = (prev.isna() | (f["comb"] - prev >= window_s)).to_numpy()
    kept = np.sort(f["comb"].to_numpy()[new])
    hi = np.searchsorted(kept, comb, side="right")
    lo = np.searchsorted(kept, comb - int(window_s), side="right")
    out[ok] = (hi - lo).astype("int64")
    return out


def counts(hops: pd.DataFrame, config: AnalysisConfig) -> pd.DataFrame:
    """Per hop: ``fanout_src`` and ``fanout_account`` window counts (see :func:`window_counts`)."""
    src = hops["src_host"].fillna(hops["src_ip"])
    return pd.DataFrame({
        "fanout_src": window_counts(src, hops["dst_host"], hops["first_seen"], config.fanout_window_s),
        "fanout_account": window_counts(hops["account"], hops["dst_host"], hops["first_seen"],
                                        config.fanout_window_s),
    }, index=hops.index)


def score(hops: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """Fan-out score in [0, 1]: the larger of an absolute and a baseline-relative part.

    * absolute: ``min(1, n / fanout_hosts)`` with ``n`` = the larger of the per-source and the
      per-account window count; **1** = at least ``fanout_hosts`` (30) distinct destinations in
      ``fanout_window_s`` (300 s), Splunk ESCU's "Windows Administrative Shares Accessed On
      Multiple Hosts" threshold (PEERS.md section 1.7).
    * relative (burst against the key's own habit): with ``b`` = the median over the key's active
      days of its largest daily window count (keys active on >= 2 days only),
      ``clip((n / max(b, 1) - 1) / (fanout_burst_factor - 1), 0, 1)`` when
      ``n >= fanout_burst_min``; **1** = ``fanout_burst_factor`` (3) times the usual burst.

    **0** = a single destination in the window. Scoring uses it only on hops with lateral
    evidence, so IPC$-only discovery fan-out (SharpHound) is not boosted.
    """
    if hops.empty:
        return pd.Series([], dtype="float64")
    c = counts(hops, config)
    day = hops["first_seen"].dt.floor("D")
    parts = []
    src = hops["src_host"].fillna(hops["src_ip"])
    for key, col in ((src, "fanout_src"), (hops["account"], "fanout_account")):
        n = c[col].astype(float)
        frame = pd.DataFrame({"k": key, "day": day, "n": n})
        daily = frame.groupby(["k", "day"], dropna=True)["n"].max().reset_index()
        active = daily.groupby("k")["day"].transform("size")
        base = daily[active >= 2].groupby("k")["n"].median()
        b = key.map(base).astype(float)
        rel = ((n / b.clip(lower=1.0) - 1.0) / (config.fanout_burst_factor - 1.0)).clip(0.0, 1.0)
        rel = rel.where(b.notna() & (n >= config.fanout_burst_min), 0.0)
        parts.append(np.maximum((n / config.fanout_hosts).clip(0.0, 1.0), rel))
    return pd.concat(parts, axis=1).max(axis=1).fillna(0.0).rename("fanout")
