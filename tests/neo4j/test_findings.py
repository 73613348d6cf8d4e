"""Findings in Neo4j (issue #11): pushed as (:Host)-[:HAS_FINDING]->(:Finding), idempotent, read back by
the case load with their hop links."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.pipeline import analyze_from_events, run
from graph.neo4j_store import load_result, push
from ingest.report import IngestReport
from tests.conftest import events_frame, make_event
from tests.neo4j.server import Neo4jServer
from tests.neo4j.test_push import counts, query, settings_of

pytestmark = pytest.mark.neo4j

DATA = Path(__file__).resolve().parents[1] / "data" / "techniques"
SYS32 = "C:\\Windows\\System32\\"
COMPARED = ["host", "account", "first_seen", "last_seen", "count", "rule", "title", "level", "attack",
            "rules", "reason", "fields", "evidence"]


def _same_findings(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert len(got) == len(want)
    for g, w in zip(got.to_dict("records"), want.to_dict("records"), strict=True):
        assert {c: g[c] for c in COMPARED} == {c: w[c] for c in COMPARED}


def test_findings_without_hops_round_trip_and_repush_writes_nothing(neo4j_db: Neo4jServer) -> None:
    result = run([DATA / "atomic_t1021_002.xml"])       # four loopback findings, no hop
    assert result.hops.empty and len(result.findings) == 4
    settings = settings_of(neo4j_db)
    push(result, settings)
    stored = query(neo4j_db, "MATCH (h:Host)-[:HAS_FINDING]->(f:Finding) "
                             "RETURN h.name AS host, f.rule AS rule, f.level AS level, f.first_seen AS fs "
                             "ORDER BY rule")
    assert [s["rule"] for s in stored] == sorted(result.findings["rule"])
    assert {s["host"] for s in stored} == {"LAB-WIN10"} and {s["level"] for s in stored} == {"low"}
    loaded = load_result(settings)
    _same_findings(loaded.findings, result.findings)
    assert list(loaded.findings["finding_id"]) == [0, 1, 2, 3]
    before = (counts(neo4j_db), query(neo4j_db, "MATCH (f:Finding) RETURN properties(f) AS p ORDER BY p.key"))
    push(result, settings)
    assert (counts(neo4j_db), query(neo4j_db, "MATCH (f:Finding) RETURN properties(f) AS p ORDER BY p.key")) \
        == before


def test_finding_naming_a_hop_links_to_the_stored_hop(neo4j_db: Neo4jServer) -> None:
    ev = events_frame(
        make_event(event_id=4688, process=SYS32 + "net.exe", parent_process=SYS32 + "cmd.exe",
                   command_line="net use \\\\FS99\\C$ /u:corp\\adm pw", host="WS01", subject_account="adm"),
        make_event(host="FS01", account="bob", logon_type=3, src_ip="10.1.1.1"),
    )
    result = analyze_from_events(ev, IngestReport())
    [finding] = result.findings.to_dict("records")
    assert finding["reason"] == "destination has no logs" and len(finding["hop_ids"]) == 1
    settings = settings_of(neo4j_db)
    push(result, settings)
    linked = query(neo4j_db, "MATCH (:Host {name: 'WS01'})-[:HAS_FINDING]->(f:Finding) "
                             "MATCH (s)-[r:LATERAL]->(d:Host {name: 'FS99'}) WHERE r.hop_key IN f.hop_keys "
                             "RETURN s.name AS s, f.reason AS reason")
    assert linked == [{"s": "WS01", "reason": "destination has no logs"}]
    loaded = load_result(settings)
    _same_findings(loaded.findings, result.findings)
    [hop_id] = loaded.findings.iloc[0]["hop_ids"]
    assert loaded.hops.set_index("hop_id").loc[hop_id, "dst_host"] == "FS99"
