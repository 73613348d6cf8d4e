"""Start and stop the Maven-built Neo4j test server (``tools/neo4j-testserver``).

Used by the pytest fixture (``conftest.py``) and by ``bench/neo4j.py``. ``make neo4j-server``
builds the classes and ``target/cp.txt``; this module runs ``java`` directly (no Maven at run time)
with the JVM flags Neo4j 5's own ``neo4j.conf`` uses.

Memory: the tests' server is small on purpose (1 GB heap, serial GC, 64 MB page cache: many
test sessions share a machine). A benchmark that measures what a running Neo4j does sizes it as
Neo4j itself recommends for a memory budget (:func:`recommended_memory`, ``neo4j-admin server
memory-recommendation``) with Neo4j's own garbage collector (G1, as its ``neo4j.conf`` sets):
:meth:`ServerMemory.jvm_options`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVER_DIR = REPO / "tools" / "neo4j-testserver"
CLASSPATH_FILE = SERVER_DIR / "target" / "cp.txt"
CLASSES_DIR = SERVER_DIR / "target" / "classes"
#: Neo4j 5's own neo4j.conf opens these; without java.nio, UnsafeUtil fails on Java 17.
JVM_FLAGS = (
    "-Xmx1g",
    "-XX:+UseSerialGC",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
)
USER = "neo4j"


@dataclass(frozen=True)
class ServerMemory:
    """Heap and page cache of a server, as Neo4j writes sizes (``512m``, ``2g``)."""

    heap: str
    pagecache: str

    def jvm_options(self) -> list[str]:
        """JVM options for ``latgraph.TestServer``: a fixed-size heap (as Neo4j's recommendation
        sets initial = max) under G1, Neo4j's own collector, and the page cache size.

        Examples:
            >>> ServerMemory("2g", "512m").jvm_options()
            ['-XX:+UseG1GC', '-Xms2g', '-Xmx2g', '-Dlatgraph.pagecacheMb=512']
        """
        return ["-XX:+UseG1GC", f"-Xms{self.heap}", f"-Xmx{self.heap}",
                f"-Dlatgraph.pagecacheMb={_mebibytes(self.pagecache)}"]


def _mebibytes(size: str) -> int:
    """MiB of a Neo4j size text (``k``, ``m``, ``g``, ``t`` suffixes; bytes without one).

    Examples:
        >>> [_mebibytes(s) for s in ("512m", "2g", "3600m", "1t")]
        [512, 2048, 3600, 1048576]
    """
    text = size.strip().lower().removesuffix("b").removesuffix("i")
    units = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
    if text and text[-1] in units:
        return max(1, int(float(text[:-1]) * units[text[-1]]))
    return max(1, int(text) // (1024 * 1024))


def recommended_memory(budget: str) -> ServerMemory:
    """What ``neo4j-admin server memory-recommendation --memory=<budget>`` recommends (the heap's
    ``max_size`` and the page cache) for a server given ``budget`` of memory (e.g. ``4g``).

    Raises:
        ServerUnavailable: no java / server build, or the tool failed or said something unexpected.
    """
    command = [*admin_command(), "server", "memory-recommendation", f"--memory={budget}"]
    with tempfile.TemporaryDirectory(prefix="latgraph-neo4j-home-") as home:
        (Path(home) / "conf").mkdir()
        (Path(home) / "conf" / "neo4j.conf").write_text("")   # the tool wants a config file
        done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "NEO4J_HOME": home})
    values = dict(line.split("=", 1) for line in done.stdout.splitlines()
                  if "=" in line and not line.startswith("#"))
    heap, pagecache = values.get("server.memory.heap.max_size"), values.get("server.memory.pagecache.size")
    if done.returncode != 0 or heap is None or pagecache is None:
        raise ServerUnavailable(f"neo4j-admin server memory-recommendation --memory={budget} failed "
                                f"(exit {done.returncode}): {(done.stderr or done.stdout)[-2000:]}")
    return ServerMemory(heap=heap.strip(), pagecache=pagecache.strip())


class ServerUnavailable(RuntimeError):
    """The test server cannot be started here (the message says why)."""


@dataclass(frozen=True)
class Neo4jServer:
    """Where the test server listens and how to log in."""

    uri: str
    user: str
    password: str
    database: str = "neo4j"


def free_loopback_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _classpath() -> tuple[str, str]:
    """(java, class path of the test server and its Neo4j jars)."""
    java = shutil.which("java")
    if java is None:
        raise ServerUnavailable("`java` is not on PATH (install a JDK 17+)")
    if not CLASSPATH_FILE.is_file() or not CLASSES_DIR.is_dir():
        raise ServerUnavailable(f"{CLASSPATH_FILE} missing: run `make neo4j-server` (needs Maven)")
    return java, f"{CLASSES_DIR}{os.pathsep}{CLASSPATH_FILE.read_text().strip()}"


def admin_command() -> list[str]:
    """``neo4j-admin`` of the test server's Neo4j (its class path holds the import tool): the
    importer for :func:`graph.neo4j_store.bulk.bulk_import`. C1-only JIT: a short run."""
    java, classpath = _classpath()
    return [java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx1g", "-cp", classpath,
            "org.neo4j.cli.AdminTool"]


@contextmanager
def running_server(data_dir: Path, *, timeout_s: float = 180.0, home: Path | None = None,
                   memory: ServerMemory | None = None) -> Iterator[Neo4jServer]:
    """Start ``latgraph.TestServer`` on a free loopback port (auth on, random password); stop on exit.

    ``home``: run the DBMS on this Neo4j home as it is (e.g. one that ``neo4j-admin database import``
    filled) instead of a fresh folder under ``data_dir``. ``memory``: heap, collector and page cache
    of :meth:`ServerMemory.jvm_options` instead of the tests' small ones (:data:`JVM_FLAGS`, page
    cache 64 MB).

    Raises:
        ServerUnavailable: no java, the server is not built, or it did not become ready in time.
    """
    java, classpath = _classpath()
    port = free_loopback_port()
    password = secrets.token_urlsafe(12)   # Neo4j wants at least 8 characters
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [java, *_jvm_options(memory), *(["-Dlatgraph.home=true"] if home is not None else []),
             "-cp", classpath,
             "latgraph.TestServer", str(home if home is not None else data_dir / "db"), str(port), password],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
        )
        ready: list[str] = []
        reader = threading.Thread(target=_wait_ready, args=(proc, ready), daemon=True)
        started = time.monotonic()
        reader.start()
        reader.join(timeout_s)
        if not ready:
            proc.kill()
            proc.wait(30)
            tail = log_path.read_text()[-3000:]
            raise ServerUnavailable(f"no READY line within {timeout_s:.0f} s (exit {proc.returncode}); "
                                    f"log:\n{tail}")
        print(f"\nNeo4j test server {ready[0]} up in {time.monotonic() - started:.1f} s")
        try:
            yield Neo4jServer(uri=f"bolt://127.0.0.1:{port}", user=USER, password=password)
        finally:
            assert proc.stdin is not None
            proc.stdin.close()   # the server exits when its stdin closes
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)


def _jvm_options(memory: ServerMemory | None) -> list[str]:
    """:data:`JVM_FLAGS` (the tests' memory), or with ``memory``'s heap, collector and page cache."""
    if memory is None:
        return list(JVM_FLAGS)
    return [*(f for f in JVM_FLAGS if not f.startswith(("-Xmx", "-XX:+Use"))), *memory.jvm_options()]


def _wait_ready(proc: subprocess.Popen[str], ready: list[str]) -> None:
    """Read the server's stdout until its READY line (or EOF)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("READY "):
            ready.append(line.split(maxsplit=1)[1].strip())
            return
