"""First contacts of a known administrator: not high on their own.

An IT admin's PsExec from the admin's own workstation, with the admin account, at the admin's
hours, to a server the (short) baseline never saw the admin reach is how administration looks on
any day a new server is taken over. The habit score (:mod:`graph.scoring.habit`) needs the
destination to be familiar or the routine to be long; with one or two baseline days it is not, and
the hop would score high. This module recognises the shape and lets it count as the routine.

A lateral hop is a **known administrator's usual work** (:func:`known_admin`) when, with S =
source host, A = account, T = its tool (:func:`tool`: service names and executor binaries, not the
programs run) and d = the hop's UTC day:

* **usual seat**: S is the source of most of A's lateral hops without an attack-shaped rule;
* **known administrator**: on the *other* days of the environment (forensic analysis: the case is
  the reference, as for rarity and habit), (S, A) made at least ``admin_baseline_hops`` (3)
  lateral hops with tool T and no attack-shaped rule, and that baseline shows administration
  rather than a spree: it went back to a destination (two hops to the same host), was active on
  at least 2 other days, or day d returns to one of its destinations;
* **usual tool**: T was used in that baseline (a new tool, service name or binary is new evidence);
* **working hours**: the hop's hour is within ``habit_hour_slack_h`` of an hour of the baseline;
* **same class**: the destination was reached on another day, or is of a host class (S, A, T)
  reached with another hop (a first contact; :func:`graph.scoring.routine.host_class`: ``SQL03``
  is an ``SQL`` host);
* **no payload shape**: no rule of :data:`ATTACK_SHAPED` fired on the hop (renamed PsExec pipes,
  smbexec/Metasploit services, impacket command lines, pass-the-hash logons, ...).

Such a hop gets the habit value 1 (as a familiar destination of the routine; the habit score
itself needs the same executed programs on >= 2 days, which an admin's varying tasks break): its score keeps
``habit_keep`` of the evidence (low). The rest still lifts it: a suspicious hop into the seat
before it voids the discount (:func:`graph.scoring.routine.assess`), and another account, tool,
hour or class never qualifies.
"""

from __future__ import annotations

import re

import pandas as pd

from graph.config import AnalysisConfig
from graph.scoring.routine import _hour_near, host_class

#: Rules whose hit is the shape of an attack tool's payload, never of stock administration.
ATTACK_SHAPED: frozenset[str] = frozenset({
    "lg.logon.pass_the_hash", "lg.logon.metasploit_workstation", "lg.logon.external_ip",
    "lg.share.renamed_psexec_pipe", "lg.share.remcom_pipe", "lg.share.secretsdump",
    "lg.share.credential_files", "lg.service.smbexec", "lg.service.random_systemroot_exe",
    "lg.service.cobaltstrike", "lg.service.suspicious_image", "lg.service.bare_image",
    "lg.service.hacktool", "lg.process.impacket_exec", "lg.process.random_windows_exe",
    "lg.process.rundll32_unc", "lg.process.sharpmove", "lg.file.local_admin_share_write",
})


_EXECUTOR = re.compile(r"exec|svc", re.IGNORECASE)


def tool(hops: pd.DataFrame) -> pd.Series:
    """The remote-execution tool of a hop: its installed service names and its executor images
    (PsExec / PAExec / RemCom clients and service binaries: names with ``exec`` or ``svc``), not
    the programs the tool ran (``cmd.exe``, ``powershell.exe``, ``gpupdate.exe``: an admin's task
    changes every time, the tool does not).

    Examples:
        >>> import pandas as pd
        >>> h = pd.DataFrame({"services": [("psexesvc",)],
        ...                   "images": [("cmd.exe", "psexec.exe", "psexesvc.exe")]})
        >>> tool(h).tolist()
        ['psexesvc|psexec.exe,psexesvc.exe']
    """
    svc = hops["services"].map(lambda t: ",".join(sorted(t)))
    img = hops["images"].map(lambda t: ",".join(sorted(i for i in t if _EXECUTOR.search(i))))
    return (svc + "|" + img).astype("string")


def known_admin(hops: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """Per hop: True for a known administrator's usual work (module docstring), first contacts
    with a new server of an administered class included.

    Examples:
        >>> from graph.toy import toy_hops
        >>> h = toy_hops("W>SQL1@2h W>SQL1@3h W>SQL2@5h W>SQL9@27h W>WEB1@28h W>SQL8@38h")
        >>> h["lateral"] = True; h["services"] = [("psexesvc",)] * 6; h["images"] = [()] * 6
        >>> h["rules"] = [("lg.service.psexec",)] * 6
        >>> known_admin(h, AnalysisConfig()).tolist()   # WEB is a new class, 23:00 a new hour
        [False, False, False, True, False, False]
    """
    out = pd.Series(False, index=hops.index, name="known_admin")
    ok = (hops["src_host"].notna() & hops["account"].notna() & hops["lateral"].astype(bool)).to_numpy()
    if not ok.any():
        return out
    h = hops[ok]
    f = pd.DataFrame({"src": h["src_host"].astype(str), "acct": h["account"].astype(str),
                      "dst": h["dst_host"].astype(str), "tool": tool(h).astype(str),
                      "day": h["first_seen"].dt.floor("D"),
                      "hour": h["first_seen"].dt.hour.astype("int64")}, index=h.index)
    f["shaped"] = h["rules"].map(lambda rs: any(r in ATTACK_SHAPED for r in rs)).astype(bool)
    slack = int(config.habit_hour_slack_h)
    f = f[~f["shaped"]]
    counts = f.groupby("acct")["day"].agg(["size", "nunique"])
    busy = counts[(counts["size"] > config.admin_baseline_hops) & (counts["nunique"] >= 2)].index
    for _acct, a in f[f["acct"].isin(busy)].groupby("acct", sort=False):
        seat = a["src"].value_counts()
        if len(seat) > 1 and seat.iloc[0] == seat.iloc[1]:
            continue
        for _tool, g in a[a["src"] == seat.index[0]].groupby("tool", sort=False):
            for d, today in g.groupby("day", sort=False):
                other = g[g["day"] != d]
                if len(other) < config.admin_baseline_hops:
                    continue
                shape = (other["dst"].duplicated().any() or other["day"].nunique() >= 2
                         or today["dst"].isin(set(other["dst"])).any())
                if not shape:
                    continue      # first contacts only, one day each: the shape of a spree
                hour_ok = _hour_near(today["hour"].to_numpy(), set(other["hour"].tolist()), slack)
                # the class must be one it administers apart from this very hop
                cls = g["dst"].map(host_class)
                n_cls = cls.value_counts()
                mine = today["dst"].map(host_class)
                same_class = (mine.map(n_cls).fillna(0) - 1 > 0).to_numpy()
                known = today["dst"].isin(set(other["dst"])).to_numpy()
                out[today.index[(known | same_class) & hour_ok]] = True
    return out
