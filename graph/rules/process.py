"""Process, file, pipe and network evidence (Security 4688, Sysmon 1/3/11/17/18, MDE equivalents).

Target-side: what the remote action started on the destination (PSEXESVC.exe and its children,
WmiPrvSE -> ``cmd.exe /Q /c ... \\\\127.0.0.1\\ADMIN$`` of Impacket wmiexec, a random 8-letter exe in
``C:\\Windows``). Source-side: the client tools that name a remote host (``net use \\\\srv\\c$``,
``psexec \\\\srv``, copies to ``\\\\srv\\c$``) and outbound SMB connections.
"""

from __future__ import annotations

from graph.model import EdgeKind
from graph.rules.base import LOCAL, LOOPBACK_UNC, SIGMA, SOURCE, TARGET, Level, Rule
from graph.rules.compile import all_, any_, leaf, not_
from graph.rules.derived import CLIENT_DAYS, CLIENT_PORT_CLASSES, CLIENT_ROUTINE_DAYS

_PC = SIGMA + "rules/windows/process_creation/"
_PROC = frozenset({4688, 1})
_CMD = "command_line"
#: A UNC path ``\\srv\...`` (not ``\\.\pipe``/``\\?\``); RE2-compatible (no look-ahead), so
#: the local-machine exclusion is a separate leaf (see :func:`remote_unc`).
UNC = r"\\\\[^\\ \t\"'.?][^\\ \t\"']*"


def remote_unc(suffix: str = "") -> dict:
    """Command line holds a UNC path (followed by ``suffix``) to a host other than this one."""
    return all_(leaf(_CMD, "iregex", UNC + suffix), not_(leaf(_CMD, "iregex", LOOPBACK_UNC)))


def inbound_from_remote(ports: list[int]) -> dict:
    """An inbound connection (this host is the destination) to one of ``ports`` from another host."""
    return all_(leaf("dst_port", "in", ports), leaf("dst_host", "ieq_col", "host"),
                leaf("src_ip", "notnull"),
                not_(leaf("src_ip", "iin", ["127.0.0.1", "::1"])),
                not_(leaf("src_ip", "startswith", "127.")),
                not_(leaf("src_host", "ieq_col", "host")))


_NET = leaf("process", "iendswith", ["\\net.exe", "\\net1.exe"])

PSEXESVC_PROCESS = Rule(
    id="lg.process.psexesvc",
    title="PsExec service binary started (PSEXESVC.exe) on the target",
    level=Level.MEDIUM,
    attack=("T1569.002", "T1021.002"),
    sigma=_PC + "proc_creation_win_sysinternals_psexesvc.yml",
    event_ids=_PROC,
    condition=leaf("process", "iendswith", "\\psexesvc.exe"),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
)

PSEXESVC_CHILD = Rule(
    id="lg.process.psexesvc_child",
    title="Process started by PSEXESVC.exe (command run through PsExec)",
    level=Level.HIGH,
    attack=("T1569.002", "T1021.002"),
    sigma=_PC + "proc_creation_win_sysinternals_psexesvc_as_system.yml",
    event_ids=_PROC,
    condition=leaf("parent_process", "iendswith", "\\psexesvc.exe"),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
)

IMPACKET_EXEC = Rule(
    id="lg.process.impacket_exec",
    title="cmd /Q /c with output redirected to \\\\127.0.0.1\\ADMIN$ or C$ (Impacket wmiexec/smbexec)",
    level=Level.HIGH,
    attack=("T1047", "T1021.002"),
    sigma=_PC + "proc_creation_win_hktl_impacket_lateral_movement.yml",
    event_ids=_PROC,
    condition=all_(leaf(_CMD, "icontains", ["\\\\127.0.0.1\\", "\\\\localhost\\"]),
                   leaf(_CMD, "icontains", [">", "2>&1"]),
                   leaf(_CMD, "iregex", r"\\(admin|[a-z])\$\\")),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
)

RANDOM_WINDOWS_EXE = Rule(
    id="lg.process.random_windows_exe",
    title="8-letter random executable started from C:\\Windows (Metasploit psexec payload)",
    level=Level.HIGH,
    attack=("T1569.002", "T1021.002", "T1570"),
    sigma=SIGMA + ("rules/windows/builtin/security/"
                   "win_security_metasploit_or_impacket_smb_psexec_service_install.yml"),
    event_ids=_PROC,
    condition=all_(leaf("process", "iregex", r"^c:\\windows\\[a-z]{8}\.exe$"),
                   not_(leaf("process", "iendswith", ["\\explorer.exe", "\\helppane.exe",
                                                      "\\psexesvc.exe", "\\regedit.exe"]))),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
)

GETSYSTEM_PROCESS = Rule(
    id="lg.process.getsystem",
    title="cmd /c echo into a named pipe (getsystem: local privilege escalation, not lateral)",
    level=Level.LOW,
    attack=("T1134.001",),
    sigma=_PC + "proc_creation_win_meterpreter_getsystem.yml",
    event_ids=_PROC,
    condition=all_(leaf(_CMD, "icontains", "echo"), leaf(_CMD, "icontains", "\\\\.\\pipe\\")),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
    lateral=False,
    local_marker=True,
)

PSEXEC_CLIENT = Rule(
    id="lg.process.psexec_client",
    title="PsExec/PAExec/CsExec/RemCom client started against a remote host",
    level=Level.HIGH,
    attack=("T1569.002", "T1021.002"),
    sigma=_PC + "proc_creation_win_sysinternals_psexec_remote_execution.yml",
    event_ids=_PROC,
    condition=all_(any_(leaf("process", "iendswith", ["\\psexec.exe", "\\psexec64.exe",
                                                      "\\paexec.exe", "\\csexec.exe", "\\remcom.exe"]),
                        leaf(_CMD, "icontains", "accepteula")),
                   remote_unc()),
    kind=EdgeKind.EXECUTION,
    side=SOURCE,
)

NET_USE_ADMIN_SHARE = Rule(
    id="lg.process.net_use_admin_share",
    title="net use of a remote administrative share (\\\\host\\C$, \\\\host\\ADMIN$)",
    level=Level.MEDIUM,
    attack=("T1021.002",),
    sigma=_PC + "proc_creation_win_net_use_mount_admin_share.yml",
    event_ids=_PROC,
    condition=all_(_NET, leaf(_CMD, "icontains", " use "),
                   remote_unc(r"\\([a-z]|admin)\$")),
    kind=EdgeKind.ADMIN_SHARE,
    side=SOURCE,
)

NET_USE_SHARE = Rule(
    id="lg.process.net_use_share",
    title="net use of a remote share",
    level=Level.LOW,
    attack=("T1021.002",),
    sigma=_PC + "proc_creation_win_net_use_mount_share.yml",
    event_ids=_PROC,
    condition=all_(_NET, leaf(_CMD, "icontains", " use "), remote_unc()),
    kind=EdgeKind.ADMIN_SHARE,
    side=SOURCE,
    lateral=False,
)

#: A copy / move command word (cmd, robocopy, PowerShell aliases) in a command line.
COPY_VERB = (r"(^|[ \t\"'/\\])(copy|xcopy|robocopy|copy-item|move-item|cpi|cp|mv|move)(\.exe)?[ \t\"']")

COPY_TO_ADMIN_SHARE = Rule(
    id="lg.process.copy_admin_share",
    title="Copy to or from a remote administrative share (copy, xcopy, robocopy, Copy-Item)",
    level=Level.MEDIUM,
    attack=("T1021.002", "T1570"),
    sigma=_PC + "proc_creation_win_susp_copy_lateral_movement.yml",
    event_ids=_PROC,
    condition=all_(remote_unc(r"\\([a-z]|admin)\$"),
                   leaf(_CMD, "iregex", COPY_VERB)),
    kind=EdgeKind.FILE_WRITE,
    side=SOURCE,
)

RUNDLL32_UNC = Rule(
    id="lg.process.rundll32_unc",
    title="rundll32 loading a DLL from a remote UNC path",
    level=Level.HIGH,
    attack=("T1021.002", "T1218.011"),
    sigma=_PC + "proc_creation_win_rundll32_unc_path.yml",
    event_ids=_PROC,
    condition=all_(leaf("process", "iendswith", "\\rundll32.exe"), remote_unc()),
    kind=EdgeKind.EXECUTION,
    side=SOURCE,
)

SHARPMOVE = Rule(
    id="lg.process.sharpmove",
    title="SharpMove remote execution tool",
    level=Level.HIGH,
    attack=("T1021.002",),
    sigma=_PC + "proc_creation_win_hktl_sharpmove.yml",
    event_ids=_PROC,
    condition=any_(leaf("process", "iendswith", "\\sharpmove.exe"),
                   all_(leaf(_CMD, "icontains", "computername="), leaf(_CMD, "icontains", "action="))),
    kind=EdgeKind.EXECUTION,
    side=SOURCE,
)

# ---- files, pipes (Sysmon 11/17/18, MDE) ------------------------------------------------------

EXEC_SERVICE_FILE = Rule(
    id="lg.file.exec_service_binary",
    title="PsExec/RemCom/CSExec service binary or PsExec key file created",
    level=Level.MEDIUM,
    attack=("T1021.002", "T1570"),
    sigma=SIGMA + "rules/windows/file/file_event/file_event_win_sysinternals_psexec_service.yml",
    event_ids=frozenset({11}),
    condition=any_(leaf("target_name", "iendswith", ["\\psexesvc.exe", "\\remcomsvc.exe",
                                                     "\\csexecsvc.exe"]),
                   all_(leaf("target_name", "istartswith", "c:\\windows\\psexec-"),
                        leaf("target_name", "iendswith", ".key"))),
    kind=EdgeKind.FILE_WRITE,
    side=LOCAL,
)

LOCAL_ADMIN_SHARE_WRITE = Rule(
    id="lg.file.local_admin_share_write",
    title="File written through \\\\127.0.0.1\\ADMIN$ (wmiexec/smbexec output file)",
    level=Level.MEDIUM,
    attack=("T1021.002",),
    sigma=SIGMA + "rules/windows/file/file_event/file_event_win_writing_local_admin_share.yml",
    event_ids=frozenset({11}),
    condition=all_(leaf("target_name", "icontains", "\\\\127.0.0"),
                   leaf("target_name", "icontains", "\\admin$\\")),
    kind=EdgeKind.FILE_WRITE,
    side=LOCAL,
)

EXEC_PIPE_CREATED = Rule(
    id="lg.pipe.exec_tool",
    title="PsExec/PAExec/RemCom/CSExec named pipe created",
    level=Level.MEDIUM,
    attack=("T1021.002", "T1569.002"),
    sigma=SIGMA + "rules/windows/pipe_created/pipe_created_pua_remcom_default_pipe.yml",
    event_ids=frozenset({17, 18}),
    condition=any_(leaf("target_name", "istartswith", ["\\psexesvc", "\\paexec"]),
                   leaf("target_name", "icontains", ["\\remcom", "\\csexecsvc"])),
    kind=EdgeKind.IPC_PIPE,
    side=LOCAL,
)

#: Processes that are not a Windows network client for SMB/RPC: SMB client traffic is the kernel's
#: (``System``, PID 4) and RPC/DCOM clients are Windows' own images, so a script host, a LOLBin that
#: loads arbitrary code (rundll32, regsvr32, mshta...), an interpreter (Python: Impacket) or any
#: image in a user-writable folder opening 445/139/135/5985 directly is a tool speaking the
#: protocol itself: an implant relaying a proxied tool (SOCKS), Impacket or a scanner.
UNUSUAL_CLIENT_IMAGE = any_(
    leaf("process", "iregex", r"(^|\\)(rundll32|regsvr32|mshta|wscript|cscript|msbuild|installutil|regasm|"
                              r"regsvcs|notepad|pythonw?[0-9.]*|py|perl|ruby|node)\.exe$"),
    leaf("process", "icontains", ["\\users\\", "\\programdata\\", "\\windows\\temp\\",
                                  "\\perflogs\\", "\\$recycle.bin\\", ":\\temp\\", "\\windows\\tasks\\"]))
#: PowerShell speaking SMB itself (Invoke-SMBExec / Invoke-TheHash); its RPC and WinRM traffic is
#: the normal remoting client (Get-WmiObject -ComputerName, Invoke-Command).
_POWERSHELL_IMAGE = leaf("process", "iregex", r"(^|\\)(powershell|pwsh)(_ise)?\.exe$")
#: An outbound connection logged by its source, to another host.
_OUTBOUND = all_(leaf("src_host", "ieq_col", "host"),
                 not_(leaf("dst_ip", "iin", ["127.0.0.1", "::1"])),
                 not_(leaf("dst_ip", "startswith", "127.")),
                 not_(leaf("dst_host", "ieq_col", "host")))
_SMB_PORTS = leaf("dst_port", "in", list(CLIENT_PORT_CLASSES["smb"]))
#: The host's own baseline (graph.rules.derived ``client_days``): the same image talked the same
#: port class on fewer than CLIENT_ROUTINE_DAYS distinct days of the data.
_NEW_CLIENT = leaf(CLIENT_DAYS, "lt", CLIENT_ROUTINE_DAYS)

UNUSUAL_NETWORK_CLIENT = Rule(
    id="lg.network.unusual_client",
    title=("Outbound SMB/RPC/WinRM (445, 139, 135, 5985/5986) from a process that is not a Windows "
           "network client (rundll32, script host, Python, an image in a user-writable folder), new on "
           "this host"),
    level=Level.MEDIUM,
    attack=("T1021.002", "T1021.003", "T1021.006", "T1090.001"),
    # Sigma's epmap rule (135 from an image outside C:\Windows) and Elastic's "Direct Outbound SMB
    # Connection" (445 from a process other than PID 4); both without the host baseline
    sigma=SIGMA + "rules/windows/network_connection/net_connection_win_susp_epmap.yml",
    event_ids=frozenset({3}),
    condition=all_(_OUTBOUND, _NEW_CLIENT,
                   any_(all_(_SMB_PORTS, any_(UNUSUAL_CLIENT_IMAGE, _POWERSHELL_IMAGE)),
                        all_(leaf("dst_port", "in",
                                  [*CLIENT_PORT_CLASSES["rpc"], *CLIENT_PORT_CLASSES["winrm"]]),
                             UNUSUAL_CLIENT_IMAGE))),
    kind=EdgeKind.NETWORK,
    side=SOURCE,
    lateral=False,
)

SMB_OUTBOUND = Rule(
    id="lg.network.smb_outbound",
    title=("Outbound SMB (445/139) connection from a user process (not System): new on this host, or an "
           "unusual client that does it routinely"),
    level=Level.LOW,
    attack=("T1021.002",),
    sigma="",   # gap in Sigma; Elastic "Direct Outbound SMB Connection", msticpy >10 IPs on 445
    event_ids=frozenset({3}),
    condition=all_(_SMB_PORTS, _OUTBOUND, not_(leaf("process", "iin", ["system", "4"])),
                   # a routine agent of this host (the same image on >= 2 days) is its habit: no
                   # evidence; an unusual client new on the host is lg.network.unusual_client
                   any_(all_(_NEW_CLIENT, not_(any_(UNUSUAL_CLIENT_IMAGE, _POWERSHELL_IMAGE))),
                        all_(not_(_NEW_CLIENT), any_(UNUSUAL_CLIENT_IMAGE, _POWERSHELL_IMAGE)))),
    kind=EdgeKind.NETWORK,
    side=SOURCE,
    lateral=False,
)

SMB_INBOUND = Rule(
    id="lg.network.smb_inbound",
    title="Inbound SMB (445) or RPC endpoint mapper (135) connection from a remote host",
    level=Level.INFO,
    attack=("T1021.002",),
    sigma="",
    event_ids=frozenset({3}),
    condition=inbound_from_remote([445, 135]),
    kind=EdgeKind.NETWORK,
    side=TARGET,
    lateral=False,
    context_only=True,
)

#: ``schtasks /create|/run|/change /s HOST``: a task registered or started on another host.
REMOTE_TASK_CLIENT = Rule(
    id="lg.process.remote_task_client",
    title="schtasks creating, changing or running a task on a remote host (/s HOST)",
    level=Level.MEDIUM,
    attack=("T1053.005", "T1021"),
    sigma=_PC + "proc_creation_win_schtasks_creation.yml",
    event_ids=_PROC,
    condition=all_(any_(leaf("process", "iendswith", "\\schtasks.exe"),
                        leaf(_CMD, "iregex", r"(^|[ \t\"'\\])schtasks(\.exe)?[\"']?[ \t]")),
                   leaf(_CMD, "iregex", r"[ \t]/(create|run|change)([ \t]|$)"),
                   leaf(_CMD, "iregex", r"[ \t]/s[ \t]+[\"']?[a-z0-9]"),
                   not_(leaf(_CMD, "iregex", r"[ \t]/s[ \t]+[\"']?(localhost|127\.)"))),
    kind=EdgeKind.EXECUTION,
    side=SOURCE,
)

#: PowerShell remoting / WinRS to a named computer.
WINRM_CLIENT = Rule(
    id="lg.process.winrm_client",
    title=("PowerShell remoting or winrs against a remote computer "
           "(Invoke-Command / Enter-PSSession / winrs -r:)"),
    level=Level.MEDIUM,
    attack=("T1021.006",),
    sigma=SIGMA + "rules/windows/powershell/powershell_script/posh_ps_invoke_command_remote.yml",
    event_ids=_PROC,
    condition=any_(all_(leaf(_CMD, "icontains", ["invoke-command", "enter-pssession", "new-pssession",
                                                 "icm "]),
                        leaf(_CMD, "iregex", r"[ \t]-(computername|cn)[ \t]+[\"']?[a-z0-9]"),
                        not_(leaf(_CMD, "iregex", r"-(computername|cn)[ \t]+[\"']?(localhost|127\.|\.)"))),
                   all_(leaf(_CMD, "iregex", r"(^|[ \t\"'\\])winrs(\.exe)?[\"']?[ \t]"),
                        leaf(_CMD, "iregex", r"[ \t][-/]r(emote)?:[a-z0-9]"),
                        not_(leaf(_CMD, "iregex", r"[-/]r(emote)?:(localhost|127\.)")))),
    kind=EdgeKind.EXECUTION,
    side=SOURCE,
)

RULES = (PSEXESVC_PROCESS, PSEXESVC_CHILD, IMPACKET_EXEC, RANDOM_WINDOWS_EXE, GETSYSTEM_PROCESS,
         PSEXEC_CLIENT, NET_USE_ADMIN_SHARE, NET_USE_SHARE, COPY_TO_ADMIN_SHARE, RUNDLL32_UNC,
         SHARPMOVE, EXEC_SERVICE_FILE, LOCAL_ADMIN_SHARE_WRITE, EXEC_PIPE_CREATED, UNUSUAL_NETWORK_CLIENT,
         SMB_OUTBOUND,
         SMB_INBOUND, REMOTE_TASK_CLIENT, WINRM_CLIENT)
