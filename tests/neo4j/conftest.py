"""A real Neo4j 5.26 for the ``neo4j`` tests: started once per session from the Maven-built harness.

``make neo4j-server`` builds ``tools/neo4j-testserver`` (classes + ``target/cp.txt``). The session
fixture starts ``latgraph.TestServer`` (see ``server.py``) on a free loopback port with
authentication on and a random password, waits for its ``READY bolt://...`` line and stops it by
closing its stdin. Without java or the built class path the tests skip with the reason; with
``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.neo4j.server import USER, Neo4jServer, ServerUnavailable, free_loopback_port, running_server

__all__ = ["Neo4jServer", "drop_schema", "free_loopback_port"]

START_TIMEOUT_S = float(os.environ.get("LATGRAPH_NEO4J_START_TIMEOUT", "300"))


def _unavailable(reason: str) -> None:
    """Skip locally; fail in CI, where the server must run."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"Neo4j test server unavailable in CI: {reason}")
    pytest.skip(f"Neo4j test server unavailable: {reason}")


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neo4jServer]:
    """Start the harness once for the session and stop it at the end.

    ``LATGRAPH_TEST_NEO4J_URI`` (+ ``_PASSWORD``) points the tests at a running server instead;
    the tests WIPE its ``neo4j`` database, so never point it at a real case.
    """
    external = os.environ.get("LATGRAPH_TEST_NEO4J_URI")
    if external:
        password = os.environ.get("LATGRAPH_TEST_NEO4J_PASSWORD", "")
        yield Neo4jServer(uri=external, user=USER, password=password)
        return
    try:
        import neo4j  # noqa: F401
    except ImportError:
        _unavailable("the Python driver is missing: pip install 'latgraph[neo4j]'")
    try:
        server = running_server(tmp_path_factory.mktemp("neo4j"), timeout_s=START_TIMEOUT_S)
        started = server.__enter__()
    except ServerUnavailable as exc:
        _unavailable(str(exc))
    try:
        yield started
    finally:
        server.__exit__(None, None, None)


def drop_schema(server: Neo4jServer) -> None:
    """Drop every constraint and index (except the built-in token lookups)."""
    import neo4j

    with neo4j.GraphDatabase.driver(server.uri, auth=(server.user, server.password)) as drv:
        for plural in ("CONSTRAINTS", "INDEXES"):
            records, _, _ = drv.execute_query(f"SHOW {plural} YIELD name, type RETURN name, type",
                                              database_=server.database)
            for rec in records:
                if rec["type"] != "LOOKUP":
                    kind = plural[:-1] if plural == "CONSTRAINTS" else "INDEX"
                    drv.execute_query(f"DROP {kind} `{rec['name']}` IF EXISTS", database_=server.database)


@pytest.fixture
def neo4j_db(neo4j_server: Neo4jServer) -> Iterator[Neo4jServer]:
    """The server with an empty database (schema kept: dropping it would flush the query cache)."""
    import neo4j

    with neo4j.GraphDatabase.driver(neo4j_server.uri, auth=(neo4j_server.user, neo4j_server.password)) as drv:
        drv.execute_query("MATCH (n) DETACH DELETE n", database_=neo4j_server.database)
    yield neo4j_server
