"""The row-group scan's rows (:func:`graph.spark.scan.scan_row_groups`): Arrow tables packed one per
Spark row (the Arrow IPC stream in a binary column, :data:`PACKED_SCHEMA`), what the scan returns
(:class:`RowGroupScan`), and the tagged rows unpacked on the driver (:func:`tagged_arrow`) or as a
Spark frame again (:func:`unpacked`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class RowGroupScan(NamedTuple):
    """What :func:`scan_row_groups` gives: the tagged rows, packed (see :func:`scan_row_groups`;
    :func:`tagged_arrow` collects them, :func:`unpacked` makes them a Spark frame again), their
    number, and the case-wide partial aggregates the tasks computed on the way, collected per
    kind (:func:`hint_pairs_of`, :func:`presence_of`, :func:`hosts_of` finish them)."""

    packed: DataFrame
    n_tagged: int
    row_schema: Any             # the Spark schema of graph.spark.rules.tag_rows' frame
    aggregates: dict[int, pa.Table]


#: ``_kind`` of the scan's rows: tagged, feeding a derived column, and the partial aggregates.
TAGGED, FEED, PAIRS, PRESENCE, HOSTS = range(5)
#: The scan's rows: Arrow tables in the IPC stream format, one per row (see :func:`scan_row_groups`).
PACKED_SCHEMA = "_kind byte, _bucket int, _n long, _payload binary"


#: Compression of the packed Arrow tables (``None``: none): fewer bytes for the JVM to copy,
#: store, shuffle and collect.
PACK_COMPRESSION: str | None = "lz4"


def _pack(table: pa.Table, kind: int, bucket: int | None = None) -> pa.RecordBatch:
    """One scan row holding ``table`` (Arrow IPC stream)."""
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=PACK_COMPRESSION)
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return pa.record_batch([pa.array([kind], pa.int8()), pa.array([bucket], pa.int32()),
                            pa.array([table.num_rows], pa.int64()),
                            pa.array([sink.getvalue().to_pybytes()], pa.binary())],
                           names=["_kind", "_bucket", "_n", "_payload"])


def _unpack(rows: pa.Table) -> list[pa.Table]:
    """The tables packed in scan rows."""
    payload = rows.column("_payload")
    return [pa.ipc.open_stream(v.as_buffer()).read_all() for chunk in payload.chunks for v in chunk]


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    return pa.concat_tables(tables) if tables else schema.empty_table()



def tagged_arrow(scan: RowGroupScan) -> pa.Table:
    """The tagged rows of a scan collected to the driver (one Arrow table, in no order)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return _concat(_unpack(scan.packed.select("_payload").toArrow()), to_arrow_schema(scan.row_schema))


def unpacked(scan: RowGroupScan) -> DataFrame:
    """The tagged rows of a scan as the Spark frame :func:`graph.spark.rules.tag_rows` gives (lazy)."""

    def unpack(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for table in _unpack(pa.Table.from_batches([batch])):
                yield from table.to_batches()

    return scan.packed.select("_payload").mapInArrow(unpack, scan.row_schema)
