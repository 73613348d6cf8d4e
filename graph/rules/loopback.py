"""Admin-share techniques aimed at the logging host itself (``\\\\127.0.0.1\\C$``, ``\\\\localhost``).

Atomic Red Team's T1021.002 tests, admins checking a share, and some tools' self-tests run the
technique against the loopback address. That is not a lateral hop (nothing moved between hosts),
but it is the technique, and dropping it silently leaves an analyst validating their telemetry with
nothing. These rules are ``loopback``: correlation places the host as both source and destination
(the PSEXESVC a loopback PsExec starts joins that row, so it forms no hop either) and the hits are
reported as **findings** (:mod:`graph.findings`), level low.

The rules are ``context_only`` (they never create or join a hop) and read the command line of a
process start (4688 / Sysmon 1 / MDE ProcessCreated) or a loopback share access (5140/5145).
"""

from __future__ import annotations

from graph.model import EdgeKind
from graph.rules.base import ADMIN_SHARE, HUMAN_ACCOUNT, LOCAL, LOOPBACK_UNC, SIGMA, TARGET, Level, Rule
from graph.rules.compile import all_, any_, leaf
from graph.rules.process import COPY_VERB

_PC = SIGMA + "rules/windows/process_creation/"
_PROC = frozenset({4688, 1})
_CMD = "command_line"
#: A loopback UNC path to an administrative share (``\\127.0.0.1\C$``, ``\\localhost\ADMIN$``).
LOOPBACK_ADMIN_SHARE = (
    r"\\\\(127\.[0-9.]+|localhost|\[?::1\]?|0--1\.ipv6-literal\.net)"
    r"\\([a-z]|admin)\$"
)
_NET = r"(^|[ \t\"'\\/])net1?(\.exe)?\"?[ \t]+"

NET_USE = Rule(
    id="lg.loopback.net_use",
    title=("Administrative share of this host mounted through loopback "
           "(net use / New-PSDrive \\\\127.0.0.1\\C$)"),
    level=Level.LOW,
    attack=("T1021.002",),
    sigma=_PC + "proc_creation_win_net_use_mount_admin_share.yml",
    event_ids=_PROC,
    condition=all_(
        leaf(_CMD, "iregex", LOOPBACK_ADMIN_SHARE),
        any_(leaf(_CMD, "iregex", _NET + "use[ \t]"), leaf(_CMD, "icontains", "new-psdrive")),
    ),
    kind=EdgeKind.ADMIN_SHARE,
    side=LOCAL,
    lateral=False,
    context_only=True,
    loopback=True,
)

COPY = Rule(
    id="lg.loopback.copy",
    title="File copied to or from an administrative share of this host through loopback",
    level=Level.LOW,
    attack=("T1021.002", "T1570"),
    sigma=_PC + "proc_creation_win_susp_copy_lateral_movement.yml",
    event_ids=_PROC,
    condition=all_(leaf(_CMD, "iregex", LOOPBACK_ADMIN_SHARE), leaf(_CMD, "iregex", COPY_VERB)),
    kind=EdgeKind.FILE_WRITE,
    side=LOCAL,
    lateral=False,
    context_only=True,
    loopback=True,
)

PSEXEC = Rule(
    id="lg.loopback.psexec",
    title="PsExec / PAExec run against this host through loopback (\\\\127.0.0.1, \\\\localhost)",
    level=Level.LOW,
    attack=("T1021.002", "T1569.002"),
    sigma=_PC + "proc_creation_win_sysinternals_psexec_remote_execution.yml",
    event_ids=_PROC,
    condition=all_(
        any_(
            leaf("process", "iendswith", ["\\psexec.exe", "\\psexec64.exe", "\\paexec.exe", "\\csexec.exe"]),
            leaf(_CMD, "icontains", "accepteula"),
        ),
        leaf(_CMD, "iregex", LOOPBACK_UNC),
    ),
    kind=EdgeKind.EXECUTION,
    side=LOCAL,
    lateral=False,
    context_only=True,
    loopback=True,
)

NET_VIEW = Rule(
    id="lg.loopback.net_view",
    title="Shares of this host listed through loopback (net view \\\\127.0.0.1 /all)",
    level=Level.LOW,
    attack=("T1135", "T1021.002"),
    sigma=_PC + "proc_creation_win_net_view_share_and_sessions_enum.yml",
    event_ids=_PROC,
    condition=all_(leaf(_CMD, "iregex", _NET + "view[ \t]"), leaf(_CMD, "iregex", LOOPBACK_UNC)),
    kind=EdgeKind.ADMIN_SHARE,
    side=LOCAL,
    lateral=False,
    context_only=True,
    loopback=True,
)

SHARE_ACCESS = Rule(
    id="lg.loopback.share_access",
    title="Administrative share accessed from this host itself (5140/5145 from 127.0.0.1 / ::1)",
    level=Level.LOW,
    attack=("T1021.002",),
    sigma=SIGMA + "rules/windows/builtin/security/win_security_admin_share_access.yml",
    event_ids=frozenset({5140, 5145}),
    condition=all_(
        ADMIN_SHARE,
        HUMAN_ACCOUNT,
        any_(
            leaf("src_ip", "startswith", "127."),
            leaf("src_ip", "iin", ["::1"]),
            leaf("src_host", "ieq_col", "host"),
        ),
    ),
    kind=EdgeKind.ADMIN_SHARE,
    side=TARGET,
    lateral=False,
    context_only=True,
)

RULES = (NET_USE, COPY, PSEXEC, NET_VIEW, SHARE_ACCESS)
