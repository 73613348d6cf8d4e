"""Event templates: what Windows logs for one action, as canonical columns, for many actions at once.

Every function takes arrays (one element per action: times in ns, host indices, account codes...)
and adds the events that action leaves, with the field semantics of :mod:`ingest.schema` (what the
readers produce from real logs):

* 4624 type 3 on the target: ``src_ip`` = IpAddress; ``src_host`` = WorkstationName, which Windows
  fills for NTLM and leaves ``-`` for Kerberos (so Kerberos logons carry only the IP).
* 5140/5145/4697/4672/4688 carry SubjectLogonId = the 4624 TargetLogonId of the session; 7045 has
  no logon id and lands a few hundred ms after the logon.
* 4648 and outbound Sysmon 3 are logged on the *source* host and name the destination.
* Events of hosts whose logs were not collected, and Sysmon events of hosts without Sysmon, are
  dropped here, so the generator shows the gaps a real case has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ingest.synthetic.blocks import MISSING, Blocks
from ingest.synthetic.enterprise import DOMAIN, Enterprise

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
MS = 1_000_000

SYSTEM_PROCS = {"services": r"C:\Windows\System32\services.exe",
                "cmd": r"C:\Windows\System32\cmd.exe",
                "wmiprvse": r"C:\Windows\System32\wbem\WmiPrvSE.exe"}


@dataclass
class Ctx:
    """Everything the templates need: the accumulator, the enterprise, codes, the clock."""

    blocks: Blocks
    ent: Enterprise
    rng: np.random.Generator
    start_ns: int
    days: int
    host_codes: np.ndarray        # host index -> vocab code
    ip_codes: np.ndarray          # [day, host] -> vocab code of the IP
    user_codes: np.ndarray        # user index -> vocab code
    machine_codes: np.ndarray     # host index -> vocab code of its machine account (ws0001$)

    def ip(self, ts: np.ndarray, host: np.ndarray) -> np.ndarray:
        """IP code of each host at each time (workstation leases change per day)."""
        day = np.clip((np.asarray(ts) - self.start_ns) // DAY, 0, self.days - 1)
        return self.ip_codes[day, host]

    def logon_ids(self, n: int) -> np.ndarray:
        """Fresh session ids as Windows prints them (7 hex digits, e.g. 0x3d9c2f1)."""
        return self.rng.integers(0x1000000, 0x10000000, size=n, dtype=np.int64)

    def emit(self, ts: np.ndarray, host: np.ndarray, channel: str, event_id: int,
             **cols: Any) -> None:
        """Add events logged on ``host`` (indices), dropping uncollected hosts / missing Sysmon."""
        ts = np.asarray(ts, dtype=np.int64)
        host = np.broadcast_to(np.asarray(host), ts.shape)
        keep = self.ent.collected[host]
        if channel == "Sysmon":
            keep = keep & self.ent.has_sysmon[host]
        if not keep.all():
            cols = {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in cols.items()}
            ts, host = ts[keep], host[keep]
        self.blocks.add(ts, host=self.host_codes[host], channel=channel, event_id=event_id, **cols)

    def codes(self, values: list[str]) -> np.ndarray:
        """Vocabulary codes of a list of strings."""
        return self.blocks.codes(values)


def network_logon(ctx: Ctx, ts: np.ndarray, src: np.ndarray, dst: np.ndarray, account: np.ndarray,
                  *, auth: str = "Kerberos", admin: bool | np.ndarray = False,
                  domain: str | np.ndarray = DOMAIN, pth: bool = False,
                  duration_ns: np.ndarray | int = 5 * SECOND, src_ip: np.ndarray | None = None,
                  workstation: np.ndarray | None = None) -> np.ndarray:
    """4624 type 3 (+4672 for admins) on ``dst`` and 4634 when the session ends.

    Args:
        src: source host indices (used for the IP and, for NTLM, the WorkstationName).
        account: vocab codes of TargetUserName (lower-case).
        auth: "Kerberos" or "NTLM"; NTLM logs the client's name, Kerberos does not.
        pth: NTLM with KeyLength 0 (pass-the-hash shape); otherwise 128 for NTLM, 0 for Kerberos.
        src_ip / workstation: override the IP / WorkstationName codes (spoofed or external).

    Returns:
        The TargetLogonId of each session (int64), to link the follow-up events.
    """
    n = len(ts)
    lid = ctx.logon_ids(n)
    ip = ctx.ip(ts, src) if src_ip is None else src_ip
    ntlm = auth == "NTLM"
    if workstation is None:
        workstation = ctx.host_codes[src] if ntlm else MISSING
    common = {"dst_host": ctx.host_codes[dst], "account": account, "account_domain": domain,
              "logon_type": 3, "logon_id": lid}
    ctx.emit(ts, dst, "Security", 4624, src_ip=ip, src_host=workstation,
             auth_package=auth, logon_process="NtLmSsp" if ntlm else "Kerberos",
             key_length=0 if (pth or not ntlm) else 128, **common)
    admin_mask = np.broadcast_to(np.asarray(admin), (n,))
    if admin_mask.any():
        sel = admin_mask
        ctx.emit(ts[sel], dst[sel], "Security", 4672, account=account[sel], dst_host=ctx.host_codes[dst[sel]],
                 account_domain=domain if isinstance(domain, str) else domain[sel],
                 logon_id=lid[sel])
    end = ts + np.asarray(duration_ns, dtype=np.int64)
    ctx.emit(end, dst, "Security", 4634, **common)
    return lid


def share_access(ctx: Ctx, ts: np.ndarray, src: np.ndarray, dst: np.ndarray, account: np.ndarray,
                 lid: np.ndarray, share: str, files: list[tuple[str | np.ndarray, int]] = (),
                 *, domain: str | np.ndarray = DOMAIN, src_ip: np.ndarray | None = None,
                 step_ns: int = 40 * MS) -> None:
    """5140 (share opened) then one 5145 per (RelativeTargetName, AccessMask) on ``dst``.

    ``share`` is the share name as logged (``\\\\*\\ADMIN$``); file names are strings or per-action
    code arrays. 5145 rows follow the 5140 by ``step_ns`` each.
    """
    ip = ctx.ip(ts, src) if src_ip is None else src_ip
    common = {"src_ip": ip, "dst_host": ctx.host_codes[dst], "account": account,
              "account_domain": domain, "logon_id": lid, "share_name": share}
    ctx.emit(ts, dst, "Security", 5140, access_mask=1, **common)
    for k, (name, mask) in enumerate(files, start=1):
        ctx.emit(ts + k * step_ns, dst, "Security", 5145, target_name=name, access_mask=mask, **common)


def service_install(ctx: Ctx, ts: np.ndarray, dst: np.ndarray, installer: np.ndarray,
                    lid: np.ndarray, name: str | np.ndarray, image: str | np.ndarray,
                    *, security: bool = True, domain: str | np.ndarray = DOMAIN) -> None:
    """7045 in System (no logon id, ~300 ms after the logon) and 4697 in Security (same session).

    ``installer`` is the account that created the service (4697 SubjectUserName); the service runs
    as LocalSystem (7045 AccountName / 4697 ServiceAccount).
    """
    ctx.emit(ts, dst, "System", 7045, service_name=name, service_image=image, account="system")
    if security:
        ctx.emit(ts + 2 * MS, dst, "Security", 4697, service_name=name, service_image=image,
                 account="system", subject_account=installer, account_domain=domain,
                 logon_id=lid)


def process(ctx: Ctx, ts: np.ndarray, host: np.ndarray, image: str | np.ndarray,
            command_line: str | np.ndarray, parent: str | np.ndarray, account: str | np.ndarray,
            *, domain: str | np.ndarray = DOMAIN, lid: np.ndarray | int = 0x3E7,
            security: bool = False) -> None:
    """Sysmon 1 on hosts with Sysmon; 4688 too when ``security`` (audit process creation).

    Sysmon 1 has no SubjectLogonId (its LogonId field is not read), 4688 carries ``lid``.
    """
    cols = {"process": image, "command_line": command_line, "parent_process": parent,
            "account": account, "account_domain": domain}
    ctx.emit(ts, host, "Sysmon", 1, **cols)
    if security:
        ctx.emit(ts, host, "Security", 4688, subject_account=account, logon_id=lid, **cols)


def smb_connect(ctx: Ctx, ts: np.ndarray, src: np.ndarray, dst: np.ndarray,
                *, image: str | np.ndarray = "System", account: str | np.ndarray = "system",
                domain: str | np.ndarray = "NT AUTHORITY", port: int = 445) -> None:
    """Outbound Sysmon 3 on the source host to ``dst``:445 (SMB client traffic is PID 4 "System")."""
    ctx.emit(ts - 5 * MS, src, "Sysmon", 3, src_host=ctx.host_codes[src], src_ip=ctx.ip(ts, src),
             dst_host=ctx.host_codes[dst], dst_ip=ctx.ip(ts, dst), dst_port=port, process=image,
             account=account, account_domain=domain)


def explicit_creds(ctx: Ctx, ts: np.ndarray, src: np.ndarray, dst: np.ndarray, account: np.ndarray,
                   subject: np.ndarray, image: str | np.ndarray, *,
                   domain: str | np.ndarray = DOMAIN) -> None:
    """4648 on the source: ``subject`` used ``account``'s credentials towards ``dst``."""
    ctx.emit(ts - 20 * MS, src, "Security", 4648, src_host=ctx.host_codes[src],
             dst_host=ctx.host_codes[dst], account=account, account_domain=domain,
             subject_account=subject, logon_id=ctx.logon_ids(len(ts)), process=image)
