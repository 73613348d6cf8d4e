"""Building the SparkSession the Spark engine runs on (``local[*]``, a cluster master, Spark Connect).

PySpark is an optional extra (``pip install 'latgraph[spark]'``, plus Java 17): it is imported
inside the functions here, never when :mod:`graph` is imported.

Settings every session gets, and why:

* ``spark.sql.session.timeZone=UTC``: no local-time surprises when times are printed or parsed.
* ``spark.sql.legacy.parquet.nanosAsLong=true``: pandas writes ``ts`` as Parquet
  ``TIMESTAMP(NANOS, UTC)``, which Spark otherwise refuses to read; as a long it is exactly the
  epoch nanoseconds the pandas engine works with, so both engines compare the same integers.
* For a local master: driver host and bind address ``127.0.0.1`` (without them Spark picks a
  non-loopback address on some machines, see ENGINES.md section 3), the web UI off, and few shuffle
  partitions (the default 200 costs more than the work on small inputs).
* For a local master, the driver JVM compiles hot code with the quick C1 compiler only
  (``-XX:TieredStopAtLevel=1``). Measured on 1M events (2 cores): the optimising C2 compiler's
  threads used 49 of the JVM's 97 CPU seconds at 307k events, and at 1M events the event stage
  took 138 CPU-s with C2 against 79 CPU-s with C1 only, its executor threads doing the same work
  in about the same CPU time (the run is too short for C2's code to pay back its compilation).
  Pass ``spark.driver.extraJavaOptions`` in ``conf`` to choose otherwise.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ingest.errors import ConfigError, LatgraphError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: Environment variable naming the default master (``local[*]``, ``spark://...``, ``sc://...``).
MASTER_ENV = "LATGRAPH_SPARK_MASTER"
DEFAULT_MASTER = "local[*]"
INSTALL_HINT = "Spark support needs: pip install 'latgraph[spark]' and Java 17 (JAVA_HOME or java on PATH)"

#: Conf every session gets (SQL settings; they also apply through Spark Connect).
SQL_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
#: Conf for a local master (the driver is the whole cluster).
LOCAL_CONF: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
}


def spark_unavailable_reason() -> str | None:
    """Why the Spark engine cannot run here (no pyspark, no Java), or None when it can.

    Examples:
        >>> spark_unavailable_reason() is None or "pip install" in spark_unavailable_reason()
        True
    """
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return f"pyspark is not installed. {INSTALL_HINT}"
    java_home = os.environ.get("JAVA_HOME")
    has_home = bool(java_home) and os.path.exists(os.path.join(java_home or "", "bin", "java"))
    if not has_home and not shutil.which("java"):
        return f"no Java runtime found. {INSTALL_HINT}"
    return None


def resolve_master(master: str | None = None) -> str:
    """The master to use: the argument, else ``$LATGRAPH_SPARK_MASTER``, else ``local[*]``.

    Examples:
        >>> resolve_master("local[2]")
        'local[2]'
        >>> resolve_master("sc://spark.example:15002")
        'sc://spark.example:15002'
    """
    chosen = master or os.environ.get(MASTER_ENV) or DEFAULT_MASTER
    if not chosen.strip():
        raise ConfigError("empty Spark master")
    return chosen.strip()


def is_local(master: str) -> bool:
    """True for ``local``, ``local[N]``, ``local[*]``, ``local[N,F]`` masters."""
    return master == "local" or master.startswith("local[")



def _protobuf_for_deep_plans() -> None:
    """Let the Spark Connect client send plans deeper than protobuf's default depth (100).

    Spark Connect ships the logical plan as nested protobuf messages. The event stage (rules,
    placement, joins: nested ``CASE WHEN`` and column expressions) is deeper than 100 messages, and
    the default (upb) runtime refuses to copy it into a command (``Exceeded
    upb_DecodeOptions_MaxDepth``). The pure-Python runtime copies field by field without that
    limit; the server parses with its own limit (``spark.connect.grpc.marshallerRecursionLimit``,
    1024). The client only builds plans, so the slower runtime costs nothing measurable. It can
    only be chosen before protobuf is first imported; ``PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION``
    set by the user wins.
    """
    import sys

    if "google.protobuf" not in sys.modules:
        os.environ.setdefault("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
    try:
        from google.protobuf.internal import api_implementation, decoder
    except ImportError:   # pragma: no cover - protobuf comes with pyspark[connect]
        return
    if api_implementation.Type() == "python":
        decoder.SetRecursionLimit(1024)
    else:
        warnings.warn("protobuf was imported before the Spark Connect session was built, so its "
                      f"{api_implementation.Type()} runtime is used: plans deeper than 100 messages "
                      "fail; set PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python", RuntimeWarning,
                      stacklevel=3)

def spark_session(
    master: str | None = None,
    *,
    app_name: str = "latgraph",
    driver_memory: str | None = None,
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """Get (or create) the SparkSession for ``master``.

    Args:
        master: ``local[*]`` (default), ``local[N]``, any ``spark-submit`` master URL
            (``spark://host:7077``, ``yarn``, ``k8s://...``) or a Spark Connect URL ``sc://host:15002``.
            None reads ``$LATGRAPH_SPARK_MASTER``.
        app_name: the application name shown by the cluster manager.
        driver_memory: e.g. ``"6g"``; only takes effect when this call starts the JVM.
        conf: extra Spark settings, applied last (they win).

    Returns:
        The active session. Under ``spark-submit`` an already running session is reused as it is
        (plus the SQL settings of :data:`SQL_CONF`).

    Raises:
        LatgraphError: pyspark or Java is missing (with the install hint).
    """
    reason = spark_unavailable_reason()
    if reason is not None:
        raise LatgraphError(reason)
    # The engine never uses PySpark's pandas conversion (frames cross as Arrow tables), so its
    # "pandas >= 3 not fully supported" warning does not apply.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                            category=FutureWarning)
    chosen = resolve_master(master)
    if chosen.startswith("sc://"):
        _protobuf_for_deep_plans()
    from pyspark.sql import SparkSession

    extra = dict(conf or {})
    if chosen.startswith("sc://"):
        # Spark Connect: the server owns the JVM; only session (SQL) settings can be given.
        builder = SparkSession.builder.remote(chosen)
        settings = {**SQL_CONF, **extra}
    else:
        builder = SparkSession.builder.master(chosen).appName(app_name)
        # the Python workers run the engine's pandas code: this interpreter (its packages) unless
        # PYSPARK_PYTHON names another; pyspark reads the variable when its context starts
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        settings = {**SQL_CONF, **(LOCAL_CONF if is_local(chosen) else {}), **extra}
        if is_local(chosen):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")   # read by the JVM at start-up
        if driver_memory:
            settings["spark.driver.memory"] = driver_memory
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    for key, value in {**SQL_CONF, **{k: v for k, v in extra.items() if k.startswith("spark.sql.")}}.items():
        session.conf.set(key, value)   # a reused session must still read nanos as longs, in UTC
    if not is_local(chosen):
        ship_code(session)
    return session


#: The packages the engine's Python tasks import on the executors (rules, correlation helpers).
SHIPPED_PACKAGES = ("graph", "ingest")


def ship_code(session: SparkSession) -> None:
    """Send this latgraph's Python packages to the cluster's Python workers (once per session).

    The event stage runs the pandas engine's own functions in Spark tasks
    (:func:`graph.spark.rules.tag_rows`), so the executors must import the same ``graph`` and
    ``ingest`` as the driver: they get a zip of them (``addPyFile``, or ``addArtifacts(pyfile=True)``
    over Spark Connect). Their Python must still have latgraph's dependencies (numpy, pandas,
    pyarrow): ``spark.pyspark.python`` is the driver's interpreter unless given.
    """
    import tempfile
    import zipfile
    from pathlib import Path

    if getattr(session, "_latgraph_shipped", False):
        return
    root = Path(__file__).resolve().parents[2]
    out = Path(tempfile.mkdtemp(prefix="latgraph-code-")) / "latgraph_code.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for pkg in SHIPPED_PACKAGES:
            for f in sorted((root / pkg).rglob("*.py")):
                z.write(f, f.relative_to(root).as_posix())
    if "connect" in type(session).__module__:
        session.addArtifacts(str(out), pyfile=True)
    else:
        session.sparkContext.addPyFile(str(out))
    session._latgraph_shipped = True
