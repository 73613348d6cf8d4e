"""Habitual administration: discount hops that repeat a (source, account, tool) routine, unless the
routine's source had itself been reached by a suspicious hop before (an attacker on the admin's seat)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from graph.config import AnalysisConfig
from graph.scoring import combine

_DIGITS = re.compile(r"\d+")
_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")


def name_shape(name: str) -> str:
    """The shape of a one-off name: letters -> ``a``, digits -> ``9``, other characters and a short
    alphabetic extension kept, marked with ``~``.

    Examples:
        >>> name_shape("qzkwpfmt"), name_shape("abcdef.exe"), name_shape("paexec-4711-ws01.exe")
        ('~aaaaaaaa', '~aaaaaa.exe', '~aaaaaa-9999-aa99.exe')
    """
    base, dot, ext = name.rpartition(".")
    if not (dot and base and ext.isalpha() and len(ext) <= 4):
        base, ext = name, ""
    shape = _DIGIT.sub("9", _LETTER.sub("a", base))
    return f"~{shape}.{ext}" if ext else f"~{shape}"


def signature(hops: pd.DataFrame, days: pd.Series | None = None) -> pd.Series:
    """The tool signature of a hop: its service names and executed images ("" for share/logon only).

    With ``days`` (each hop's UTC day) the names are the *tool's*, not the use's: digit runs become
    ``#`` (``PAExec-4711-WS01`` -> ``paexec-#-ws#``), and a name that still occurs on one day only
    among ``hops`` becomes its :func:`name_shape` (``sc \\host create Qzkwpfmt`` with a copied
    ``abcdef.exe``: ``~aaaaaaaa|~aaaaaa.exe``). An admin tool that draws a random service or binary
    name per use so keeps one signature across days, while a name used on several days (PSEXESVC,
    an agent's service) stays itself; another tool's random names have another shape (length,
    digits, separators, extension). A hop with a rule of
    :data:`graph.scoring.admin.ATTACK_SHAPED` (an attack tool's payload shape) keeps its names as
    they are, so an attacker's repeated Impacket or smbexec use never forms a routine by its shape.

    Examples:
        >>> h = pd.DataFrame({"services": [("PAExec-4711-WS01",), ("PAExec-815-WS01",), ("Qzkwpfmt",),
        ...                                ("Hbnrtxle",), ("psexesvc",), ("psexesvc",)],
        ...                   "images": [()] * 4 + [("psexesvc.exe",)] * 2})
        >>> day = pd.Series(pd.to_datetime(["2024-03-01", "2024-03-02"] * 3, utc=True))
        >>> signature(h, day).tolist()[::2]
        ['paexec-#-ws#|', '~aaaaaaaa|', 'psexesvc|psexesvc.exe']
        >>> signature(h, day).nunique()
        3
    """
    if days is None:
        svc = hops["services"].map(lambda t: ",".join(t))
        img = hops["images"].map(lambda t: ",".join(t))
        return (svc + "|" + img).astype("string")
    from graph.scoring.admin import ATTACK_SHAPED  # here: admin -> routine -> habit at import time

    svcs = [tuple(_DIGITS.sub("#", str(n).lower()) for n in t) for t in hops["services"]]
    imgs = [tuple(_DIGITS.sub("#", str(n).lower()) for n in t) for t in hops["images"]]
    rules = hops["rules"] if "rules" in hops else pd.Series([()] * len(hops), index=hops.index)
    # a hop with an attack tool's payload shape (Impacket's random service and exe, smbexec, ...)
    # keeps its names as they are: an attacker's repeated use never becomes a routine by its shape
    shaped = [any(r in ATTACK_SHAPED for r in rs) for rs in rules]
    seen: dict[str, set[object]] = {}
    for names_s, names_i, day in zip(svcs, imgs, days.tolist(), strict=True):
        for n in (*names_s, *names_i):
            seen.setdefault(n, set()).add(day)
    one_off = {n for n, d in seen.items() if len(d) < 2}

    def part(names: tuple[str, ...], keep: bool) -> str:
        return ",".join(sorted({name_shape(n) if n in one_off and not keep else n for n in names}))

    out = [part(a, k) + "|" + part(b, k) for a, b, k in zip(svcs, imgs, shaped, strict=True)]
    return pd.Series(out, index=hops.index, dtype="string")


def score(hops: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """How much a hop matches a habitual administration routine, in [0, 1].

    A *routine* is a (source, account, tool signature) triple -- signature = the hop's service
    names and executed images, random per-use names reduced to their class (:func:`signature`) --
    with lateral hops on at least
    ``habit_min_days`` (2) distinct UTC days of the data (software deployment, backup, an IT
    admin's daily PsExec). A hop matches its routine when additionally its hour of day (UTC) is
    *usual*: the (source, account) pair was active within ``habit_hour_slack_h`` (3) hours of
    that hour of day on at least 2 distinct days (regular schedule).

    The destination decides between full and half value. It is *familiar* when it was reached
    with the same tool signature on at least 2 distinct days (by any source: a managed server
    pool), or when the routine is *broad* (on average at least ``habit_broad_hosts`` (5)
    distinct destinations per active day: a deployment server reaches new workstations daily),
    *expanding* (it made first contacts with new destinations on at least ``habit_expand_days``
    (3) distinct days: an IT admin who administers a pool one or two machines at a time), or a
    *maintenance* routine (it went back to at least one of its destinations on another day: an
    admin tending servers returns to them, an intruder spreading from one foothold rarely does).
    A routine that only ever made first contacts, on one or two days, keeps novel destinations at
    half value: that is the shape of a spree from one foothold.

    * **1** = routine + usual hour + familiar destination;
    * **0.5** = routine + usual hour, novel destination;
    The source is the hop's host name, else its IP (a source seen only by address, as a server
    without Sysmon is in its targets' 4624, still has a routine).

    * **0** = anything else: no known source or account, no lateral evidence, a service name or
      tool the routine never used (a random PsExec service name, a new binary), another account
      or source (stolen admin credentials used from a new machine), or an unusual hour.

    :func:`unless_compromised` then sets it to 0 where the source was already reached by a
    suspicious hop (the event stage applies both).

    Examples:
        >>> from graph.toy import toy_hops
        >>> h = toy_hops("S>X@0h S>X@1d S>Y@2d T>X@2d")
        >>> h["lateral"] = True; h["services"] = [("psexesvc",)] * 4; h["images"] = [()] * 4
        >>> score(h, AnalysisConfig()).tolist()      # S went back to X: maintenance, Y is its pool
        [1.0, 1.0, 1.0, 0.0]
        >>> h = toy_hops("S>X@0h S>Y@1d T>Z@2d")
        >>> h["lateral"] = True; h["services"] = [("psexesvc",)] * 3; h["images"] = [()] * 3
        >>> score(h, AnalysisConfig()).tolist()      # first contacts only, on two days: a spree
        [0.5, 0.5, 0.0]
    """
    out = pd.Series(0.0, index=hops.index, name="habit")
    if hops.empty:
        return out
    # the source by name, else by IP (a deployment server seen only in its targets' 4624): the
    # routine is the source's own either way
    src_key = hops["src_host"].fillna(hops["src_ip"])
    ok = src_key.notna() & hops["account"].notna() & hops["lateral"].astype(bool)
    if not ok.any():
        return out
    h = hops[ok]
    day = h["first_seen"].dt.floor("D")
    f = pd.DataFrame({"src": src_key[ok].astype(str), "acct": h["account"].astype(str),
                      "dst": h["dst_host"].astype(str), "sig": signature(h, day).astype(str),
                      "day": day,
                      "hour": h["first_seen"].dt.hour.astype("int64")}, index=h.index)
    routine_days = f.groupby(["src", "acct", "sig"])["day"].transform("nunique")
    routine = (routine_days >= config.habit_min_days).to_numpy()
    # usual hours: days with activity within +-slack hours of each hour of day
    slack = int(config.habit_hour_slack_h)
    spread = pd.concat([f[["src", "acct", "day"]].assign(hour=(f["hour"] + d) % 24)
                        for d in range(-slack, slack + 1)], ignore_index=True)
    near = spread.groupby(["src", "acct", "hour"])["day"].nunique()
    keys = pd.MultiIndex.from_arrays([f["src"], f["acct"], f["hour"]])
    sched = (near.reindex(keys).fillna(0).to_numpy() >= 2)
    tool_dst_days = f.groupby(["sig", "dst"])["day"].transform("nunique")
    per_day = f.groupby(["src", "acct", "sig", "day"])["dst"].nunique()
    breadth = per_day.groupby(level=[0, 1, 2]).mean()
    broad = pd.MultiIndex.from_arrays([f["src"], f["acct"], f["sig"]]).map(breadth)
    # an expanding routine: first contacts with new destinations on >= habit_expand_days days
    first_day = f.groupby(["src", "acct", "sig", "dst"])["day"].transform("min")
    firsts = f.assign(first=first_day)[["src", "acct", "sig", "first"]].drop_duplicates()
    expand = firsts.groupby(["src", "acct", "sig"])["first"].nunique()
    expanding = pd.MultiIndex.from_arrays([f["src"], f["acct"], f["sig"]]).map(expand)
    # a maintenance routine: some destination of it was reached on >= 2 distinct days
    revisits = f.groupby(["src", "acct", "sig", "dst"])["day"].transform("nunique") >= 2
    maintenance = revisits.groupby([f["src"], f["acct"], f["sig"]]).transform("any").to_numpy(dtype=bool)
    familiar = ((tool_dst_days >= 2).to_numpy()
                | (np.asarray(broad, dtype=float) >= config.habit_broad_hosts)
                | (np.asarray(expanding, dtype=float) >= config.habit_expand_days)
                | maintenance)
    val = np.where(routine & sched, np.where(familiar, 1.0, 0.5), 0.0)
    out[f.index] = val
    return out


def compromised_since(hops: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """Per host, the first time a suspicious hop reached it (the index holds host names).

    Suspicious = lateral evidence and a provisional score (:func:`graph.scoring.combine.score` with
    the hops' current ``habit``) of at least ``severity_medium``. Target-only hops count: a random
    service installed on an admin's workstation is a way in even when its source is unknown.
    """
    if hops.empty:
        return pd.Series([], dtype="datetime64[ns, UTC]")
    provisional = combine.score(hops, config).to_numpy()
    bad = hops["lateral"].astype(bool).to_numpy() & (provisional >= config.severity_medium)
    return hops.loc[bad].groupby(hops.loc[bad, "dst_host"].astype(str))["first_seen"].min()


def unless_compromised(hops: pd.DataFrame, config: AnalysisConfig, *, rounds: int = 3) -> pd.Series:
    """``hops["habit"]`` set to 0 where the hop's source had been reached by a suspicious hop before.

    An attacker who lands on an IT admin's workstation and runs the admin's PsExec with the admin's
    account at the admin's hours matches the routine exactly; what gives it away is the way in.
    So a routine only earns its discount while its source is clean: once a suspicious hop reached
    the source (:func:`compromised_since`), later hops from there keep their full score, familiar
    destination or not. Repeated ``rounds`` times, since undiscounting a hop can make it the
    suspicious way into the next seat.

    **0** = no discount (the source was compromised first, or no routine); otherwise the routine
    match of :func:`score` (1 = full habitual administration from a clean source).

    Examples:
        >>> from graph.toy import toy_hops
        >>> h = toy_hops("S>X@0h S>X@1d A>S@47h S>X@2d")
        >>> h["lateral"] = True; h["local_only"] = False; h["strength"] = 0.9
        >>> h["rarity"] = [0.5, 0.5, 1.0, 0.5]; h["fanout"] = 0.0; h["habit"] = [1.0, 1.0, 0.0, 1.0]
        >>> unless_compromised(h, AnalysisConfig()).tolist()   # S's routine after A reached S
        [1.0, 1.0, 0.0, 0.0]
    """
    habit = hops["habit"].astype(float)
    if hops.empty or not (habit > 0).any():
        return habit.rename("habit")
    src = hops["src_host"].astype(object).to_numpy()
    for _ in range(rounds):
        since = compromised_since(hops.assign(habit=habit), config)
        if since.empty:
            break
        first_in = pd.Series(since.reindex(src).array, index=hops.index)
        after = (first_in < hops["first_seen"]).fillna(False).to_numpy(dtype=bool)   # NaT: never
        new = habit.where(~after, 0.0)
        if new.equals(habit):
            break
        habit = new
    return habit.rename("habit")
