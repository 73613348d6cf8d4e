"""Service installation evidence, T1569.002: System 7045, Security 4697, MDE ServiceInstalled, and a
service created through the registry (Sysmon 13 / MDE RegistryValueSet on
``...\\Services\\<name>\\ImagePath``: ingest fills ``service_name``/``service_image`` only for that key).

Every rule here reads only ``service_name``/``service_image`` (plus the derived per-host
``service_burst`` count, :mod:`graph.rules.derived`), so each one fires on every event type that
records a service creation.
"""

from __future__ import annotations

from graph.model import EdgeKind
from graph.rules.base import ENCODED_POWERSHELL, LOCAL, SIGMA, Level, Rule
from graph.rules.compile import all_, any_, leaf, not_
from graph.rules.derived import SERVICE_BURST, SERVICE_BURST_MIN, SERVICE_BURST_WINDOW_S

_SCM = SIGMA + "rules/windows/builtin/system/service_control_manager/"
_REG = SIGMA + "rules/windows/registry/registry_set/"
#: 7045 (System), 4697 (Security), 13 (Sysmon registry value set on a service ImagePath).
_EIDS = frozenset({7045, 4697, 13})
_IMG = "service_image"
_NAME = "service_name"

PSEXEC_SERVICE = Rule(
    id="lg.service.psexec",
    title="PsExec service (PSEXESVC) installed",
    level=Level.MEDIUM,
    attack=("T1569.002", "T1021.002"),
    sigma=_SCM + "win_system_service_install_sysinternals_psexec.yml",
    event_ids=_EIDS,
    condition=any_(leaf(_NAME, "ieq", "psexesvc"), leaf(_IMG, "iendswith", "\\psexesvc.exe")),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
)

REMOTE_EXEC_TOOL_SERVICE = Rule(
    id="lg.service.remote_exec_tool",
    title="PAExec / RemCom / CSExec / winexe service installed",
    level=Level.MEDIUM,
    attack=("T1569.002", "T1021.002"),
    sigma=_SCM + "win_system_service_install_paexec.yml",
    event_ids=_EIDS,
    condition=any_(leaf(_NAME, "istartswith", "paexec"), leaf(_IMG, "icontains", "\\paexec-"),
                   leaf(_NAME, "iin", ["remcomsvc", "csexecsvc", "winexesvc"]),
                   leaf(_IMG, "iendswith", ["\\remcomsvc.exe", "\\csexecsvc.exe", "\\winexesvc.exe"])),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
)

SMBEXEC_SERVICE = Rule(
    id="lg.service.smbexec",
    title="Impacket smbexec-style service (BTOBTO, '.bat & del', __output redirect)",
    level=Level.HIGH,
    attack=("T1021.002", "T1569.002"),
    sigma=_SCM + "win_system_hack_smbexec.yml",
    event_ids=_EIDS,
    condition=any_(leaf(_NAME, "ieq", "btobto"),
                   leaf(_IMG, "icontains", [".bat & del ", "__output 2^>^&1 >"])),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
)

RANDOM_SYSTEMROOT_SERVICE = Rule(
    id="lg.service.random_systemroot_exe",
    title="Service binary with an 8-letter random name in %SystemRoot% (Metasploit/Impacket psexec)",
    level=Level.HIGH,
    attack=("T1021.002", "T1569.002", "T1570"),
    sigma=SIGMA + ("rules/windows/builtin/security/"
                   "win_security_metasploit_or_impacket_smb_psexec_service_install.yml"),
    event_ids=_EIDS,
    condition=all_(leaf(_IMG, "iregex", r"^(%systemroot%|c:\\windows)\\[a-z]{8}\.exe$"),
                   not_(leaf(_IMG, "iendswith", ["\\psexesvc.exe", "\\explorer.exe",
                                                 "\\helppane.exe"]))),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
)

COBALTSTRIKE_SERVICE = Rule(
    id="lg.service.cobaltstrike",
    title="Cobalt Strike-style service (ADMIN$ binary, %COMSPEC% start powershell, encoded stager)",
    level=Level.HIGH,
    attack=("T1021.002", "T1569.002", "T1059.001"),
    sigma=_SCM + "win_system_cobaltstrike_service_installs.yml",
    event_ids=_EIDS,
    condition=any_(all_(leaf(_IMG, "icontains", "admin$"), leaf(_IMG, "icontains", ".exe")),
                   all_(leaf(_IMG, "icontains", "%comspec%"), leaf(_IMG, "icontains", "start"),
                        leaf(_IMG, "icontains", "powershell")),
                   leaf(_IMG, "icontains", "powershell -nop -w hidden -encodedcommand"),
                   leaf(_IMG, "iregex", r"powershell(\.exe)?[ \t]+(.*[ \t])?"
                                        r"-(e|en|enc|enco|encodedcommand)[ \t]+[a-z0-9+/=]{40,}")),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
)

SUSPICIOUS_SERVICE = Rule(
    id="lg.service.suspicious_image",
    title="Service image with shell/download patterns (-nop, -w hidden, downloadstring, \\ADMIN$\\, &&)",
    level=Level.MEDIUM,
    attack=("T1569.002", "T1543.003"),
    sigma=_SCM + "win_system_service_install_susp.yml",
    event_ids=_EIDS,
    condition=leaf(_IMG, "icontains", [" -nop ", " -sta ", " -w hidden ", ".downloadfile(",
                                       ".downloadstring(", "\\admin$\\", "&&"]),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
)

#: A program (not a driver) in a folder any user or an admin-share copy can write and Windows
#: never installs services from: anywhere under ``C:\Windows\Temp``, ``C:\Users\Public`` or
#: ``C:\PerfLogs``, an unexpanded ``%TEMP%`` (a binPath typed on a command line), or directly in
#: the ``C:\ProgramData`` or drive root (ProgramData's subfolders hold real agents: Defender's
#: platform). Where ``copy x.exe \\host\C$\Windows\Temp`` + ``sc \\host create`` leave their
#: binary. Not a user's expanded temp folder (``AppData\Local\Temp``: local installers and test
#: harnesses register services there; ``lg.service.suspicious_folder`` keeps it) and not the
#: ``%SystemRoot%`` root, where real services live too (Sysmon installs ``C:\Windows\Sysmon.exe``;
#: the random names of psexec-style drops there have their own rules).
_PROGRAM = r"\.(exe|com|bat|cmd|ps1|vbs|js|scr|hta)"
STAGED_IMAGE = any_(
    leaf(_IMG, "iregex", r"(^|[\\\"' ])(windows\\temp|users\\public|perflogs|%temp%|%tmp%)"
                         r"\\[^\"]*" + _PROGRAM + r"([\"' \t]|$)"),
    leaf(_IMG, "iregex", r"^[\"']?(c:|%systemdrive%|%programdata%)?(\\programdata)?\\[^\\\"]+" + _PROGRAM
                         + r"([\"' \t]|$)"))

STAGED_IMAGE_SERVICE = Rule(
    id="lg.service.staged_image",
    title=("Service program in a staging folder (Windows\\Temp, Users\\Public, PerfLogs, %TEMP%, the "
           "ProgramData or drive root)"),
    level=Level.MEDIUM,
    attack=("T1569.002", "T1021.002", "T1570"),
    sigma=_SCM + "win_system_susp_service_installation_folder.yml",
    event_ids=_EIDS,
    condition=STAGED_IMAGE,
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
)

#: Image location heuristics (persistence); alone they do not show a remote action.
SUSPICIOUS_FOLDER_SERVICE = Rule(
    id="lg.service.suspicious_folder",
    title="Service image in a user-writable or temp folder (AppData, Users\\Public, Temp, PerfLogs)",
    level=Level.MEDIUM,
    attack=("T1543.003",),
    sigma=_SCM + "win_system_susp_service_installation_folder.yml",
    event_ids=_EIDS,
    condition=all_(leaf(_IMG, "icontains", ["\\appdata\\", "\\users\\public\\", "\\windows\\temp\\",
                                            ":\\temp\\", "\\perflogs\\"]),
                   not_(STAGED_IMAGE)),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
    lateral=False,
)

BARE_IMAGE_SERVICE = Rule(
    id="lg.service.bare_image",
    title="Service whose image has no directory (e.g. 'calc.exe', 'cmd.exe': sc \\\\host create)",
    level=Level.MEDIUM,
    attack=("T1569.002", "T1543.003"),
    sigma="",   # not in Sigma: installers always register a full path
    event_ids=_EIDS,
    condition=all_(leaf(_IMG, "notnull"), not_(leaf(_IMG, "regex", r"[\\/]")),
                   leaf(_IMG, "iregex", r"^[^ \t]+\.(exe|com|bat|cmd)([ \t]|$)")),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
)

HACKTOOL_SERVICE = Rule(
    id="lg.service.hacktool",
    title="Credential-dumping / hack-tool service name",
    level=Level.HIGH,
    attack=("T1543.003", "T1003"),
    sigma=_SCM + "win_system_service_install_hacktools.yml",
    event_ids=_EIDS,
    condition=any_(leaf(_NAME, "icontains", ["cachedump", "dumpsvc", "gsecdump", "pwdump",
                                             "uacbypassedservice", "wce service", "wceservice"]),
                   leaf(_IMG, "icontains", "bypass")),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
)

#: The Meterpreter/Cobalt Strike *getsystem* shape: a service that echoes into a local named pipe
#: or runs from the local admin share. It is LOCAL privilege escalation (T1134), not lateral
#: movement: scoring keeps hops made only of this evidence low.
GETSYSTEM_SERVICE = Rule(
    id="lg.service.getsystem",
    title="Getsystem-style service (echo into a named pipe / rundll32 ,a /p: / \\\\127.0.0.1\\ADMIN$)",
    level=Level.MEDIUM,
    attack=("T1134.001",),
    sigma=_SCM + "win_system_meterpreter_or_cobaltstrike_getsystem_service_installation.yml",
    event_ids=_EIDS,
    condition=any_(all_(leaf(_IMG, "iregex", r"(cmd|%comspec%)"), leaf(_IMG, "icontains", "/c"),
                        leaf(_IMG, "icontains", "echo"), leaf(_IMG, "icontains", "\\pipe\\")),
                   all_(leaf(_IMG, "icontains", "rundll32"), leaf(_IMG, "icontains", ".dll,a"),
                        leaf(_IMG, "icontains", "/p:")),
                   leaf(_IMG, "istartswith", "\\\\127.0.0.1\\admin$\\")),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
    lateral=False,
    local_marker=True,
)

SCRIPT_IMAGE_SERVICE = Rule(
    id="lg.service.script_image",
    title="Service image runs a shell or script host with /c, /k or /r (cmd /c powershell ...)",
    level=Level.HIGH,
    attack=("T1569.002", "T1059", "T1021.002"),
    sigma=_SCM + "win_system_susp_service_installation_script.yml",
    event_ids=_EIDS,
    condition=all_(leaf(_IMG, "iregex", r"[ \t]/[ckr][ \t]"),
                   leaf(_IMG, "icontains", ["cmd", "powershell", "pwsh", "mshta", "wscript", "cscript",
                                            "rundll32", "regsvr32"])),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
)

ENCODED_POWERSHELL_SERVICE = Rule(
    id="lg.service.encoded_powershell",
    title="Service image starts PowerShell with an encoded command",
    level=Level.HIGH,
    attack=("T1569.002", "T1059.001", "T1027"),
    sigma=_REG + "registry_set_cobaltstrike_service_installs.yml",
    event_ids=_EIDS,
    condition=leaf(_IMG, "iregex", ENCODED_POWERSHELL),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
)

#: Payload smuggled through service names: a long base64-like name (mixed case and digits, 32+
#: characters) or a very long name with no blank (64+). Real service names are short words; long
#: ones are display-like phrases with blanks ("Microsoft 1.1 UAA Function Driver for High
#: Definition Audio Service", a real 7045 of a benign system log).
ENCODED_NAME_SERVICE = Rule(
    id="lg.service.encoded_name",
    title="Service with a long base64-like / random or very long unbroken name (payload in the name)",
    level=Level.MEDIUM,
    attack=("T1569.002", "T1027", "T1021.002"),
    sigma="",   # not in Sigma; hayabusa "Suspicious Service Name" checks fixed names only
    event_ids=_EIDS,
    condition=any_(all_(leaf(_NAME, "regex", r"^[A-Za-z0-9+/=_-]{32,}$"), leaf(_NAME, "regex", r"[0-9]"),
                        leaf(_NAME, "regex", r"[a-z]"), leaf(_NAME, "regex", r"[A-Z]")),
                   leaf(_NAME, "regex", r"^[^ \t]{64,}$")),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
)

BURST_SERVICE = Rule(
    id="lg.service.burst",
    title=(f"Service installs in a burst: >= {SERVICE_BURST_MIN} on one host within "
           f"{SERVICE_BURST_WINDOW_S // 60:.0f} minutes either side"),
    level=Level.MEDIUM,
    attack=("T1569.002", "T1021.002"),
    sigma="",   # a count over events (Sigma correlation rules); not in SigmaHQ for 7045
    event_ids=_EIDS,
    condition=all_(leaf(_NAME, "notnull"), leaf(SERVICE_BURST, "ge", SERVICE_BURST_MIN)),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
)

SERVICE_INSTALL = Rule(
    id="lg.service.install",
    title="Service installed (context; joined to a remote logon it becomes remote service creation)",
    level=Level.INFO,
    attack=("T1543.003",),
    sigma="unsupported/windows/win_remote_service.yml",
    event_ids=_EIDS,
    condition=leaf(_NAME, "notnull"),
    kind=EdgeKind.SERVICE_INSTALL,
    side=LOCAL,
    lateral=False,
)

RULES = (PSEXEC_SERVICE, REMOTE_EXEC_TOOL_SERVICE, SMBEXEC_SERVICE, RANDOM_SYSTEMROOT_SERVICE,
         COBALTSTRIKE_SERVICE, SUSPICIOUS_SERVICE, STAGED_IMAGE_SERVICE, SUSPICIOUS_FOLDER_SERVICE,
         BARE_IMAGE_SERVICE,
         HACKTOOL_SERVICE, GETSYSTEM_SERVICE, SCRIPT_IMAGE_SERVICE, ENCODED_POWERSHELL_SERVICE,
         ENCODED_NAME_SERVICE, BURST_SERVICE, SERVICE_INSTALL)
