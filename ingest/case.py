"""The case file: canonical events stored as Parquet, read back with the exact canonical dtypes.

``latgraph ingest ... -o case.parquet`` writes one; every command that takes raw inputs also takes a
case file (``load_events`` recognises Parquet by its magic bytes). The file carries a
``latgraph.schema`` key in its Parquet metadata listing the columns it was written with.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.atomic import atomic_path
from ingest.errors import IngestError, SourceLocation
from ingest.schema import COLUMNS, coerce_frame, validate_frame

SCHEMA_KEY = b"latgraph.schema"
CASE_VERSION = 1


def with_case_metadata(table: pa.Table) -> pa.Table:
    """``table`` with the ``latgraph.schema`` Parquet metadata that marks a case file."""
    meta = dict(table.schema.metadata or {})
    meta[SCHEMA_KEY] = json.dumps({"version": CASE_VERSION, "columns": list(COLUMNS)}).encode()
    return table.replace_schema_metadata(meta)


def write_case(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a canonical events frame to ``path`` (Parquet, zstd) and return the path.

    Raises:
        SchemaError: when ``frame`` is not a canonical events frame.
    """
    validate_frame(frame)
    table = with_case_metadata(pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False))
    out = Path(path)
    with atomic_path(out, suffix=".parquet.tmp") as tmp:   # the old case stays until the new one is complete
        pq.write_table(table, tmp, compression="zstd")
    return out


def read_case(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a case file written by :func:`write_case`; dtypes restored exactly.

    Raises:
        IngestError: naming the file when it is not a readable latgraph case.
    """
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise IngestError(f"not a readable Parquet case file: {exc}", SourceLocation(str(path))) from exc
    meta = table.schema.metadata or {}
    if SCHEMA_KEY not in meta:
        raise IngestError("Parquet file is not a latgraph case (no latgraph.schema metadata)",
                          SourceLocation(str(path)))
    frame = table.to_pandas()
    return coerce_frame(frame)
