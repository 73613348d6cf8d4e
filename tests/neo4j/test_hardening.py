"""Issue #14 items 5 and 6 against the real server: an over-long name never fails a push, and paths /
queries never answer silently from a half-finished push."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from app.cli import cli
from graph.neo4j_store import IncompletePushError, cypher_paths, cypher_patient_zero, load_hops, push
from graph.neo4j_store.rows import node_key
from tests.neo4j.conftest import Neo4jServer
from tests.neo4j.factory import chain_case, ev, hop, hops_frame
from tests.neo4j.test_cli import conn_env
from tests.neo4j.test_push import counts, query, settings_of, snapshot

pytestmark = pytest.mark.neo4j

#: Over Neo4j's index key limit (about 8 KB): before node keys, a push of such a name failed and
#: rolled the whole batch back (Neo.ClientError.Schema.IndexValueTooLarge or similar).
LONG_HOST = "WS" + "\u00e9X" * 6000          # 12,002 characters, 18 KB in UTF-8
LONG_ACCOUNT = "evil" + "a" * 9000
LONG_HOST_2 = LONG_HOST[:-1] + "Y"           # same first 200 characters: keys must still differ


def hostile_case():
    return hops_frame(
        hop(LONG_HOST, "SRV01", "admin", [ev(4624, 1, 0), ev(5145, 2, 5)]),
        hop("SRV01", "DC01", LONG_ACCOUNT, [ev(4624, 3, 600)]),
        hop(LONG_HOST_2, "SRV01", LONG_ACCOUNT, [ev(4624, 4, 30)], score=0.3, severity="low"),
        hop(None, LONG_HOST, "system", [ev(7045, 5, 700)], kinds=("service_install",)),
        hop("WS01", "SRV01", "admin", [ev(4624, 6, 10)]),
    )


def test_over_long_names_are_stored_in_full_and_never_fail_the_push(neo4j_db: Neo4jServer) -> None:
    settings = settings_of(neo4j_db)
    report = push(hostile_case(), settings, batch_size=2)
    assert report.created == 5
    hosts = {r["n"]: r["k"] for r in query(neo4j_db, "MATCH (h:Host) RETURN h.name AS n, h.key AS k")}
    assert hosts[LONG_HOST] == node_key(LONG_HOST) != hosts[LONG_HOST_2]
    assert len(hosts[LONG_HOST].encode()) < 1000 and hosts["WS01"] == "WS01"
    accounts = query(neo4j_db, "MATCH (a:Account) WHERE size(a.name) > 8000 RETURN a.name AS n")
    assert accounts == [{"n": LONG_ACCOUNT}]
    unknown = query(neo4j_db, "MATCH (u:UnknownSource)-[:LATERAL]->(d) RETURN u.dst AS u, d.name AS d")
    assert unknown == [{"u": LONG_HOST, "d": LONG_HOST}]
    loaded = load_hops(settings)
    assert set(loaded["src_host"].dropna()) == {LONG_HOST, LONG_HOST_2, "SRV01", "WS01"}
    assert set(loaded["account"].dropna()) == {"admin", LONG_ACCOUNT, "system"}
    # The long names take part in the analysis like any other name.
    assert any(LONG_HOST in p.hosts for p in cypher_paths(settings))
    # Re-pushing changes nothing; pushing again in one batch finds the same nodes by key.
    before, props = counts(neo4j_db), snapshot(neo4j_db)
    for batch_size in (2, 100):   # (another batch size adds only its own checkpoint node)
        again = push(hostile_case(), settings, batch_size=batch_size)
        assert (again.created, again.joined, again.unchanged) == (0, 0, 5)
        assert (counts(neo4j_db)[1], snapshot(neo4j_db)) == (before[1], props)
    assert query(neo4j_db, "MATCH (h:Host) RETURN count(h) AS n") == [{"n": len(hosts)}]


def test_store_of_the_previous_version_is_migrated_to_node_keys(neo4j_db: Neo4jServer) -> None:
    """A store with the old name constraints and nodes without ``key``: the push gives the nodes their
    key (no duplicate host) and replaces the constraints."""
    from tests.neo4j.conftest import drop_schema

    drop_schema(neo4j_db)
    query(neo4j_db, "CREATE CONSTRAINT latgraph_host_name FOR (h:Host) REQUIRE h.name IS UNIQUE")
    query(neo4j_db, "CREATE INDEX latgraph_lateral_account FOR ()-[r:LATERAL]-() ON (r.account)")
    query(neo4j_db, "CREATE (:Host {name: 'WS01'}), (:Host {name: 'SRV01'}), (:Account {name: 'admin'})")
    push(chain_case(), settings_of(neo4j_db))
    assert query(neo4j_db, "MATCH (h:Host {name: 'WS01'}) RETURN h.key AS k") == [{"k": "WS01"}]
    assert query(neo4j_db, "MATCH (a:Account {name: 'admin'}) RETURN count(a) AS n") == [{"n": 1}]
    names = {r["name"] for r in query(neo4j_db, "SHOW CONSTRAINTS YIELD name RETURN name")}
    names |= {r["name"] for r in query(neo4j_db, "SHOW INDEXES YIELD name RETURN name")}
    assert "latgraph_host_key" in names
    assert not names & {"latgraph_host_name", "latgraph_lateral_account"}
    push(hostile_case(), settings_of(neo4j_db))   # and long names now go in


def spread_case(tag: str):
    """P0 -> A -> B -> C, one admin, ten minutes apart: patient zero is P0."""
    names = [f"{n}{tag}" for n in ("P0", "A", "B", "C")]
    return names[0], hops_frame(*[hop(names[i], names[i + 1], "admin", [ev(4624, i, i * 600)])
                                  for i in range(3)])


def _interrupted(server: Neo4jServer):
    """A push of :func:`spread_case` (one row per batch) stopped before the batch of P0's hop: the
    store then holds later hops only (rows go by group hash, so the case is picked to make that so)."""
    from graph.neo4j_store import hop_rows

    for tag in map(str, range(100)):
        p0, case = spread_case(tag)
        position = [r["src"] for r in hop_rows(case)].index(p0)
        if position >= 1:
            break
    settings = settings_of(server)
    with pytest.raises(RuntimeError, match="interrupted"):
        push(case, settings, batch_size=1, _fail_after_batches=position)
    return settings, case, p0, position


def test_paths_refuse_a_half_finished_push_until_it_is_resumed(neo4j_db: Neo4jServer) -> None:
    settings, case, p0, position = _interrupted(neo4j_db)
    with pytest.raises(IncompletePushError, match=rf"unfinished push .*{position} of 3 batches committed"):
        cypher_paths(settings)
    with pytest.raises(IncompletePushError, match="re-run the same `latgraph neo4j push`"):
        cypher_patient_zero(settings)
    partial = cypher_patient_zero(settings, allow_incomplete=True)   # answers, knowingly partial
    assert partial and partial[0].host != p0                         # ... and wrong: why it refuses
    push(case, settings, batch_size=1)                                # resume: finishes it
    assert cypher_patient_zero(settings)[0].host == p0


def test_cli_paths_and_query_refuse_or_warn_on_a_half_finished_push(neo4j_db: Neo4jServer) -> None:
    _interrupted(neo4j_db)
    runner = CliRunner()
    env = conn_env(neo4j_db)
    for args in (["neo4j", "paths"], ["neo4j", "query", "spread-from", "--host", "WS01"]):
        refused = runner.invoke(cli, args, env=env)
        assert refused.exit_code == 1, refused.output
        assert "unfinished push" in refused.output and "--allow-incomplete" in refused.output
        warned = runner.invoke(cli, [*args, "--allow-incomplete"], env=env)
        assert warned.exit_code == 0, warned.output
        assert "warning: the Neo4j store holds an unfinished push" in warned.stderr
