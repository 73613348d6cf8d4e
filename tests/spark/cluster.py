"""Real Spark services for the tests, from pyspark's own distribution (its ``bin/spark-class`` and
``jars/``), on free loopback ports, started and stopped by the test session:

* a **standalone cluster**: one master and two workers (1 core, 512 MB each), ``spark://127.0.0.1:P``;
* a **Spark Connect server** (``org.apache.spark.sql.connect.service.SparkConnectServer`` on
  ``local[2]``), ``sc://127.0.0.1:P``. pyspark 4.x ships its jar (``jars/spark-connect_2.13-*.jar``);
  for pyspark 3.5 ``make spark-connect`` fetches ``org.apache.spark:spark-connect_2.12`` of the same
  version from Maven Central into ``tools/spark-connect/target``.

Each service logs to a file; when it does not come up in time the error quotes the end of its log.
Processes are stopped by their own process id (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: Where ``make spark-connect`` puts the Spark Connect jar when pyspark does not ship it.
CONNECT_DIR = ROOT / "tools" / "spark-connect" / "target"
WORKERS = 2
WORKER_MEMORY = "512m"


class SparkServiceUnavailable(RuntimeError):
    """A Spark service could not be started (no Java, no jar, or it did not come up in time)."""


@dataclass(frozen=True)
class Service:
    """A started service: its URL and its log files (for failure messages)."""

    url: str
    logs: tuple[Path, ...]
    work_dirs: tuple[Path, ...] = ()


def spark_home() -> Path:
    """pyspark's own distribution (``bin/spark-class``, ``jars/``)."""
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    if not (home / "bin" / "spark-class").exists():
        raise SparkServiceUnavailable(f"pyspark at {home} has no bin/spark-class")
    return home


def connect_jars() -> list[Path]:
    """Extra jars the Spark Connect server needs: none when pyspark ships the server, else the one
    ``make spark-connect`` downloaded."""
    if list((spark_home() / "jars").glob("spark-connect_*.jar")):
        return []
    jars = sorted(CONNECT_DIR.glob("spark-connect_*.jar"))
    if not jars:
        raise SparkServiceUnavailable(
            "pyspark does not ship the Spark Connect server and tools/spark-connect/target has no "
            "spark-connect jar: run `make spark-connect`")
    return jars


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPARK_", "PYSPARK_"))}
    env.update(SPARK_HOME=str(spark_home()), SPARK_LOCAL_IP="127.0.0.1", SPARK_NO_DAEMONIZE="1",
               SPARK_CONF_DIR=str(spark_home() / "conf"),
               # the Python workers it starts run the engine's pandas code: this interpreter (its packages)
               PYSPARK_PYTHON=sys.executable, **extra)
    return env


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def _process(args: list[str], log: Path, ready: str, timeout_s: float, env: dict[str, str]) -> Iterator[None]:
    """Run ``args`` with output to ``log`` until ``ready`` (a regex) appears in it; stop it on exit."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        pattern = re.compile(ready)
        while not pattern.search(log.read_text(errors="replace")):
            if proc.poll() is not None:
                raise SparkServiceUnavailable(f"{args[1:3]} exited with {proc.returncode}; log {log}:\n"
                                              f"{_tail(log)}")
            if time.monotonic() > deadline:
                raise SparkServiceUnavailable(f"{args[1:3]} not ready after {timeout_s:.0f} s; log {log}:\n"
                                              f"{_tail(log)}")
            time.sleep(0.5)
        yield
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the service's own process group (spark-class execs java in it), then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    except ProcessLookupError:
        pass


def _spark_class() -> str:
    return str(spark_home() / "bin" / "spark-class")


@contextmanager
def standalone_cluster(base: Path, *, timeout_s: float = 300.0) -> Iterator[Service]:
    """A master and :data:`WORKERS` workers (1 core, :data:`WORKER_MEMORY` each) on 127.0.0.1."""
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    env = _env(SPARK_DAEMON_MEMORY="256m")
    logs = [base / "master.log"]
    with ExitStack() as stack:
        stack.enter_context(_process(
            [_spark_class(), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(free_port())],
            logs[0], r"New state: ALIVE", timeout_s, env))
        work_dirs = []
        for i in range(1, WORKERS + 1):
            log, work = base / f"worker{i}.log", base / f"worker{i}"
            logs.append(log)
            work_dirs.append(work)
            stack.enter_context(_process(
                [_spark_class(), "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                 "--webui-port", str(free_port()), "--cores", "1", "--memory", WORKER_MEMORY,
                 "--work-dir", str(work), url],
                log, r"Successfully registered with master", timeout_s, env))
        yield Service(url=url, logs=tuple(logs), work_dirs=tuple(work_dirs))


@contextmanager
def connect_server(base: Path, *, timeout_s: float = 300.0) -> Iterator[Service]:
    """A Spark Connect server (driver on ``local[2]``, 768 MB) on 127.0.0.1."""
    port = free_port()
    jars = connect_jars()
    args = [_spark_class(), "org.apache.spark.deploy.SparkSubmit",
            "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
            "--master", "local[2]", "--driver-memory", "768m",
            "--conf", f"spark.connect.grpc.binding.port={port}",
            "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
            "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=2",
            "--conf", f"spark.local.dir={base / 'local'}"]
    if jars:
        args += ["--jars", ",".join(str(j) for j in jars)]
    log = base / "connect.log"
    with _process([*args, "spark-internal"], log, r"Spark Connect server started at", timeout_s, _env()):
        yield Service(url=f"sc://127.0.0.1:{port}", logs=(log,))
