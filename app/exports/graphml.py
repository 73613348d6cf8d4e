"""GraphML export of the host-account graph (loads in Gephi, yEd, Cytoscape, networkx).

GraphML attributes must be scalars with one type per key, so every attribute is flattened:
lists/tuples/sets become ``;``-joined text, timestamps ISO 8601 UTC text, missing values are left
out, and a key whose values mix types is written as text. Characters XML 1.0 cannot carry
(control characters an attacker can put in a service name) are written as ``\\xNN``.

Nodes keep the graph's attributes (:mod:`graph.model`: ``type`` host/account, ``name``, ``score``,
``is_ip``, ``compromised``, ``first_compromised``, ``patient_zero_rank``) plus ``label`` (shown by
Gephi); ``compromised``/``first_compromised``/``patient_zero_rank`` (0 = not a candidate) are set
from the result on every host. Edges keep theirs (``kind``, ``relation``, ``count``,
``n_events``, ``first_seen``, ``last_seen``, ``score``, ``severity``, ``hop_ids``, ``accounts``)
plus ``weight`` = ``count`` for Gephi.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import networkx as nx

from app.exports.common import scalar, select_hops
from graph.model import (
    NODE_COMPROMISED,
    NODE_FIRST_COMPROMISED,
    NODE_NAME,
    NODE_PATIENT_ZERO_RANK,
    NODE_TYPE,
    account_node,
    host_node,
)

if TYPE_CHECKING:
    from graph.model import AnalysisResult

#: Characters not allowed in XML 1.0 documents (all C0 controls but tab, LF, CR; surrogates; FFFE/F).
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value: str) -> str:
    r"""Text with XML-invalid characters written as ``\xNN`` (data stays readable, file stays valid).

    Examples:
        >>> xml_safe("svc\x00name")
        'svc\\x00name'
    """
    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", value)


def _flat(value: Any) -> str | int | float | bool | None:
    out = scalar(value)
    if isinstance(out, float):
        return round(out, 6)
    return xml_safe(out) if isinstance(out, str) else out


def _unify(items: list[dict[str, Any]]) -> None:
    """Give every key one GraphML type across ``items`` (in place): bool, int, float or text."""
    types: dict[str, set[type]] = defaultdict(set)
    for data in items:
        for key, value in data.items():
            types[key].add(type(value))
    for key, seen in types.items():
        if seen <= {bool} or seen <= {int} or seen <= {str}:
            continue
        target: type = float if seen <= {int, float} else str
        for data in items:
            if key in data:
                value = data[key]
                data[key] = target(value) if target is float else (
                    str(value).lower() if isinstance(value, bool) else str(value))


def _node_name(node: Any, data: dict[str, Any]) -> tuple[str, str]:
    """(type, display name) of a graph node from its attributes or its id (``host:X`` / ``account:x``)."""
    kind = str(data.get(NODE_TYPE) or "")
    name = data.get(NODE_NAME)
    text = str(node)
    for prefix in ("host", "account"):
        if text.startswith(prefix + ":"):
            return kind or prefix, str(name or text[len(prefix) + 1:])
    return kind or "node", str(name or text)


def export_graph(result: AnalysisResult, *, scope: str = "suspicious",
                 min_score: float | None = None) -> nx.MultiDiGraph:
    """The graph an export writes: ``result.graph`` (``scope="all"``) or the part of it the
    exported hops touch, with patient-zero / compromise marks on the host nodes.

    For ``scope="suspicious"`` a node is kept when it is the source, destination or account of an
    exported hop; an edge between kept nodes is dropped only when it says it is not suspicious
    (``hop_ids`` none of which is exported, or a ``score`` under the cut).
    Hop endpoints missing from ``result.graph`` are added, so the export always shows every hop's hosts.
    """
    hops = select_hops(result, scope, min_score)
    source = result.graph if result.graph is not None else nx.MultiDiGraph()
    wanted: set[str] = set()
    for col, make in (("src_host", host_node), ("dst_host", host_node), ("account", account_node)):
        wanted.update(make(str(v)) for v in hops[col].dropna().unique())
    if scope == "all":
        graph = nx.MultiDiGraph(source)
    else:
        graph = nx.MultiDiGraph(source.subgraph(wanted & set(source.nodes)))
        keep_ids = {int(h) for h in hops["hop_id"]}
        cut = float(hops["score"].min()) if len(hops) else 1.0
        drop = []
        for u, v, key, data in graph.edges(keys=True, data=True):
            ids = data.get("hop_ids")
            if ids is not None:
                outside = len(ids) > 0 and not keep_ids & {int(i) for i in ids}
            else:
                outside = scalar(data.get("score")) is not None and float(data["score"]) < cut
            if outside:
                drop.append((u, v, key))
        graph.remove_edges_from(drop)
    for node in wanted - set(graph.nodes):
        graph.add_node(node)
    compromised: dict[str, Any] = {}
    if result.compromised is not None and len(result.compromised):
        compromised = dict(zip(result.compromised["host"], result.compromised["first_seen"], strict=True))
    pz_rank = {p.host: rank for rank, p in enumerate(result.patient_zero, start=1)}
    for node, data in graph.nodes(data=True):
        kind, name = _node_name(node, data)
        data[NODE_TYPE] = kind
        data[NODE_NAME] = name
        data["label"] = name
        if kind == "host":
            data[NODE_COMPROMISED] = name in compromised
            data[NODE_FIRST_COMPROMISED] = compromised.get(name)
            data[NODE_PATIENT_ZERO_RANK] = pz_rank.get(name, 0)
    return graph


def graphml(result: AnalysisResult, *, scope: str = "suspicious", min_score: float | None = None) -> bytes:
    """The export graph as GraphML (UTF-8), all attributes flattened to typed scalars."""
    source = export_graph(result, scope=scope, min_score=min_score)
    flat = nx.MultiDiGraph()
    ids = {node: xml_safe(str(node)) for node in source.nodes}
    for node, data in source.nodes(data=True):
        attrs = {xml_safe(str(k)): _flat(v) for k, v in data.items()}
        attrs = {k: v for k, v in attrs.items() if v is not None}
        flat.add_node(ids[node], **attrs)
    for n, (u, v, key, data) in enumerate(source.edges(keys=True, data=True)):
        attrs = {xml_safe(str(k)): _flat(val) for k, val in data.items()}
        attrs = {k: val for k, val in attrs.items() if val is not None}
        if "kind" not in attrs and isinstance(key, str):
            attrs["kind"] = xml_safe(key)
        if "weight" not in attrs and isinstance(attrs.get("count"), (int, float)):
            attrs["weight"] = attrs["count"]
        # networkx writes the edge key as the GraphML edge id: make it unique in the document
        # (the graph's keys are kinds, repeated between host pairs; Gephi merges equal edge ids)
        flat.add_edge(ids[u], ids[v], key=f"e{n}", **attrs)
    _unify([d for _, d in flat.nodes(data=True)])
    _unify([d for _, _, d in flat.edges(data=True)])
    buf = io.BytesIO()
    # generated key ids (d0, d1...): node and edge attributes share names (kind, score) and
    # GraphML key ids must be unique
    nx.write_graphml(flat, buf, encoding="utf-8", prettyprint=True)
    return _xsd_booleans(buf.getvalue())


_BOOL_KEY = re.compile(rb'<key id="([^"]+)" for="(?:node|edge|graph|all)" attr\.name="[^"]*" '
                       rb'attr\.type="boolean"')


def _xsd_booleans(doc: bytes) -> bytes:
    """networkx writes booleans as ``True``/``False``; XML Schema (and so GraphML readers such as
    yEd) want ``true``/``false``. Only ``<data>`` of boolean keys is touched."""
    keys = _BOOL_KEY.findall(doc)
    if not keys:
        return doc
    alternatives = b"|".join(re.escape(k) for k in keys)
    pattern = re.compile(rb'(<data key="(?:' + alternatives + rb')">)(True|False)(</data>)')
    return pattern.sub(lambda m: m.group(1) + m.group(2).lower() + m.group(3), doc)
