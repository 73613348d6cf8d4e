"""The bulk importer path (``neo4j-admin database import full`` into a brand-new database) against the
real test server: the same graph as a Bolt push, property for property, then incremental Bolt pushes
on top; attacker-set names are data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from app.pipeline import analyze_from_events
from graph.neo4j_store import cypher_paths, cypher_patient_zero, push
from graph.neo4j_store.bulk import BulkImportError, bulk_import
from ingest.report import IngestReport
from ingest.synthetic import simulate
from tests.neo4j.conftest import START_TIMEOUT_S, Neo4jServer
from tests.neo4j.factory import ev, hop, hops_frame
from tests.neo4j.server import ServerUnavailable, admin_command, running_server
from tests.neo4j.test_push import query, settings_of

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

NASTY = ['WS"01,\nx', "SRV;01 x'}) DETACH DELETE n //", "\u0027 OR 1=1 //", "=cmd|' /C calc'!A0",
         "\u00e9\u4e2d"]


def whole_graph(server: Neo4jServer) -> tuple[list[str], list[str]]:
    """Every node and relationship with all properties (checkpoints aside), as sorted texts."""
    nodes = query(server, "MATCH (n) WHERE NOT n:LatgraphPush RETURN labels(n) AS l, properties(n) AS p")
    rels = query(server, "MATCH (s)-[r]->(d) RETURN type(r) AS t, properties(s) AS s, properties(d) AS d, "
                         "properties(r) AS p")
    return sorted(map(_text, nodes)), sorted(map(_text, rels))


def _text(value: Any) -> str:
    """A record as text, maps with sorted keys (a store returns properties in its own order)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_text(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return repr(value)


def _case() -> Any:
    """A generated case (hops, compromised hosts, findings) plus hops with hostile names and files."""
    sim = simulate(5, n_workstations=25, days=2, target_events=30_000)
    result = analyze_from_events(sim.events, IngestReport())
    nasty = hops_frame(
        hop(NASTY[0], NASTY[1], NASTY[2], [ev(4624, 1, 0, source_file='a",b\n.evtx'), ev(5145, 2, 60)]),
        hop(NASTY[0], NASTY[1], NASTY[2], [ev(7045, 3, 600, rule="svc")],
            kinds=("service_install",), techniques=()),
        hop(None, NASTY[3], NASTY[4], [ev(7045, 4, 50)], kinds=("service_install",), src_ip="10.0.0.9",
            techniques=()),
        hop(NASTY[4], NASTY[3], None, [ev(4624, 5, 70)], kinds=("logon",)),
    )
    nasty["hop_id"] = nasty["hop_id"] + int(result.hops["hop_id"].max()) + 1
    hops = pd.concat([result.hops, nasty], ignore_index=True)
    return replace(result, hops=hops)


def test_bulk_import_stores_the_bolt_graph_and_takes_incremental_pushes(neo4j_db: Neo4jServer,
                                                                         tmp_path: Path) -> None:
    case = _case()
    assert len(case.hops) > 50 and case.compromised is not None and len(case.compromised)
    bolt = settings_of(neo4j_db)
    push(case, bolt)
    want = whole_graph(neo4j_db)
    home = tmp_path / "home"
    try:
        admin = admin_command()
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    report = bulk_import(case, home, admin=admin)
    assert report.multiline   # a name with a line break: the importer parses multi-line fields
    assert (report.hops, report.nodes - 1) == (len(case.hops), len(want[0]))
    assert report.relationships == len(want[1])
    # A database that exists is never replaced.
    with pytest.raises(BulkImportError, match=r"already exists .* never replaces one"):
        bulk_import(case, home, admin=admin)
    with running_server(tmp_path / "second", home=home, timeout_s=START_TIMEOUT_S) as server:
        imported = settings_of(server)
        # The first answer finishes the import (empty lists, constraints, status), then answers.
        paths = cypher_paths(imported, case.config)
        assert [p.hosts for p in paths] == [p.hosts for p in cypher_paths(bolt, case.config)]
        assert [p.host for p in cypher_patient_zero(imported, case.config)] == \
            [p.host for p in cypher_patient_zero(bolt, case.config)]
        assert whole_graph(server) == want
        assert query(server, "MATCH (p:LatgraphPush) RETURN p.status AS s, p.method AS m") == \
            [{"s": "done", "m": "bulk-import"}]
        # Hops without techniques: their empty lists were given after the import.
        assert query(server, "MATCH (p:LatgraphPush) RETURN p.empty_lists > 0 AS e") == [{"e": True}]
        names = {r["name"] for r in query(server, "SHOW CONSTRAINTS YIELD name RETURN name")}
        assert {"latgraph_host_key", "latgraph_lateral_hop_key"} <= names
        # Re-pushing the imported case writes nothing (the import recorded the case digest).
        again = push(case, imported)
        assert again.repeated and again.push_id == report.push_id
        checked = push(case, imported, recheck=True)
        assert (checked.created, checked.joined, checked.unchanged) == (0, 0, len(case.hops))
        assert whole_graph(server) == want
        # A second batch of logs: joins a stored hop, creates one; same result on both stores.
        second = hops_frame(
            hop(NASTY[0], NASTY[1], NASTY[2], [ev(4624, 9, 900)], kinds=("logon",), score=0.95),
            hop(NASTY[1], NASTY[4], "admin", [ev(4624, 10, 5000)]),
        )
        for settings in (bolt, imported):
            more = push(second, settings)
            assert (more.created, more.joined) == (1, 1)
        assert whole_graph(server) == whole_graph(neo4j_db)


def test_bulk_import_without_line_breaks_parses_line_by_line_and_stores_the_bolt_graph(
        neo4j_db: Neo4jServer, tmp_path: Path) -> None:
    """No value holds a line break: the importer runs without ``--multiline-fields`` (about twice as
    fast) and the store is still the Bolt push's, property for property; a comma, a quote, the array
    delimiter and Cypher text in names stay data."""
    try:
        admin = admin_command()
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    sim = simulate(4, n_workstations=15, days=1, target_events=8_000)
    result = analyze_from_events(sim.events, IngestReport())
    flat = [n.replace("\n", " ") for n in NASTY]
    odd = hops_frame(hop(flat[0], flat[1], flat[2], [ev(4624, 1, 0, source_file='a",b;c.evtx')]),
                     hop(flat[3], flat[4], None, [ev(4624, 2, 70)], kinds=("logon",)))
    odd["hop_id"] = odd["hop_id"] + int(result.hops["hop_id"].max()) + 1
    case = replace(result, hops=pd.concat([result.hops, odd], ignore_index=True))
    push(case, settings_of(neo4j_db))
    want = whole_graph(neo4j_db)
    report = bulk_import(case, tmp_path / "home", admin=admin)
    assert not report.multiline
    with running_server(tmp_path / "second", home=tmp_path / "home", timeout_s=START_TIMEOUT_S) as server:
        assert push(case, settings_of(server)).repeated   # finishes the import, then recognises the case
        assert whole_graph(server) == want
        # No empty list anywhere: the import was finished without a pass over the relationships.
        assert query(server, "MATCH (p:LatgraphPush) RETURN p.empty_lists AS e") == [{"e": 0}]


def test_bulk_import_needs_an_importer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BulkImportError, match="no neo4j-admin"):
        bulk_import(hops_frame(hop("A", "B", "u", [ev(4624, 1, 0)])), tmp_path / "home")


def test_cli_bulk_import_writes_a_new_database_and_never_replaces_one(tmp_path: Path) -> None:
    import shlex

    from click.testing import CliRunner

    from app.cli import cli
    from ingest.case import write_case

    try:
        admin = shlex.join(admin_command())
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    sim = simulate(3, n_workstations=10, days=1, target_events=5_000)
    case = write_case(sim.events, tmp_path / "case.parquet")
    home = tmp_path / "home"
    args = ["neo4j", "push", str(case), "--bulk-import", str(home), "--neo4j-admin", admin,
            "--database", "case42"]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.output
    assert "imported" in done.output and "database case42" in done.output
    assert (home / "data" / "databases" / "case42").is_dir()
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1 and "already exists" in again.output and "never replaces" in again.output
    assert "Traceback" not in again.output
