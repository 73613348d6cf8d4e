"""Days of benign activity, vectorised per kind of activity.

Includes the habitual administration that looks like lateral movement (the software-deployment
server pushing its agent through ADMIN$ every night, the backup server reading C$, an IT admin
using PsExec) and the hard negatives (SMB password guessing, loopback network logons, local
service installs, IPC$-only discovery fan-out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.synthetic.templates import (
    DAY,
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

READ, WRITE, PIPE = 0x120089, 0x2, 0x12019F
DEPLOY_SERVICE = ("CcmSetup", r"C:\Windows\ccmsetup\ccmsetup.exe /service /source:\\SCCM01\SMS_P01")
LOCAL_SERVICES: tuple[tuple[str, str], ...] = (
    ("Google Update Service (gupdate)", r'"C:\Program Files (x86)\Google\Update\GoogleUpdate.exe" /svc'),
    ("Microsoft Defender Antivirus Network Inspection Driver",
     r"system32\DRIVERS\wd\WdNisDrv.sys"),
    ("VMware Tools", r'"C:\Program Files\VMware\VMware Tools\vmtoolsd.exe"'),
    ("Intel(R) Graphics Command Center Service", r"C:\Windows\System32\DriverStore\igccservice.exe"),
    ("Mozilla Maintenance Service",
     r'"C:\Program Files (x86)\Mozilla Maintenance Service\maintenanceservice.exe"'),
    ("Windows Update Medic Service", r"%systemroot%\system32\svchost.exe -k wusvcs -p"),
)
USER_FILES = ("Budget_2024.xlsx", r"Projects\Q3\plan.docx", r"Team\minutes.docx", "report.pdf",
              r"Scans\scan0042.pdf", r"Projects\Alpha\design.vsdx", "contacts.csv")
APPS = ((r"C:\Program Files\Google\Chrome\Application\chrome.exe", "chrome.exe --type=renderer"),
        (r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE", "OUTLOOK.EXE"),
        (r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE", "EXCEL.EXE /dde"),
        (r"C:\Windows\System32\notepad.exe", "notepad.exe"),
        (r"C:\Users\Public\Teams\current\Teams.exe", "Teams.exe --processStart"))
EXPLORER = r"C:\Windows\explorer.exe"


@dataclass(frozen=True)
class AdminSources:
    """The benign hosts/accounts that touch admin shares habitually (for the ground truth)."""

    deployment: tuple[str, str]          # (host, account)
    backup: tuple[str, str]
    it_admins: tuple[tuple[str, str], ...]
    inventory: tuple[str, str]


def work_times(ctx: Ctx, n: int, *, start_h: float = 7.0, span_h: float = 10.0) -> np.ndarray:
    """``n`` times in working hours, fewer on weekends (the first day is a Monday)."""
    weights = np.array([0.15 if d % 7 in (5, 6) else 1.0 for d in range(ctx.days)])
    day = ctx.rng.choice(ctx.days, size=n, p=weights / weights.sum())
    offset = ctx.rng.integers(int(start_h * HOUR), int((start_h + span_h) * HOUR), size=n)
    return ctx.start_ns + day * DAY + offset


def interactive(ctx: Ctx) -> None:
    """Each working morning users log on at their workstation (type 2) and map NETLOGON on a DC."""
    ws = ctx.ent.workstations
    days = np.arange(ctx.days)
    present = ctx.rng.random((ctx.days, len(ws))) < np.where(days % 7 >= 5, 0.1, 0.92)[:, None]
    d, w = np.nonzero(present)
    host = ws[w]
    ts = ctx.start_ns + d * DAY + 7 * HOUR + ctx.rng.integers(0, 2 * HOUR, size=len(host))
    user = ctx.user_codes[ctx.ent.workstation_user[host]]
    lid = ctx.logon_ids(len(host))
    ctx.emit(ts, host, "Security", 4624, src_host=ctx.host_codes[host], src_ip="127.0.0.1",
             subject_account=ctx.machine_codes[host],
             dst_host=ctx.host_codes[host], account=user, account_domain="CORP", logon_type=2,
             logon_id=lid, auth_package="Negotiate", logon_process="User32", key_length=0,
             process=r"C:\Windows\System32\svchost.exe")
    process(ctx, ts + 3 * SECOND, host, EXPLORER, EXPLORER, r"C:\Windows\System32\userinit.exe",
            user, lid=lid)
    ctx.emit(ts + 9 * HOUR, host, "Security", 4634, dst_host=ctx.host_codes[host], account=user,
             account_domain="CORP", logon_type=2, logon_id=lid)
    dc = ctx.rng.choice(ctx.ent.index("dc"), size=len(host))
    t = ts + 2 * SECOND
    lid_dc = network_logon(ctx, t, host, dc, user, duration_ns=2 * SECOND)
    share_access(ctx, t + 20 * MS, host, dc, user, lid_dc, r"\\*\NETLOGON",
                 [("logon.bat", READ)])


def file_sessions(ctx: Ctx, n: int) -> None:
    """Users opening files on file servers (Kerberos, normal shares) and logging on to apps."""
    ent = ctx.ent
    src = ctx.rng.choice(ent.workstations, size=n)
    ts = work_times(ctx, n)
    user = ctx.user_codes[ent.workstation_user[src]]
    fs = ent.index("file")
    # each user has a home file server; 20% of sessions go to app/web/sql servers instead
    home = fs[ent.workstation_user[src] % len(fs)]
    apps = ent.servers[~np.isin(ent.servers, fs)]
    to_app = (ctx.rng.random(n) < 0.2) & (len(apps) > 0)
    dst = np.where(to_app, ctx.rng.choice(apps if len(apps) else fs, size=n), home)
    smb_connect(ctx, ts, src, dst)
    lid = network_logon(ctx, ts, src, dst, user,
                        duration_ns=ctx.rng.integers(30 * SECOND, 40 * MINUTE, size=n))
    f = ~to_app
    share = ctx.rng.random(n) < 0.6
    files = ctx.codes(list(USER_FILES))
    for mask, name in ((f & share, r"\\*\SHARE"), (f & ~share, r"\\*\PROJECTS")):
        k = int(mask.sum())
        pick = files[ctx.rng.integers(0, len(files), size=k)]
        writes = np.where(ctx.rng.random(k) < 0.3, WRITE, READ)
        share_access(ctx, ts[mask] + 30 * MS, src[mask], dst[mask], user[mask], lid[mask], name,
                     [(pick, READ), (pick, writes)])


def dc_machine_sessions(ctx: Ctx, n: int) -> None:
    """Machine accounts refreshing group policy on DCs: IPC$ (lsarpc), SYSVOL reads."""
    ent = ctx.ent
    dcs = ent.index("dc")
    src = ctx.rng.choice(np.flatnonzero(~np.isin(ent.roles, ("dc",))), size=n)
    dst = ctx.rng.choice(dcs, size=n)
    ts = ctx.start_ns + ctx.rng.integers(0, ctx.days * DAY, size=n)
    acct = ctx.machine_codes[src]
    lid = network_logon(ctx, ts, src, dst, acct, duration_ns=3 * SECOND)
    share_access(ctx, ts + 10 * MS, src, dst, acct, lid, r"\\*\IPC$", [("lsarpc", PIPE)])
    share_access(ctx, ts + 200 * MS, src, dst, acct, lid, r"\\*\SYSVOL",
                 [(r"corp.example.com\Policies\{31B2F340-016D-11D2-945F-00C04FB984F9}\gpt.ini", READ)])


def deployment(ctx: Ctx) -> None:
    """SCCM01 pushes its client to ~half the workstations every night via ADMIN$ + a service."""
    ent = ctx.ent
    src_host = int(ent.index("deploy")[0])
    acct = ctx.blocks.code(ent.service_accounts["deploy"])
    for day in range(ctx.days):
        targets = ent.workstations[ctx.rng.random(len(ent.workstations)) < 0.5]
        n = len(targets)
        ts = (ctx.start_ns + day * DAY + 2 * HOUR + ctx.rng.integers(0, 5 * MINUTE)
              + np.sort(ctx.rng.integers(0, 40 * MINUTE, size=n)))
        src = np.full(n, src_host)
        accts = np.full(n, acct)
        smb_connect(ctx, ts, src, targets)
        lid = network_logon(ctx, ts, src, targets, accts, admin=True, duration_ns=20 * SECOND)
        share_access(ctx, ts + 30 * MS, src, targets, accts, lid, r"\\*\ADMIN$",
                     [(r"ccmsetup\ccmsetup.exe", WRITE)])
        share_access(ctx, ts + 200 * MS, src, targets, accts, lid, r"\\*\IPC$", [("svcctl", PIPE)])
        service_install(ctx, ts + 350 * MS, targets, accts, lid, *DEPLOY_SERVICE)
        process(ctx, ts + 500 * MS, targets, r"C:\Windows\ccmsetup\ccmsetup.exe", DEPLOY_SERVICE[1],
                SYSTEM_PROCS["services"], "system", domain="NT AUTHORITY", security=True)


def backup(ctx: Ctx) -> None:
    """BKP01 reads C$ of every server and DC each night at 23:00."""
    ent = ctx.ent
    src_host = int(ent.index("backup")[0])
    targets = np.r_[ent.servers, ent.index("dc"), ent.index("deploy")]
    acct = ctx.blocks.code(ent.service_accounts["backup"])
    for day in range(ctx.days):
        n = len(targets)
        ts = ctx.start_ns + day * DAY + 23 * HOUR + np.arange(n) * 4 * MINUTE + ctx.rng.integers(
            0, MINUTE, size=n)
        src = np.full(n, src_host)
        accts = np.full(n, acct)
        smb_connect(ctx, ts, src, targets)
        lid = network_logon(ctx, ts, src, targets, accts, admin=True, duration_ns=3 * MINUTE)
        share_access(ctx, ts + 30 * MS, src, targets, accts, lid, r"\\*\C$",
                     [(r"Data\export.bak", READ), (r"Windows\System32\config\RegBack", READ),
                      (r"inetpub\logs", READ)])


def it_admin_psexec(ctx: Ctx) -> None:
    """IT admins run Sysinternals PsExec against the servers they manage, a few times every
    working day, from their own workstation with their admin account (habitual administration)."""
    ent = ctx.ent
    for admin, ws in zip(ent.it_admins, ent.it_admin_hosts, strict=True):
        managed = ctx.rng.choice(ent.servers, size=max(2, (len(ent.servers) * 2) // 3), replace=False)
        n = int(ctx.rng.integers(3, 7)) * ctx.days
        ts = np.sort(work_times(ctx, n))
        dst = ctx.rng.choice(managed, size=n)
        src = np.full(n, ws)
        acct = np.full(n, ctx.blocks.code(admin))
        psexec(ctx, ts, src, dst, acct, admin_name=admin, service="PSEXESVC",
               command=r'cmd /c "ipconfig /all & systeminfo"')


def psexec(ctx: Ctx, ts: np.ndarray, src: np.ndarray, dst: np.ndarray, acct: np.ndarray, *,
           admin_name: str, service: str, command: str, auth: str = "Kerberos",
           pth: bool = False, domain: str | np.ndarray = "CORP",
           tool: str = r"C:\Tools\PsExec.exe", flags: str = "", source_logs: bool = True,
           child: str | np.ndarray = SYSTEM_PROCS["cmd"]) -> np.ndarray:
    """A Sysinternals-PsExec-style remote execution (optionally renamed service), both sides;
    ``child`` = the program PsExec runs on the target (cmd.exe, or per action as codes)."""
    n = len(ts)
    names = [ctx.ent.hosts[d] for d in dst.tolist()]
    exe = tool.rsplit("\\", 1)[-1]
    cmdline = ctx.codes([f"{exe} -accepteula {flags}\\\\{h} {command}" for h in names])
    if source_logs:
        process(ctx, ts - 300 * MS, src, tool, cmdline, SYSTEM_PROCS["cmd"], admin_name,
                security=True, lid=ctx.logon_ids(n))
        smb_connect(ctx, ts, src, dst)
    lid = network_logon(ctx, ts, src, dst, acct, admin=True, auth=auth, pth=pth, domain=domain,
                        duration_ns=ctx.rng.integers(20 * SECOND, 5 * MINUTE, size=n))
    share_access(ctx, ts + 30 * MS, src, dst, acct, lid, r"\\*\ADMIN$", [(f"{service}.exe", WRITE)],
                 domain=domain)
    pid = ctx.rng.integers(1000, 9999, size=n)
    pipes = [ctx.codes([f"{service}-{ctx.ent.hosts[s]}-{p}-{kind}"
                        for s, p in zip(src.tolist(), pid.tolist(), strict=True)])
             for kind in ("stdin", "stdout", "stderr")]
    share_access(ctx, ts + 200 * MS, src, dst, acct, lid, r"\\*\IPC$",
                 [("svcctl", PIPE), (service, PIPE)] + [(p, PIPE) for p in pipes], domain=domain)
    service_install(ctx, ts + 320 * MS, dst, acct, lid, service, f"%SystemRoot%\\{service}.exe",
                    domain=domain)
    image = f"C:\\Windows\\{service}.exe"
    process(ctx, ts + 400 * MS, dst, image, image, SYSTEM_PROCS["services"], "system",
            domain="NT AUTHORITY", security=True)
    process(ctx, ts + 600 * MS, dst, child, command, image, acct, domain=domain, lid=lid, security=True)
    return lid


def hard_negatives(ctx: Ctx) -> None:
    """Password guessing, loopback logons, local service installs, IPC$ discovery fan-out."""
    ent, rng = ctx.ent, ctx.rng
    # SMB password guessing: one external-looking IP, hundreds of 4625 against one host in minutes
    victim = int(rng.choice(ent.servers))
    n = int(rng.integers(300, 600))
    ts = work_times(ctx, 1)[0] + np.sort(rng.integers(0, 10 * MINUTE, size=n))
    letters = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8)
    names = ctx.codes([bytes(letters[rng.integers(0, 36, size=15)]).decode() for _ in range(n)])
    guesses = ctx.codes(["administrator", "admin", "test", "backup", "guest", "user1", "scanner"])
    ctx.emit(ts, np.full(n, victim), "Security", 4625, src_ip="185.220.101.34", src_host=names,
             dst_host=ctx.host_codes[victim], account=guesses[rng.integers(0, len(guesses), size=n)],
             account_domain=None, logon_type=3, auth_package="NTLM", logon_process="NtLmSsp",
             status="0xc000006d")
    # loopback network logons on servers (local services, JuicyPotato-like ANONYMOUS from ::1)
    srv = ent.servers
    k = len(srv) * ctx.days * 6
    host = rng.choice(srv, size=k)
    ts = ctx.start_ns + rng.integers(0, ctx.days * DAY, size=k)
    acct = ctx.codes(["svc_sql", "anonymous logon"])[rng.integers(0, 2, size=k)]
    ctx.emit(ts, host, "Security", 4624, src_host=ctx.host_codes[host],
             src_ip=ctx.codes(["127.0.0.1", "::1"])[rng.integers(0, 2, size=k)],
             dst_host=ctx.host_codes[host], account=acct, account_domain="CORP", logon_type=3,
             logon_id=ctx.logon_ids(k), auth_package="NTLM", logon_process="NtLmSsp", key_length=0)
    # local service installs (drivers, updaters): 7045 with no network logon
    k = max(3, len(ent.hosts) * ctx.days // 15)
    host = rng.choice(len(ent.hosts), size=k)
    pick = rng.integers(0, len(LOCAL_SERVICES), size=k)
    ts = ctx.start_ns + rng.integers(0, ctx.days * DAY, size=k)
    ctx.emit(ts, host, "System", 7045, service_name=ctx.codes([s for s, _ in LOCAL_SERVICES])[pick],
             service_image=ctx.codes([i for _, i in LOCAL_SERVICES])[pick], account="system")
    # IPC$-only discovery fan-out (inventory / SharpHound-like) from MON01 every morning
    mon = int(ent.index("monitor")[0])
    acct = ctx.blocks.code(ent.service_accounts["monitor"])
    targets = np.flatnonzero(np.asarray(ent.roles) != "monitor")
    for day in range(ctx.days):
        m = len(targets)
        ts = ctx.start_ns + day * DAY + 6 * HOUR + np.sort(rng.integers(0, 4 * MINUTE, size=m))
        src, accts = np.full(m, mon), np.full(m, acct)
        smb_connect(ctx, ts, src, targets, image=r"C:\Program Files\Inventory\agent.exe",
                    account="svc_inventory", domain="CORP")
        lid = network_logon(ctx, ts, src, targets, accts, duration_ns=2 * SECOND)
        share_access(ctx, ts + 20 * MS, src, targets, accts, lid, r"\\*\IPC$",
                     [("srvsvc", PIPE), ("samr", PIPE), ("lsarpc", PIPE)])


def noise(ctx: Ctx, n: int) -> None:
    """User applications starting and talking to the internet (Sysmon 1 / 3 on workstations)."""
    ws = ctx.rng.choice(ctx.ent.workstations, size=n)
    ts = work_times(ctx, n)
    user = ctx.user_codes[ctx.ent.workstation_user[ws]]
    app = ctx.rng.integers(0, len(APPS), size=n)
    start = ctx.rng.random(n) < 0.5
    images = ctx.codes([a for a, _ in APPS])
    cmds = ctx.codes([c for _, c in APPS])
    process(ctx, ts[start], ws[start], images[app[start]], cmds[app[start]], EXPLORER, user[start])
    net = ~start
    m = int(net.sum())
    ext = ctx.codes([f"52.{k}.{3 * k % 250}.{7 * k % 250}" for k in range(1, 60)])
    ctx.emit(ts[net], ws[net], "Sysmon", 3, src_host=ctx.host_codes[ws[net]],
             src_ip=ctx.ip(ts[net], ws[net]), dst_ip=ext[ctx.rng.integers(0, len(ext), size=m)],
             dst_port=443, process=images[app[net]], account=user[net], account_domain="CORP")


#: Events per unit of the scalable activities (measured on the generator; used for budgeting).
EVENTS_PER = {"file": 5.06, "dc": 6.0, "noise": 0.66}
