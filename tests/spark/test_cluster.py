"""The engine-equivalence tests against real Spark services, not only ``local[2]``: a standalone
cluster (master + two workers started from pyspark's distribution) and a Spark Connect server.

Each runs ``tests/spark/test_equivalence.py`` in a child pytest whose ``spark`` fixture and engine
use that master (``LATGRAPH_TEST_SPARK_MASTER`` / ``LATGRAPH_SPARK_MASTER``): one process can hold
only one classic Spark driver, and this process already holds the ``local[2]`` one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.spark.cluster import ROOT, Service

pytestmark = [pytest.mark.spark, pytest.mark.slow]

EQUIVALENCE = "tests/spark/test_equivalence.py"


def _run_equivalence(service: Service, tmp_path: Path) -> str:
    env = dict(os.environ, LATGRAPH_TEST_SPARK_MASTER=service.url, LATGRAPH_SPARK_MASTER=service.url,
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "--basetemp",
           str(tmp_path / "child"), EQUIVALENCE]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    logs = "\n".join(f"--- {log}:\n" + log.read_text(errors="replace")[-3000:] for log in service.logs)
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-3000:]}\n{logs}"
    # every test ran (the real-samples one may skip only when ../shared/datasets is absent)
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed and int(passed.group(1)) >= 2, done.stdout
    for line in done.stdout.splitlines():
        assert not line.startswith("SKIPPED") or "datasets" in line, done.stdout
    return done.stdout


def test_equivalence_on_a_standalone_cluster(spark_standalone: Service, tmp_path: Path) -> None:
    before = {w: set(w.glob("app-*")) for w in spark_standalone.work_dirs}
    _run_equivalence(spark_standalone, tmp_path)
    # The work ran on the cluster: both workers launched an executor for the test application.
    for work, old in before.items():
        apps = set(work.glob("app-*")) - old
        assert apps and any((a / "0" / "stderr").exists() or list(a.glob("*/stderr")) for a in apps), work


def test_equivalence_through_spark_connect(spark_connect: Service, tmp_path: Path) -> None:
    # (the child's spark fixture checks that its session is a Spark Connect client session)
    _run_equivalence(spark_connect, tmp_path)
