"""Per-tool event shapes: what each way of running code on another host leaves, on the source, the
target and the domain controller, as raw Windows records and Defender (MDE) advanced-hunting rows.

Shapes come from the tools' documented behaviour and public recordings (EVTX-ATTACK-SAMPLES,
EVTX-to-MITRE-Attack, OTRF/Mordor, DeepBlueCLI; see ``docs/simulate.md``, "Tool shapes"). One
:class:`Hop` is one use of one tool from ``src`` to ``dst``; :data:`TOOLS` holds every tool.
The building blocks (a logon, a connection, a service...) and the record form are in
:mod:`ingest.synthetic.footprints`; their names are re-exported here.

Examples:
    >>> import numpy as np
    >>> rec = Recorder()
    >>> hop = Hop("WS0001", "10.20.0.5", "SRV01", "10.10.0.11", "DC01", "da_anna", 0,
    ...           np.random.default_rng(1))
    >>> TOOLS["psexec"].emit(rec, hop)
    >>> sorted({r["EventID"] for r in rec.windows if r["Computer"].lower().startswith("srv01")})[:4]
    [1, 3, 11, 12]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingest.synthetic.footprints import (
    CMD,
    DELETE_MASK,
    DNS_DOMAIN,
    LSASS,
    MMC,
    MS,
    NETBIOS_DOMAIN,
    PIPE_MASK,
    PIVOT,
    POWERSHELL,
    READ_MASK,
    SECOND,
    SECURITY,
    SERVICE_KEY,
    SERVICES,
    STD,
    SVCHOST,
    SYS32,
    SYSMON,
    SYSTEM,
    TASKS,
    WIN,
    WINRM,
    WMIPRVSE,
    WRITE_MASK,
    WSMPROVHOST,
    Hop,
    Recorder,
    _lid,
    connect,
    dropped,
    fqdn,
    iso,
    kerberos_tgt,
    kerberos_ticket,
    letters,
    logon,
    pipes,
    process,
    service,
    share,
    source_command,
    task,
)

#: The tools and their building blocks (re-exported from :mod:`ingest.synthetic.footprints`).
__all__ = [
    "CMD", "DELETE_MASK", "DNS_DOMAIN", "LSASS", "MMC", "MS", "NETBIOS_DOMAIN", "PIPE_MASK", "PIVOT",
    "POWERSHELL", "READ_MASK", "SECOND", "SECURITY", "SERVICES", "SERVICE_KEY", "STD", "SVCHOST",
    "SYS32", "SYSMON", "SYSTEM", "TASKS", "TOOLS", "WIN", "WINRM", "WMIPRVSE", "WRITE_MASK",
    "WSMPROVHOST", "Hop", "Recorder", "Tool", "connect", "copy_wmic", "cs_psexec", "cs_psexec_psh",
    "dropped", "fqdn", "impacket_atexec", "impacket_dcomexec", "impacket_psexec", "impacket_smbexec",
    "impacket_wmiexec", "iso", "kerberos_tgt", "kerberos_ticket", "letters", "logon", "msf_psexec",
    "msf_psexec_psh", "netexec", "paexec", "pipes", "process", "psexec", "remcom", "sc_create",
    "schtasks", "service", "share", "source_command", "task", "winrm",
]

# ---- the tools ----------------------------------------------------------------------------------


def _svc_exe_tool(r: Recorder, h: Hop, *, auth: str, workstation: str | None, pth: bool, exe_rel: str,
                  name: str, image: str, process_image: str, pipe_names: list[str],
                  child: tuple[str, str] | None, display: str | None = None, client: str = "System") -> None:
    """The PsExec family: write a service binary to ADMIN$, create and start it through svcctl,
    talk to it over named pipes; the service starts the command. ``client`` opens the SMB
    connection on the source (``System`` for Windows' SMB client, the pivot for proxied tools)."""
    t = h.t
    _client_connect(r, h, t - 8 * MS, 445, client)
    lid = logon(r, h, t, auth=auth, workstation=workstation, pth=pth, duration=40 * SECOND)
    share(r, h, t + 10 * MS, lid, "ADMIN$", [(exe_rel, WRITE_MASK)])
    dropped(r, h, t + 40 * MS, rf"{WIN}\{exe_rel}")
    share(r, h, t + 120 * MS, lid, "IPC$", [("svcctl", PIPE_MASK)] + [(p, PIPE_MASK) for p in pipe_names])
    service(r, h, t + 200 * MS, lid, name, image, display=display)
    process(r, t + 260 * MS, h.dst, process_image, process_image, SERVICES, parent_cmd=SERVICES)
    pipes(r, t + 280 * MS, h.dst, pipe_names, process_image)
    if child is not None:
        process(r, t + 500 * MS, h.dst, child[0], child[1], process_image, user=h.account, lid=lid)


def psexec(r: Recorder, h: Hop) -> None:
    """Sysinternals PsExec: PSEXESVC.exe to ADMIN$, service PSEXESVC, pipes PSEXESVC-SRC-PID-std*."""
    pid = int(h.rng.integers(1000, 9999))
    kerberos_tgt(r, h, h.t - 400 * MS)
    source_command(r, h, h.t - 300 * MS, r"C:\Tools\PsExec64.exe",
                   rf"PsExec64.exe -accepteula \\{h.dst} -u {NETBIOS_DOMAIN}\{h.account} -p ******** "
                   "-s cmd /c whoami")
    r.win(h.t - 280 * MS, h.src, SYSMON, 13, EventType="SetValue", Image=r"C:\Tools\PsExec64.exe",
          TargetObject=r"HKU\S-1-5-21-1004\Software\Sysinternals\PsExec\EulaAccepted",
          Details="DWORD (0x00000001)")
    _svc_exe_tool(r, h, auth="Kerberos", workstation=h.src, pth=False, exe_rel="PSEXESVC.exe",
                  name="PSEXESVC",
                  image=r"%SystemRoot%\PSEXESVC.exe", process_image=rf"{WIN}\PSEXESVC.exe",
                  pipe_names=["PSEXESVC"] + [f"PSEXESVC-{h.src}-{pid}-{k}" for k in STD],
                  child=(CMD, "cmd /c whoami"))


def paexec(r: Recorder, h: Hop) -> None:
    """PAExec: PAExec-PID-SRC.exe to ADMIN$, service of that name, pipes PAExecIn/Out/Err SRC PID."""
    pid = int(h.rng.integers(1000, 9999))
    name = f"PAExec-{pid}-{h.src}"
    kerberos_tgt(r, h, h.t - 400 * MS)
    source_command(r, h, h.t - 300 * MS, r"C:\Tools\paexec.exe",
                   rf"paexec.exe \\{h.dst} -u {NETBIOS_DOMAIN}\{h.account} -p ******** "
                   "-s cmd /c ipconfig /all")
    _svc_exe_tool(r, h, auth="Kerberos", workstation=h.src, pth=False, exe_rel=f"{name}.exe", name=name,
                  image=rf"%SystemRoot%\{name}.exe", process_image=rf"{WIN}\{name}.exe",
                  pipe_names=[f"{name}.exe"] + [f"PAExec{k}{h.src}{pid}" for k in ("In", "Out", "Err")],
                  child=(CMD, "cmd /c ipconfig /all"))


def remcom(r: Recorder, h: Hop) -> None:
    """RemCom: RemComSvc.exe to ADMIN$\\System32, service RemComSvc, pipes RemCom_communicaton and
    RemCom_std{in,out,err}<machine><pid>."""
    pid = int(h.rng.integers(1000, 9999))
    kerberos_tgt(r, h, h.t - 400 * MS)
    source_command(r, h, h.t - 300 * MS, r"C:\Users\Public\RemCom.exe",
                   rf"RemCom.exe \\{h.dst} /user:{NETBIOS_DOMAIN}\{h.account} /pwd:******** cmd.exe")
    _svc_exe_tool(r, h, auth="Kerberos", workstation=h.src, pth=False, exe_rel=r"System32\RemComSvc.exe",
                  name="RemComSvc", image=r"%SystemRoot%\System32\RemComSvc.exe",
                  process_image=rf"{SYS32}\RemComSvc.exe",
                  pipe_names=["RemCom_communicaton"] + [f"RemCom_{k}{h.src}{pid}" for k in STD],
                  child=(CMD, "cmd.exe"))


def _client_connect(r: Recorder, h: Hop, t: int, port: int, client: str,
                    server_image: str = "System") -> None:
    """The connection as the source logs it: from ``System`` (Windows' own SMB client) or from the
    pivot process (a tool proxied through a beacon: SOCKS traffic leaves from the implant)."""
    connect(r, h, t, port, image=client,
            account="system" if client == "System" else (h.operator or h.account), server_image=server_image)


def impacket_psexec(r: Recorder, h: Hop) -> None:
    """impacket psexec.py: random 8-letter exe to ADMIN$, random 4-letter service, RemCom pipes."""
    exe = letters(h.rng, 8)
    machine = letters(h.rng, 4)
    pid = int(h.rng.integers(1000, 9999))
    _svc_exe_tool(r, h, auth="NTLM", workstation=None, pth=True, exe_rel=f"{exe}.exe", name=letters(h.rng, 4),
                  image=rf"%systemroot%\{exe}.exe", process_image=rf"{WIN}\{exe}.exe",
                  pipe_names=["RemCom_communicaton"] + [f"RemCom_{k}{machine}{pid}" for k in STD],
                  child=(CMD, "cmd.exe"), client=PIVOT)


def impacket_smbexec(r: Recorder, h: Hop) -> None:
    """impacket smbexec.py: one service per command, ``%COMSPEC% /Q /c echo CMD ^> \\\\127.0.0.1\\C$\\__output
    ... & del``, output read back from C$."""
    _client_connect(r, h, h.t - 8 * MS, 445, PIVOT)
    lid = logon(r, h, h.t, auth="NTLM", workstation=None, pth=True, duration=60 * SECOND)
    share(r, h, h.t + 10 * MS, lid, "IPC$", [("svcctl", PIPE_MASK)])
    for k, cmd in enumerate(("cd", "whoami /all", "ipconfig /all")):
        at = h.t + (1 + 3 * k) * SECOND
        name = letters(h.rng, 8)
        image = (rf"%COMSPEC% /Q /c echo {cmd} ^> \\127.0.0.1\C$\__output 2^>^&1 > %TEMP%\execute.bat & "
                 r"%COMSPEC% /Q /c %TEMP%\execute.bat & del %TEMP%\execute.bat")
        service(r, h, at, lid, name, image)
        process(r, at + 60 * MS, h.dst, CMD, image.replace("%COMSPEC%", CMD, 1), SERVICES,
                parent_cmd=SERVICES)
        share(r, h, at + 900 * MS, lid, "C$", [("__output", READ_MASK), ("__output", DELETE_MASK)])


def _wmi_shell(r: Recorder, h: Hop, *, parent: str, parent_cmd: str, output: str, share_name: str,
               rel: str, auth: str, workstation: str | None, pth: bool, rpc_server: str = WMIPRVSE,
               client: str = PIVOT) -> None:
    """Semi-interactive shells over DCOM (wmiexec, dcomexec, NetExec): RPC 135 + a DCOM logon, the
    command under ``parent`` with output redirected to a file read back over SMB."""
    t = h.t
    _client_connect(r, h, t - 30 * MS, 135, client, SVCHOST)
    lid = logon(r, h, t, auth=auth, workstation=workstation, pth=pth, duration=90 * SECOND)
    _client_connect(r, h, t + 50 * MS, 49666 + int(h.rng.integers(0, 30)), client, rpc_server)
    process(r, t + 200 * MS, h.dst, parent, parent_cmd, rf"{SYS32}\svchost.exe",
            parent_cmd=r"C:\Windows\system32\svchost.exe -k DcomLaunch -p")
    _client_connect(r, h, t + 300 * MS, 445, client)
    lid_smb = logon(r, h, t + 310 * MS, auth=auth, workstation=workstation, pth=pth, duration=90 * SECOND)
    for k, cmd in enumerate(("cd \\", "whoami /all", "ipconfig /all")):
        at = t + (1 + 4 * k) * SECOND
        process(r, at, h.dst, CMD, f"cmd.exe /Q /c {cmd} 1> {output} 2>&1", parent, user=h.account, lid=lid,
                parent_cmd=parent_cmd)
        share(r, h, at + 500 * MS, lid_smb, share_name, [(rel, READ_MASK), (rel, DELETE_MASK)])


def impacket_wmiexec(r: Recorder, h: Hop) -> None:
    """impacket wmiexec.py: Win32_Process.Create under WmiPrvSE, output to \\\\127.0.0.1\\ADMIN$\\__<ts>."""
    stamp = f"__{h.t / 1e9:.7f}"[:18]
    _wmi_shell(r, h, parent=WMIPRVSE, parent_cmd=r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding",
               output=rf"\\127.0.0.1\ADMIN$\{stamp}", share_name="ADMIN$", rel=stamp, auth="NTLM",
               workstation=None, pth=True)


def impacket_dcomexec(r: Recorder, h: Hop) -> None:
    """impacket dcomexec.py (MMC20.Application): mmc.exe -Embedding runs cmd.exe, output to ADMIN$."""
    stamp = "__" + letters(h.rng, 5)
    _wmi_shell(r, h, parent=MMC, parent_cmd=r'"C:\Windows\system32\mmc.exe" -Embedding',
               output=rf"\\127.0.0.1\ADMIN$\{stamp}", share_name="ADMIN$", rel=stamp, auth="NTLM",
               workstation=None, pth=True, rpc_server=MMC)


def netexec(r: Recorder, h: Hop) -> None:
    """NetExec / CrackMapExec ``-x`` (default wmiexec method): an SMB logon to check the credential,
    then cmd.exe under WmiPrvSE writing to C:\\Windows\\Temp\\<random>, read back over C$."""
    _client_connect(r, h, h.t - 50 * MS, 445, PIVOT)
    check = logon(r, h, h.t - 40 * MS, auth="NTLM", workstation=None, pth=True, duration=2 * SECOND)
    share(r, h, h.t - 30 * MS, check, "IPC$", [("srvsvc", PIPE_MASK)])
    rel = rf"Windows\Temp\{letters(h.rng, 6)}"
    _wmi_shell(r, h, parent=WMIPRVSE, parent_cmd=r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding",
               output=rf"\{rel}", share_name="C$", rel=rel, auth="NTLM", workstation=None, pth=True)


def msf_psexec(r: Recorder, h: Hop) -> None:
    """Metasploit exploit/windows/smb/psexec (native upload): random 8-letter exe to ADMIN$, random
    16-letter service, the payload then spawns rundll32 (migration)."""
    exe = letters(h.rng, 8)
    _svc_exe_tool(r, h, auth="NTLM", workstation=letters(h.rng, 16), pth=True, exe_rel=f"{exe}.exe",
                  name=letters(h.rng, 16), image=rf"%SYSTEMROOT%\{exe}.exe",
                  process_image=rf"{WIN}\{exe}.exe",
                  pipe_names=[], child=(rf"{SYS32}\rundll32.exe", "rundll32.exe"),
                  display=letters(h.rng, 16), client=PIVOT)


def _psh_service(r: Recorder, h: Hop, *, auth: str, workstation: str | None, pth: bool, name: str,
                 image: str, pipe: str | None, client: str) -> None:
    """A service whose ImagePath is a hidden PowerShell one-liner (no file written)."""
    t = h.t
    _client_connect(r, h, t - 8 * MS, 445, client)
    lid = logon(r, h, t, auth=auth, workstation=workstation, pth=pth)
    share(r, h, t + 10 * MS, lid, "IPC$", [("svcctl", PIPE_MASK)])
    service(r, h, t + 100 * MS, lid, name, image)
    cmd_line = image.replace("%COMSPEC%", CMD, 1)
    process(r, t + 150 * MS, h.dst, CMD, cmd_line, SERVICES, parent_cmd=SERVICES)
    ps_cmd = "powershell" + image.split("powershell", 1)[1]
    process(r, t + 300 * MS, h.dst, POWERSHELL, ps_cmd, CMD, parent_cmd=cmd_line)
    if pipe:
        pipes(r, t + 900 * MS, h.dst, [pipe], POWERSHELL)


def msf_psexec_psh(r: Recorder, h: Hop) -> None:
    """Metasploit psexec_psh / psexec target PowerShell: random service, ``%COMSPEC% /b /c start /b
    /min powershell.exe -nop -w hidden -noni -c "if([IntPtr]::Size -eq 4)..."``."""
    image = (r"%COMSPEC% /b /c start /b /min powershell.exe -nop -w hidden -noni -c \"if([IntPtr]::Size "
             r"-eq 4){$b='powershell.exe'}else{$b=$env:windir+"
             r"'\syswow64\WindowsPowerShell\v1.0\powershell.exe'};"
             r"$s=New-Object System.Diagnostics.ProcessStartInfo;$s.FileName=$b;$s.Arguments='-noni -nop -w "
             r"hidden -c &([scriptblock]::create((New-Object System.IO.StreamReader(New-Object "
             r"System.IO.Compression.GzipStream((New-Object System.IO.MemoryStream(,[System.Convert]::"
             r"FromBase64String(''H4sIAAAAAAAA/6VW...''))),[System.IO.Compression.CompressionMode]::"
             r"Decompress))).ReadToEnd()))';\"")
    _psh_service(r, h, auth="NTLM", workstation=letters(h.rng, 16), pth=True, name=letters(h.rng, 16),
                 image=image, pipe=None, client=PIVOT)


def _cs_auth(r: Recorder, h: Hop) -> None:
    """Cobalt Strike make_token: a NewCredentials (type 9) logon on the source, a TGT at the DC."""
    r.win(h.t - 2 * SECOND, h.src, SECURITY, 4624, SubjectUserName=h.account,
          SubjectDomainName=NETBIOS_DOMAIN,
          SubjectLogonId=_lid(h.rng), TargetUserName=h.account, TargetDomainName=NETBIOS_DOMAIN,
          TargetLogonId=_lid(h.rng), LogonType="9", LogonProcessName="seclogo",
          AuthenticationPackageName="Negotiate",
          WorkstationName="-", KeyLength="0", ProcessName=PIVOT, IpAddress="::1", IpPort="0")
    kerberos_tgt(r, h, h.t - 400 * MS)
    r.win(h.t - 20 * MS, h.src, SECURITY, 4648, SubjectUserName=h.account, SubjectDomainName=NETBIOS_DOMAIN,
          SubjectLogonId=_lid(h.rng), TargetUserName=h.account, TargetDomainName=NETBIOS_DOMAIN,
          TargetServerName=h.dst, TargetInfo=f"cifs/{h.dst}", ProcessName=PIVOT, IpAddress=h.dst_ip,
          IpPort="445")


def cs_psexec(r: Recorder, h: Hop) -> None:
    """Cobalt Strike ``jump psexec64``: 7-hex exe to ADMIN$, service of that name with a UNC
    ImagePath ``\\\\DST\\ADMIN$\\x.exe``, the payload spawns rundll32 (spawnto) and an SMB beacon pipe."""
    name = letters(h.rng, 7, "0123456789abcdef")
    _cs_auth(r, h)
    _svc_exe_tool(r, h, auth="Kerberos", workstation=h.src, pth=False, exe_rel=f"{name}.exe", name=name,
                  image=rf"\\{h.dst}\ADMIN$\{name}.exe", process_image=rf"{WIN}\{name}.exe",
                  pipe_names=[f"msagent_{letters(h.rng, 2, '0123456789abcdef')}"],
                  child=(rf"{SYS32}\rundll32.exe", "rundll32.exe"))


def cs_psexec_psh(r: Recorder, h: Hop) -> None:
    """Cobalt Strike ``jump psexec_psh``: service with ``%COMSPEC% /b /c start /b /min powershell -nop
    -w hidden -encodedcommand ...``, SMB beacon pipe from powershell."""
    _cs_auth(r, h)
    image = (r"%COMSPEC% /b /c start /b /min powershell -nop -w hidden -encodedcommand "
             "JABzAD0ATgBlAHcALQBPAGIAagBlAGMAdAAgAEkATwAuAE0AZQBtAG8AcgB5AFMAdAByAGUAYQBtACgALABbAEMAbwBuAHYA"
             "ZQByAHQAXQA6ADoARgByAG8AbQBCAGEAcwBlADYANABTAHQAcgBpAG4AZwAoACIASAA0AHMASQBBAEEAQQBBAEEA")
    _psh_service(r, h, auth="Kerberos", workstation=h.src, pth=False,
                 name=letters(h.rng, 7, "0123456789abcdef"), image=image,
                 pipe=f"msagent_{letters(h.rng, 2, '0123456789abcdef')}", client="System")


def _copy(r: Recorder, h: Hop, share_name: str, rel_dir: str) -> tuple[str, str]:
    """``cmd /c copy x.exe \\\\DST\\SHARE\\DIR`` from the source: a Kerberos SMB logon and a write;
    returns (exe name, logon id)."""
    exe = f"{letters(h.rng, 6).lower()}.exe"
    kerberos_tgt(r, h, h.t - 3 * SECOND)
    source_command(r, h, h.t - 2 * SECOND, CMD,
                   rf"cmd.exe /c copy C:\Users\Public\{exe} \\{h.dst}\{share_name}\{rel_dir}",
                   parent=rf"{WIN}\explorer.exe", explicit=False)
    connect(r, h, h.t - 8 * MS, 445)
    lid = logon(r, h, h.t, auth="Kerberos", workstation=h.src, duration=30 * SECOND)
    share(r, h, h.t + 10 * MS, lid, share_name, [(rf"{rel_dir}\{exe}", WRITE_MASK)])
    dropped(r, h, h.t + 40 * MS, rf"{WIN}\Temp\{exe}", share_name)
    return exe, lid


def sc_create(r: Recorder, h: Hop) -> None:
    """``copy x.exe \\\\DST\\C$\\Windows\\Temp``, ``sc \\\\DST create NAME binPath= ...``, ``sc start``."""
    exe, lid = _copy(r, h, "C$", r"Windows\Temp")
    name = letters(h.rng, 1).upper() + letters(h.rng, 7).lower()
    source_command(r, h, h.t + 2 * SECOND, rf"{SYS32}\sc.exe",
                   rf'sc.exe \\{h.dst} create {name} binPath= "C:\Windows\Temp\{exe}" start= demand',
                   explicit=False)
    share(r, h, h.t + 2100 * MS, lid, "IPC$", [("svcctl", PIPE_MASK)])
    service(r, h, h.t + 2200 * MS, lid, name, rf"C:\Windows\Temp\{exe}")
    source_command(r, h, h.t + 3 * SECOND, rf"{SYS32}\sc.exe", rf"sc.exe \\{h.dst} start {name}",
                   explicit=False)
    process(r, h.t + 3100 * MS, h.dst, rf"{WIN}\Temp\{exe}", rf"C:\Windows\Temp\{exe}", SERVICES,
            parent_cmd=SERVICES)


def schtasks(r: Recorder, h: Hop) -> None:
    """``schtasks /create /s DST /u ... /tn NAME /tr ... /ru SYSTEM`` then ``/run``: atsvc over IPC$,
    4698, the action under the Schedule service."""
    name = f"Update{letters(h.rng, 4, '0123456789')}"
    kerberos_tgt(r, h, h.t - 400 * MS)
    source_command(r, h, h.t - 300 * MS, rf"{SYS32}\schtasks.exe",
                   rf'schtasks.exe /create /s {h.dst} /u {NETBIOS_DOMAIN}\{h.account} /p ******** /tn {name} '
                   r'/tr "C:\Windows\Temp\upd.cmd" /sc once /st 23:59 /ru SYSTEM /f')
    connect(r, h, h.t - 8 * MS, 445)
    lid = logon(r, h, h.t, auth="Kerberos", workstation=h.src, duration=10 * SECOND)
    share(r, h, h.t + 10 * MS, lid, "IPC$", [("atsvc", PIPE_MASK)])
    source_command(r, h, h.t + 1 * SECOND, rf"{SYS32}\schtasks.exe",
                   rf"schtasks.exe /run /s {h.dst} /u {NETBIOS_DOMAIN}\{h.account} /p ******** /tn {name}")
    task(r, h, h.t + 100 * MS, lid, name, CMD, r"/c C:\Windows\Temp\upd.cmd", delete_after=None)


def impacket_atexec(r: Recorder, h: Hop) -> None:
    """impacket atexec.py: atsvc over IPC$, a random 8-letter task running ``cmd.exe /C CMD >
    %windir%\\Temp\\<8>.tmp 2>&1``, deleted, output read from ADMIN$\\Temp."""
    _client_connect(r, h, h.t - 8 * MS, 445, PIVOT)
    lid = logon(r, h, h.t, auth="NTLM", workstation=None, pth=True, duration=10 * SECOND)
    share(r, h, h.t + 10 * MS, lid, "IPC$", [("atsvc", PIPE_MASK)])
    tmp = f"{letters(h.rng, 8)}.tmp"
    task(r, h, h.t + 100 * MS, lid, letters(h.rng, 8), "cmd.exe",
         rf"/C whoami /all > %windir%\Temp\{tmp} 2>&1")
    r.win(h.t + 600 * MS, h.dst, SYSMON, 11, Image=CMD, TargetFilename=rf"{WIN}\Temp\{tmp}",
          User=r"NT AUTHORITY\SYSTEM")
    share(r, h, h.t + 2 * SECOND, lid, "ADMIN$", [(rf"Temp\{tmp}", READ_MASK), (rf"Temp\{tmp}", DELETE_MASK)])


def copy_wmic(r: Recorder, h: Hop) -> None:
    """``copy x.exe \\\\DST\\ADMIN$\\Temp`` then ``wmic /node:DST process call create``: an SMB write, then
    the binary under WmiPrvSE."""
    exe, _ = _copy(r, h, "ADMIN$", "Temp")
    at = h.t + 4 * SECOND
    source_command(r, h, at - 100 * MS, rf"{SYS32}\wbem\WMIC.exe",
                   rf'wmic.exe /node:{h.dst} process call create "C:\Windows\Temp\{exe}"', explicit=False)
    connect(r, h, at - 30 * MS, 135, image=rf"{SYS32}\wbem\WMIC.exe", account=h.account, server_image=SVCHOST)
    lid2 = logon(r, h, at, auth="Kerberos", workstation=h.src, duration=5 * SECOND)
    process(r, at + 200 * MS, h.dst, WMIPRVSE, r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding",
            SVCHOST, parent_cmd=r"C:\Windows\system32\svchost.exe -k DcomLaunch -p")
    process(r, at + 400 * MS, h.dst, rf"{WIN}\Temp\{exe}", rf"C:\Windows\Temp\{exe}", WMIPRVSE,
            user=h.account,
            lid=lid2)


def winrm(r: Recorder, h: Hop) -> None:
    """PowerShell remoting (``Invoke-Command -ComputerName DST``): HTTP 5985, a Kerberos logon,
    wsmprovhost.exe under svchost (DcomLaunch) and the command's native children under it."""
    kerberos_tgt(r, h, h.t - 400 * MS)
    source_command(r, h, h.t - 300 * MS, POWERSHELL,
                   f"powershell.exe -c Invoke-Command -ComputerName {h.dst} "
                   "-ScriptBlock { whoami /all; ipconfig }",
                   parent=rf"{WIN}\explorer.exe", explicit=False)
    connect(r, h, h.t - 10 * MS, 5985, image=POWERSHELL, account=h.account)
    lid = logon(r, h, h.t, auth="Kerberos", workstation=h.src, duration=30 * SECOND)
    r.win(h.t + 50 * MS, h.dst, WINRM, 91, resourceUri="http://schemas.microsoft.com/powershell/Microsoft.PowerShell",
          shellId=letters(h.rng, 8, "0123456789ABCDEF"))
    process(r, h.t + 200 * MS, h.dst, WSMPROVHOST, r"C:\Windows\system32\wsmprovhost.exe -Embedding", SVCHOST,
            user=h.account, lid=lid, parent_cmd=r"C:\Windows\system32\svchost.exe -k DcomLaunch -p")
    for k, (exe, cmd) in enumerate(((rf"{SYS32}\whoami.exe", '"C:\\Windows\\system32\\whoami.exe" /all'),
                                    (rf"{SYS32}\ipconfig.exe", '"C:\\Windows\\system32\\ipconfig.exe"'))):
        process(r, h.t + (1 + k) * SECOND, h.dst, exe, cmd, WSMPROVHOST, user=h.account, lid=lid,
                parent_cmd=r"C:\Windows\system32\wsmprovhost.exe -Embedding")


@dataclass(frozen=True)
class Tool:
    """One way of moving: its row label, ATT&CK ids, whether admins use it routinely, its shapes."""

    key: str
    label: str
    techniques: tuple[str, ...]
    admin_use: bool
    emit: Callable[[Recorder, Hop], None]
    auth: str                      # "Kerberos" | "NTLM" (what the target logon and the DC see)
    source_view: str               # what the source host logs: "command" | "pivot"


#: Every tool of the coverage matrix, in row order.
TOOLS: dict[str, Tool] = {t.key: t for t in (
    Tool("psexec", "PsExec", ("T1021.002", "T1569.002"), True, psexec, "Kerberos", "command"),
    Tool("paexec", "PAExec", ("T1021.002", "T1569.002"), True, paexec, "Kerberos", "command"),
    Tool("remcom", "RemCom", ("T1021.002", "T1569.002"), False, remcom, "Kerberos", "command"),
    Tool("impacket-psexec", "Impacket psexec", ("T1021.002", "T1569.002"), False, impacket_psexec, "NTLM",
         "pivot"),
    Tool("impacket-smbexec", "Impacket smbexec", ("T1021.002", "T1569.002"), False, impacket_smbexec, "NTLM",
         "pivot"),
    Tool("impacket-wmiexec", "Impacket wmiexec", ("T1047", "T1021.003"), False, impacket_wmiexec, "NTLM",
         "pivot"),
    Tool("impacket-atexec", "Impacket atexec", ("T1053.005",), False, impacket_atexec, "NTLM", "pivot"),
    Tool("impacket-dcomexec", "Impacket dcomexec", ("T1021.003",), False, impacket_dcomexec, "NTLM", "pivot"),
    Tool("netexec", "NetExec/CME", ("T1047", "T1021.002"), False, netexec, "NTLM", "pivot"),
    Tool("msf-psexec", "MSF psexec", ("T1021.002", "T1569.002"), False, msf_psexec, "NTLM", "pivot"),
    Tool("msf-psexec-psh", "MSF psexec_psh", ("T1021.002", "T1569.002", "T1059.001"), False, msf_psexec_psh,
         "NTLM", "pivot"),
    Tool("cs-psexec", "CS jump psexec", ("T1021.002", "T1569.002"), False, cs_psexec, "Kerberos", "pivot"),
    Tool("cs-psexec-psh", "CS psexec_psh", ("T1021.002", "T1569.002", "T1059.001"), False, cs_psexec_psh,
         "Kerberos", "pivot"),
    Tool("sc", r"sc \\host create", ("T1021.002", "T1543.003"), True, sc_create, "Kerberos", "command"),
    Tool("schtasks", "schtasks /s", ("T1053.005",), True, schtasks, "Kerberos", "command"),
    Tool("copy-wmic", "copy C$ + wmic", ("T1021.002", "T1047"), True, copy_wmic, "Kerberos", "command"),
    Tool("winrm", "WinRM", ("T1021.006",), True, winrm, "Kerberos", "command"),
)}
