"""Scenarios around habitual administration: compromised infrastructure, admin first contacts,
benign-only weeks (``simulate(..., scenario=...)``).

* ``deploy-server``: the attacker works its way from a phished workstation to the software
  deployment server (SCCM01), dumps its service account there and pushes its own payload with that
  account to servers and workstations (random service names, new tools, daytime). The server's
  nightly agent push keeps running on its schedule after the compromise: the habit that follows
  the compromise is benign, the attacker's pushes deviate from it.
* ``backup-server``: the same with the backup server (BKP01) and its account: the attacker runs
  commands on servers the backup job reads every night, with the backup account, but with
  execution tools the backup routine never used; the nightly guest-processing helper pushes
  (:func:`backup_guest_processing`) and C$ reads continue.
* ``admin-first-contacts``: the IT admins reach servers on the last day that the 1-2 baseline days
  never saw them reach (same PsExec, same seat, same hours); the attack is the normal spread.
* ``benign-only``: no attack at all (a quiet week: every routine, no intruder).
"""

from __future__ import annotations

import numpy as np

from ingest.synthetic.attack import AttackResult, Spree, _dt, _dump, _foothold, _random_name
from ingest.synthetic.benign import PIPE, WRITE, psexec
from ingest.synthetic.templates import (
    HOUR,
    MINUTE,
    MS,
    SECOND,
    SYSTEM_PROCS,
    Ctx,
    network_logon,
    process,
    service_install,
    share_access,
    smb_connect,
)

#: Programs an IT admin runs through PsExec (image, command line).
ADMIN_TASKS: tuple[tuple[str, str], ...] = (
    (r"C:\Windows\System32\cmd.exe", r'cmd /c "ipconfig /all & systeminfo"'),
    (r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
     "powershell -NoProfile -Command Get-Service | Where-Object Status -eq Stopped"),
    (r"C:\Windows\System32\gpupdate.exe", "gpupdate /force"),
    (r"C:\Windows\System32\sc.exe", "sc query wuauserv"),
)
#: ``simulate(scenario=...)`` values besides the default ``"standard"``.
SCENARIOS = ("deploy-server", "backup-server", "admin-first-contacts", "benign-only")


def infrastructure_attack(ctx: Ctx, *, role: str) -> AttackResult:
    """Phished workstation -> workstation (local admin hash) -> ``role`` server (stolen IT admin
    credential) -> the server's service account used from there against other hosts.

    ``role`` is ``"deploy"`` or ``"backup"``. The attack happens on a working day that leaves at
    least one night of the server's routine after it.
    """
    ent, rng = ctx.ent, ctx.rng
    last = max(1, ctx.days - 2)
    day = int(rng.integers(1, last + 1)) if ctx.days > 2 else max(0, ctx.days - 1)
    t = ctx.start_ns + day * 86_400 * 10**9 + int(9 * HOUR) + int(rng.integers(0, 3 * HOUR))
    ws = ent.workstations
    admin_ws = np.asarray(ent.it_admin_hosts)
    ok_ws = ws[ent.collected[ws] & ~np.isin(ws, admin_ws)]
    pz_pool = ok_ws[ent.has_sysmon[ok_ws]] if ent.has_sysmon[ok_ws].any() else ok_ws
    pz = int(rng.choice(pz_pool))
    _foothold(ctx, t, pz, ent.users[ent.workstation_user[pz]])
    t_pz = t
    infra = int(ent.index(role)[0])
    svc = ent.service_accounts[role]
    it_admin = ent.it_admins[0]
    spree = Spree(ctx, {pz, infra})
    pick, hop, hops = spree.pick, spree.hop, spree.hops

    t += int(rng.integers(20 * MINUTE, 60 * MINUTE))
    (w1,) = pick(ok_ws)
    hop(t, pz, w1, "administrator", str(rng.choice(("smbexec", "wmiexec"))), auth="NTLM", pth=True,
        local=True)
    t += int(rng.integers(20 * MINUTE, 50 * MINUTE))
    _dump(ctx, t - 5 * MINUTE, w1, it_admin)
    hop(t, w1, infra, it_admin, str(rng.choice(("psexec_renamed", "copy_service", "wmiexec"))))
    t += int(rng.integers(20 * MINUTE, 60 * MINUTE))
    _dump(ctx, t - 5 * MINUTE, infra, svc)
    # the service account, from its own server, with the attacker's tools
    if role == "deploy":
        targets = pick(ent.servers, 2) + pick(ent.index("dc"), 1) + pick(ok_ws, int(rng.integers(2, 5)))
    else:
        targets = pick(ent.servers, int(rng.integers(2, 4))) + pick(ent.index("dc"), 1)
    service = _random_name(rng, 6).lower()
    for dst in targets:
        t += int(rng.integers(3 * MINUTE, 25 * MINUTE))
        tech = str(rng.choice(("psexec_renamed", "smbexec", "copy_service", "wmiexec")))
        hop(t, infra, dst, svc, tech, **({"service": service} if tech == "psexec_renamed" else {}))
    return AttackResult(ent.hosts[pz], _dt(t_pz), hops, {it_admin: ent.hosts[w1], svc: ent.hosts[infra]})


def it_admin_first_contacts(ctx: Ctx) -> None:
    """IT admins' PsExec (as :func:`ingest.synthetic.benign.it_admin_psexec`: 3-6 a working day,
    07:00-17:00, to half of the servers, each running one of :data:`ADMIN_TASKS`), and on the last
    day each admin also reaches 1-3 servers of a role it administers (file, SQL, web, app) that the
    earlier (baseline) days never saw it reach."""
    ent = ctx.ent
    for admin, ws in zip(ent.it_admins, ent.it_admin_hosts, strict=True):
        order = ctx.rng.permutation(ent.servers)
        n_base = max(2, len(order) // 2)
        managed, fresh = order[:n_base], order[n_base:]
        last = ctx.start_ns + (ctx.days - 1) * 86_400 * 10**9
        per_day = [int(ctx.rng.integers(3, 7)) for _ in range(max(1, ctx.days - 1))]
        ts = np.sort(np.concatenate([
            ctx.start_ns + d * 86_400 * 10**9 + ctx.rng.integers(int(7 * HOUR), int(17 * HOUR), size=k)
            for d, k in enumerate(per_day)]))
        dst = ctx.rng.choice(managed, size=len(ts))
        # new servers of a class (role) the admin already administers
        roles = np.asarray(ent.roles)
        fresh = fresh[np.isin(roles[fresh], roles[np.unique(dst)])]
        k = int(ctx.rng.integers(1, 4))
        new = ctx.rng.choice(fresh, size=min(k, len(fresh)), replace=False) if len(fresh) else managed[:1]
        day_ts = last + ctx.rng.integers(int(9 * HOUR), int(16 * HOUR), size=len(new) + 2)
        day_dst = np.r_[new, ctx.rng.choice(managed, size=2)]
        ts, dst = np.r_[ts, day_ts], np.r_[dst, day_dst]
        src = np.full(len(ts), ws)
        acct = np.full(len(ts), ctx.blocks.code(admin))
        # an admin runs whatever the task needs through PsExec: the program differs per action
        task = ctx.rng.integers(0, len(ADMIN_TASKS), size=len(ts))
        for k, (image, command) in enumerate(ADMIN_TASKS):
            m = task == k
            if m.any():
                psexec(ctx, ts[m], src[m], dst[m], acct[m], admin_name=admin, service="PSEXESVC",
                       command=command, child=image)


def backup_guest_processing(ctx: Ctx) -> None:
    """The backup server's application-aware processing: every night, before it reads C$, BKP01
    copies its guest helper to ADMIN$ of each server and DC and runs it as a service with the
    backup account (Veeam-style guest processing: remote execution as routine)."""
    ent = ctx.ent
    src_host = int(ent.index("backup")[0])
    targets = np.r_[ent.servers, ent.index("dc")]
    acct = ctx.blocks.code(ent.service_accounts["backup"])
    image = r"C:\Windows\VeeamGuestHelper\VeeamGuestHelper.exe"
    for day in range(ctx.days):
        n = len(targets)
        ts = (ctx.start_ns + day * 86_400 * 10**9 + 22 * HOUR + 30 * MINUTE + np.arange(n) * 2 * MINUTE
              + ctx.rng.integers(0, MINUTE, size=n))
        src, accts = np.full(n, src_host), np.full(n, acct)
        smb_connect(ctx, ts, src, targets)
        lid = network_logon(ctx, ts, src, targets, accts, admin=True, duration_ns=90 * SECOND)
        share_access(ctx, ts + 30 * MS, src, targets, accts, lid, r"\\*\ADMIN$",
                     [(r"VeeamGuestHelper\VeeamGuestHelper.exe", WRITE)])
        share_access(ctx, ts + 200 * MS, src, targets, accts, lid, r"\\*\IPC$", [("svcctl", PIPE)])
        service_install(ctx, ts + 350 * MS, targets, accts, lid, "VeeamGuestHelper", image)
        process(ctx, ts + 500 * MS, targets, image, image, SYSTEM_PROCS["services"], "system",
                domain="NT AUTHORITY", security=True)
