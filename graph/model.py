"""The analysis result model shared by the CLI, exports, UI, Neo4j store and Spark engine.

Contract (change on purpose, like an API):

* **Hops frame** (:data:`HOP_COLUMNS`): one row per lateral hop = (source host, destination host,
  account) with first/last time, the kinds of evidence, ATT&CK techniques, the evidence list and a
  score in [0, 1] with its severity. ``src_host`` is the normalised upper-case short name, or the
  IP when only an IP is known, or missing when the logs name no source.
* **Graph** (:func:`host_node` / :func:`account_node` ids): a ``networkx.MultiDiGraph`` with host
  and account nodes and typed edges aggregated with counts and first/last times.
* **AnalysisResult**: everything one run produced; :meth:`AnalysisResult.to_json` is the
  versioned ``--json`` document.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx
    import pandas as pd

    from graph.config import AnalysisConfig
    from ingest.report import IngestReport

#: Version of the ``--json`` document: 2 added ``findings`` and the evidence items' ``fields``.
JSON_VERSION = 2


class Severity(StrEnum):
    """Hop severity, from the hop score and the config cut-offs."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class EdgeKind(StrEnum):
    """Kinds of evidence on a hop / graph edge."""

    LOGON = "logon"                      # 4624 type 3 network logon (MDE DeviceLogonEvents)
    ADMIN_SHARE = "admin_share"          # 5140/5145 on ADMIN$ / C$ / other X$
    IPC_PIPE = "ipc_pipe"                # 5145 on IPC$: svcctl / atsvc / PsExec-style pipes
    FILE_WRITE = "file_write"            # 5145 write access on an admin share, Sysmon 11 / MDE file
    SERVICE_INSTALL = "service_install"  # 7045 / 4697
    EXECUTION = "execution"              # process started by the remote action (Sysmon 1 / 4688)
    EXPLICIT_CREDS = "explicit_creds"    # 4648 on the source
    NETWORK = "network"                  # Sysmon 3 / MDE connection to 445
    ADMIN_LOGON = "admin_logon"          # 4672 special privileges on the session


#: Columns of the hops frame, in order.
HOP_COLUMNS: tuple[str, ...] = (
    "hop_id",        # int, stable within one result
    "src_host",      # str | <NA>
    "src_ip",        # str | <NA>
    "dst_host",      # str
    "account",       # str | <NA>
    "first_seen",    # datetime64[ns, UTC]
    "last_seen",     # datetime64[ns, UTC]
    "kinds",         # tuple[str, ...] of EdgeKind values
    "techniques",    # tuple[str, ...] ATT&CK ids, e.g. ("T1021.002", "T1569.002")
    "rules",         # tuple[str, ...] rule ids that fired on the evidence
    "evidence",      # tuple[dict, ...] {event_id, source_file, record_id, rule, ts, host, fields}
    "n_events",      # int
    "score",         # float in [0, 1]
    "severity",      # Severity value
)


# ---- graph attributes (graph.build.build_graph) ---------------------------------------------
# Nodes: id = host_node(name) / account_node(name).
NODE_TYPE = "type"                      # "host" | "account"
NODE_NAME = "name"                      # host short name (or IP) / lower-case account
NODE_SCORE = "score"                    # float: best score of a hop touching the node
NODE_IS_IP = "is_ip"                    # hosts: bool, the host is known only by its IP
NODE_COMPROMISED = "compromised"        # hosts: bool, in graph.paths.compromised_hosts
NODE_FIRST_COMPROMISED = "first_compromised"   # hosts: pd.Timestamp (UTC) or None
NODE_PATIENT_ZERO_RANK = "patient_zero_rank"   # hosts: int (1 = best candidate) or None
# Edges: one per (u, v, kind), key = kind; u = host_node(src) (relation "host_host") or
# account_node(account) (relation "account_host"); v = host_node(dst). Aggregated over hops.
EDGE_KIND = "kind"                      # EdgeKind value (also the edge key)
EDGE_RELATION = "relation"              # "host_host" | "account_host"
EDGE_COUNT = "count"                    # int: hops aggregated into the edge
EDGE_N_EVENTS = "n_events"              # int: events of those hops (all kinds)
EDGE_FIRST_SEEN = "first_seen"          # pd.Timestamp UTC: earliest hop first_seen
EDGE_LAST_SEEN = "last_seen"            # pd.Timestamp UTC: latest hop last_seen
EDGE_SCORE = "score"                    # float: best hop score
EDGE_SEVERITY = "severity"              # Severity value of the best hop
EDGE_HOP_IDS = "hop_ids"                # tuple[int, ...]: hops aggregated (time order)
EDGE_ACCOUNTS = "accounts"              # tuple[str, ...]: sorted accounts of those hops


def host_node(name: str) -> str:
    """Graph node id of a host."""
    return f"host:{name}"


def account_node(name: str) -> str:
    """Graph node id of an account."""
    return f"account:{name}"


@dataclass(frozen=True)
class Path:
    """A time-respecting chain of hops (non-decreasing times, bounded gaps)."""

    hosts: tuple[str, ...]
    accounts: tuple[str, ...]
    hop_ids: tuple[int, ...]
    start: datetime
    end: datetime
    score: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times ISO 8601 UTC)."""
        return {
            "hosts": list(self.hosts),
            "accounts": list(self.accounts),
            "hop_ids": list(self.hop_ids),
            "start": _iso(self.start),
            "end": _iso(self.end),
            "score": round(float(self.score), 4),
        }


@dataclass(frozen=True)
class PatientZero:
    """A patient-zero candidate, best first in :attr:`AnalysisResult.patient_zero`."""

    host: str
    score: float
    confidence: float
    first_seen: datetime
    reason: str
    hop_ids: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "host": self.host,
            "score": round(float(self.score), 4),
            "confidence": round(float(self.confidence), 4),
            "first_seen": _iso(self.first_seen),
            "reason": self.reason,
            "hop_ids": list(self.hop_ids),
        }


@dataclass(frozen=True)
class RoutineGroup:
    """Routine continued from a compromised source after its compromise: one finding for the hops
    that match the source's routine from before (:mod:`graph.scoring.routine`)."""

    group_id: str                  # "routine-N", also the member hops' ``routine_group``
    source: str
    accounts: tuple[str, ...]
    hop_ids: tuple[int, ...]
    destinations: int
    first_seen: datetime
    last_seen: datetime
    compromised_at: datetime | None  # first suspicious hop into the source
    via_hop_id: int | None           # that hop
    score: float
    severity: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times ISO 8601 UTC)."""
        return {
            "group_id": self.group_id,
            "kind": "routine_continued",
            "source": self.source,
            "accounts": list(self.accounts),
            "hop_ids": list(self.hop_ids),
            "n_hops": len(self.hop_ids),
            "destinations": self.destinations,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "compromised_at": _iso(self.compromised_at),
            "via_hop_id": self.via_hop_id,
            "score": round(float(self.score), 4),
            "severity": self.severity,
            "reason": self.reason,
        }


@dataclass
class AnalysisResult:
    """Everything one analysis run produced."""

    events: pd.DataFrame
    report: IngestReport
    config: AnalysisConfig
    tags: pd.DataFrame          # long frame: event index, rule id, level
    hops: pd.DataFrame          # HOP_COLUMNS
    graph: nx.MultiDiGraph
    paths: list[Path] = field(default_factory=list)
    patient_zero: list[PatientZero] = field(default_factory=list)
    compromised: pd.DataFrame | None = None   # host, first_seen, score
    summary: dict[str, Any] = field(default_factory=dict)
    findings: pd.DataFrame | None = None      # graph.findings.FINDING_COLUMNS (None: not computed)
    routine_groups: list[RoutineGroup] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The versioned machine-readable result (``latgraph analyze --json``)."""
        return {key: (list(value) if key in _STREAMED_KEYS else value) for key, value in self._json_parts()}

    def _json_parts(self, rows: int = 2000) -> list[tuple[str, Any]]:
        """The document's keys in order; hops and findings as iterators over their objects, built
        ``rows`` frame rows at a time."""
        compromised = []
        if self.compromised is not None:
            compromised = [
                {"host": r["host"], "first_seen": _iso(r["first_seen"]),
                 "score": round(float(r["score"]), 4)}
                for r in self.compromised.to_dict("records")
            ]
        from graph.findings import finding_to_dict

        return [
            ("version", JSON_VERSION),
            ("patient_zero", [p.to_dict() for p in self.patient_zero]),
            ("hops", _records(self.hops, hop_to_dict, rows)),
            ("findings", _records(self.findings, finding_to_dict, rows)),
            ("paths", [p.to_dict() for p in self.paths]),
            ("compromised_hosts", compromised),
            ("routine_groups", [g.to_dict() for g in self.routine_groups]),
            ("summary", self.summary),
        ]

    def json_chunks(self, *, indent: int = 1, rows: int = 2000) -> Iterator[str]:
        """The text of ``json.dumps(self.to_json(), indent=indent, ensure_ascii=False)``, piece by
        piece: hops and findings are converted ``rows`` at a time and never held as one list, so
        writing the document of a large case (millions of hops with their evidence) needs about
        the memory of ``rows`` hop objects instead of the whole document twice (objects and text).
        ``tests/app/test_analyze_cli.py`` checks the joined text equals that ``json.dumps``.
        """
        pad = " " * indent

        def dump(value: Any, level: int) -> str:
            return json.dumps(value, indent=indent, ensure_ascii=False).replace("\n", "\n" + pad * level)

        yield "{"
        for n, (key, value) in enumerate(self._json_parts(rows)):
            yield ("," if n else "") + "\n" + pad + json.dumps(key, ensure_ascii=False) + ": "
            if key not in _STREAMED_KEYS:
                yield dump(value, 1)
                continue
            empty = True
            for obj in value:
                yield ("," if not empty else "[") + "\n" + pad * 2 + dump(obj, 2)
                empty = False
            yield "[]" if empty else "\n" + pad + "]"
        yield "\n}"


#: Keys of the JSON document whose lists :meth:`AnalysisResult.json_chunks` writes item by item.
_STREAMED_KEYS = frozenset({"hops", "findings"})


def _records(frame: pd.DataFrame | None, convert: Callable[[dict[str, Any]], dict[str, Any]],
             rows: int) -> Iterator[dict[str, Any]]:
    """``convert`` of each row of ``frame`` (none for None), ``rows`` rows converted at a time."""
    if frame is None:
        return
    rows = max(1, rows)
    for start in range(0, len(frame), rows):
        for row in frame.iloc[start:start + rows].to_dict("records"):
            yield convert(row)


def hop_to_dict(row: dict[str, Any]) -> dict[str, Any]:
    """One hops-frame row as the JSON hop object."""
    return {
        "hop_id": int(row["hop_id"]),
        "src_host": _opt(row["src_host"]),
        "src_ip": _opt(row["src_ip"]),
        "dst_host": row["dst_host"],
        "account": _opt(row["account"]),
        "first_seen": _iso(row["first_seen"]),
        "last_seen": _iso(row["last_seen"]),
        "score": round(float(row["score"]), 4),
        "severity": str(row["severity"]),
        "kinds": list(row["kinds"]),
        "techniques": list(row["techniques"]),
        "rules": list(row["rules"]),
        "auth_signals": list(row.get("auth_signals") or ()),
        "n_events": int(row["n_events"]),
        "reason": _opt(row.get("reason")),
        "routine_group": _opt(row.get("routine_group")),
        "evidence": [
            {
                "event_id": int(e["event_id"]),
                "source_file": e["source_file"],
                "record_id": None if _opt(e.get("record_id")) is None else int(e["record_id"]),
                "rule": e.get("rule"),
                "ts": _iso(e.get("ts")),
                "host": e.get("host"),
                "fields": dict(e.get("fields") or {}),
            }
            for e in row["evidence"]
        ],
    }


def _opt(value: Any) -> Any:
    """Missing values (None, NaN, pd.NA) -> None."""
    if value is None:
        return None
    try:
        if value != value:  # NaN
            return None
    except (TypeError, ValueError):  # pd.NA raises on bool()
        return None
    return value


def _iso(value: Any) -> str | None:
    """A timestamp as ISO 8601 UTC with a trailing Z, or None."""
    if _opt(value) is None:
        return None
    ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    text = ts.isoformat()
    return text.replace("+00:00", "Z")
