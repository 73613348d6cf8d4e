"""Logon evidence (Security 4624/4625/4648/4672 and their MDE/LANL equivalents)."""

from __future__ import annotations

from graph.model import EdgeKind
from graph.rules.base import HUMAN_ACCOUNT, REMOTE_SOURCE, SIGMA, SOURCE, TARGET, Level, Rule
from graph.rules.compile import all_, any_, leaf, not_

_NETWORK = all_(leaf("logon_type", "eq", 3), HUMAN_ACCOUNT, REMOTE_SOURCE)

NETWORK_LOGON = Rule(
    id="lg.logon.network",
    title="Remote network logon (type 3) by a user account",
    level=Level.INFO,
    attack=("T1021.002", "T1078"),
    sigma="",   # Chainsaw lateral_movement/network_logon (Sigma has no plain type-3 rule)
    event_ids=frozenset({4624}),
    condition=_NETWORK,
    kind=EdgeKind.LOGON,
    side=TARGET,
    lateral=False,
)

PASS_THE_HASH = Rule(
    id="lg.logon.pass_the_hash",
    title="NTLM network logon with session key length 0 (pass-the-hash shape)",
    level=Level.MEDIUM,
    attack=("T1550.002",),
    sigma=SIGMA + "rules/windows/builtin/security/account_management/win_security_pass_the_hash_2.yml",
    event_ids=frozenset({4624}),
    condition=all_(_NETWORK, leaf("logon_process", "istartswith", "ntlmssp"),
                   leaf("key_length", "eq", 0)),
    kind=EdgeKind.LOGON,
    side=TARGET,
    lateral=False,
)

METASPLOIT_WORKSTATION = Rule(
    id="lg.logon.metasploit_workstation",
    title="NTLM network logon from a 16-character random workstation name (Metasploit SMB)",
    level=Level.HIGH,
    attack=("T1021.002",),
    sigma=SIGMA + "rules/windows/builtin/security/win_security_metasploit_authentication.yml",
    event_ids=frozenset({4624}),
    condition=all_(leaf("logon_type", "eq", 3), leaf("auth_package", "ieq", "ntlm"),
                   leaf("src_host", "regex", r"^[A-Za-z0-9]{16}$"), REMOTE_SOURCE),
    kind=EdgeKind.LOGON,
    side=TARGET,
    lateral=False,
)

EXTERNAL_SMB_LOGON = Rule(
    id="lg.logon.external_ip",
    title="Network logon from a public IP address",
    level=Level.MEDIUM,
    attack=("T1133", "T1078"),
    sigma=SIGMA + ("rules/windows/builtin/security/account_management/"
                   "win_security_successful_external_remote_smb_login.yml"),
    event_ids=frozenset({4624}),
    condition=all_(_NETWORK, leaf("src_ip", "regex", r"^\d+\.\d+\.\d+\.\d+$"),
                   not_(leaf("src_ip", "regex",
                             r"^(10\.|127\.|169\.254\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|0\.)"))),
    kind=EdgeKind.LOGON,
    side=TARGET,
    lateral=False,
)

FAILED_NETWORK_LOGON = Rule(
    id="lg.logon.failed_network",
    title="Failed network logon (password guessing evidence; never a hop by itself)",
    level=Level.INFO,
    attack=("T1110",),
    sigma="",
    event_ids=frozenset({4625}),
    condition=all_(leaf("logon_type", "eq", 3), REMOTE_SOURCE),
    kind=EdgeKind.LOGON,
    side=TARGET,
    lateral=False,
    context_only=True,
)

EXPLICIT_CREDS = Rule(
    id="lg.logon.explicit_creds",
    title="Explicit credentials used towards a remote server (4648)",
    level=Level.LOW,
    attack=("T1078",),
    sigma="",
    event_ids=frozenset({4648}),
    condition=all_(any_(leaf("dst_host", "notnull"), leaf("dst_ip", "notnull")),
                   not_(leaf("dst_host", "iin", ["localhost", "127.0.0.1", "::1"])),
                   not_(leaf("dst_host", "ieq_col", "host")),
                   not_(leaf("dst_ip", "iin", ["127.0.0.1", "::1"])),
                   HUMAN_ACCOUNT),
    kind=EdgeKind.EXPLICIT_CREDS,
    side=SOURCE,
    lateral=False,
)

EXPLICIT_CREDS_TOOL = Rule(
    id="lg.logon.explicit_creds_tool",
    title="Explicit credentials used by a shell or admin tool towards a remote server",
    level=Level.MEDIUM,
    attack=("T1078", "T1021.002"),
    sigma=SIGMA + "rules/windows/builtin/security/win_security_susp_logon_explicit_credentials.yml",
    event_ids=frozenset({4648}),
    condition=all_(EXPLICIT_CREDS.condition,
                   leaf("process", "iendswith", ["\\cmd.exe", "\\powershell.exe", "\\pwsh.exe",
                                                 "\\winrs.exe", "\\wmic.exe", "\\net.exe",
                                                 "\\net1.exe", "\\reg.exe", "\\psexec.exe",
                                                 "\\psexec64.exe", "\\paexec.exe", "\\schtasks.exe",
                                                 "\\sc.exe", "\\rundll32.exe", "\\remcom.exe"])),
    kind=EdgeKind.EXPLICIT_CREDS,
    side=SOURCE,
    lateral=False,
)

SPECIAL_PRIVILEGES = Rule(
    id="lg.logon.special_privileges",
    title="Special privileges assigned to a new logon (4672: admin-equivalent session)",
    level=Level.INFO,
    attack=("T1078.002",),
    sigma="",
    event_ids=frozenset({4672}),
    condition=HUMAN_ACCOUNT,
    kind=EdgeKind.ADMIN_LOGON,
    side=TARGET,
    lateral=False,
)

RULES = (NETWORK_LOGON, PASS_THE_HASH, METASPLOIT_WORKSTATION, EXTERNAL_SMB_LOGON,
         FAILED_NETWORK_LOGON, EXPLICIT_CREDS, EXPLICIT_CREDS_TOOL, SPECIAL_PRIVILEGES)
