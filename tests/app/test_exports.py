"""Tests of app.exports (registry, hop selection, CSV, JSON, Timesketch, saved results) on the
hand-made result of tests/app/export_fixture.py, including hostile host/account/service/command
values: CSV cells must never start a formula, JSON must carry the exact strings back.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import networkx as nx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.exports import EXPORTERS, SCOPES, export
from app.exports.common import evidence_frame, select_hops
from app.exports.saved import result_from_json
from app.exports.tables import FORMULA_PREFIXES, safe_cell, safe_column, write_csv
from graph.model import AnalysisResult
from ingest.errors import ConfigError
from tests.app.export_fixture import (
    ANY_TEXT,
    CSV_AT,
    CSV_CMD,
    CSV_LINK,
    CSV_PLUS,
    XSS_IMG,
    XSS_SCRIPT,
    XSS_SVG,
    build_result,
    csv_rows,
)

# --- registry -------------------------------------------------------------------------------------

def test_registry_entries_are_complete(result: AnalysisResult) -> None:
    for name, exp in EXPORTERS.items():
        assert exp.name == name
        assert exp.suffix.startswith(".") and "/" in exp.mime and exp.description
        for scope in SCOPES:
            data = exp(result, scope=scope)
            assert isinstance(data, bytes) and data, name


@pytest.mark.parametrize("name", list(EXPORTERS))
@pytest.mark.parametrize("case", ["no hops", "hops without evidence"])
def test_every_exporter_handles_degenerate_results(name: str, case: str) -> None:
    res = build_result()
    if case == "no hops":
        res.hops, res.paths, res.patient_zero, res.compromised = res.hops.iloc[0:0], [], [], None
        res.graph = nx.MultiDiGraph()
    else:
        res.hops["evidence"] = [()] * len(res.hops)
    for scope in SCOPES:
        data = EXPORTERS[name](res, scope=scope)
        assert isinstance(data, bytes)
        if name in ("json", "opengraph"):
            json.loads(data)
        elif name == "timesketch":
            lines = [json.loads(x) for x in data.decode().splitlines()]
            assert len(lines) == (0 if case == "no hops" else len(select_hops(res, scope)))


def test_exporters_do_not_change_the_result(result: AnalysisResult) -> None:
    hops_before = result.hops.copy()
    nodes_before = {n: dict(d) for n, d in result.graph.nodes(data=True)}
    edges_before = [(u, v, k, dict(d)) for u, v, k, d in result.graph.edges(keys=True, data=True)]
    for exporter in EXPORTERS.values():
        for scope in SCOPES:
            exporter(result, scope=scope)
    pd.testing.assert_frame_equal(result.hops, hops_before)
    assert {n: dict(d) for n, d in result.graph.nodes(data=True)} == nodes_before
    assert [(u, v, k, dict(d)) for u, v, k, d in result.graph.edges(keys=True, data=True)] == edges_before


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
    rows = csv_rows(EXPORTERS["csv"](result))
    assert [r["hop_id"] for r in rows] == ["1", "2"]
    first = rows[0]
    assert (first["src_host"], first["dst_host"], first["account"], first["severity"]) == \
        ("PC01", "SRV02", "alice", "high")
    assert first["event_ids"] == "1;4624;5140;7045"
    assert first["source_files"] == "Security.evtx;Sysmon.evtx;System.evtx"
    assert "7045 rec 13 [lg.service.psexec] (System.evtx)" in first["evidence"]
    assert first["first_seen"] == "2024-03-01T09:01:00Z"
    assert first["rarity"] == "1.0"                                    # extra hop columns are kept
    all_rows = csv_rows(EXPORTERS["csv"](result, scope="all"))
    assert len(all_rows) == 4 and all_rows[2]["src_host"] == ""   # unknown source stays empty


def test_paths_csv(result: AnalysisResult) -> None:
    rows = csv_rows(EXPORTERS["csv-paths"](result))
    assert len(rows) == 1
    assert rows[0]["hosts"] == "PC01;SRV02;DC03" and rows[0]["length"] == "2"
    assert rows[0]["chain"] == "PC01 -[alice 2024-03-01T09:01:00Z]-> SRV02 -[bob 2024-03-01T09:30:00Z]-> DC03"
    # a path whose hop falls outside the scope is left out
    assert csv_rows(EXPORTERS["csv-paths"](result, min_score=0.7)) == []


def test_evidence_csv(result: AnalysisResult) -> None:
    rows = csv_rows(EXPORTERS["csv-evidence"](result))
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
    rows = csv_rows(EXPORTERS["csv"](hostile))
    assert rows[0]["src_host"] == XSS_SCRIPT and rows[0]["dst_host"] == XSS_IMG
    assert rows[1]["dst_host"] == "'" + CSV_CMD and rows[1]["account"] == "'" + CSV_AT
    ev = csv_rows(EXPORTERS["csv-evidence"](hostile))
    assert {r["command_line"] for r in ev} >= {"'" + CSV_LINK}
    assert {r["source_file"] for r in ev} >= {"'" + CSV_PLUS}


# --- JSON -----------------------------------------------------------------------------------------

def test_json_is_exactly_the_result_document(result: AnalysisResult) -> None:
    doc = json.loads(EXPORTERS["json"](result))
    assert doc == json.loads(json.dumps(result.to_json()))
    assert doc["version"] == 2 and doc["patient_zero"][0]["host"] == "PC01"
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



# --- properties (hypothesis): any text a log can carry survives every format as data ----------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=ANY_TEXT)
def test_csv_cell_round_trip_property(value: str) -> None:
    data = write_csv(("a", "b"), [{"a": value, "b": 1}])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[1] == [("'" + value) if value.startswith(FORMULA_PREFIXES) else value, "1"]


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(ANY_TEXT, st.none()), min_size=1, max_size=8))
def test_vectorised_csv_column_equals_safe_cell(values: list[str | None]) -> None:
    column = safe_column(pd.Series(values, dtype="string"))
    assert column.tolist() == [safe_cell(v) for v in values]
    objects = safe_column(pd.Series([(v, "x") if v else v for v in values], dtype=object))
    assert objects.tolist() == [safe_cell(f"{v};x") if v else "" for v in values]



# --- saved results ---------------------------------------------------------------------------------

def test_saved_result_round_trips_the_json_document(result: AnalysisResult) -> None:
    doc = json.loads(EXPORTERS["json"](result))
    again = result_from_json(doc)
    assert json.loads(EXPORTERS["json"](again)) == doc
    assert set(again.graph.nodes) == set(result.graph.nodes)
    rows = csv_rows(EXPORTERS["csv"](again))
    assert [r["hop_id"] for r in rows] == ["1", "2"] and rows[0]["evidence"].startswith("4624 rec 11")
    assert "PC01 is the earliest source" in EXPORTERS["html"](again).decode()


@pytest.mark.parametrize("doc", [{}, {"version": 3, "hops": []}, {"version": 1, "hops": [{"hop_id": 1}]}])
def test_saved_result_rejects_other_documents(doc: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"saved\.json: .*(latgraph version-1|malformed)"):
        result_from_json(doc, source="saved.json")


