"""Rarity: how new a source->destination / account->destination pair is in the data."""

from __future__ import annotations

import pandas as pd

from graph.config import AnalysisConfig


def score(hops: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """Rarity of each hop's pairs against the rest of the data, in [0, 1].

    For the pair P = (source, destination) and the pair Q = (account, destination), count the
    distinct UTC days on which hops of the same class (lateral evidence or not, see
    :attr:`graph.rules.Rule.lateral`) with that pair occur anywhere in the data: ``rarity(P) =
    1 / days(P)``. The hop's rarity is the larger of the two known pairs (either being new is
    enough); a hop with neither a source nor an account scores 1.

    * **1** = first-seen: the pair occurs on a single day of the data (Bowman et al.'s "UA"
      baseline and Hopper treat first-seen logins as the primary signal).
    * **0.5** = the pair occurs on two days; **-> 0** = a pair used every day.

    The whole data is the reference (this is forensic analysis, not streaming): a deployment
    server that touches the same host every day of the case is common even on its first day.

    Examples:
        >>> from graph.toy import toy_hops
        >>> from graph.config import AnalysisConfig
        >>> h = toy_hops("A>B@0s A>B@1d A>C@1d")
        >>> h["lateral"] = True
        >>> score(h, AnalysisConfig()).tolist()
        [0.5, 0.5, 1.0]
    """
    if hops.empty:
        return pd.Series([], dtype="float64")
    day = hops["first_seen"].dt.floor("D")
    lateral = hops["lateral"].astype(bool) if "lateral" in hops else pd.Series(True, index=hops.index)
    src = hops["src_host"].fillna(hops["src_ip"])
    out = []
    for key in (src, hops["account"]):
        frame = pd.DataFrame({"k": key, "d": hops["dst_host"], "lat": lateral, "day": day})
        days = frame.groupby(["k", "d", "lat"], dropna=True)["day"].transform("nunique")
        out.append((1.0 / days).where(key.notna()))
    r = pd.concat(out, axis=1).max(axis=1, skipna=True)
    return r.fillna(1.0).astype("float64").clip(0.0, 1.0).rename("rarity")
