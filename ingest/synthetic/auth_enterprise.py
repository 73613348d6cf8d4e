"""Authentication-only enterprise: LANL-style ``auth.txt`` + ``redteam.txt``, or a DC-only Windows log.

A seeded domain of workstations (one owner each), servers and domain controllers, seen only through
authentication. Benign activity, per business day:

* every user logs on at the own workstation (LANL ``Interactive``, src = dst; on a DC: the user's
  4768 TGT and a 4769 for ``HOST/<own workstation>``) and reaches the usual servers (2-4 file / mail
  / app servers, Kerberos network logons; legacy servers always NTLM) and a DC;
* **roaming users** (about 4% a day) work from another workstation (hot desk, meeting room);
* **new projects**: a user reaches a server for the first time (about 3% of users a day);
* **new machines**: about 3% of the workstations (and their owners) appear only later;
* **helpdesk** accounts log on (RDP or network) to a handful of workstations a day, many for the
  first time; **administrators** tend a server pool from their admin workstations, now and then a
  server they never touched; **service accounts** (inventory, backup, deployment) sweep many hosts
  from their servers every night;
* machine accounts authenticate to the DCs (filtered by the analysis, present for realism).

The red team phishes one workstation (patient zero), harvests credentials held there (the owner's,
and those of helpdesk / admin accounts that logged on to it before) and moves by network logons with
those stolen credentials: a fan-out from the foothold (normal) or a slow chain, hours apart
(stealthy); on every host it reaches it harvests again and moves on (LANL's red team: a few
footholds, many accounts, many destinations). ``redteam.txt`` lists each malicious logon as
``time,user@domain,src,dst``.

Times are seconds from the data set's start (LANL's time base): :func:`write_lanl` writes them as
they are and :func:`simulate_auth` gives them as UTC timestamps from :data:`START` for the
canonical frames; readers map LANL seconds onto ``ingest.formats.lanl_auth.epoch()`` (1970-01-01
by default). The benchmark sets ``LATGRAPH_LANL_EPOCH`` to :data:`START` so both agree.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ingest.schema import COLUMNS, coerce_frame

#: LANL time 0 of generated data (a Monday, UTC midnight); see the module docstring.
START = datetime(2024, 3, 4, tzinfo=UTC)
DAY = 86_400
DOMAIN = "DOM1"
LANL_COLUMNS = ("time", "src_user", "dst_user", "src_pc", "dst_pc", "auth_type", "logon_type", "orientation",
                "result")


@dataclass
class AuthTruth:
    """What the analysis should find: the malicious logons and where the red team started."""

    seed: int
    stealthy: bool
    patient_zero: str
    patient_zero_time: int                               # seconds from the start
    hops: list[tuple[int, str, str, str]]                # (time, account, src, dst), first logon each
    compromised: dict[str, int] = field(default_factory=dict)
    ntlm: set[tuple[str, str, str]] = field(default_factory=set)    # (src, dst, account) moved by NTLM
    days: int = 0
    n_hosts: int = 0

    def redteam_frame(self) -> pd.DataFrame:
        """The ``redteam.txt`` rows (``time,user@domain,src,dst``), in time order."""
        rows = sorted(self.hops)
        return pd.DataFrame({"time": [r[0] for r in rows], "user": [f"{r[1].upper()}@{DOMAIN}" for r in rows],
                             "src": [r[2] for r in rows], "dst": [r[3] for r in rows]})


@dataclass
class AuthSimulation:
    """Generated authentication rows (LANL columns) and the truth."""

    rows: pd.DataFrame           # LANL_COLUMNS, sorted by time
    truth: AuthTruth
    ips: dict[str, str]          # host -> IPv4 (for the DC-only profile)


class _Rows:
    """Column buffers of LANL rows."""

    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {c: [] for c in LANL_COLUMNS}

    def add(self, t: int, user: str, src: str, dst: str, auth: str, ltype: str, orient: str = "LogOn",
            result: str = "Success") -> None:
        u = f"{user}@{DOMAIN}"
        for c, v in zip(LANL_COLUMNS, (t, u, u, src, dst, auth, ltype, orient, result), strict=True):
            self.cols[c].append(v)

    def frame(self) -> pd.DataFrame:
        f = pd.DataFrame(self.cols)
        f["time"] = f["time"].astype("int64")
        return f


def _workday_time(rng: np.random.Generator, day: int, start_h: float = 8.0, end_h: float = 18.0) -> int:
    return int(day * DAY + rng.uniform(start_h, end_h) * 3600)


def simulate_auth(seed: int, *, n_hosts: int = 1000, days: int = 7, stealthy: bool = False,
                  repeat: float = 1.0) -> AuthSimulation:
    """Generate an authentication-only enterprise with one red-team intrusion.

    Args:
        seed: same seed and arguments, same rows.
        n_hosts: hosts in the domain (>= 50): about 88% workstations, the rest servers and 2 DCs.
        days: days of activity (>= 4); the intrusion starts in the second half.
        stealthy: slow chain (3-5 hops, hours apart) instead of a fan-out from the foothold.
        repeat: mean number of rows per benign logon (LANL repeats authentications within a
            session); scales the volume for benchmarks without changing the graph.
    """
    if n_hosts < 50 or days < 4:
        raise ValueError("simulate_auth needs n_hosts >= 50 and days >= 4")
    rng = np.random.default_rng(seed)
    n_srv = max(6, n_hosts // 12)
    n_ws = n_hosts - n_srv - 2
    ws = [f"C{i + 1}" for i in range(n_ws)]
    servers = [f"C{n_ws + i + 1}" for i in range(n_srv)]
    dcs = [f"C{n_ws + n_srv + 1}", f"C{n_ws + n_srv + 2}"]
    users = [f"U{i + 1}" for i in range(n_ws)]
    owner = dict(zip(users, ws, strict=True))
    ips = {h: f"10.{(i // 250) % 250 + 1}.{(i // 250) // 250}.{i % 250 + 2}"
           for i, h in enumerate(ws + servers + dcs)}
    legacy = set(rng.choice(servers, size=max(1, n_srv // 10), replace=False).tolist())
    usual = {u: rng.choice(servers, size=int(rng.integers(2, 5)), replace=False).tolist() for u in users}
    first_day = {h: 0 for h in ws}
    for h in rng.choice(ws, size=max(1, n_ws * 3 // 100), replace=False).tolist():
        first_day[h] = int(rng.integers(1, days))
    n_help = max(2, n_hosts // 400)
    n_adm = max(2, n_hosts // 250)
    helpdesk = [(f"U{n_ws + 100 + i}", ws[int(rng.integers(n_ws))]) for i in range(n_help)]
    admins = [(f"U{n_ws + 200 + i}", ws[int(rng.integers(n_ws))],
               rng.choice(servers, size=min(n_srv, int(rng.integers(5, 15))), replace=False).tolist())
              for i in range(n_adm)]
    svc = [("U" + str(n_ws + 300 + i), servers[i], kind)
           for i, kind in enumerate(("inventory", "backup", "deploy"))]
    auth = _Rows()

    def auth_of(src: str, dst: str) -> str:
        return "NTLM" if dst in legacy else "Kerberos"

    visited: dict[str, list[tuple[int, str]]] = {h: [] for h in ws + servers}   # host -> (t, account) logons
    for day in range(days):
        weekend = day % 7 in (5, 6)
        p_active = 0.15 if weekend else 0.95
        active = [u for u in users if first_day[owner[u]] <= day and rng.random() < p_active]
        for u in active:
            home = owner[u]
            if rng.random() < 0.04:      # roaming: another (existing) workstation today
                cand = ws[int(rng.integers(n_ws))]
                if first_day[cand] <= day:
                    home = cand
            t = _workday_time(rng, day, 7.5, 10.0)
            auth.add(t, u, home, home, "Negotiate", "Interactive")
            auth.add(t + 1, u, home, dcs[int(rng.integers(2))], "Kerberos", "Network")
            auth.add(t + 2, u, home, dcs[0], "Kerberos", "?", "TGT")
            targets = [s for s in usual[u] if rng.random() < 0.8]
            if rng.random() < 0.03:      # new project: a server never reached before
                new = servers[int(rng.integers(n_srv))]
                targets.append(new)
                usual[u].append(new)
            for s in targets:
                ts = t + int(rng.integers(60, 8 * 3600))
                auth.add(ts, u, home, s, auth_of(home, s), "Network")
                auth.add(ts, u, home, s, "Kerberos", "?", "TGS")
            visited[home].append((t, u))
        if weekend:
            continue
        for acct, seat in [*helpdesk, *[(a, st) for a, st, _ in admins]]:   # their own logon at the seat
            ts = _workday_time(rng, day, 7.5, 9.0)
            auth.add(ts, acct, seat, seat, "Negotiate", "Interactive")
            visited[seat].append((ts, acct))
        for h, seat in helpdesk:         # helpdesk: a few workstations a day, many first contacts
            for target in rng.choice(ws, size=int(rng.integers(3, 9)), replace=False).tolist():
                if first_day[target] > day:
                    continue
                ts = _workday_time(rng, day, 8.5, 17.0)
                rdp = rng.random() < 0.5
                auth.add(ts, h, seat, target, "Kerberos", "RemoteInteractive" if rdp else "Network")
                visited[target].append((ts, h))
        for a, seat, pool in admins:     # admins: their server pool, sometimes a new server
            for s in pool:
                if rng.random() < 0.35:
                    ts = _workday_time(rng, day, 8.0, 18.0)
                    auth.add(ts, a, seat, s, auth_of(seat, s), "Network")
                    visited[s].append((ts, a))
            if rng.random() < 0.15:
                s = servers[int(rng.integers(n_srv))]
                pool.append(s)
                auth.add(_workday_time(rng, day), a, seat, s, auth_of(seat, s), "Network")
            if rng.random() < 0.1:       # an admin fixing a workstation
                target = ws[int(rng.integers(n_ws))]
                ts = _workday_time(rng, day)
                auth.add(ts, a, seat, target, "Kerberos", "RemoteInteractive")
                visited[target].append((ts, a))
        for acct, src, kind in svc:      # nightly sweeps over many hosts
            share = {"inventory": 1.0, "backup": 0.0, "deploy": 0.5}[kind]
            hosts = [h for h in ws if first_day[h] <= day and rng.random() < share] if share else []
            hosts += servers if kind != "deploy" else []
            t0 = day * DAY + 22 * 3600 if kind != "inventory" else day * DAY + 2 * 3600
            for i, h in enumerate(hosts):
                if h != src:
                    auth.add(t0 + i * 3 + int(rng.integers(0, 3)), acct, src, h, "Kerberos", "Network")
    for h in ws + servers:               # machine accounts at the DCs (filtered by the analysis)
        for day in range(days):
            if h in first_day and first_day[h] > day:
                continue
            auth.add(day * DAY + int(rng.integers(0, DAY)), f"{h}$", h, dcs[day % 2], "Kerberos", "Network")

    truth = _red_team(rng, auth, seed=seed, days=days, stealthy=stealthy, ws=ws, servers=servers,
                      owner=owner, visited=visited, first_day=first_day, admins=admins, auth_of=auth_of)
    truth.days, truth.n_hosts = days, n_hosts
    rows = auth.frame()
    if repeat > 1.0:                     # repeated authentications within a session (volume only)
        k = rng.poisson(repeat - 1.0, size=len(rows)) + 1
        rows = rows.loc[rows.index.repeat(k)].reset_index(drop=True)
        rows["time"] = rows["time"] + rng.integers(0, 600, size=len(rows)) * (rows.index.duplicated())
    rows = rows.sort_values("time", kind="stable").reset_index(drop=True)
    return AuthSimulation(rows, truth, ips)


def _red_team(rng: np.random.Generator, auth: _Rows, *, seed: int, days: int, stealthy: bool,
              ws: list[str], servers: list[str], owner: dict[str, str],
              visited: dict[str, list[tuple[int, str]]],
              first_day: dict[str, int], admins: list[Any], auth_of: Any) -> AuthTruth:
    """Phish a workstation, then spread with credentials harvested on each host reached."""
    who_owns = {v: k for k, v in owner.items()}
    start_day = int(rng.integers(days // 2, days - 1))
    t0 = _workday_time(rng, start_day, 9.0, 15.0)
    # the foothold: a workstation where a privileged account had logged on before (cached credentials)
    cands = [h for h in ws
             if first_day[h] == 0 and any(t < t0 and a != who_owns.get(h) for t, a in visited[h])]
    pz = cands[int(rng.integers(len(cands)))] if cands else ws[int(rng.integers(len(ws)))]
    truth = AuthTruth(seed=seed, stealthy=stealthy, patient_zero=pz, patient_zero_time=t0, hops=[],
                      compromised={pz: t0})
    held: dict[str, set[str]] = {}

    def harvest(host: str, now: int) -> set[str]:
        creds = {a for t, a in visited.get(host, []) if t < now}
        if host in who_owns:
            creds.add(who_owns[host])
        return creds

    def move(t: int, acct: str, src: str, dst: str) -> None:
        proto = "NTLM" if rng.random() < 0.3 else auth_of(src, dst)     # pass-the-hash, or a ticket
        if proto == "Kerberos":
            auth.add(t, acct, src, dst, "Kerberos", "?", "TGS")
        else:
            truth.ntlm.add((src, dst, acct.lower()))
        auth.add(t + 1, acct, src, dst, proto, "Network")
        truth.hops.append((t, acct, src, dst))
        if dst not in truth.compromised:
            truth.compromised[dst] = t
        held.setdefault(dst, set()).add(acct)      # the credential it arrived with

    held[pz] = harvest(pz, t0)
    priv = [a for a, *_ in admins]
    t = t0 + int(rng.integers(600, 3600))
    frontier = [pz]
    n_waves = 3 if stealthy else 2
    pool = [h for h in ws + servers if h != pz and first_day.get(h, 0) <= start_day]
    for wave in range(n_waves):
        nxt = []
        for src in frontier:
            creds = sorted(held.get(src, set()) | harvest(src, t))
            stolen = [c for c in creds if c != who_owns.get(src)] or creds
            fan = 1 if stealthy else int(rng.integers(3, 8)) if wave == 0 else int(rng.integers(1, 4))
            for _ in range(fan):
                dst = pool[int(rng.integers(len(pool)))]
                if dst in truth.compromised:
                    continue
                acct = stolen[int(rng.integers(len(stolen)))] if rng.random() < 0.8 or not priv \
                    else priv[int(rng.integers(len(priv)))]
                move(t, acct, src, dst)
                t += int(rng.integers(3 * 3600, 10 * 3600)) if stealthy else int(rng.integers(30, 900))
                nxt.append(dst)
        frontier = nxt[:3] if not stealthy else nxt
        if not frontier:
            break
        t += int(rng.integers(1800, 4 * 3600))
    return truth


def write_lanl(sim: AuthSimulation, out_dir: str | os.PathLike[str], *,
               gz: bool = False) -> tuple[Path, Path]:
    """Write ``auth.txt`` (or ``auth.txt.gz``) and ``redteam.txt`` into ``out_dir``; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    auth_path = out / ("auth.txt.gz" if gz else "auth.txt")
    opener = gzip.open if gz else open
    with opener(auth_path, "wt", encoding="utf-8", newline="\n") as fh:   # type: ignore[operator]
        chunk = 1_000_000
        for i in range(0, len(sim.rows), chunk):
            sim.rows.iloc[i:i + chunk].to_csv(fh, header=False, index=False, lineterminator="\n")
    red = out / "redteam.txt"
    sim.truth.redteam_frame().to_csv(red, header=False, index=False, lineterminator="\n")
    return auth_path, red


def write_lanl_lines(sim: AuthSimulation, out_dir: str | os.PathLike[str], lines: int, *, seed: int = 0,
                     gz: bool = False, chunk: int = 200_000,
                     repeat: float | None = None) -> tuple[Path, Path, int]:
    """Write ``auth.txt`` with about ``lines`` lines by repeating ``sim``'s rows, in bounded memory.

    Like ``simulate_auth(..., repeat=lines / len(sim.rows))`` (LANL repeats an authentication within a
    session: each row appears ``1 + Poisson(repeat - 1)`` times, the copies up to 10 minutes after it),
    but streamed: the rows are expanded and written a few hundred thousand at a time, each line
    built from its row's text once, so 50M lines need no more memory than the base rows.
    ``repeat`` (>= 1) fixes the mean lines per row instead (about ``repeat * len(sim.rows)`` lines,
    whatever ``lines`` says: the caller sizes the enterprise, e.g. its days, to the lines it wants).
    The repeated rows of one seed are the same every time; returns (auth path, redteam path, lines).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = sim.rows.sort_values("time", kind="stable").reset_index(drop=True)
    cols = [rows[c].astype(str).tolist() for c in LANL_COLUMNS[1:]]
    rest = np.array([",".join(cells) for cells in zip(*cols, strict=True)], dtype=object)
    times = rows["time"].to_numpy(dtype=np.int64)
    repeat = max(1.0, repeat if repeat is not None else lines / max(len(rows), 1))
    rng = np.random.default_rng([seed, 1_000_003])
    auth_path = out / ("auth.txt.gz" if gz else "auth.txt")
    opener = gzip.open if gz else open
    written = 0
    carry_t = np.zeros(0, dtype=np.int64)
    carry_i = np.zeros(0, dtype=np.int64)
    with opener(auth_path, "wt", encoding="utf-8", newline="\n") as fh:   # type: ignore[operator]
        for lo in range(0, len(rows), chunk):
            hi = min(lo + chunk, len(rows))
            k = rng.poisson(repeat - 1.0, size=hi - lo) + 1
            idx = np.repeat(np.arange(lo, hi), k)
            first = np.r_[True, idx[1:] != idx[:-1]]
            t = times[idx] + np.where(first, 0, rng.integers(0, 600, size=len(idx)))
            t, idx = np.r_[carry_t, t], np.r_[carry_i, idx]
            order = np.argsort(t, kind="stable")
            t, idx = t[order], idx[order]
            cut = len(t) if hi == len(rows) else int(np.searchsorted(t, times[hi], side="left"))
            fh.write("".join(f"{a},{b}\n" for a, b in zip(t[:cut].tolist(), rest[idx[:cut]].tolist(),
                                                        strict=True)))
            written += cut
            carry_t, carry_i = t[cut:], idx[cut:]
    red = out / "redteam.txt"
    sim.truth.redteam_frame().to_csv(red, header=False, index=False, lineterminator="\n")
    return auth_path, red, written


def dc_events(sim: AuthSimulation, *, dc: str | None = None) -> pd.DataFrame:
    """The same activity as a domain controller's Security log only (4768 / 4769 / 4776).

    Each network or remote-interactive logon to a member host becomes the 4769 service ticket its
    client asks for (``ServiceName = HOST$``, ``IpAddress`` = the client's IP; NTLM logons: a 4776
    naming the client workstation); each interactive logon a user 4768 TGT from the workstation's IP
    plus a 4769 for its own ``HOST``; each machine-account logon the machine's 4768 (which names
    its IP). Rows involving the DCs themselves stay TGT-only.
    """
    r = sim.rows
    dc = dc or max(sim.ips, key=lambda h: int(h[1:]))
    ts = pd.Timestamp(START) + pd.to_timedelta(r["time"].to_numpy(), unit="s")
    acct = r["dst_user"].str.split("@").str[0].str.lower()
    machine = acct.str.endswith("$")
    logon = r["orientation"].eq("LogOn") & r["result"].eq("Success")
    remote = logon & r["src_pc"].ne(r["dst_pc"])
    dcs = {h for h in sim.ips if int(h[1:]) > len(sim.ips) - 2}
    to_member = ~r["dst_pc"].isin(list(dcs))
    ntlm = r["auth_type"].eq("NTLM")
    src_ip = r["src_pc"].map(sim.ips)
    base = {"channel": "Security", "host": dc, "source_file": "", "source_format": "synthetic"}

    def frame(mask: pd.Series, **cols: Any) -> pd.DataFrame:
        f = pd.DataFrame({"ts": ts[mask.to_numpy()], **{k: (v[mask] if isinstance(v, pd.Series) else v)
                                                        for k, v in cols.items()}})
        return f.assign(**base)

    parts = [
        frame(remote & to_member & ~machine & ~ntlm, event_id=4769, src_ip=src_ip, dst_host=r["dst_pc"],
              account=acct, account_domain=DOMAIN, service_name=r["dst_pc"] + "$", auth_package="Kerberos",
              logon_process="0x12", access_mask=0x40810000, status="0x0"),
        frame(remote & to_member & ~machine & ntlm, event_id=4776, src_host=r["src_pc"], account=acct,
              auth_package="NTLM", status="0x0"),
        frame(logon & ~remote & ~machine, event_id=4768, src_ip=src_ip, account=acct, account_domain=DOMAIN,
              auth_package="Kerberos", logon_process="0x12", access_mask=0x40810010, status="0x0"),
        frame(logon & ~remote & ~machine, event_id=4769, src_ip=src_ip, dst_host=r["dst_pc"], account=acct,
              account_domain=DOMAIN, service_name=r["dst_pc"] + "$", auth_package="Kerberos",
              logon_process="0x12", access_mask=0x40810000, status="0x0"),
        frame(logon & machine, event_id=4768, src_ip=src_ip, src_host=r["src_pc"], account=acct,
              account_domain=DOMAIN, auth_package="Kerberos", logon_process="0x12", access_mask=0x40810010,
              status="0x0"),
    ]
    ev = pd.concat(parts, ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)
    ev["record_id"] = np.arange(1, len(ev) + 1)
    for c in COLUMNS:
        if c not in ev:
            ev[c] = None
    return coerce_frame(ev)
