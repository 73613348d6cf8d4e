"""Routine continued from a compromised source: one grouped finding instead of N alarms.

Once a suspicious hop reached a host, the habit discount of the host's routines is void
(:func:`graph.scoring.habit.unless_compromised`): nothing proves that the deployment server's next
push is its own and not the intruder's. Scored one by one, the server's nightly pushes then become
dozens of medium/high hops that look like the attack and hide it. This module compares each hop
leaving a compromised source with that source's routine *before* the compromise:

* same account and same tool signature (service names + executed images,
  :func:`graph.scoring.habit.signature`) as a routine of the source before the compromise, the
  routine active on at least ``habit_min_days`` days (cadence);
* at a usual hour: within ``habit_hour_slack_h`` of an hour the routine was active at before the
  compromise;
* to a destination of its pool: a destination the routine reached before the compromise, or --
  for a broad routine (at least ``habit_broad_hosts`` destinations per active day before the
  compromise, a deployment push) -- a destination of a host class the routine reached
  (:func:`host_class`: the name without its trailing number, ``WS0042`` -> ``WS``).

Matching hops form one **routine group** per source (``routine_group`` = ``"routine-N"``): each
member hop is capped at ``routine_group_cap`` (low) and the group is one finding scored
``routine_group_score`` (medium). Deviating hops -- a new account, a new tool or service name, a
destination outside the pool, an unusual hour -- keep their full score. Paths, the spread tree
and patient zero still run through group members (:func:`graph.paths.path_hops`), so spread through
a compromised deployment server is never hidden, only flagged.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from graph.config import AnalysisConfig
from graph.scoring import habit as habit_mod

_TRAILING_NUMBER = re.compile(r"[\d\-_.]+$")


def host_class(name: object) -> str:
    """A host's naming class: the upper-case short name without its trailing number.

    Examples:
        >>> [host_class(n) for n in ("WS0042", "SQL03", "srv-web-01", "DC", "10.0.0.5")]
        ['WS', 'SQL', 'SRV-WEB', 'DC', '10.0.0.5']
    """
    text = str(name)
    if re.fullmatch(r"\d+(\.\d+){3}", text):
        return text
    base = _TRAILING_NUMBER.sub("", text.split("|")[-1].upper())
    return base or text.upper()


def _hour_near(hours: np.ndarray, usual: set[int], slack: int) -> np.ndarray:
    ok = np.zeros(len(hours), dtype=bool)
    for u in usual:
        d = np.abs(hours - u)
        ok |= np.minimum(d, 24 - d) <= slack
    return ok


def matches(hops: pd.DataFrame, first_in: pd.Series, config: AnalysisConfig) -> pd.Series:
    """Per hop: True when the hop leaves a source compromised before it (``first_in`` = the
    source's first compromise time per hop, NaT = never) and continues the source's routine from
    before the compromise (module docstring)."""
    out = pd.Series(False, index=hops.index)
    after = (first_in < hops["first_seen"]).fillna(False).to_numpy(dtype=bool)
    ok = (hops["src_host"].notna() & hops["account"].notna() & hops["lateral"].astype(bool)).to_numpy()
    if not (after & ok).any():
        return out
    h = hops[ok]
    f = pd.DataFrame({"src": h["src_host"].astype(str), "acct": h["account"].astype(str),
                      "dst": h["dst_host"].astype(str), "sig": habit_mod.signature(h).astype(str),
                      "t": h["first_seen"], "since": first_in[ok]}, index=h.index)
    f["day"] = f["t"].dt.floor("D")
    f["hour"] = f["t"].dt.hour.astype("int64")
    slack = int(config.habit_hour_slack_h)
    routine_days = f.groupby(["src", "acct", "sig"])["day"].transform("nunique")
    cand = f[after[ok] & (routine_days >= config.habit_min_days).to_numpy()]
    for src, c in cand.groupby("src", sort=False):
        since = c["since"].iloc[0]
        pre = f[(f["src"] == src) & (f["t"] < since)]
        if pre.empty:
            continue
        for (acct, sig), cc in c.groupby(["acct", "sig"], sort=False):
            p = pre[(pre["acct"] == acct) & (pre["sig"] == sig)]
            if p.empty:
                continue
            hour_ok = _hour_near(cc["hour"].to_numpy(), set(p["hour"].tolist()), slack)
            pool = set(p["dst"])
            broad = p.groupby("day")["dst"].nunique().mean() >= config.habit_broad_hosts
            classes = {host_class(d) for d in pool}
            in_pool = cc["dst"].isin(pool).to_numpy() | (
                broad & cc["dst"].map(host_class).isin(classes).to_numpy())
            out[cc.index[hour_ok & in_pool]] = True
    return out


def assess(hops: pd.DataFrame, base_habit: pd.Series, config: AnalysisConfig, *,
           rounds: int = 3) -> tuple[pd.Series, pd.Series]:
    """``(habit, routine_group)`` per hop: the habit with its discount voided after the source's
    compromise (:func:`graph.scoring.habit.unless_compromised`) and the routine group of the hops
    that continue the source's pre-compromise routine (``<NA>`` elsewhere).

    Compromise is recomputed ``rounds`` times: group members are capped, so they are never the
    suspicious way into the next host; undiscounted hops can be.

    Examples:
        >>> from graph.toy import toy_hops
        >>> h = toy_hops("S>X@2h S>X@26h A>S@47h S>X@50h S>Y@51h")
        >>> h["lateral"] = True; h["local_only"] = False; h["strength"] = 0.9
        >>> h["services"] = [("ccmsetup",)] * 2 + [("xyz",)] + [("ccmsetup",), ("other",)]
        >>> h["images"] = [()] * 5; h["rarity"] = [1.0, 0.5, 1.0, 0.5, 1.0]; h["fanout"] = 0.0
        >>> habit, group = assess(h, pd.Series([1.0, 1.0, 0.0, 1.0, 0.0], index=h.index), AnalysisConfig())
        >>> habit.tolist(), group.tolist()     # S's push continues; the new tool does not
        ([1.0, 1.0, 0.0, 0.0, 0.0], [<NA>, <NA>, <NA>, 'routine-1', <NA>])
    """
    habit = base_habit.astype(float).rename("habit")
    group = pd.Series(pd.NA, index=hops.index, dtype="string", name="routine_group")
    if hops.empty:
        return habit, group
    src = hops["src_host"].astype(object).to_numpy()
    for _ in range(rounds):
        since = habit_mod.compromised_since(hops.assign(habit=habit, routine_group=group), config)
        if since.empty:
            break
        first_in = pd.Series(since.reindex(src).array, index=hops.index)
        after = (first_in < hops["first_seen"]).fillna(False).to_numpy(dtype=bool)
        new_habit = base_habit.astype(float).where(~after, 0.0).rename("habit")
        member = matches(hops, first_in, config)
        new_group = _labels(hops, member)
        if new_habit.equals(habit) and new_group.equals(group):
            break
        habit, group = new_habit, new_group
    return habit, group


def _labels(hops: pd.DataFrame, member: pd.Series) -> pd.Series:
    """``routine-N`` per member hop, one label per source, numbered by the group's first hop."""
    out = pd.Series(pd.NA, index=hops.index, dtype="string", name="routine_group")
    if not member.any():
        return out
    m = hops[member.to_numpy(dtype=bool)]
    first = m.groupby(m["src_host"].astype(str))["first_seen"].min().sort_values(kind="stable")
    order = {s: f"routine-{k}" for k, s in enumerate(sorted(first.index, key=lambda s: (first[s], s)), 1)}
    out[m.index] = m["src_host"].astype(str).map(order).astype("string")
    return out


def groups(hops: pd.DataFrame, config: AnalysisConfig) -> list:
    """The :class:`graph.model.RoutineGroup` findings of a scored hops frame (hop stage), in the
    order of their ``routine-N`` numbers."""
    from graph.model import RoutineGroup, Severity

    if hops.empty or "routine_group" not in hops or not hops["routine_group"].notna().any():
        return []
    sus = hops[(hops["score"] >= config.severity_medium) & hops["lateral"].astype(bool)
               & hops["routine_group"].isna()]
    out = []
    members = hops[hops["routine_group"].notna()]
    for gid, g in members.groupby(members["routine_group"].astype(str), sort=False):
        g = g.sort_values(["first_seen", "hop_id"])
        src = str(g["src_host"].iloc[0])
        env = g["environment"].iloc[0] if "environment" in g else None
        into = sus[(sus["dst_host"].astype(str) == src) & (sus["first_seen"] < g["first_seen"].iloc[0])]
        if env is not None and "environment" in into:
            into = into[into["environment"] == env]
        via = into.sort_values(["first_seen", "hop_id"]).head(1)
        accounts = tuple(sorted({str(a) for a in g["account"].dropna()}))
        first, last = g["first_seen"].min(), g["last_seen"].max()
        at = None if via.empty else via["first_seen"].iloc[0]
        way_in = "" if via.empty else (
            f" (reached at {at:%Y-%m-%dT%H:%M:%SZ} by hop {int(via['hop_id'].iloc[0])}, score "
            f"{float(via['score'].iloc[0]):.2f})")
        reason = (f"routine continued from {src} after its compromise{way_in}: {len(g)} hops as "
                  f"{', '.join(accounts)} to {g['dst_host'].nunique()} hosts from "
                  f"{first:%Y-%m-%dT%H:%M:%SZ} to {last:%Y-%m-%dT%H:%M:%SZ}, matching the source's "
                  "account, tool, hours and destination pool from before the compromise; review as "
                  "one finding (the payload may be the attacker's)")
        score = float(config.routine_group_score)
        sev = (Severity.HIGH if score >= config.severity_high else Severity.MEDIUM
               if score >= config.severity_medium else Severity.LOW).value
        out.append(RoutineGroup(
            group_id=gid, source=src, accounts=accounts,
            hop_ids=tuple(int(x) for x in g["hop_id"]), destinations=int(g["dst_host"].nunique()),
            first_seen=first.to_pydatetime(warn=False), last_seen=last.to_pydatetime(warn=False),
            compromised_at=None if at is None else at.to_pydatetime(warn=False),
            via_hop_id=None if via.empty else int(via["hop_id"].iloc[0]),
            score=score, severity=sev, reason=reason))
    return sorted(out, key=lambda x: int(x.group_id.split("-")[-1]))
