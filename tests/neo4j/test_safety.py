"""Attacker-controlled names are data (never Cypher), and connection problems give clear errors."""

from __future__ import annotations

import pytest

from graph.neo4j_store import Neo4jSettings, Neo4jStoreError, load_hops, push
from graph.neo4j_store.connection import open_driver
from graph.neo4j_store.cypher import COUNTS
from tests.neo4j.conftest import Neo4jServer, free_loopback_port
from tests.neo4j.factory import ev, hop, hops_frame

pytestmark = pytest.mark.neo4j

PAYLOADS = (
    "x'}) DETACH DELETE n //",
    'x"}) MATCH (n) DETACH DELETE n RETURN 1 //',
    "\u0027 OR 1=1 //",
    "WS01`]->() DETACH DELETE n //",
    "${rows}",
    "SRV\\u0027\n$name:Host {{x}}",
)


def settings_of(server: Neo4jServer, **changes: str) -> Neo4jSettings:
    values = {"uri": server.uri, "user": server.user, "password": server.password,
              "database": server.database, **changes}
    return Neo4jSettings(**values)


def test_injection_payloads_are_stored_as_plain_data(neo4j_db: Neo4jServer) -> None:
    settings = settings_of(neo4j_db)
    push(hops_frame(hop("WS01", "SRV01", "admin", [ev(4624, 1, 0)])), settings)
    with open_driver(settings) as driver, driver.session(database=neo4j_db.database) as session:
        before = session.run(COUNTS).single().data()
    case = hops_frame(*[hop(p, f"DST{i}", p, [ev(4624, 100 + i, i, source_file=p, rule=p)], kinds=("logon",))
                        for i, p in enumerate(PAYLOADS)])
    push(case, settings)
    with open_driver(settings) as driver, driver.session(database=neo4j_db.database) as session:
        after = session.run(COUNTS).single().data()
        names = {r["n"] for r in session.run("MATCH (h:Host) RETURN h.name AS n")}
        accounts = {r["n"] for r in session.run("MATCH (a:Account) RETURN a.name AS n")}
    # Each payload adds exactly its source host, destination host and account; nothing was deleted.
    assert after["nodes"] == before["nodes"] + 3 * len(PAYLOADS) + 1   # + the push checkpoint
    assert set(PAYLOADS) <= names and set(PAYLOADS) <= accounts and "WS01" in names
    loaded = load_hops(settings)
    for p in PAYLOADS:
        row = loaded[loaded["src_host"] == p].iloc[0]
        assert row["account"] == p
        assert row["evidence"][0]["source_file"] == p and row["evidence"][0]["rule"] == p


def test_wrong_password_is_a_clear_error(neo4j_server: Neo4jServer) -> None:
    if not neo4j_server.password:
        pytest.skip("the server under test has authentication off")
    settings = settings_of(neo4j_server, password="definitely-wrong")
    with pytest.raises(Neo4jStoreError, match="refused the login for user 'neo4j': wrong user or password"):
        push(hops_frame(hop("A", "B", "u", [ev(4624, 1, 0)])), settings)


def test_unreachable_server_is_a_clear_error() -> None:
    settings = Neo4jSettings(uri=f"bolt://127.0.0.1:{free_loopback_port()}", password="whatever1")
    with pytest.raises(Neo4jStoreError, match=r"cannot reach Neo4j at bolt://127\.0\.0\.1:\d+"):
        load_hops(settings)


def test_unknown_database_is_a_clear_error(neo4j_server: Neo4jServer) -> None:
    settings = settings_of(neo4j_server, database="nosuchcase")
    with pytest.raises(Neo4jStoreError, match="has no database 'nosuchcase'"):
        load_hops(settings)


def test_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "neo4j", None)   # makes `import neo4j` raise ImportError
    with pytest.raises(Neo4jStoreError, match=r"pip install 'latgraph\[neo4j\]'"):
        load_hops(Neo4jSettings())


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATGRAPH_NEO4J_URI", "bolt://db.example:7687")
    monkeypatch.setenv("LATGRAPH_NEO4J_PASSWORD", "from-env")
    monkeypatch.setenv("LATGRAPH_NEO4J_DATABASE", "case42")
    settings = Neo4jSettings.from_env(database="override")
    assert (settings.uri, settings.password, settings.database, settings.user) == (
        "bolt://db.example:7687", "from-env", "override", "neo4j")
    assert "from-env" not in repr(settings)
