"""Tests of app.exports on a hand-made AnalysisResult (PC01 -> SRV02 -> DC03 with evidence, a
benign backup hop, a target-only hop), including hostile host/account/service/command-line values.

The hostile case checks what an attacker who names a host or service controls: the HTML report
must show the payloads as text, CSV cells must not start a formula, and JSON / GraphML / OpenGraph
must carry the exact strings back when parsed.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import networkx as nx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.exports import EXPORTERS, SCOPES, export
from app.exports.common import evidence_frame, select_hops
from app.exports.graphml import _XML_INVALID
from app.exports.saved import result_from_json
from app.exports.tables import FORMULA_PREFIXES, safe_cell, safe_column, write_csv
from graph.build import build_graph
from graph.config import AnalysisConfig
from graph.model import HOP_COLUMNS, AnalysisResult, Path, PatientZero, account_node, host_node
from ingest.errors import ConfigError
from ingest.report import IngestReport
from tests.conftest import T0, events_frame, make_event

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SVG = '"><svg onload=alert(1)>'
CSV_CMD = "=cmd|' /C calc'!A0"
CSV_PLUS = "+cmd|' /C calc'!A0"
CSV_AT = "@SUM(1+1)*cmd|' /C calc'!A0"
CSV_LINK = '=HYPERLINK("http://evil.example/x","click")'


def _ev(hop: int, event_id: int, record_id: int, rule: str, ts, file: str) -> dict[str, Any]:
    return {"event_id": event_id, "source_file": file, "record_id": record_id, "rule": rule, "ts": ts,
            "hop": hop}


def build_result(*, pc: str = "PC01", srv: str = "SRV02", dc: str = "DC03", alice: str = "alice",
                 bob: str = "bob", service: str = "PSEXESVC", command_line: str = "cmd.exe /c whoami",
                 sec_file: str = "Security.evtx") -> AnalysisResult:
    """A small, consistent result. Every name can be replaced by a hostile payload."""
    t1, t2, t_old = T0 + timedelta(minutes=1), T0 + timedelta(minutes=30), T0 - timedelta(days=1)
    events = events_frame(
        make_event(ts=t1, event_id=4624, host=srv, src_host=pc, src_ip="10.0.0.1", dst_host=srv,
                   account=alice, logon_type=3, auth_package="NTLM", record_id=11, source_file=sec_file),
        make_event(ts=t1 + timedelta(seconds=2), event_id=5140, host=srv, src_host=pc, dst_host=srv,
                   account=alice, share_name="\\\\*\\ADMIN$", record_id=12, source_file=sec_file),
        make_event(ts=t1 + timedelta(seconds=5), event_id=7045, channel="System", host=srv,
                   service_name=service, service_image=f"%SystemRoot%\\{service}.exe", record_id=13,
                   source_file="System.evtx"),
        make_event(ts=t1 + timedelta(seconds=6), event_id=1, channel="Sysmon", host=srv,
                   process="C:\\Windows\\PSEXESVC.exe", command_line=command_line, record_id=14,
                   source_file="Sysmon.evtx"),
        make_event(ts=t2, event_id=4624, host=dc, src_host=srv, dst_host=dc, account=bob, logon_type=3,
                   record_id=21, source_file=sec_file),
        make_event(ts=t2 + timedelta(seconds=3), event_id=5145, host=dc, src_host=srv, dst_host=dc,
                   account=bob, share_name="\\\\*\\C$", target_name="Windows\\Temp\\x.exe",
                   access_mask=2, record_id=22, source_file=sec_file),
        make_event(ts=t_old, event_id=4624, host=pc, src_host="BACKUP", dst_host=pc, account="svc_backup",
                   logon_type=3, record_id=31, source_file=sec_file),
        make_event(ts=t2 + timedelta(minutes=5), event_id=7045, channel="System", host=dc,
                   service_name="updater", record_id=41, source_file="System.evtx"),
    )
    evidence = {
        1: (_ev(1, 4624, 11, "lg.logon.network", t1, sec_file),
            _ev(1, 5140, 12, "lg.admin_share.access", t1 + timedelta(seconds=2), sec_file),
            _ev(1, 7045, 13, "lg.service.psexec", t1 + timedelta(seconds=5), "System.evtx"),
            _ev(1, 1, 14, "lg.process.psexesvc", t1 + timedelta(seconds=6), "Sysmon.evtx")),
        2: (_ev(2, 4624, 21, "lg.logon.network", t2, sec_file),
            _ev(2, 5145, 22, "lg.admin_share.write", t2 + timedelta(seconds=3), sec_file)),
        3: (_ev(3, 4624, 31, "lg.logon.network", t_old, sec_file),),
        4: (_ev(4, 7045, 41, "lg.service.install", t2 + timedelta(minutes=5), "System.evtx"),),
    }
    for items in evidence.values():
        for item in items:
            del item["hop"]
    rows = [
        (1, pc, "10.0.0.1", srv, alice, t1, t1 + timedelta(seconds=6),
         ("logon", "admin_share", "service_install", "execution"), ("T1021.002", "T1569.002"),
         ("lg.logon.network", "lg.admin_share.access", "lg.service.psexec", "lg.process.psexesvc"),
         evidence[1], 4, 0.92, "high"),
        (2, srv, None, dc, bob, t2, t2 + timedelta(seconds=3), ("logon", "admin_share", "file_write"),
         ("T1021.002",), ("lg.logon.network", "lg.admin_share.write"), evidence[2], 2, 0.65, "medium"),
        (3, "BACKUP", None, pc, "svc_backup", t_old, t_old, ("logon",), (), ("lg.logon.network",),
         evidence[3], 1, 0.1, "info"),
        (4, None, None, dc, None, t2 + timedelta(minutes=5), t2 + timedelta(minutes=5),
         ("service_install",), ("T1569.002",), ("lg.service.install",), evidence[4], 1, 0.3, "low"),
    ]
    hops = pd.DataFrame(rows, columns=list(HOP_COLUMNS))
    hops["first_seen"] = pd.to_datetime(hops["first_seen"], utc=True)
    hops["last_seen"] = pd.to_datetime(hops["last_seen"], utc=True)
    report = IngestReport()
    fr = report.add(sec_file, "evtx")
    fr.records_read, fr.kept = 100, 6
    hops["rarity"] = [1.0, 0.5, 0.0, 1.0]          # a score component the analysis adds
    patient_zero = [PatientZero(host=pc, score=0.9, confidence=0.85, first_seen=t1,
                                reason=f"{pc} is the earliest source; its hop to {srv} as {alice} "
                                       "explains the spread", hop_ids=(1,))]
    compromised = pd.DataFrame({"host": [srv, dc], "first_seen": pd.to_datetime([t1, t2], utc=True),
                                "score": [0.92, 0.65]})
    return AnalysisResult(
        events=events, report=report, config=AnalysisConfig(), tags=pd.DataFrame(), hops=hops,
        graph=build_graph(hops, compromised, patient_zero),   # the real graph builder
        paths=[Path(hosts=(pc, srv, dc), accounts=(alice, bob), hop_ids=(1, 2), start=t1,
                    end=t2 + timedelta(seconds=3), score=0.8)],
        patient_zero=patient_zero, compromised=compromised,
        summary={"hosts": 4, "hops": 4, "note": "fixture"},
    )


HOSTILE = {"pc": XSS_SCRIPT, "srv": XSS_IMG, "dc": CSV_CMD, "alice": XSS_SVG, "bob": CSV_AT,
           "service": XSS_SVG + CSV_PLUS, "command_line": CSV_LINK, "sec_file": CSV_PLUS}


@pytest.fixture
def result() -> AnalysisResult:
    return build_result()


@pytest.fixture
def hostile() -> AnalysisResult:
    return build_result(**HOSTILE)


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


# --- registry -------------------------------------------------------------------------------------

def test_registry_entries_are_complete(result: AnalysisResult) -> None:
    for name, exp in EXPORTERS.items():
        assert exp.name == name
        assert exp.suffix.startswith(".") and "/" in exp.mime and exp.description
        for scope in SCOPES:
            data = exp(result, scope=scope)
            assert isinstance(data, bytes) and data, name


def test_unknown_format_and_scope_are_clear_errors(result: AnalysisResult) -> None:
    with pytest.raises(KeyError, match="known: csv"):
        export("xlsx", result)
    with pytest.raises(ValueError, match="suspicious, all"):
        export("csv", result, scope="some")


# --- selection ------------------------------------------------------------------------------------

def test_suspicious_scope_uses_config_cut_and_min_score(result: AnalysisResult) -> None:
    assert list(select_hops(result)["hop_id"]) == [1, 2]                 # config.min_score 0.4
    assert list(select_hops(result, min_score=0.7)["hop_id"]) == [1]
    assert list(select_hops(result, "all")["hop_id"]) == [1, 2, 4, 3]    # by score


def test_evidence_frame_joins_event_details(result: AnalysisResult) -> None:
    frame = evidence_frame(result, select_hops(result))
    assert len(frame) == 6
    svc = frame[frame["event_id"] == 7045].iloc[0]
    assert svc["service_name"] == "PSEXESVC" and svc["host"] == "SRV02"
    proc = frame[frame["event_id"] == 1].iloc[0]
    assert proc["command_line"] == "cmd.exe /c whoami"
    assert list(frame["hop_id"]) == [1, 1, 1, 1, 2, 2]    # time order


def test_evidence_frame_falls_back_to_what_the_evidence_carries(result: AnalysisResult) -> None:
    hops = select_hops(result).copy()
    hops["evidence"] = [tuple({**e, "host": "FROM-EVIDENCE"} for e in ev) for ev in hops["evidence"]]
    result.events = result.events.iloc[0:0]          # no event to look the details up in
    frame = evidence_frame(result, hops)
    assert set(frame["host"]) == {"FROM-EVIDENCE"} and frame["service_name"].isna().all()


# --- CSV ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload", [CSV_CMD, CSV_PLUS, CSV_AT, CSV_LINK, "-2+3", "\tx", "\rx", "\n=1",
                                     "\uff1dcmd|' /C calc'!A0"])
def test_safe_cell_neutralises_formula_prefixes(payload: str) -> None:
    cell = safe_cell(payload)
    assert cell == "'" + payload


def test_safe_cell_keeps_numbers_and_plain_text() -> None:
    assert safe_cell(-0.5) == -0.5 and safe_cell(3) == 3 and safe_cell("PC01") == "PC01"


def test_hops_csv(result: AnalysisResult) -> None:
    rows = _csv_rows(EXPORTERS["csv"](result))
    assert [r["hop_id"] for r in rows] == ["1", "2"]
    first = rows[0]
    assert (first["src_host"], first["dst_host"], first["account"], first["severity"]) == \
        ("PC01", "SRV02", "alice", "high")
    assert first["event_ids"] == "1;4624;5140;7045"
    assert first["source_files"] == "Security.evtx;Sysmon.evtx;System.evtx"
    assert "7045 rec 13 [lg.service.psexec] (System.evtx)" in first["evidence"]
    assert first["first_seen"] == "2024-03-01T09:01:00Z"
    assert first["rarity"] == "1.0"                                    # extra hop columns are kept
    all_rows = _csv_rows(EXPORTERS["csv"](result, scope="all"))
    assert len(all_rows) == 4 and all_rows[2]["src_host"] == ""   # unknown source stays empty


def test_paths_csv(result: AnalysisResult) -> None:
    rows = _csv_rows(EXPORTERS["csv-paths"](result))
    assert len(rows) == 1
    assert rows[0]["hosts"] == "PC01;SRV02;DC03" and rows[0]["length"] == "2"
    assert rows[0]["chain"] == "PC01 -[alice 2024-03-01T09:01:00Z]-> SRV02 -[bob 2024-03-01T09:30:00Z]-> DC03"
    # a path whose hop falls outside the scope is left out
    assert _csv_rows(EXPORTERS["csv-paths"](result, min_score=0.7)) == []


def test_evidence_csv(result: AnalysisResult) -> None:
    rows = _csv_rows(EXPORTERS["csv-evidence"](result))
    assert [r["record_id"] for r in rows] == ["11", "12", "13", "14", "21", "22"]
    assert rows[2]["service_name"] == "PSEXESVC" and rows[3]["command_line"] == "cmd.exe /c whoami"
    assert rows[5]["target_name"] == "Windows\\Temp\\x.exe"


@pytest.mark.parametrize("name", ["csv", "csv-paths", "csv-evidence"])
def test_csv_never_starts_a_cell_with_a_formula(hostile: AnalysisResult, name: str) -> None:
    data = EXPORTERS[name](hostile, scope="all")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert len(rows) > 1
    text_cells = [c for row in rows[1:] for c in row]
    for cell in text_cells:
        try:
            float(cell)
            continue            # numbers (scores, ids) are numbers
        except ValueError:
            pass
        assert not cell.startswith(FORMULA_PREFIXES), (name, cell)
    joined = "\n".join(text_cells)
    # the payloads are still there, as text behind the quote
    for payload in (CSV_CMD, CSV_AT) if name != "csv-paths" else (CSV_AT,):
        assert "'" + payload in joined or payload in joined


def test_hops_csv_hostile_values_round_trip_after_the_quote(hostile: AnalysisResult) -> None:
    rows = _csv_rows(EXPORTERS["csv"](hostile))
    assert rows[0]["src_host"] == XSS_SCRIPT and rows[0]["dst_host"] == XSS_IMG
    assert rows[1]["dst_host"] == "'" + CSV_CMD and rows[1]["account"] == "'" + CSV_AT
    ev = _csv_rows(EXPORTERS["csv-evidence"](hostile))
    assert {r["command_line"] for r in ev} >= {"'" + CSV_LINK}
    assert {r["source_file"] for r in ev} >= {"'" + CSV_PLUS}


# --- JSON -----------------------------------------------------------------------------------------

def test_json_is_exactly_the_result_document(result: AnalysisResult) -> None:
    doc = json.loads(EXPORTERS["json"](result))
    assert doc == json.loads(json.dumps(result.to_json()))
    assert doc["version"] == 1 and doc["patient_zero"][0]["host"] == "PC01"
    assert len(doc["hops"]) == 4   # the whole result, whatever the scope


def test_json_round_trips_hostile_strings(hostile: AnalysisResult) -> None:
    doc = json.loads(EXPORTERS["json"](hostile))
    hop = doc["hops"][0]
    assert (hop["src_host"], hop["dst_host"], hop["account"]) == (XSS_SCRIPT, XSS_IMG, XSS_SVG)


def test_timesketch_lines(result: AnalysisResult) -> None:
    lines = [json.loads(line) for line in EXPORTERS["timesketch"](result).decode().splitlines()]
    assert len(lines) == 2 + 6      # 2 hops + 6 evidence events
    for line in lines:
        assert line["message"] and line["timestamp_desc"]
        assert pd.Timestamp(line["datetime"]).tzinfo is not None
        assert line["datetime"].endswith("+00:00")
    stamps = [line["timestamp"] for line in lines]
    assert stamps == sorted(stamps)
    hop_line = next(x for x in lines if x["lg_record_type"] == "hop" and x["lg_hop_id"] == 1)
    assert hop_line["message"].startswith("latgraph lateral hop PC01 -> SRV02 as alice [high 0.92]")
    svc = next(x for x in lines if x.get("event_id") == 7045)
    assert svc["lg_service_name"] == "PSEXESVC" and svc["record_id"] == 13
    assert svc["source_file"] == "System.evtx" and svc["lg_hop_id"] == 1
    assert svc["datetime"] == "2024-03-01T09:01:05.000000+00:00"
    assert hop_line["lg_rarity"] == 1.0


def test_timesketch_round_trips_hostile_strings(hostile: AnalysisResult) -> None:
    lines = [json.loads(x) for x in EXPORTERS["timesketch"](hostile, scope="all").decode().splitlines()]
    assert any(x.get("lg_command_line") == CSV_LINK for x in lines)
    assert any(x.get("lg_service_name") == XSS_SVG + CSV_PLUS for x in lines)
    assert any(x["lg_dst_host"] == XSS_IMG and x["lg_src_host"] == XSS_SCRIPT for x in lines)


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


# --- HTML -----------------------------------------------------------------------------------------

class _Collector(HTMLParser):
    """Collects tags, attributes and text of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(data: bytes) -> _Collector:
    parser = _Collector()
    parser.feed(data.decode("utf-8"))
    return parser


def test_html_report_content(result: AnalysisResult) -> None:
    data = EXPORTERS["html"](result)
    page = _parse(data)
    text = " ".join(page.text)
    assert "Patient zero" in text and "PC01 is the earliest source" in text
    assert "PSEXESVC" in text and "cmd.exe /c whoami" in text        # per-hop evidence details
    assert "Security.evtx" in text and "lg.admin_share.write" in text
    assert "2024-03-01 09:30:00Z" in text                              # timeline of DC03
    assert "svg" in page.tags
    html = data.decode()
    assert "script" not in page.tags
    assert "http://" not in html and "https://" not in html and "//" not in html.replace("://", "")
    assert "default-src 'none'" in html


def test_html_report_without_findings() -> None:
    res = build_result()
    res.hops = res.hops.iloc[0:0]
    res.paths, res.patient_zero, res.compromised = [], [], None
    text = " ".join(_parse(EXPORTERS["html"](res)).text)
    assert "No patient-zero candidate" in text and "No path of suspicious hops" in text


def test_html_report_escapes_hostile_strings(hostile: AnalysisResult) -> None:
    data = EXPORTERS["html"](hostile, scope="all")
    html = data.decode()
    page = _parse(data)
    assert "script" not in page.tags and "img" not in page.tags
    assert page.tags.count("svg") == 1                          # only our own timeline
    assert not [a for a, _ in page.attrs if a.startswith("on")]  # no event-handler attribute
    assert "<script" not in html.lower() and "<img" not in html.lower() and "<svg onload" not in html.lower()
    text = "".join(page.text)
    for payload in (XSS_SCRIPT, XSS_IMG, XSS_SVG, CSV_LINK):
        assert payload in text, payload                          # shown as text


# --- properties (hypothesis): any text a log can carry survives every format as data ----------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_TEXT)
def test_csv_cell_round_trip_property(value: str) -> None:
    data = write_csv(("a", "b"), [{"a": value, "b": 1}])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[1] == [("'" + value) if value.startswith(FORMULA_PREFIXES) else value, "1"]


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(_TEXT, st.none()), min_size=1, max_size=8))
def test_vectorised_csv_column_equals_safe_cell(values: list[str | None]) -> None:
    column = safe_column(pd.Series(values, dtype="string"))
    assert column.tolist() == [safe_cell(v) for v in values]
    objects = safe_column(pd.Series([(v, "x") if v else v for v in values], dtype=object))
    assert objects.tolist() == [safe_cell(f"{v};x") if v else "" for v in values]


@settings(max_examples=25, deadline=None)
@given(host=_TEXT.filter(lambda s: "\r" not in s), account=_TEXT)
def test_any_host_and_account_survive_json_opengraph_html(host: str, account: str) -> None:
    res = build_result(srv=host, bob=account)
    hop = json.loads(EXPORTERS["json"](res))["hops"][0]
    assert hop["dst_host"] == host
    names = {n["properties"]["name"] for n in json.loads(EXPORTERS["opengraph"](res))["graph"]["nodes"]}
    assert {host, account} <= names
    page = _parse(EXPORTERS["html"](res))
    assert "script" not in page.tags
    assert host in "".join(page.text)          # shown as the same text, whatever it holds


@settings(max_examples=25, deadline=None)
@given(host=_TEXT.filter(lambda s: not _XML_INVALID.search(s) and "\r" not in s))
def test_any_xml_valid_host_round_trips_graphml(host: str) -> None:
    g = _read_graphml(EXPORTERS["graphml"](build_result(srv=host)))
    assert g.nodes[host_node(host)]["label"] == host


# --- saved results ---------------------------------------------------------------------------------

def test_saved_result_round_trips_the_json_document(result: AnalysisResult) -> None:
    doc = json.loads(EXPORTERS["json"](result))
    again = result_from_json(doc)
    assert json.loads(EXPORTERS["json"](again)) == doc
    assert set(again.graph.nodes) == set(result.graph.nodes)
    rows = _csv_rows(EXPORTERS["csv"](again))
    assert [r["hop_id"] for r in rows] == ["1", "2"] and rows[0]["evidence"].startswith("4624 rec 11")
    assert "PC01 is the earliest source" in EXPORTERS["html"](again).decode()


@pytest.mark.parametrize("doc", [{}, {"version": 2, "hops": []}, {"version": 1, "hops": [{"hop_id": 1}]}])
def test_saved_result_rejects_other_documents(doc: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"saved\.json: .*(latgraph version-1|malformed)"):
        result_from_json(doc, source="saved.json")


# --- the HTML report in a real browser ----------------------------------------------------------------

@pytest.mark.browser
def test_html_report_runs_no_script_in_chromium(hostile: AnalysisResult, tmp_path: Any) -> None:
    """Open the hostile report in Debian's chromium: no dialog opens, no request leaves the file,
    no element from the data exists, and the payloads read as text."""
    from tests.app.ui.browser import ARTIFACTS, browser_page

    report = tmp_path / "report.html"
    report.write_bytes(EXPORTERS["html"](hostile, scope="all"))
    dialogs: list[str] = []
    requests: list[str] = []
    with browser_page() as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_timeout(500)
        body = page.inner_text("body")
        counts = page.evaluate("""() => ({
            script: document.querySelectorAll('script').length,
            img: document.querySelectorAll('img').length,
            svg: document.querySelectorAll('svg').length,
            handlers: [...document.querySelectorAll('*')].filter(
                e => [...e.attributes].some(a => a.name.startsWith('on'))).length})""")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "export-html-xss.png"), full_page=True)
    assert dialogs == []
    assert requests == [report.as_uri()]
    assert counts == {"script": 0, "img": 0, "svg": 1, "handlers": 0}
    for payload in (XSS_SCRIPT, XSS_IMG, XSS_SVG, CSV_LINK):
        assert payload in body, payload
