"""BloodHound OpenGraph JSON export (BloodHound CE >= 8, "Quick Upload" / file ingest).

Shape (PEERS.md 1.4)::

    {"metadata": {"source_kind": "LGBase"},
     "graph": {"nodes": [{"id", "kinds": [...], "properties": {...}}],
               "edges": [{"kind", "start": {"value", "match_by": "id"},
                          "end": {"value", "match_by": "id"}, "properties": {...}}]}}

Node kinds: ``LGHost`` and ``LGAccount`` (plus ``LGPatientZero`` on the top candidate and
``LGCompromised`` on hosts reached by a suspicious hop); every node also has ``LGBase``.
Edge kinds, one edge per (start, end, kind) with the hops aggregated in its properties:

* host -> host: ``LGRemoteExecHop`` (a service install or remote execution proved the hop),
  else ``LGAdminShareHop`` (admin-share / IPC$ access or file write), else ``LGLogonHop``;
* host -> account ``LGUsedAccount`` (the source host used the account for a hop);
* account -> host ``LGAuthenticatedTo`` (the account reached the destination).

Property values are primitives or homogeneous arrays of primitives, as the OpenGraph schema asks;
missing values are left out. Node ids are latgraph's graph node ids (``host:PC01``,
``account:alice``), so they never collide with SharpHound's SIDs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.exports.common import iso, scalar, select_hops
from app.exports.jsonish import dumps
from graph.model import EdgeKind, Severity, account_node, host_node

if TYPE_CHECKING:
    from graph.model import AnalysisResult

SOURCE_KIND = "LGBase"
HOST_KIND = "LGHost"
ACCOUNT_KIND = "LGAccount"
PATIENT_ZERO_KIND = "LGPatientZero"
COMPROMISED_KIND = "LGCompromised"

_EXEC_KINDS = frozenset({EdgeKind.SERVICE_INSTALL.value, EdgeKind.EXECUTION.value})
_SHARE_KINDS = frozenset({EdgeKind.ADMIN_SHARE.value, EdgeKind.IPC_PIPE.value, EdgeKind.FILE_WRITE.value})
_SEVERITY_ORDER = {s.value: i for i, s in enumerate((Severity.INFO, Severity.LOW, Severity.MEDIUM,
                                                     Severity.HIGH))}


def hop_edge_kind(kinds: tuple[str, ...] | list[str]) -> str:
    """The OpenGraph edge kind of a host -> host hop from its evidence kinds.

    Examples:
        >>> hop_edge_kind(("logon", "admin_share", "service_install"))
        'LGRemoteExecHop'
        >>> hop_edge_kind(("logon",))
        'LGLogonHop'
    """
    have = {str(k) for k in kinds}
    if have & _EXEC_KINDS:
        return "LGRemoteExecHop"
    if have & _SHARE_KINDS:
        return "LGAdminShareHop"
    return "LGLogonHop"


def _clean(props: dict[str, Any]) -> dict[str, Any]:
    """Drop missing values; arrays become homogeneous lists of strings or numbers."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        if isinstance(value, (list, tuple, set, frozenset)):
            items = [scalar(v) for v in value]
            items = [v for v in items if v is not None]
            if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
                out[key] = sorted(set(items))
            else:
                out[key] = sorted({str(v) for v in items})
            continue
        value = scalar(value)
        if value is not None:
            out[key] = value
    return out


def _merge(edge: dict[str, Any], hop: dict[str, Any]) -> None:
    """Fold one hop into an aggregated edge's working properties."""
    p = edge["props"]
    p["hop_ids"].add(int(hop["hop_id"]))
    if scalar(hop["account"]) is not None:
        p["accounts"].add(str(hop["account"]))
    if scalar(hop["src_host"]) is not None:
        p["src_hosts"].add(str(hop["src_host"]))
    p["techniques"].update(str(t) for t in hop["techniques"] or ())
    p["evidence_kinds"].update(str(k) for k in hop["kinds"] or ())
    p["event_ids"].update(int(e["event_id"]) for e in hop["evidence"] or () if e.get("event_id") is not None)
    p["source_files"].update(str(e["source_file"]) for e in hop["evidence"] or () if e.get("source_file"))
    p["n_events"] += int(hop["n_events"])
    score = float(hop["score"])
    if score >= p["score"]:
        p["score"] = score
    sev = str(hop["severity"])
    if _SEVERITY_ORDER.get(sev, -1) > _SEVERITY_ORDER.get(p["severity"], -1):
        p["severity"] = sev
    first, last = iso(hop["first_seen"]), iso(hop["last_seen"])
    if first and (p["first_seen"] is None or first < p["first_seen"]):
        p["first_seen"] = first
    if last and (p["last_seen"] is None or last > p["last_seen"]):
        p["last_seen"] = last


def _new_props() -> dict[str, Any]:
    return {"hop_ids": set(), "accounts": set(), "src_hosts": set(), "techniques": set(),
            "evidence_kinds": set(), "event_ids": set(), "source_files": set(), "n_events": 0,
            "score": 0.0, "severity": Severity.INFO.value, "first_seen": None, "last_seen": None}


def opengraph_doc(result: AnalysisResult, *, scope: str = "suspicious",
                  min_score: float | None = None) -> dict[str, Any]:
    """The OpenGraph document of the exported hops (see the module docstring)."""
    hops = select_hops(result, scope, min_score).to_dict("records")
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str, str], dict[str, Any]] = {}
    compromised: dict[str, Any] = {}
    if result.compromised is not None and len(result.compromised):
        compromised = dict(zip(result.compromised["host"], result.compromised["first_seen"], strict=True))
    pz = {p.host: (rank, p) for rank, p in enumerate(result.patient_zero, start=1)}

    def host(name: str) -> str:
        node_id = host_node(name)
        if node_id not in nodes:
            kinds = [HOST_KIND, SOURCE_KIND]
            props: dict[str, Any] = {"name": name, "displayname": name, "objectid": node_id,
                                     "lg_compromised": name in compromised,
                                     "lg_compromised_first_seen": iso(compromised.get(name))}
            if name in compromised:
                kinds.insert(1, COMPROMISED_KIND)
            if name in pz:
                rank, cand = pz[name]
                if rank == 1:
                    kinds.insert(1, PATIENT_ZERO_KIND)
                props.update({"lg_patient_zero_rank": rank, "lg_patient_zero_confidence":
                              round(float(cand.confidence), 4), "lg_patient_zero_reason": cand.reason})
            nodes[node_id] = {"id": node_id, "kinds": kinds, "properties": props}
        return node_id

    def account(name: str) -> str:
        node_id = account_node(name)
        if node_id not in nodes:
            nodes[node_id] = {"id": node_id, "kinds": [ACCOUNT_KIND, SOURCE_KIND],
                              "properties": {"name": name, "displayname": name, "objectid": node_id}}
        return node_id

    def edge(start: str, end: str, kind: str, hop: dict[str, Any]) -> None:
        item = edges.setdefault((start, end, kind), {"props": _new_props()})
        _merge(item, hop)

    for hop in hops:  # small per-hop loop
        dst = host(str(hop["dst_host"]))
        src = host(str(hop["src_host"])) if scalar(hop["src_host"]) is not None else None
        acct = account(str(hop["account"])) if scalar(hop["account"]) is not None else None
        if src is not None and src != dst:
            edge(src, dst, hop_edge_kind(hop["kinds"] or ()), hop)
        if acct is not None:
            edge(acct, dst, "LGAuthenticatedTo", hop)
            if src is not None:
                edge(src, acct, "LGUsedAccount", hop)
    return {
        "metadata": {"source_kind": SOURCE_KIND},
        "graph": {
            "nodes": [{**n, "properties": _clean(n["properties"])} for n in nodes.values()],
            "edges": [
                {"kind": kind, "start": {"value": start, "match_by": "id"},
                 "end": {"value": end, "match_by": "id"}, "properties": _clean(item["props"])}
                for (start, end, kind), item in edges.items()
            ],
        },
    }


def opengraph(result: AnalysisResult, *, scope: str = "suspicious", min_score: float | None = None) -> bytes:
    """The OpenGraph document as UTF-8 JSON."""
    return dumps(opengraph_doc(result, scope=scope, min_score=min_score)) + b"\n"
