"""Share access evidence (Security 5140/5145): ADMIN$/C$ access and writes, IPC$ pipes, T1021.002."""

from __future__ import annotations

from graph.model import EdgeKind
from graph.rules.base import (
    ADMIN_SHARE,
    HUMAN_ACCOUNT,
    IPC_SHARE,
    REMOTE_SOURCE,
    SIGMA,
    TARGET,
    WRITE_MASK,
    Level,
    Rule,
)
from graph.rules.compile import all_, any_, leaf, not_

_SEC = SIGMA + "rules/windows/builtin/security/"
_REMOTE_USER = all_(HUMAN_ACCOUNT, REMOTE_SOURCE)
_IPC = all_(leaf("event_id", "eq", 5145), IPC_SHARE, _REMOTE_USER)

#: Pipes every Windows client opens for discovery (SharpHound, net view, GPO): not execution.
DISCOVERY_PIPES = ("samr", "lsarpc", "srvsvc", "wkssvc", "netlogon", "lsass", "browser", "netdfs",
                   "winreg", "msftewds", "protected_storage", "ntsvcs", "spoolss", "eventlog",
                   "lsm_api_service", "hydralspipe", "termsrv_api_service", "sql\\query")
#: Sigma's "First Time Seen Remote Named Pipe" allowlist: DISCOVERY_PIPES plus the exec pipes.
COMMON_PIPES = (*DISCOVERY_PIPES, "atsvc", "svcctl")

ADMIN_SHARE_ACCESS = Rule(
    id="lg.share.admin_access",
    title="Remote access to an administrative share (ADMIN$, C$...)",
    level=Level.LOW,
    attack=("T1021.002",),
    sigma=_SEC + "win_security_admin_share_access.yml",
    event_ids=frozenset({5140, 5145}),
    condition=all_(ADMIN_SHARE, _REMOTE_USER),
    kind=EdgeKind.ADMIN_SHARE,
    side=TARGET,
)

ADMIN_SHARE_WRITE = Rule(
    id="lg.share.admin_write",
    title="File written to an administrative share over SMB",
    level=Level.HIGH,
    attack=("T1021.002", "T1570"),
    sigma=_SEC + "win_security_smb_file_creation_admin_shares.yml",
    event_ids=frozenset({5145}),
    condition=all_(ADMIN_SHARE, _REMOTE_USER, leaf("access_mask", "mask_any", WRITE_MASK),
                   # a directory (or the share root) opened with AddSubdirectory is not a file drop
                   leaf("target_name", "regex", r"\.[A-Za-z0-9]{1,5}$")),
    kind=EdgeKind.FILE_WRITE,
    side=TARGET,
)

SVCCTL_PIPE = Rule(
    id="lg.share.svcctl_pipe",
    title="Service Control Manager pipe (svcctl) opened remotely over IPC$",
    level=Level.MEDIUM,
    attack=("T1021.002", "T1569.002"),
    sigma=_SEC + "win_security_svcctl_remote_service.yml",
    event_ids=frozenset({5145}),
    condition=all_(_IPC, leaf("target_name", "ieq", "svcctl")),
    kind=EdgeKind.IPC_PIPE,
    side=TARGET,
)

ATSVC_PIPE = Rule(
    id="lg.share.atsvc_pipe",
    title="Task Scheduler pipe (atsvc) opened remotely over IPC$",
    level=Level.MEDIUM,
    attack=("T1053.002", "T1021.002"),
    sigma=_SEC + "win_security_atsvc_task.yml",
    event_ids=frozenset({5145}),
    condition=all_(_IPC, leaf("target_name", "ieq", "atsvc")),
    kind=EdgeKind.IPC_PIPE,
    side=TARGET,
)

PSEXEC_PIPE = Rule(
    id="lg.share.psexec_pipe",
    title="PsExec service pipe (PSEXESVC*) opened remotely",
    level=Level.MEDIUM,
    attack=("T1021.002", "T1569.002"),
    sigma="deprecated/windows/pipe_created_psexec_pipes_artifacts.yml",
    event_ids=frozenset({5145}),
    condition=all_(_IPC, leaf("target_name", "istartswith", "psexesvc")),
    kind=EdgeKind.IPC_PIPE,
    side=TARGET,
)

RENAMED_PSEXEC_PIPE = Rule(
    id="lg.share.renamed_psexec_pipe",
    title="PsExec-style -stdin/-stdout/-stderr pipe of a renamed service",
    level=Level.HIGH,
    attack=("T1021.002", "T1569.002", "T1036"),
    sigma=_SEC + "win_security_susp_psexec.yml",
    event_ids=frozenset({5145}),
    condition=all_(_IPC, leaf("target_name", "iendswith", ["-stdin", "-stdout", "-stderr"]),
                   not_(leaf("target_name", "istartswith", "psexesvc"))),
    kind=EdgeKind.IPC_PIPE,
    side=TARGET,
)

REMCOM_PIPE = Rule(
    id="lg.share.remcom_pipe",
    title="RemCom / Impacket psexec pipe (RemCom_stdin...) opened remotely",
    level=Level.HIGH,
    attack=("T1021.002", "T1569.002"),
    sigma=_SEC + "win_security_impacket_psexec.yml",
    event_ids=frozenset({5145}),
    condition=all_(_IPC, leaf("target_name", "icontains",
                              ["remcom_stdin", "remcom_stdout", "remcom_stderr", "remcom_communica"])),
    kind=EdgeKind.IPC_PIPE,
    side=TARGET,
)

PAEXEC_CSEXEC_PIPE = Rule(
    id="lg.share.paexec_pipe",
    title="PAExec / CSExec service pipe opened remotely",
    level=Level.MEDIUM,
    attack=("T1021.002", "T1569.002"),
    sigma="rules/windows/pipe_created/pipe_created_pua_paexec_default_pipe.yml",
    event_ids=frozenset({5145}),
    condition=all_(_IPC, any_(leaf("target_name", "istartswith", "paexec"),
                              leaf("target_name", "icontains", "csexecsvc"))),
    kind=EdgeKind.IPC_PIPE,
    side=TARGET,
)

UNCOMMON_PIPE = Rule(
    id="lg.share.uncommon_pipe",
    title="Uncommon named pipe opened remotely over IPC$",
    level=Level.LOW,
    attack=("T1021.002",),
    sigma=_SEC + "win_security_lm_namedpipe.yml",
    event_ids=frozenset({5145}),
    condition=all_(_IPC, leaf("target_name", "notnull"),
                   not_(leaf("target_name", "iin", list(COMMON_PIPES))),
                   not_(leaf("target_name", "iin", ["", "\\"]))),
    kind=EdgeKind.IPC_PIPE,
    side=TARGET,
    lateral=False,
)

IPC_DISCOVERY = Rule(
    id="lg.share.ipc_discovery",
    title="Discovery pipe (samr, lsarpc, srvsvc...) opened remotely over IPC$",
    level=Level.INFO,
    attack=("T1087", "T1135"),
    sigma="",
    event_ids=frozenset({5145}),
    condition=all_(_IPC, leaf("target_name", "iin", list(DISCOVERY_PIPES))),
    kind=EdgeKind.IPC_PIPE,
    side=TARGET,
    lateral=False,
)

SECRETSDUMP = Rule(
    id="lg.share.secretsdump",
    title="Registry hive dump file (SYSTEM32\\*.tmp) on ADMIN$ (Impacket secretsdump)",
    level=Level.HIGH,
    attack=("T1003.002", "T1021.002"),
    sigma=_SEC + "win_security_impacket_secretdump.yml",
    event_ids=frozenset({5145}),
    condition=all_(leaf("share_name", "iendswith", "\\admin$"), _REMOTE_USER,
                   leaf("target_name", "icontains", "system32\\"),
                   leaf("target_name", "icontains", ".tmp")),
    kind=EdgeKind.FILE_WRITE,
    side=TARGET,
)

CREDENTIAL_FILES = Rule(
    id="lg.share.credential_files",
    title="Credential material (lsass dump, NTDS.dit, SAM/SECURITY hives) moved over a share",
    level=Level.MEDIUM,
    attack=("T1003", "T1039"),
    sigma=_SEC + "win_security_transf_files_with_cred_data_via_network_shares.yml",
    event_ids=frozenset({5145}),
    condition=all_(_REMOTE_USER, any_(
        leaf("target_name", "icontains", ["\\mimidrv", "\\lsass", "\\windows\\minidump\\",
                                          "\\hiberfil", "\\sqldmpr"]),
        leaf("target_name", "iendswith", ["\\ntds.dit", "\\config\\sam", "\\config\\security",
                                          "\\config\\system"]))),
    kind=EdgeKind.FILE_WRITE,
    side=TARGET,
)

RULES = (ADMIN_SHARE_ACCESS, ADMIN_SHARE_WRITE, SVCCTL_PIPE, ATSVC_PIPE, PSEXEC_PIPE,
         RENAMED_PSEXEC_PIPE, REMCOM_PIPE, PAEXEC_CSEXEC_PIPE, UNCOMMON_PIPE, IPC_DISCOVERY,
         SECRETSDUMP, CREDENTIAL_FILES)
