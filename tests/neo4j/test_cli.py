"""``latgraph neo4j push|paths|query`` end to end against the real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from tests.neo4j.conftest import Neo4jServer

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def sim_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A generated case on disk and its in-memory analysis."""
    from app.pipeline import run
    from ingest.case import write_case
    from ingest.synthetic import simulate

    sim = simulate(7)
    path = write_case(sim.events, tmp_path_factory.mktemp("case") / "sim.parquet")
    return path, run(path)


def conn_env(server: Neo4jServer) -> dict[str, str]:
    return {"LATGRAPH_NEO4J_URI": server.uri, "LATGRAPH_NEO4J_USER": server.user,
            "LATGRAPH_NEO4J_PASSWORD": server.password}


@pytest.mark.slow
def test_push_then_paths_and_queries(neo4j_db: Neo4jServer, sim_case: tuple[Path, object]) -> None:
    path, result = sim_case
    runner = CliRunner()
    pushed = runner.invoke(cli, ["neo4j", "push", str(path), "--batch-size", "100"], env=conn_env(neo4j_db))
    assert pushed.exit_code == 0, pushed.output
    assert f"pushed {len(result.hops)} hop(s)" in pushed.output

    out = runner.invoke(cli, ["neo4j", "paths", "--json"], env=conn_env(neo4j_db))
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert [p["host"] for p in doc["patient_zero"]] == [p.host for p in result.patient_zero]
    assert [p["hosts"] for p in doc["paths"]] == [list(p.hosts) for p in result.paths]

    pz = result.patient_zero[0].host
    spread = runner.invoke(cli, ["neo4j", "query", "spread-from", "--host", pz], env=conn_env(neo4j_db))
    assert spread.exit_code == 0, spread.output
    spread_hosts = {json.loads(line)["host"] for line in spread.output.splitlines()}
    first_path = next(p for p in result.paths if p.hosts[0] == pz)
    assert set(first_path.hosts[1:]) <= spread_hosts
    target = first_path.hosts[-1]
    back = runner.invoke(cli, ["neo4j", "query", "reached-by", "--host", target], env=conn_env(neo4j_db))
    assert back.exit_code == 0 and pz in {json.loads(line)["host"] for line in back.output.splitlines()}
    between = runner.invoke(cli, ["neo4j", "query", "between", "--src", pz, "--dst", target],
                            env=conn_env(neo4j_db))
    assert between.exit_code == 0
    chains = [json.loads(line) for line in between.output.splitlines()]
    assert chains and all(c["hosts"][0] == pz and c["hosts"][-1] == target for c in chains)
    assert all(c["times"] == sorted(c["times"]) for c in chains)


def test_cli_errors_are_clear(neo4j_server: Neo4jServer) -> None:
    runner = CliRunner()
    env = {**conn_env(neo4j_server), "LATGRAPH_NEO4J_PASSWORD": "wrong-password"}
    out = runner.invoke(cli, ["neo4j", "paths"], env=env)
    assert out.exit_code == 1 and "refused the login" in out.output
    usage = runner.invoke(cli, ["neo4j", "query", "between", "--src", "A"], env=conn_env(neo4j_server))
    assert usage.exit_code == 2 and "between needs --dst" in usage.output
