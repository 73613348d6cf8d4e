"""Habitual administration: discount hops that repeat a (source, account, tool) routine."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.config import AnalysisConfig


def signature(hops: pd.DataFrame) -> pd.Series:
    """The tool signature of a hop: its service names and executed images ("" for share/logon only)."""
    svc = hops["services"].map(lambda t: ",".join(t))
    img = hops["images"].map(lambda t: ",".join(t))
    return (svc + "|" + img).astype("string")


def score(hops: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """How much a hop matches a habitual administration routine, in [0, 1].

    A *routine* is a (source, account, tool signature) triple -- signature = the hop's service
    names and executed images (:func:`signature`) -- with lateral hops on at least
    ``habit_min_days`` (3) distinct UTC days of the data (software deployment, backup, an IT
    admin's daily PsExec). A hop matches its routine when additionally:

    * its hour of day (UTC) is within +-1 h of an hour in which the (source, account) pair was
      active on at least 2 distinct days (regular schedule); and
    * (for the full value) its destination was reached by the same (source, account) on at least
      2 distinct days (familiar destination).

    * **1** = routine + schedule + familiar destination;
    * **0.5** = routine + schedule, novel destination;
    * **0** = anything else: no known source or account, no lateral evidence, a service name or
      tool the routine never used (a random PsExec service name, a new binary), a new account,
      or an unusual hour. An attacker who borrows the deployment account but not its exact
      tool, hour and targets keeps the full score.
    """
    out = pd.Series(0.0, index=hops.index, name="habit")
    if hops.empty:
        return out
    ok = hops["src_host"].notna() & hops["account"].notna() & hops["lateral"].astype(bool)
    if not ok.any():
        return out
    h = hops[ok]
    f = pd.DataFrame({"src": h["src_host"], "acct": h["account"], "dst": h["dst_host"],
                      "sig": signature(h), "day": h["first_seen"].dt.floor("D"),
                      "hour": h["first_seen"].dt.hour.astype("int64")}, index=h.index)
    routine = f.groupby(["src", "acct", "sig"])["day"].transform("nunique") >= config.habit_min_days
    hour_days = f.groupby(["src", "acct", "hour"])["day"].nunique()
    usual = hour_days[hour_days >= 2].index
    sched = np.zeros(len(f), dtype=bool)
    for delta in (-1, 0, 1):
        keys = pd.MultiIndex.from_arrays([f["src"], f["acct"], (f["hour"] + delta) % 24])
        sched |= keys.isin(usual)
    familiar = f.groupby(["src", "acct", "dst"])["day"].transform("nunique") >= 2
    val = np.where(routine.to_numpy() & sched, np.where(familiar.to_numpy(), 1.0, 0.5), 0.0)
    out[f.index] = val
    return out
