"""What a remote-execution service starts on the target, whatever the tool (4688 / Sysmon 1 / MDE
ProcessCreated, Security 4698/4702, inbound WinRM connections).

* **Service-spawned**: ``services.exe`` starting a shell with the psexec_psh / Cobalt Strike shape
  (``cmd.exe /b /c start /b /min powershell -nop -w hidden -e ...``), an encoded PowerShell stager
  or output redirected to the local admin share: a log holding only process starts still shows
  remote service execution (T1569.002 over T1021.002).
* **WMI** (T1047): children of ``WmiPrvSE.exe``; **WinRM** (T1021.006): children of
  ``wsmprovhost.exe`` and inbound 5985/5986; **DCOM** (T1021.003): shells started by ``mmc.exe``
  (MMC20.Application) or ``excel.exe`` (Excel.Application / DDE).
* **Scheduled tasks** (T1053.005, Impacket atexec / ``schtasks /s``): tasks registered (4698) or
  changed (4702) with a shell payload, and the atexec shape ``cmd.exe /C ... > %windir%\\Temp\\
  <8 letters>.tmp 2>&1`` started by the Task Scheduler (``svchost.exe -k netsvcs`` / ``taskeng.exe``).

A plain child of WmiPrvSE / wsmprovhost / Excel or a plain task registration is common in managed
estates: those rules are not ``lateral`` (they strengthen a hop that has a remote logon, they
never create one). The shapes with a suspicious command line are lateral evidence by themselves.
"""

from __future__ import annotations

from graph.model import EdgeKind
from graph.rules.base import ENCODED_POWERSHELL, LOCAL, SIGMA, TARGET, Level, Rule
from graph.rules.compile import all_, any_, leaf, not_
from graph.rules.process import inbound_from_remote

_PC = SIGMA + "rules/windows/process_creation/"
_PROC = frozenset({4688, 1})
_CMD = "command_line"
_PARENT = "parent_process"

#: Command lines of stagers and remote shells (psexec_psh, Cobalt Strike, Impacket, Empire).
SUSPICIOUS_COMMAND = any_(
    leaf(_CMD, "icontains", ["/b /c start /b /min", "%comspec%", " -nop ", " -noni ", " -w hidden",
                             " -windowstyle hidden", "frombase64string", ".downloadstring(",
                             ".downloadfile(", "iex(", "iex (", "\\\\127.0.0.1\\", "\\\\localhost\\"]),
    leaf(_CMD, "iregex", ENCODED_POWERSHELL),
)
#: Shells and script hosts (what an operator starts through a remote-execution channel).
SHELLS = ["\\cmd.exe", "\\powershell.exe", "\\pwsh.exe", "\\mshta.exe", "\\wscript.exe", "\\cscript.exe",
          "\\rundll32.exe", "\\regsvr32.exe", "\\certutil.exe", "\\bitsadmin.exe"]
_SHELL = leaf("process", "iendswith", SHELLS)

SERVICE_SPAWNED_SHELL = Rule(
    id="lg.process.service_spawned_shell",
    title="services.exe started a shell with a stager / remote-shell command line (psexec_psh shape)",
    level=Level.HIGH,
    attack=("T1569.002", "T1021.002", "T1059.001"),
    sigma=_PC + "proc_creation_win_hktl_cobaltstrike_process_patterns.yml",
    event_ids=_PROC,
    condition=all_(leaf(_PARENT, "iendswith", "\\services.exe"),
                   any_(SUSPICIOUS_COMMAND,
                        all_(leaf("process", "iregex", r"^c:\\windows\\[a-z]{8}\.exe$"),
                             not_(leaf("process", "iendswith", ["\\explorer.exe", "\\helppane.exe",
                                                                "\\psexesvc.exe", "\\regedit.exe"]))))),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
)

WMI_CHILD = Rule(
    id="lg.process.wmi_child",
    title="Shell or script host started by WmiPrvSE.exe (WMI Win32_Process.Create)",
    level=Level.MEDIUM,
    attack=("T1047",),
    sigma=_PC + "proc_creation_win_wmiprvse_susp_child_processes.yml",
    event_ids=_PROC,
    condition=all_(leaf(_PARENT, "iendswith", "\\wmiprvse.exe"), _SHELL),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
    lateral=False,
)

WMI_CHILD_SUSPICIOUS = Rule(
    id="lg.process.wmi_child_suspicious",
    title="WmiPrvSE.exe started a stager / remote-shell command line (wmiexec, Invoke-WmiMethod)",
    level=Level.HIGH,
    attack=("T1047", "T1021"),
    sigma=_PC + "proc_creation_win_wmiprvse_susp_child_processes.yml",
    event_ids=_PROC,
    condition=all_(leaf(_PARENT, "iendswith", "\\wmiprvse.exe"), SUSPICIOUS_COMMAND),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
)

WINRM_CHILD = Rule(
    id="lg.process.winrm_child",
    title="Process started by wsmprovhost.exe (PowerShell remoting / WinRM session)",
    level=Level.MEDIUM,
    attack=("T1021.006",),
    sigma=_PC + "proc_creation_win_winrm_susp_child_process.yml",
    event_ids=_PROC,
    condition=leaf(_PARENT, "iendswith", "\\wsmprovhost.exe"),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
    lateral=False,
)

WINRM_CHILD_SUSPICIOUS = Rule(
    id="lg.process.winrm_child_suspicious",
    title="wsmprovhost.exe started a stager / remote-shell command line (WinRM lateral movement)",
    level=Level.HIGH,
    attack=("T1021.006", "T1059.001"),
    sigma=_PC + "proc_creation_win_winrm_susp_child_process.yml",
    event_ids=_PROC,
    condition=all_(leaf(_PARENT, "iendswith", "\\wsmprovhost.exe"), SUSPICIOUS_COMMAND),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
)

DCOM_MMC_CHILD = Rule(
    id="lg.process.dcom_mmc_child",
    title="Shell started by mmc.exe (MMC20.Application DCOM execution)",
    level=Level.HIGH,
    attack=("T1021.003",),
    sigma=_PC + "proc_creation_win_mmc_susp_child_process.yml",
    event_ids=_PROC,
    condition=all_(leaf(_PARENT, "iendswith", "\\mmc.exe"), _SHELL),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
)

DCOM_EXCEL_CHILD = Rule(
    id="lg.process.dcom_excel_child",
    title="Shell started by excel.exe (Excel.Application DCOM / DDE, or a macro)",
    level=Level.MEDIUM,
    attack=("T1021.003", "T1559.002"),
    sigma=_PC + "proc_creation_win_office_susp_child_processes.yml",
    event_ids=_PROC,
    condition=all_(leaf(_PARENT, "iendswith", "\\excel.exe"), _SHELL),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
    lateral=False,
)

#: Impacket atexec: ``cmd.exe /C <cmd> > %windir%\Temp\<8 letters>.tmp 2>&1``.
ATEXEC_OUTPUT = r"/c[ \t].*>[ \t]*(%windir%|c:\\windows)\\temp\\[a-z]{8}\.tmp[ \t]+2>&1"

TASK_SPAWNED_SHELL = Rule(
    id="lg.process.task_spawned_shell",
    title="Task Scheduler started cmd.exe with output to %windir%\\Temp\\<8 letters>.tmp (atexec)",
    level=Level.HIGH,
    attack=("T1053.005", "T1021.002"),
    sigma=SIGMA + "rules/windows/builtin/security/win_security_atsvc_task.yml",
    event_ids=_PROC,
    condition=all_(leaf(_PARENT, "iendswith", ["\\svchost.exe", "\\taskeng.exe"]),
                   any_(leaf(_CMD, "iregex", ATEXEC_OUTPUT),
                        all_(leaf(_PARENT, "iendswith", "\\taskeng.exe"), SUSPICIOUS_COMMAND))),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
)

_TASK = frozenset({4698, 4702})

TASK_REGISTERED = Rule(
    id="lg.task.registered",
    title="Scheduled task registered or changed (context; in a remote session it is schtasks /s / atexec)",
    level=Level.INFO,
    attack=("T1053.005",),
    sigma="",
    event_ids=_TASK,
    condition=leaf("target_name", "notnull"),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
    lateral=False,
)

TASK_SUSPICIOUS_COMMAND = Rule(
    id="lg.task.suspicious_command",
    title="Scheduled task whose action is a stager / redirected shell (atexec, schtasks /s payloads)",
    level=Level.MEDIUM,
    attack=("T1053.005", "T1021.002"),
    sigma=SIGMA + "rules/windows/builtin/security/win_security_atsvc_task.yml",
    event_ids=_TASK,
    condition=any_(SUSPICIOUS_COMMAND,
                   leaf(_CMD, "iregex", r"\\temp\\[a-z]{8}\.tmp[ \t]+2&gt;&amp;1"),
                   leaf(_CMD, "iregex", r"\\temp\\[a-z]{8}\.tmp[ \t]+2>&1")),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
)

WINRM_INBOUND = Rule(
    id="lg.network.winrm_inbound",
    title="Inbound WinRM (5985/5986) connection from a remote host",
    level=Level.INFO,
    attack=("T1021.006",),
    sigma="",
    event_ids=frozenset({3}),
    condition=inbound_from_remote([5985, 5986]),
    kind=EdgeKind.NETWORK,
    side=TARGET,
    lateral=False,
    context_only=True,
)

RULES = (SERVICE_SPAWNED_SHELL, WMI_CHILD, WMI_CHILD_SUSPICIOUS, WINRM_CHILD, WINRM_CHILD_SUSPICIOUS,
         DCOM_MMC_CHILD, DCOM_EXCEL_CHILD, TASK_SPAWNED_SHELL, TASK_REGISTERED, TASK_SUSPICIOUS_COMMAND,
         WINRM_INBOUND)
