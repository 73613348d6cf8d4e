"""The :class:`Rule` record, rule levels, and condition fragments shared by the rule families."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from graph.model import EdgeKind
from graph.rules.compile import all_, any_, leaf, not_

SIGMA = "https://github.com/SigmaHQ/sigma/blob/master/"


class Level(StrEnum):
    """Rule level (Sigma's vocabulary)."""

    INFO = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


#: Evidence weight of one rule hit by level, used by the hop evidence-strength score
#: (graph.scoring.evidence): informational context 0.1 ... a critical hit 0.9.
LEVEL_WEIGHT: dict[str, float] = {
    Level.INFO: 0.1, Level.LOW: 0.25, Level.MEDIUM: 0.5, Level.HIGH: 0.75, Level.CRITICAL: 0.9,
}

#: Where the evidence sits: on the destination of the hop, on its source, purely local, or logged by a
#: third party that names both ends (a domain controller's 4769 service ticket).
TARGET, SOURCE, LOCAL, BROKERED = "target", "source", "local", "brokered"


@dataclass(frozen=True)
class Rule:
    """One single-event evidence rule: metadata plus a declarative condition.

    Attributes:
        id: stable dotted id, ``lg.<family>.<name>``.
        title: one line for people.
        level: :class:`Level`.
        attack: ATT&CK technique ids (``T1021.002``).
        sigma: path of the SigmaHQ rule it mirrors (relative to the sigma repo), or "" if none.
        event_ids: the event ids it can match (the ingest pre-filter and the engine's row subset).
        condition: the condition (see :mod:`graph.rules.compile`), evaluated on the rows whose
            ``event_id`` is in ``event_ids``.
        kind: the :class:`~graph.model.EdgeKind` of the evidence on a hop.
        side: ``"target"`` (event logged by the destination), ``"source"`` (logged by the
            source, names the destination) or ``"local"`` (no network direction: service
            installs, processes; correlation attaches them to a remote logon when it can).
        lateral: whether a hit is by itself evidence of remote execution/file staging (used by
            scoring: fan-out only boosts hops with lateral evidence; IPC$ discovery is not).
        local_marker: a hit proves the action was local (getsystem named-pipe services): a hop
            with no known source whose lateral evidence all carries a local marker stays low.
        context_only: the hit annotates the event but never creates or joins a hop (failed
            logons, inbound SMB connections).
        loopback: the hit shows the action was aimed at the logging host itself (``\\\\127.0.0.1``,
            ``localhost``): correlation makes the host both source and destination, so the row
            and the target-side rows it anchors (the PSEXESVC a loopback PsExec starts) never form
            a hop; they are reported as findings (Atomic Red Team style tests, local admin tasks).
    """

    id: str
    title: str
    level: Level
    attack: tuple[str, ...]
    sigma: str
    event_ids: frozenset[int]
    condition: dict[str, Any]
    kind: EdgeKind
    side: str
    lateral: bool = True
    local_marker: bool = False
    context_only: bool = False
    loopback: bool = False

    @property
    def weight(self) -> float:
        """Evidence weight of one hit (:data:`LEVEL_WEIGHT`)."""
        return LEVEL_WEIGHT[self.level]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (``latgraph rules --json``, the Spark compiler)."""
        return {
            "id": self.id, "title": self.title, "level": str(self.level), "attack": list(self.attack),
            "sigma": self.sigma, "event_ids": sorted(self.event_ids), "condition": self.condition,
            "kind": str(self.kind), "side": self.side, "lateral": self.lateral,
            "local_marker": self.local_marker, "context_only": self.context_only,
            "loopback": self.loopback,
        }


# ---- shared condition fragments -------------------------------------------------------------

LOOPBACK_IPS = ("127.0.0.1", "::1", "localhost", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1")
#: A UNC path to this machine in a command line: ``\\127.x``, ``\\localhost``, ``\\[::1]`` or the
#: IPv6 literal form ``\\0--1.ipv6-literal.net`` (RE2-compatible).
LOOPBACK_UNC = r"\\\\(127\.[0-9.]+|localhost|\[?::1\]?|0--1\.ipv6-literal\.net)(\\|[ \t\"']|$)"
#: Not a machine account (``PC01$``), not ANONYMOUS LOGON, not a local system account.
HUMAN_ACCOUNT = all_(
    leaf("account", "notnull"),
    not_(leaf("account", "endswith", "$")),
    not_(leaf("account", "iin", ["anonymous logon", "system", "local service", "network service",
                                  "localsystem", "local system", "-"])),
)
#: The remote end is not this machine (no loopback source IP, source host differs when known).
REMOTE_SOURCE = all_(
    not_(leaf("src_ip", "iin", list(LOOPBACK_IPS))),
    not_(leaf("src_ip", "startswith", "127.")),
    not_(leaf("src_host", "ieq_col", "host")),
)
#: ``\\*\ADMIN$`` or a drive share ``\\*\C$``.
ADMIN_SHARE = any_(leaf("share_name", "iendswith", "\\admin$"),
                   leaf("share_name", "iregex", r"\\[a-z]\$$"))
IPC_SHARE = leaf("share_name", "iendswith", "\\ipc$")
#: 5145 AccessMask bits WriteData/AddFile (0x2) and AppendData/AddSubdirectory (0x4).
WRITE_MASK = 0x2 | 0x4


#: ``powershell ... -e[nc[odedcommand]] <base64>`` (the stager of psexec_psh / Cobalt Strike).
ENCODED_POWERSHELL = (r"(powershell|pwsh)(\.exe)?\"?[ \t]+([^\r\n]*[ \t])?"
                      r"[-/](e|en|enc|enco|encod|encode|encoded|encodedcommand|ec)[ \t]+[a-z0-9+/=]{40,}")


def eid(*ids: int) -> dict[str, Any]:
    """``event_id in ids``."""
    return leaf("event_id", "in", list(ids))
