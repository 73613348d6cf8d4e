"""BloodHound OpenGraph JSON export (BloodHound CE >= 8, "Quick Upload" / file ingest).

Shape (PEERS.md 1.4)::

    {"metadata": {"source_kind": "LGBase"},
     "graph": {"nodes": [{"id", "kinds": [...], "properties": {...}}],
               "edges": [{"kind", "start": {"value", "match_by": "id"},
                          "end": {"value", "match_by": "id"}, "properties": {...}}]}}

Node kinds: ``LGHost`` and ``LGAccount`` (plus ``LGPatientZero`` on the top candidate and
``LGCompromised`` on compromised hosts); the schema allows at most 3 kinds per node, so the
common ``LGBase`` kind is given once as ``metadata.source_kind`` (BloodHound adds it to every
node of the upload) instead of in each node's list.
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

import pandas as pd

from app.exports.common import iso, iso_series, scalar, select_hops
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
        if key in _SET_PROPS:    # built by _merge from ints (ids) or strings only: homogeneous
            out[key] = sorted(value)
            continue
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


def _merge(props: dict[str, Any], hop: dict[str, Any]) -> None:
    """Fold one (prepared, see :func:`_prepared_hops`) hop into an aggregated edge's properties."""
    props["hop_ids"].add(hop["hop_id"])
    if hop["account"] is not None:
        props["accounts"].add(hop["account"])
    if hop["src_host"] is not None:
        props["src_hosts"].add(hop["src_host"])
    props["techniques"].update(hop["techniques"])
    props["evidence_kinds"].update(hop["kinds"])
    props["event_ids"].update(hop["event_ids"])
    props["source_files"].update(hop["source_files"])
    props["n_events"] += hop["n_events"]
    props["score"] = max(props["score"], hop["score"])
    if _SEVERITY_ORDER.get(hop["severity"], -1) > _SEVERITY_ORDER.get(props["severity"], -1):
        props["severity"] = hop["severity"]
    first, last = hop["first_seen"], hop["last_seen"]
    if first and (props["first_seen"] is None or first < props["first_seen"]):
        props["first_seen"] = first
    if last and (props["last_seen"] is None or last > props["last_seen"]):
        props["last_seen"] = last


def _prepared_hops(hops: pd.DataFrame) -> list[dict[str, Any]]:
    """Hops as plain Python records with the per-hop sets computed once (vectorised where it can)."""
    evidence = hops["evidence"].map(lambda ev: list(ev or ()))
    frame = pd.DataFrame({
        "hop_id": hops["hop_id"].astype("int64"),
        "src_host": hops["src_host"].astype(object).map(_name),
        "dst_host": hops["dst_host"].astype(object).map(_name),
        "account": hops["account"].astype(object).map(_name),
        "kinds": hops["kinds"].map(lambda v: [str(k) for k in v or ()]),
        "techniques": hops["techniques"].map(lambda v: [str(t) for t in v or ()]),
        "event_ids": evidence.map(lambda ev: {int(e["event_id"]) for e in ev
                                              if e.get("event_id") is not None}),
        "source_files": evidence.map(lambda ev: {str(e["source_file"]) for e in ev if e.get("source_file")}),
        "n_events": pd.to_numeric(hops["n_events"]).astype("int64"),
        "score": hops["score"].astype(float),
        "severity": hops["severity"].astype(object).map(str),
        "first_seen": iso_series(hops["first_seen"]),
        "last_seen": iso_series(hops["last_seen"]),
    })
    records = frame.to_dict("records")
    for rec in records:  # pandas may have turned None back into NaN in a text column
        rec["src_host"], rec["account"] = _name(rec["src_host"]), _name(rec["account"])
    return records


def _name(value: Any) -> str | None:
    out = scalar(value)
    return None if out is None else str(out)


#: Edge properties that _merge fills as sets of one type (int ids or str names).
_SET_PROPS = frozenset({"hop_ids", "accounts", "src_hosts", "techniques", "evidence_kinds", "event_ids",
                        "source_files"})


def _new_props() -> dict[str, Any]:
    return {"hop_ids": set(), "accounts": set(), "src_hosts": set(), "techniques": set(),
            "evidence_kinds": set(), "event_ids": set(), "source_files": set(), "n_events": 0,
            "score": 0.0, "severity": Severity.INFO.value, "first_seen": None, "last_seen": None}


def opengraph_doc(result: AnalysisResult, *, scope: str = "suspicious",
                  min_score: float | None = None) -> dict[str, Any]:
    """The OpenGraph document of the exported hops (see the module docstring)."""
    hops = _prepared_hops(select_hops(result, scope, min_score))
    nodes: dict[str, dict[str, Any]] = {}
    edges: dict[tuple[str, str, str], dict[str, Any]] = {}
    compromised: dict[str, Any] = {}
    if result.compromised is not None and len(result.compromised):
        compromised = dict(zip(result.compromised["host"], result.compromised["first_seen"], strict=True))
    pz = {p.host: (rank, p) for rank, p in enumerate(result.patient_zero, start=1)}

    def host(name: str) -> str:
        node_id = host_node(name)
        if node_id not in nodes:
            kinds = [HOST_KIND]
            props: dict[str, Any] = {"name": name, "displayname": name, "objectid": node_id,
                                     "lg_compromised": name in compromised,
                                     "lg_compromised_first_seen": iso(compromised.get(name))}
            if name in compromised:
                kinds.append(COMPROMISED_KIND)
            if name in pz:
                rank, cand = pz[name]
                if rank == 1:
                    kinds.insert(1, PATIENT_ZERO_KIND)   # at most 3 kinds (OpenGraph schema)
                props.update({"lg_patient_zero_rank": rank, "lg_patient_zero_confidence":
                              round(float(cand.confidence), 4), "lg_patient_zero_reason": cand.reason})
            nodes[node_id] = {"id": node_id, "kinds": kinds, "properties": props}
        return node_id

    def account(name: str) -> str:
        node_id = account_node(name)
        if node_id not in nodes:
            nodes[node_id] = {"id": node_id, "kinds": [ACCOUNT_KIND],
                              "properties": {"name": name, "displayname": name, "objectid": node_id}}
        return node_id

    def edge(start: str, end: str, kind: str, hop: dict[str, Any]) -> None:
        key = (start, end, kind)
        if key not in edges:
            edges[key] = _new_props()
        _merge(edges[key], hop)

    for hop in hops:  # small per-hop loop
        dst = host(str(hop["dst_host"]))
        src = host(hop["src_host"]) if hop["src_host"] is not None else None
        acct = account(hop["account"]) if hop["account"] is not None else None
        if src is not None and src != dst:
            edge(src, dst, hop_edge_kind(hop["kinds"]), hop)
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
                 "end": {"value": end, "match_by": "id"}, "properties": _clean(props)}
                for (start, end, kind), props in edges.items()
            ],
        },
    }


def opengraph(result: AnalysisResult, *, scope: str = "suspicious", min_score: float | None = None) -> bytes:
    """The OpenGraph document as UTF-8 JSON."""
    return dumps(opengraph_doc(result, scope=scope, min_score=min_score), indent=None) + b"\n"
