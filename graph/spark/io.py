"""Canonical events in and out of Spark: Parquet / JSON lines (local or cluster storage), pandas.

Inside the Spark engine an events DataFrame has exactly :data:`ingest.schema.COLUMNS` with the
types of :func:`events_schema`, with one deliberate difference: **``ts`` is a ``long`` of epoch
nanoseconds (UTC)**, not a Spark timestamp. That is the integer the pandas engine holds in its
``datetime64[ns, UTC]`` column, so windows, joins and ties compare identically in both engines, and
nothing depends on Spark's microsecond timestamps or on how PySpark converts tz-aware pandas
columns (with pandas 3 they come back naive, ENGINES.md section 3). Frames cross the
driver boundary as Arrow tables (``createDataFrame(pyarrow.Table)`` / ``DataFrame.toArrow()``), never
through PySpark's pandas conversion.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from ingest.errors import SchemaError
from ingest.schema import COLUMNS, DTYPES, LATER_COLUMNS, coerce_frame

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import DataType, StructType

#: Suffixes read as Parquet / as JSON lines by :func:`read_events`.
PARQUET_SUFFIXES = (".parquet", ".pq")
JSON_SUFFIXES = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz")
NS_PER_US = 1000
NS_PER_MS = 1_000_000


def _spark_type(dtype: str) -> DataType:
    """The Spark type of a canonical dtype name (``ts`` is handled by the caller)."""
    from pyspark.sql import types as T

    return {
        "int32": T.IntegerType(), "Int32": T.IntegerType(), "Int8": T.ByteType(),
        "Int16": T.ShortType(), "Int64": T.LongType(),
    }.get(dtype, T.StringType())


def events_schema() -> StructType:
    """The Spark schema of a canonical events frame (``ts`` = long epoch nanoseconds)."""
    from pyspark.sql import types as T

    return T.StructType([
        T.StructField(col, T.LongType() if col == "ts" else _spark_type(DTYPES[col]), True)
        for col in COLUMNS
    ])


def _ts_ns(col: Column, dtype: DataType) -> Column:
    """``ts`` of any stored type as epoch nanoseconds.

    long = already nanoseconds (Parquet ``TIMESTAMP(NANOS)`` read with ``nanosAsLong``);
    timestamp = microsecond Spark timestamp (files written by Spark); string = ISO 8601 text, or
    digits = epoch milliseconds (``pandas.DataFrame.to_json``'s default).
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if isinstance(dtype, T.LongType | T.IntegerType):
        return col.cast("long")
    if isinstance(dtype, T.TimestampType | T.TimestampNTZType):
        return F.unix_micros(col.cast("timestamp")) * NS_PER_US
    if isinstance(dtype, T.StringType):
        text = F.trim(col)
        digits = text.rlike(r"^-?[0-9]+$")
        parsed = F.unix_micros(F.try_to_timestamp(text)) * NS_PER_US
        return F.when(digits, text.try_cast("long") * NS_PER_MS).otherwise(parsed)
    raise SchemaError(f"events column 'ts' has Spark type {dtype.simpleString()}, expected "
                      "long (epoch ns), timestamp or string")


def conform(frame: DataFrame, *, keep: Sequence[str] = ()) -> DataFrame:
    """Give a Spark frame holding the canonical columns the engine's types and column order
    (plus the ``keep`` columns, unchanged, at the end).

    Raises:
        SchemaError: naming the canonical columns the frame lacks.
    """
    from pyspark.sql import functions as F

    have = set(frame.columns)
    for col in LATER_COLUMNS:    # case files from before the column (ingest.schema): missing
        if col not in have:
            frame = frame.withColumn(col, F.lit(None).cast(_spark_type(DTYPES[col])))
            have.add(col)
    missing = [c for c in COLUMNS if c not in have]
    if missing:
        raise SchemaError(f"events frame lacks columns {missing}")
    types = {f.name: f.dataType for f in frame.schema.fields}
    schema = events_schema()
    cols = [
        _ts_ns(F.col("ts"), types["ts"]).alias("ts") if field.name == "ts"
        else _cast(F.col(field.name), types[field.name], field.dataType).alias(field.name)
        for field in schema.fields
    ]
    return frame.select(*cols, *keep)


def _cast(col: Column, have: DataType, want: DataType) -> Column:
    """``col`` as ``want``; integers written as text (JSON) may carry a ``.0`` (``445.0``)."""
    from pyspark.sql import types as T

    if isinstance(have, T.StringType) and isinstance(want, T.IntegralType):
        from pyspark.sql import functions as F

        return F.coalesce(col.try_cast(want), col.try_cast("double").try_cast(want))
    return col.cast(want)


def _guess_format(path: str) -> str:
    """``parquet`` or ``json`` from a path's suffix; a directory without suffix is Parquet."""
    lower = path.lower().rstrip("/")
    if lower.endswith(JSON_SUFFIXES):
        return "json"
    if lower.endswith(PARQUET_SUFFIXES) or os.path.isdir(path) or "." not in lower.rsplit("/", 1)[-1]:
        return "parquet"
    raise SchemaError(f"cannot tell the format of {path!r}: name it *.parquet or *.jsonl, or pass fmt=")


def read_events(spark: SparkSession, paths: str | Sequence[str], *, fmt: str | None = None) -> DataFrame:
    """Read canonical events from Parquet files/folders or JSON lines, local or on cluster storage.

    Args:
        spark: the session.
        paths: one or more paths or URLs Spark can read (``/data/case.parquet``,
            ``hdfs:///cases/x/``, ``s3a://bucket/events/*.parquet``, ``abfss://...``); globs allowed.
        fmt: ``parquet`` or ``json``; guessed from the first path when None.

    Returns:
        A lazy events frame with the canonical columns (``ts`` as epoch ns).

    Raises:
        SchemaError: unknown format, or files that lack canonical columns.
    """
    path_list = [paths] if isinstance(paths, str) else list(paths)
    if not path_list:
        raise SchemaError("no event paths given")
    kind = fmt or _guess_format(path_list[0])
    if kind == "parquet":
        frame = spark.read.parquet(*path_list)
    elif kind == "json":
        from pyspark.sql import types as T

        # every field read as text first: ts may be ISO text or epoch ms; conform() casts the rest
        text_schema = T.StructType([T.StructField(c, T.StringType(), True) for c in COLUMNS])
        frame = spark.read.schema(text_schema).json(path_list)
    else:
        raise SchemaError(f"unknown events format {kind!r}; expected 'parquet' or 'json'")
    return conform(frame)


def events_to_arrow(events: pd.DataFrame) -> pa.Table:
    """A canonical pandas events frame as the Arrow table Spark takes (``ts`` as int64 epoch ns)."""
    ts = events["ts"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise SchemaError(f"events column 'ts' has dtype {ts.dtype}, expected datetime64[ns, UTC]")
    arrays = {}
    for col in COLUMNS:
        values = events[col]
        if col == "ts":
            arrays[col] = pa.array(values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
                                   .array.asi8, pa.int64())
        elif DTYPES[col] == "category" or DTYPES[col] == "string":
            arrays[col] = pa.Array.from_pandas(values.astype("string")).cast(pa.string())
        else:
            arrays[col] = pa.Array.from_pandas(values)
    return pa.table(arrays)


def events_to_spark(spark: SparkSession, events: pd.DataFrame, *, with_index: bool = False) -> DataFrame:
    """A canonical pandas events frame as a Spark events frame (through Arrow).

    Args:
        spark: the session.
        events: canonical events frame.
        with_index: add ``event_index`` (long): each event's position in ``events``.
    """
    from pyspark.sql import types as T

    if len(events) == 0:
        schema = events_schema()
        if with_index:
            schema = schema.add(T.StructField("event_index", T.LongType(), True))
        return spark.createDataFrame([], schema)
    table = events_to_arrow(events)
    if with_index:
        table = table.append_column("event_index", pa.array(np.arange(len(events), dtype="int64")))
    return conform(spark.createDataFrame(table), keep=("event_index",) if with_index else ())


def arrow_to_pandas(table: pa.Table, *, ns_columns: Iterable[str] = ()) -> pd.DataFrame:
    """An Arrow table from :meth:`DataFrame.toArrow` as pandas with nullable dtypes.

    Integer columns become pandas' nullable ``Int*`` (PySpark's own conversion gives float64 when a
    value is missing), strings ``string``, and each ``ns_columns`` long becomes
    ``datetime64[ns, UTC]``.
    """
    frame = table.to_pandas(types_mapper=_NULLABLE.get, split_blocks=True)
    for col in ns_columns:
        frame[col] = pd.to_datetime(frame[col].astype("Int64"), unit="ns", utc=True)
    return frame


_NULLABLE: dict[pa.DataType, object] = {
    pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(), pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype(),
}


def events_to_pandas(frame: DataFrame) -> pd.DataFrame:
    """A Spark events frame back as a canonical pandas frame (collects it on the driver)."""
    out = arrow_to_pandas(frame.select(*COLUMNS).toArrow(), ns_columns=("ts",))
    return coerce_frame(out)
