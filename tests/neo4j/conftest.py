"""A real Neo4j 5.26 for the ``neo4j`` tests: started once per session from the Maven-built harness.

``make neo4j-server`` builds ``tools/neo4j-testserver`` (classes + ``target/cp.txt``). The session
fixture starts ``latgraph.TestServer`` with ``java`` on a free loopback port with authentication on
and a random password, waits for its ``READY bolt://...`` line and stops it by closing its stdin.
Without java or the built class path the tests skip with the reason; with ``CI=true`` they fail.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import REPO

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
START_TIMEOUT_S = float(os.environ.get("LATGRAPH_NEO4J_START_TIMEOUT", "180"))
USER = "neo4j"


@dataclass(frozen=True)
class Neo4jServer:
    """Where the test server listens and how to log in."""

    uri: str
    user: str
    password: str
    database: str = "neo4j"


def _unavailable(reason: str) -> None:
    """Skip locally; fail in CI, where the server must run."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"Neo4j test server unavailable in CI: {reason}")
    pytest.skip(f"Neo4j test server unavailable: {reason}")


def free_loopback_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    java = shutil.which("java")
    if java is None:
        _unavailable("`java` is not on PATH (install a JDK 17+)")
    if not CLASSPATH_FILE.is_file() or not CLASSES_DIR.is_dir():
        _unavailable(f"{CLASSPATH_FILE} missing: run `make neo4j-server` (needs Maven)")
    try:
        import neo4j  # noqa: F401
    except ImportError:
        _unavailable("the Python driver is missing: pip install 'latgraph[neo4j]'")

    classpath = f"{CLASSES_DIR}{os.pathsep}{CLASSPATH_FILE.read_text().strip()}"
    port = free_loopback_port()
    password = secrets.token_urlsafe(12)
    data_dir = tmp_path_factory.mktemp("neo4j") / "db"
    log_path = data_dir.parent / "server.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [java, *JVM_FLAGS, "-cp", classpath, "latgraph.TestServer", str(data_dir), str(port), password],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
    )
    ready: list[str] = []
    reader = threading.Thread(target=_wait_ready, args=(proc, ready), daemon=True)
    started = time.monotonic()
    reader.start()
    reader.join(START_TIMEOUT_S)
    if not ready:
        proc.kill()
        proc.wait(30)
        log.close()
        tail = log_path.read_text()[-3000:]
        _unavailable(f"no READY line within {START_TIMEOUT_S:.0f} s (exit {proc.returncode}); log:\n{tail}")
    print(f"\nNeo4j test server {ready[0]} up in {time.monotonic() - started:.1f} s")
    try:
        yield Neo4jServer(uri=f"bolt://127.0.0.1:{port}", user=USER, password=password)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        log.close()


def _wait_ready(proc: subprocess.Popen[str], ready: list[str]) -> None:
    """Read the server's stdout until its READY line (or EOF)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("READY "):
            ready.append(line.split(maxsplit=1)[1].strip())
            return


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
