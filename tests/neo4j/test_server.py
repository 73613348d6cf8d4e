"""The harness itself: it starts, speaks Bolt 5 and has authentication on."""

from __future__ import annotations

import pytest

from tests.neo4j.conftest import Neo4jServer

pytestmark = pytest.mark.neo4j


def test_server_answers_and_is_5_26(neo4j_server: Neo4jServer) -> None:
    import neo4j

    with neo4j.GraphDatabase.driver(neo4j_server.uri, auth=(neo4j_server.user, neo4j_server.password)) as drv:
        records, _, _ = drv.execute_query("RETURN 1 AS x")
        assert records[0]["x"] == 1
        assert drv.get_server_info().agent.startswith("Neo4j/5.26.")
