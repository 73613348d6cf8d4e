"""Tests of the graph exports (GraphML for Gephi, BloodHound OpenGraph JSON): shape, ids, schema
rules, and hostile names round-tripping as data.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from typing import Any

import networkx as nx
import pandas as pd
import pytest
from hypothesis import given, settings

from app.exports import EXPORTERS, SCOPES
from app.exports.graphml import _XML_INVALID
from graph.model import AnalysisResult, account_node, host_node
from tests.app.export_fixture import (
    ANY_TEXT,
    CSV_AT,
    CSV_CMD,
    HOSTILE,
    XSS_IMG,
    XSS_SCRIPT,
    XSS_SVG,
    build_result,
)
from tests.conftest import T0

# --- GraphML --------------------------------------------------------------------------------------

def _read_graphml(data: bytes) -> nx.MultiDiGraph:
    ET.fromstring(data)        # well-formed XML
    return nx.read_graphml(io.BytesIO(data), force_multigraph=True)


def test_graphml_loads_with_flattened_attributes(result: AnalysisResult) -> None:
    g = _read_graphml(EXPORTERS["graphml"](result))
    assert set(g.nodes) == {"host:PC01", "host:SRV02", "host:DC03", "account:alice", "account:bob"}
    assert g.nodes["host:PC01"]["patient_zero_rank"] == 1 and g.nodes["host:PC01"]["compromised"] is False
    assert g.nodes["host:DC03"]["patient_zero_rank"] == 0
    assert g.nodes["host:SRV02"]["first_compromised"] == "2024-03-01T09:01:00Z"
    assert g.nodes["account:alice"]["label"] == "alice" and g.nodes["account:alice"]["type"] == "account"
    edges = {(u, v, d["kind"]): d for u, v, d in g.edges(data=True)}
    edge = edges[("host:PC01", "host:SRV02", "admin_share")]
    assert edge["first_seen"] == "2024-03-01T09:01:00Z" and edge["hop_ids"] == "1"
    assert edge["weight"] == 1 and edge["relation"] == "host_host" and edge["accounts"] == "alice"
    assert ("account:bob", "host:DC03", "file_write") in edges
    assert not [k for k in edges if k[0] == "host:BACKUP"]       # benign hop not in suspicious scope
    g_all = _read_graphml(EXPORTERS["graphml"](result, scope="all"))
    assert ("host:BACKUP", "host:PC01") in set(g_all.edges())


def test_graphml_booleans_are_xml_schema_booleans(result: AnalysisResult) -> None:
    data = EXPORTERS["graphml"](result)
    assert b">true</data>" in data and b">false</data>" in data
    assert b">True</data>" not in data and b">False</data>" not in data
    g = _read_graphml(data)
    assert g.nodes["host:SRV02"]["compromised"] is True and g.nodes["host:PC01"]["compromised"] is False


def test_graphml_ids_are_unique(result: AnalysisResult) -> None:
    root = ET.fromstring(EXPORTERS["graphml"](result, scope="all"))
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    key_ids = [k.get("id") for k in root.findall("g:key", ns)]
    edge_ids = [e.get("id") for e in root.findall(".//g:edge", ns)]
    node_ids = [e.get("id") for e in root.findall(".//g:node", ns)]
    assert len(edge_ids) > 4
    for ids in (key_ids, edge_ids, node_ids):
        assert len(ids) == len(set(ids))


def test_graphml_round_trips_hostile_strings(hostile: AnalysisResult) -> None:
    g = _read_graphml(EXPORTERS["graphml"](hostile))
    assert host_node(XSS_SCRIPT) in g and host_node(XSS_IMG) in g and account_node(XSS_SVG) in g
    assert g.nodes[host_node(XSS_IMG)]["label"] == XSS_IMG


def test_graphml_survives_control_characters() -> None:
    res = build_result(srv="SRV\x0102", alice="al\x00ice")
    g = _read_graphml(EXPORTERS["graphml"](res))
    assert "host:SRV\\x0102" in g and "account:al\\x00ice" in g


# --- OpenGraph ------------------------------------------------------------------------------------

def _is_primitive(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def test_opengraph_document_shape(result: AnalysisResult) -> None:
    doc = json.loads(EXPORTERS["opengraph"](result))
    nodes = {n["id"]: n for n in doc["graph"]["nodes"]}
    assert set(nodes) == {"host:PC01", "host:SRV02", "host:DC03", "account:alice", "account:bob"}
    assert nodes["host:PC01"]["kinds"] == ["LGHost", "LGPatientZero"]
    assert nodes["host:SRV02"]["kinds"] == ["LGHost", "LGCompromised"]
    assert "LGCompromised" in nodes["host:SRV02"]["kinds"] and nodes["account:bob"]["kinds"][0] == "LGAccount"
    assert nodes["host:PC01"]["properties"]["lg_patient_zero_reason"].startswith("PC01 is the earliest")
    for item in [*doc["graph"]["nodes"], *doc["graph"]["edges"]]:
        for key, value in item["properties"].items():
            if isinstance(value, list):
                assert all(_is_primitive(v) for v in value) and len({type(v) for v in value}) <= 1, key
            else:
                assert _is_primitive(value), key
    edges = {(e["start"]["value"], e["end"]["value"], e["kind"]): e for e in doc["graph"]["edges"]}
    for e in doc["graph"]["edges"]:
        assert e["start"]["match_by"] == "id" == e["end"]["match_by"]
        assert e["start"]["value"] in nodes and e["end"]["value"] in nodes
    hop1 = edges[("host:PC01", "host:SRV02", "LGRemoteExecHop")]["properties"]
    assert hop1["hop_ids"] == [1] and hop1["accounts"] == ["alice"] and hop1["severity"] == "high"
    assert hop1["event_ids"] == [1, 4624, 5140, 7045] and hop1["first_seen"] == "2024-03-01T09:01:00Z"
    assert ("host:SRV02", "host:DC03", "LGAdminShareHop") in edges
    assert ("account:alice", "host:SRV02", "LGAuthenticatedTo") in edges
    assert ("host:PC01", "account:alice", "LGUsedAccount") in edges
    assert doc["metadata"]["source_kind"] == "LGBase"


#: The OpenGraph payload rules as a JSON schema (BloodHound docs "OpenGraph schema": node kinds
#: 1..3 strings, property values primitives or homogeneous arrays of primitives, edges with
#: start/end {value, match_by id|name}).
_PRIMITIVE = {"type": ["string", "number", "boolean"]}
_PROPS = {"type": ["object", "null"], "additionalProperties": {"anyOf": [
    _PRIMITIVE,
    {"type": "array", "items": {"type": "string"}}, {"type": "array", "items": {"type": "number"}},
    {"type": "array", "items": {"type": "boolean"}}]}}
_END = {"type": "object", "required": ["value"], "additionalProperties": False,
        "properties": {"value": {"type": "string", "minLength": 1},
                       "match_by": {"enum": ["id", "name"]}, "kind": {"type": "string"}}}
OPENGRAPH_SCHEMA = {
    "type": "object", "required": ["graph"],
    "properties": {
        "metadata": {"type": "object", "properties": {"source_kind": {"type": "string"}}},
        "graph": {"type": "object", "required": ["nodes"], "properties": {
            "nodes": {"type": "array", "items": {
                "type": "object", "required": ["id", "kinds"], "additionalProperties": False,
                "properties": {"id": {"type": "string", "minLength": 1}, "properties": _PROPS,
                               "kinds": {"type": "array", "items": {"type": "string"},
                                         "minItems": 1, "maxItems": 3}}}},
            "edges": {"type": "array", "items": {
                "type": "object", "required": ["kind", "start", "end"], "additionalProperties": False,
                "properties": {"kind": {"type": "string", "minLength": 1}, "start": _END, "end": _END,
                               "properties": _PROPS}}}}}}}


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("hostile_names", [False, True])
def test_opengraph_validates_against_the_schema(scope: str, hostile_names: bool) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    res = build_result(**HOSTILE) if hostile_names else build_result()
    jsonschema.validate(json.loads(EXPORTERS["opengraph"](res, scope=scope)), OPENGRAPH_SCHEMA)


def test_opengraph_patient_zero_that_is_compromised_keeps_three_kinds(result: AnalysisResult) -> None:
    result.compromised = pd.concat([pd.DataFrame({"host": ["PC01"], "first_seen": [T0], "score": [0.9]}),
                                    result.compromised], ignore_index=True)
    doc = json.loads(EXPORTERS["opengraph"](result))
    kinds = {n["id"]: n["kinds"] for n in doc["graph"]["nodes"]}
    assert kinds["host:PC01"] == ["LGHost", "LGPatientZero", "LGCompromised"]


def test_opengraph_target_only_hop_has_no_host_edge(result: AnalysisResult) -> None:
    doc = json.loads(EXPORTERS["opengraph"](result, scope="all"))
    hop4_edges = [e for e in doc["graph"]["edges"] if 4 in e["properties"]["hop_ids"]]
    assert hop4_edges == []          # hop 4 has neither source nor account: only its host node
    assert "host:DC03" in {n["id"] for n in doc["graph"]["nodes"]}


def test_opengraph_round_trips_hostile_strings(hostile: AnalysisResult) -> None:
    doc = json.loads(EXPORTERS["opengraph"](hostile))
    names = {n["properties"]["name"] for n in doc["graph"]["nodes"]}
    assert {XSS_SCRIPT, XSS_IMG, CSV_CMD, XSS_SVG, CSV_AT} <= names




@settings(max_examples=25, deadline=None)
@given(host=ANY_TEXT.filter(lambda s: not _XML_INVALID.search(s) and "\r" not in s))
def test_any_xml_valid_host_round_trips_graphml(host: str) -> None:
    g = _read_graphml(EXPORTERS["graphml"](build_result(srv=host)))
    assert g.nodes[host_node(host)]["label"] == host


