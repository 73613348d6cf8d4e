"""The benchmark's server sizing: Neo4j's own memory recommendation, applied to a real server.

``bench/neo4j.py`` starts the test server with what ``neo4j-admin server memory-recommendation``
recommends for a budget (:func:`tests.neo4j.server.recommended_memory`) instead of the tests' small
heap and page cache. These tests check that the recommendation is read from the real tool and that
a server started with it really runs with that page cache and heap.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.neo4j.conftest import START_TIMEOUT_S, _unavailable
from tests.neo4j.server import ServerMemory, ServerUnavailable, _mebibytes, recommended_memory, running_server


def _recommended(budget: str) -> ServerMemory:
    try:
        return recommended_memory(budget)
    except ServerUnavailable as exc:
        _unavailable(str(exc))
        raise   # not reached: _unavailable skips or fails


def test_the_recommendation_grows_with_the_budget_and_fits_in_it() -> None:
    small, large = _recommended("2g"), _recommended("8g")
    for budget, memory in ((2048, small), (8192, large)):
        heap, pagecache = _mebibytes(memory.heap), _mebibytes(memory.pagecache)
        assert heap > 0 and pagecache > 0
        assert heap + pagecache <= budget, (budget, memory)
    assert _mebibytes(large.heap) > _mebibytes(small.heap)


def test_a_server_started_with_the_recommendation_uses_its_page_cache_and_heap(tmp_path: Path) -> None:
    neo4j = pytest.importorskip("neo4j")
    memory = _recommended("2g")
    try:
        server_cm = running_server(tmp_path, memory=memory, timeout_s=START_TIMEOUT_S)
        server = server_cm.__enter__()
    except ServerUnavailable as exc:
        _unavailable(str(exc))
    try:
        with neo4j.GraphDatabase.driver(server.uri, auth=(server.user, server.password)) as driver, \
                driver.session(database="system") as session:
            settings = {r["name"]: r["value"] for r in session.run(
                "SHOW SETTINGS YIELD name, value WHERE name IN $names RETURN name, value",
                names=["server.memory.pagecache.size"])}
            heap = session.run(
                "CALL dbms.queryJmx('java.lang:type=Memory') YIELD attributes "
                "RETURN attributes.HeapMemoryUsage.value.properties.max AS max").single()["max"]
    finally:
        server_cm.__exit__(None, None, None)
    assert _mebibytes(settings["server.memory.pagecache.size"]) == _mebibytes(memory.pagecache)
    # -Xms = -Xmx: the JVM reports about the whole heap as its maximum (a survivor space less).
    assert 0.85 * _mebibytes(memory.heap) <= int(heap) / 2**20 <= _mebibytes(memory.heap)
