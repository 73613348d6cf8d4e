"""One SparkSession (``local[2]``, bound to 127.0.0.1) for the whole test session, and the real
services of ``tests/spark/cluster.py`` (a standalone master with two workers, a Spark Connect server).

``LATGRAPH_TEST_SPARK_MASTER`` (``spark://...``, ``sc://...``) makes the ``spark`` fixture a session
on that master instead (``tests/spark/test_cluster.py`` runs the equivalence tests that way).

Skipped with the reason when pyspark or Java is missing, except under ``CI=true`` where the Spark
tests must run and a missing engine is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from graph.spark.session import spark_session, spark_unavailable_reason

#: Session settings for a cluster master (the driver runs here, executors on the workers).
CLUSTER_CONF: dict[str, str] = {
    "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1", "spark.ui.enabled": "false",
    "spark.executor.memory": "512m", "spark.executor.cores": "1", "spark.cores.max": "2",
    "spark.sql.shuffle.partitions": "2",
}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the Spark engine cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """The shared local[2] session (startup ~6 s, so only one per test run), or a session on
    ``$LATGRAPH_TEST_SPARK_MASTER``."""
    reason = spark_unavailable_reason()
    if reason is not None:
        _unavailable(reason)
    master = os.environ.get("LATGRAPH_TEST_SPARK_MASTER")
    if master:
        conf = {"spark.sql.shuffle.partitions": "2"} if master.startswith("sc://") else CLUSTER_CONF
        session = spark_session(master, app_name="latgraph-tests", conf=conf)
        if master.startswith("sc://"):
            assert "connect" in type(session).__module__, type(session)   # a real Connect client
        yield session
        session.stop()
        return
    session = spark_session("local[2]", app_name="latgraph-tests", driver_memory="1g",
                            conf={"spark.sql.shuffle.partitions": "2",
                                  # short-lived JVM: C1 only and a serial GC start and warm up faster
                                  "spark.driver.extraJavaOptions":
                                      "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"})
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sample_events() -> Any:
    """Every labelled real sample in ../shared/datasets as one canonical frame (or skip)."""
    from ingest import load_events
    from tests.conftest import datasets_or_skip, load_labels

    root = datasets_or_skip()
    events, _ = load_events([str(root / entry["path"]) for entry in load_labels()])
    return events


def _service(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from tests.spark.cluster import SparkServiceUnavailable, connect_server, standalone_cluster

    reason = spark_unavailable_reason()
    if reason is not None:
        _unavailable(reason)
    start = standalone_cluster if kind == "standalone" else connect_server
    base = tmp_path_factory.mktemp(f"spark-{kind}")
    try:
        cm = start(base)
        service = cm.__enter__()
    except SparkServiceUnavailable as exc:
        _unavailable(str(exc))
    try:
        yield service
    finally:
        cm.__exit__(None, None, None)


@pytest.fixture(scope="session")
def spark_standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A standalone master and two workers on 127.0.0.1 (``tests/spark/cluster.py``)."""
    yield from _service("standalone", tmp_path_factory)


@pytest.fixture(scope="session")
def spark_connect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Spark Connect server on 127.0.0.1 (``tests/spark/cluster.py``)."""
    yield from _service("connect", tmp_path_factory)


@pytest.fixture(params=["driver", "spark"])
def correlation(request, monkeypatch) -> str:
    """Both places the Spark engine correlates: on the driver (the tagged events, pandas code) and
    as Spark plans (graph.spark.correlate, for more tagged events than the driver holds)."""
    if request.param == "spark":
        from graph.spark import stage

        monkeypatch.setattr(stage, "MAX_DRIVER_ROWS", 0)
    return request.param
