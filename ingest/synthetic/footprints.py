"""Building blocks of the tool shapes (:mod:`ingest.synthetic.tools`): what one step of a tool leaves
(a Kerberos ticket, a network logon, a TCP connection, a share access, a dropped file, a service, a
process, named pipes, a scheduled task) on the source, the target and the domain controller, as raw
Windows records and Defender (MDE) advanced-hunting rows; the :class:`Hop` and :class:`Recorder`
they write to, and the Windows names (domain, channels, images, access masks) they use.

The records use Windows' own field names (``IpAddress``, ``TargetObject``, ``TaskContent``...) and
channel names, like the readers' intermediate form, so :func:`ingest.records.normalize_records`
turns them into canonical rows with whatever field picks the readers have; event ids the readers do
not keep (yet) are kept here, because the coverage matrix asks what a telemetry profile *holds*,
not only what latgraph reads. Defender rows have the advanced-hunting columns of their tables and
go through :func:`ingest.formats.mde_table.to_windows` like an exported file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

DNS_DOMAIN = "corp.example.com"
NETBIOS_DOMAIN = "CORP"
MS = 1_000_000
SECOND = 1000 * MS

#: Windows channel names of the records (canonical names: :data:`ingest.winevents.CHANNELS`).
SECURITY, SYSTEM, SYSMON = "Security", "System", "Microsoft-Windows-Sysmon/Operational"
TASKS = "Microsoft-Windows-TaskScheduler/Operational"
WINRM = "Microsoft-Windows-WinRM/Operational"

WIN = r"C:\Windows"
SYS32 = rf"{WIN}\System32"
#: System32 images; PIVOT is the attacker's implant on the source (a beacon living in rundll32).
SERVICES, SVCHOST, CMD, WSMPROVHOST, MMC, LSASS, PIVOT = (
    rf"{SYS32}\{exe}.exe"
    for exe in ("services", "svchost", "cmd", "wsmprovhost", "mmc", "lsass", "rundll32"))
POWERSHELL = rf"{SYS32}\WindowsPowerShell\v1.0\powershell.exe"
WMIPRVSE = rf"{SYS32}\wbem\WmiPrvSE.exe"
SERVICE_KEY = r"HKLM\System\CurrentControlSet\Services"
STD = ("stdin", "stdout", "stderr")
PIPE_MASK, READ_MASK, WRITE_MASK, DELETE_MASK = "0x12019f", "0x120089", "0x2", "0x10080"


@dataclass(frozen=True)
class Hop:
    """One use of a tool: ``src`` runs it against ``dst`` as ``account`` at ``t`` (ns since epoch).

    ``dc`` is the domain controller that authenticates the account; ``rng`` draws the tool's random
    names (service names, pipe suffixes, output files). ``operator`` is the user the implant on
    ``src`` runs as (the phished user): a proxied tool's connections leave from the implant's
    process, owned by that user, while the stolen ``account`` travels inside the protocol;
    ``None`` = ``account`` (the operator typed the command as that account).
    """

    src: str
    src_ip: str
    dst: str
    dst_ip: str
    dc: str
    account: str
    t: int
    rng: np.random.Generator
    operator: str | None = None


class Recorder:
    """Collects raw Windows records (:attr:`windows`) and Defender rows (:attr:`mde`)."""

    def __init__(self) -> None:
        self.windows: list[dict[str, Any]] = []
        self.mde: list[dict[str, Any]] = []

    def win(self, t: int, host: str, channel: str, event_id: int, **fields: Any) -> None:
        """A Windows event logged on ``host`` (short name) at ``t`` (ns)."""
        self.windows.append({"EventID": event_id, "Channel": channel, "Computer": fqdn(host),
                             "TimeCreated": iso(t), **fields})

    def defender(self, t: int, host: str, action: str, **cols: Any) -> None:
        """A Defender advanced-hunting row (``DeviceName`` is the lower-case FQDN)."""
        self.mde.append({"Timestamp": iso(t), "DeviceName": fqdn(host).lower(), "ActionType": action,
                         "ReportId": len(self.mde) + 1, **cols})


def fqdn(host: str) -> str:
    """``SRV01`` -> ``SRV01.corp.example.com``."""
    return f"{host}.{DNS_DOMAIN}"


def iso(t: int) -> str:
    """ns since epoch -> ISO 8601 UTC with 100 ns precision (Windows SystemTime)."""
    return pd.Timestamp(t // 100 * 100, unit="ns", tz="UTC").isoformat().replace("+00:00", "Z")


def letters(rng: np.random.Generator, k: int, alphabet: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            "abcdefghijklmnopqrstuvwxyz") -> str:
    """``k`` random characters of ``alphabet``."""
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), size=k))


def _lid(rng: np.random.Generator) -> str:
    return hex(int(rng.integers(0x1000000, 0x10000000)))


# ---- building blocks ----------------------------------------------------------------------------


def kerberos_tgt(r: Recorder, h: Hop, t: int) -> None:
    """4768 on the DC: a TGT for the account, asked from the source's IP (new logon session)."""
    r.win(t, h.dc, SECURITY, 4768, TargetUserName=h.account, TargetDomainName=DNS_DOMAIN.upper(),
          ServiceName="krbtgt", IpAddress=f"::ffff:{h.src_ip}", IpPort=str(49000 + t % 9000),
          Status="0x0", TicketEncryptionType="0x12", PreAuthType="2")


def kerberos_ticket(r: Recorder, h: Hop, t: int) -> None:
    """4769 on the DC: a service ticket for the target's computer account (cifs/, HOST/, RPCSS/,
    HTTP/ SPNs all map to ``DST$``; 4769 logs the account, not the SPN)."""
    r.win(t, h.dc, SECURITY, 4769, TargetUserName=f"{h.account}@{DNS_DOMAIN.upper()}",
          TargetDomainName=DNS_DOMAIN.upper(), ServiceName=f"{h.dst}$", IpAddress=f"::ffff:{h.src_ip}",
          IpPort=str(50000 + t % 9000), Status="0x0", TicketOptions="0x40810000",
          TicketEncryptionType="0x12")


def logon(r: Recorder, h: Hop, t: int, *, auth: str, workstation: str | None, pth: bool = False,
          duration: int = 20 * SECOND) -> str:
    """A network logon (type 3) on the target, with its DC-side authentication; returns the logon id.

    Target: 4624 (+4672 admin, 4634 at the end), Defender LogonSuccess. DC: 4769 (Kerberos) or
    4776 (NTLM with a domain account; ``Workstation`` is what the client sent).
    """
    lid = _lid(h.rng)
    ntlm = auth == "NTLM"
    if ntlm:
        r.win(t - 4 * MS, h.dc, SECURITY, 4776, PackageName="MICROSOFT_AUTHENTICATION_PACKAGE_V1_0",
              TargetUserName=h.account, Workstation=workstation or "", Status="0x0")
    else:
        kerberos_ticket(r, h, t - 6 * MS)
    port = str(49152 + int(h.rng.integers(0, 16000)))
    r.win(t, h.dst, SECURITY, 4624, SubjectUserSid="S-1-0-0", SubjectUserName="-", SubjectDomainName="-",
          SubjectLogonId="0x0", TargetUserName=h.account, TargetDomainName=NETBIOS_DOMAIN,
          TargetLogonId=lid, LogonType="3", LogonProcessName="NtLmSsp " if ntlm else "Kerberos",
          AuthenticationPackageName=auth, WorkstationName=(workstation or "-") if ntlm else "-",
          LmPackageName="NTLM V2" if ntlm else "-", KeyLength="0" if (pth or not ntlm) else "128",
          ProcessName="-", IpAddress=h.src_ip, IpPort=port, ImpersonationLevel="%%1833")
    r.win(t, h.dst, SECURITY, 4672, SubjectUserName=h.account, SubjectDomainName=NETBIOS_DOMAIN,
          SubjectLogonId=lid, PrivilegeList="SeDebugPrivilege SeBackupPrivilege SeImpersonatePrivilege")
    r.win(t + duration, h.dst, SECURITY, 4634, TargetUserName=h.account, TargetDomainName=NETBIOS_DOMAIN,
          TargetLogonId=lid, LogonType="3")
    r.defender(t, h.dst, "LogonSuccess", AccountName=h.account, AccountDomain=NETBIOS_DOMAIN.lower(),
               LogonType="Network", RemoteIP=h.src_ip, RemotePort=port,
               RemoteDeviceName=workstation if ntlm else None, Protocol=auth, LogonId=int(lid, 16),
               InitiatingProcessFolderPath=LSASS.lower())
    return lid


def connect(r: Recorder, h: Hop, t: int, port: int, *, image: str = "System", account: str = "system",
            server_image: str = "System") -> None:
    """A TCP connection ``src`` -> ``dst``:``port``: Sysmon 3 on both ends, Defender rows on both."""
    sport = str(49152 + int(h.rng.integers(0, 16000)))
    user = r"NT AUTHORITY\SYSTEM" if account == "system" else f"{NETBIOS_DOMAIN}\\{account}"
    r.win(t, h.src, SYSMON, 3, Image=image, User=user, Protocol="tcp", Initiated="true",
          SourceIp=h.src_ip, SourceHostname=fqdn(h.src), SourcePort=sport, DestinationIp=h.dst_ip,
          DestinationHostname=fqdn(h.dst), DestinationPort=str(port))
    r.win(t + 2 * MS, h.dst, SYSMON, 3, Image=server_image, User=r"NT AUTHORITY\SYSTEM", Protocol="tcp",
          Initiated="false", SourceIp=h.src_ip, SourceHostname=fqdn(h.src), SourcePort=sport,
          DestinationIp=h.dst_ip, DestinationHostname=fqdn(h.dst), DestinationPort=str(port))
    acct_dom, _, acct = user.rpartition("\\")
    r.defender(t, h.src, "ConnectionSuccess", LocalIP=h.src_ip, LocalPort=sport, RemoteIP=h.dst_ip,
               RemotePort=str(port), Protocol="Tcp", InitiatingProcessFolderPath=image,
               InitiatingProcessAccountDomain=acct_dom, InitiatingProcessAccountName=acct)
    r.defender(t + 2 * MS, h.dst, "InboundConnectionAccepted", LocalIP=h.dst_ip, LocalPort=str(port),
               RemoteIP=h.src_ip, RemotePort=sport, Protocol="Tcp", InitiatingProcessFolderPath=server_image,
               InitiatingProcessAccountDomain="nt authority", InitiatingProcessAccountName="system")


def share(r: Recorder, h: Hop, t: int, lid: str, name: str, files: list[tuple[str, str]] = (),
          *, src_ip: str | None = None) -> None:
    """5140 for ``\\\\*\\name`` then one 5145 per (RelativeTargetName, AccessMask), 20 ms apart."""
    common = {"SubjectUserName": h.account, "SubjectDomainName": NETBIOS_DOMAIN, "SubjectLogonId": lid,
              "ObjectType": "File", "IpAddress": src_ip or h.src_ip, "IpPort": "0",
              "ShareName": f"\\\\*\\{name}"}
    r.win(t, h.dst, SECURITY, 5140, AccessMask="0x1", **common)
    for k, (target, mask) in enumerate(files, start=1):
        r.win(t + k * 20 * MS, h.dst, SECURITY, 5145, RelativeTargetName=target, AccessMask=mask, **common)


def dropped(r: Recorder, h: Hop, t: int, path: str, share_name: str = "ADMIN$") -> None:
    """A file written over SMB: Sysmon 11 by ``System`` and Defender FileCreated on the target."""
    r.win(t, h.dst, SYSMON, 11, Image="System", TargetFilename=path, User=r"NT AUTHORITY\SYSTEM")
    r.defender(t, h.dst, "FileCreated", FolderPath=path, FileName=path.rsplit("\\", 1)[-1],
               InitiatingProcessFolderPath="System", InitiatingProcessAccountDomain="nt authority",
               InitiatingProcessAccountName="system", RequestSourceIP=h.src_ip, RequestProtocol="SMB",
               RequestAccountName=h.account, RequestAccountDomain=NETBIOS_DOMAIN, ShareName=share_name)


def service(r: Recorder, h: Hop, t: int, lid: str, name: str, image: str, *,
            display: str | None = None) -> None:
    """A service created through the SCM on the target: 7045, 4697, Sysmon 12/13 on the service key
    by services.exe, Defender ServiceInstalled and RegistryValueSet."""
    key = rf"{SERVICE_KEY}\{name}"
    r.win(t, h.dst, SYSMON, 12, EventType="CreateKey", Image=SERVICES, TargetObject=key,
          User=r"NT AUTHORITY\SYSTEM")
    r.win(t + 1 * MS, h.dst, SYSMON, 13, EventType="SetValue", Image=SERVICES,
          TargetObject=rf"{key}\ImagePath", Details=image, User=r"NT AUTHORITY\SYSTEM")
    r.win(t + 2 * MS, h.dst, SECURITY, 4697, SubjectUserName=h.account, SubjectDomainName=NETBIOS_DOMAIN,
          SubjectLogonId=lid, ServiceName=name, ServiceFileName=image, ServiceType="0x10",
          ServiceStartType="3", ServiceAccount="LocalSystem")
    r.win(t + 20 * MS, h.dst, SYSTEM, 7045, ServiceName=display or name, ImagePath=image,
          ServiceType="user mode service", StartType="demand start", AccountName="LocalSystem")
    r.defender(t + 20 * MS, h.dst, "ServiceInstalled", FolderPath=image,
               FileName=image.split("\\")[-1].split(" ")[0], InitiatingProcessFolderPath=SERVICES.lower(),
               AdditionalFields={"ServiceName": name, "ServiceStartType": "DemandStart",
                                 "ServiceType": "Win32OwnProcess", "ServiceAccount": "LocalSystem"})
    mde_key = rf"HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\{name}"    # how Defender spells it
    r.defender(t + 1 * MS, h.dst, "RegistryValueSet", RegistryKey=mde_key, RegistryValueName="ImagePath",
               RegistryValueData=image, InitiatingProcessFolderPath=SERVICES.lower())


def process(r: Recorder, t: int, host: str, image: str, command_line: str, parent: str, *,
            user: str = "system", lid: str = "0x3e7", parent_cmd: str | None = None) -> None:
    """A process start: Sysmon 1, 4688 (creator = the machine account for SYSTEM's children, the new
    process's user in Target*), Defender ProcessCreated."""
    system = user == "system"
    dom = "NT AUTHORITY" if system else NETBIOS_DOMAIN
    r.win(t, host, SYSMON, 1, Image=image, CommandLine=command_line, CurrentDirectory=rf"{SYS32}\\",
          User=f"{dom}\\{'SYSTEM' if system else user}", LogonId=lid, IntegrityLevel="System" if system
          else "High", ParentImage=parent, ParentCommandLine=parent_cmd or parent)
    r.win(t, host, SECURITY, 4688, SubjectUserName=f"{host}$", SubjectDomainName=NETBIOS_DOMAIN,
          SubjectLogonId="0x3e7", NewProcessName=image, CommandLine=command_line, ParentProcessName=parent,
          TargetUserName="-" if system else user, TargetDomainName="-" if system else NETBIOS_DOMAIN,
          TargetLogonId="0x0" if system else lid, TokenElevationType="%%1936",
          MandatoryLabel="S-1-16-16384" if system else "S-1-16-12288")
    r.defender(t, host, "ProcessCreated", FolderPath=image, FileName=image.rsplit("\\", 1)[-1],
               ProcessCommandLine=command_line, AccountDomain=dom.lower(),
               AccountName="system" if system else user, InitiatingProcessFolderPath=parent.lower(),
               InitiatingProcessFileName=parent.rsplit("\\", 1)[-1],
               InitiatingProcessCommandLine=parent_cmd or parent.rsplit("\\", 1)[-1])


def pipes(r: Recorder, t: int, host: str, names: list[str], image: str) -> None:
    """Named pipes created by ``image`` (Sysmon 17 / Defender NamedPipeEvent) and connected by the
    remote client (Sysmon 18, the SMB server ``System`` process)."""
    for k, name in enumerate(names):
        at = t + k * 3 * MS
        r.win(at, host, SYSMON, 17, EventType="CreatePipe", PipeName=f"\\{name}", Image=image,
              User=r"NT AUTHORITY\SYSTEM")
        r.win(at + 1 * MS, host, SYSMON, 18, EventType="ConnectPipe", PipeName=f"\\{name}", Image="System",
              User=r"NT AUTHORITY\SYSTEM")
        r.defender(at, host, "NamedPipeEvent", InitiatingProcessFolderPath=image.lower(),
                   InitiatingProcessAccountDomain="nt authority", InitiatingProcessAccountName="system",
                   AdditionalFields={"PipeName": f"\\Device\\NamedPipe\\{name}",
                                     "FileOperation": "File created"})


def source_command(r: Recorder, h: Hop, t: int, image: str, command_line: str, *,
                   parent: str = CMD, explicit: bool = True) -> None:
    """The operator's command on the source (Sysmon 1, 4688, Defender) and, when the tool passes
    credentials, 4648 naming the target."""
    lid = _lid(h.rng)
    process(r, t, h.src, image, command_line, parent, user=h.account, lid=lid)
    if explicit:
        r.win(t + 80 * MS, h.src, SECURITY, 4648, SubjectUserName=h.account, SubjectDomainName=NETBIOS_DOMAIN,
              SubjectLogonId=lid, TargetUserName=h.account, TargetDomainName=NETBIOS_DOMAIN,
              TargetServerName=h.dst, TargetInfo=h.dst, ProcessName=image, IpAddress=h.dst_ip, IpPort="445")


def task(r: Recorder, h: Hop, t: int, lid: str, name: str, command: str, arguments: str, *,
         delete_after: int | None = 3 * SECOND) -> None:
    """A scheduled task registered remotely: 4698 (and 4699 when deleted), Task Scheduler 106/200,
    Defender ScheduledTaskCreated; the action runs under ``svchost.exe -k netsvcs -p -s Schedule``."""
    content = ('<?xml version="1.0" encoding="UTF-16"?><Task version="1.2">'
               '<Principals><Principal id="LocalSystem">'
               f"<UserId>S-1-5-18</UserId><RunLevel>HighestAvailable</RunLevel></Principal></Principals>"
               f"<Actions Context=\"LocalSystem\"><Exec><Command>{command}</Command>"
               f"<Arguments>{arguments}</Arguments></Exec></Actions></Task>")
    subject = {"SubjectUserName": h.account, "SubjectDomainName": NETBIOS_DOMAIN, "SubjectLogonId": lid}
    r.win(t, h.dst, SECURITY, 4698, TaskName=f"\\{name}", TaskContent=content, **subject)
    r.win(t + 5 * MS, h.dst, TASKS, 106, TaskName=f"\\{name}", UserContext=f"{NETBIOS_DOMAIN}\\{h.account}")
    r.win(t + 400 * MS, h.dst, TASKS, 200, TaskName=f"\\{name}", ActionName=command)
    r.defender(t, h.dst, "ScheduledTaskCreated", InitiatingProcessFolderPath=SVCHOST.lower(),
               AdditionalFields={"TaskName": f"\\{name}", "TaskContent": content})
    process(r, t + 420 * MS, h.dst, command if "\\" in command else rf"{SYS32}\{command}",
            f"{command} {arguments}", SVCHOST,
            parent_cmd=r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule")
    if delete_after is not None:
        r.win(t + delete_after, h.dst, SECURITY, 4699, TaskName=f"\\{name}", **subject)
