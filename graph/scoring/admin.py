"""First contacts of a known administrator: not high on their own.

An IT admin's PsExec from the admin's own workstation, with the admin account, at the admin's
hours, to a server the (short) baseline never saw the admin reach is how administration looks on
any day a new server is taken over. The habit score (:mod:`graph.scoring.habit`) needs the
destination to be familiar or the routine to be long; with one or two baseline days it is not, and
the hop would score high. This module recognises the shape and lets it count as the routine.

A lateral hop is a **known administrator's first contact** when, with S = source host, A = account,
T = its tool (the installed service names, else the executed images) and d = the hop's UTC day:

* **known administrator**: before day d, (S, A) made at least ``admin_baseline_hops`` (3) lateral
  hops with tool T, and its baseline shows administration rather than a spree: it went back to a
  destination (two hops to the same host) or was active on at least 2 days;
* **usual seat**: S is the source of most of A's lateral hops before day d;
* **usual tool**: T was used in that baseline (a new tool, service name or binary is new evidence);
* **working hours**: the hop's hour is within ``habit_hour_slack_h`` of an hour of the baseline;
* **same class**: the destination is new to (S, A) but of a host class the baseline reached
  (:func:`graph.scoring.routine.host_class`: ``SQL03`` is an ``SQL`` host);
* **no payload shape**: no rule of :data:`ATTACK_SHAPED` fired on the hop (renamed PsExec pipes,
  smbexec/Metasploit services, impacket command lines, pass-the-hash logons, ...).

Such a hop gets the habit value 1 (as a familiar destination of the routine): its score keeps
``habit_keep`` of the evidence (low). The rest still lifts it: a suspicious hop into the seat
before it voids the discount (:func:`graph.scoring.routine.assess`), and another account, tool,
hour or class never qualifies.
"""

from __future__ import annotations

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


def tool(hops: pd.DataFrame) -> pd.Series:
    """The remote-execution tool of a hop: its installed service names, else its executed images."""
    svc = hops["services"].map(lambda t: ",".join(sorted(t)))
    img = hops["images"].map(lambda t: ",".join(sorted(t)))
    return svc.where(svc != "", img).astype("string")


def first_contact(hops: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """Per hop: True for a known administrator's first contact (module docstring).

    Examples:
        >>> from graph.toy import toy_hops
        >>> h = toy_hops("W>SQL1@2h W>SQL1@3h W>SQL2@5h W>SQL9@27h W>WEB1@28h W>SQL8@38h")
        >>> h["lateral"] = True; h["services"] = [("psexesvc",)] * 6; h["images"] = [()] * 6
        >>> h["rules"] = [("lg.service.psexec",)] * 6
        >>> first_contact(h, AnalysisConfig()).tolist()   # WEB is a new class, 23:00 a new hour
        [False, False, False, True, False, False]
    """
    out = pd.Series(False, index=hops.index, name="admin_first_contact")
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
    for _acct, a in f.groupby("acct", sort=False):
        days = sorted(a["day"].unique())
        if len(days) < 2:
            continue
        for d in days[1:]:
            base = a[a["day"] < d]
            today = a[(a["day"] == d) & ~a["shaped"]]
            if today.empty or len(base) < config.admin_baseline_hops:
                continue
            seat = base["src"].value_counts()
            usual_seat = seat.index[0] if len(seat) == 1 or seat.iloc[0] > seat.iloc[1] else None
            if usual_seat is None:
                continue
            b = base[base["src"] == usual_seat]
            t = today[today["src"] == usual_seat]
            for tl, tt in t.groupby("tool", sort=False):
                bt = b[b["tool"] == tl]
                if len(bt) < config.admin_baseline_hops:
                    continue
                admin_shape = bt["dst"].duplicated().any() or bt["day"].nunique() >= 2
                if not admin_shape:
                    continue
                new_dst = ~tt["dst"].isin(set(bt["dst"])).to_numpy()
                same_class = tt["dst"].map(host_class).isin({host_class(x) for x in bt["dst"]}).to_numpy()
                hour_ok = _hour_near(tt["hour"].to_numpy(), set(bt["hour"].tolist()), slack)
                out[tt.index[new_dst & same_class & hour_ok]] = True
    return out

