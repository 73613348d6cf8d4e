"""One SparkSession (``local[2]``, bound to 127.0.0.1) for the whole test session.

Skipped with the reason when pyspark or Java is missing, except under ``CI=true`` where the Spark
tests must run and a missing engine is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from graph.spark.session import spark_session, spark_unavailable_reason


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """The shared local[2] session (startup ~6 s, so only one per test run)."""
    reason = spark_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the Spark engine cannot run: {reason}")
        pytest.skip(reason)
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
