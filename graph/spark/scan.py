"""The rules over Parquet row groups read by pyarrow inside Spark tasks (no JVM rows on the way).

When the events come from Parquet files that pyarrow can open (local or shared paths, or URIs of a
filesystem :mod:`pyarrow.fs` knows), :func:`tag_row_groups` schedules one Spark task per bundle of
row groups (``spark.range(n, numPartitions=n).mapInArrow``). Each task reads its row groups itself
with pyarrow, gives the columns the engine's Spark types (:func:`conform_arrow`, what
:func:`graph.spark.io.conform` does in the JVM), and runs the pandas rules on them
(:func:`graph.spark.rules.tag_table`): the rule events never pass through the JVM's row format,
whose conversion to Arrow for Python was the largest cost of the rules step (docs/spark.md). Only
the tagged rows and the rows the derived columns count (:data:`graph.spark.rules._DERIVED_EVENT_IDS`)
come back to Spark; the latter are grouped per host bucket and tagged as in
:func:`graph.spark.rules.tag_rows`, so the cross-event counts see every row they count.

``event_index`` is the event's position in the input: the files in sorted order, then row order
(``first row of the row group + position``), as a pandas read of the same files in that order.

:func:`plan_row_groups` returns None (the caller keeps :func:`graph.spark.rules.tag_rows` over
Spark's own scan) when a file cannot be opened by pyarrow here (``s3a://``, ``hdfs://`` without
libhdfs...) or a column has a type this path does not convert (text integers, text times).

The packed rows and :class:`RowGroupScan` live in :mod:`graph.spark.packing`, the reduction and
finishing of the case-wide partial aggregates in :mod:`graph.spark.casewide`; this module plans and
runs the scan and re-exports them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.spark.casewide import (
    _DAY_NS,
    _HOUR_NS,
    _PRESENCE_KEY,
    PRESENCE_EVENT_IDS,
    _floor,
    _presence_reduce,
    hint_pairs_of,
    hosts_of,
    presence_of,
)
from graph.spark.packing import (
    FEED,
    HOSTS,
    PACK_COMPRESSION,
    PACKED_SCHEMA,
    PAIRS,
    PRESENCE,
    TAGGED,
    RowGroupScan,
    _concat,
    _pack,
    _unpack,
    tagged_arrow,
    unpacked,
)
from ingest.schema import COLUMNS, DTYPES, LATER_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from graph.rules.base import Rule

__all__ = [
    "FEED",
    "HOSTS",
    "PACKED_SCHEMA",
    "PACK_COMPRESSION",
    "PAIRS",
    "PRESENCE",
    "PRESENCE_EVENT_IDS",
    "READ_ROWS",
    "SCAN_TAG_ROWS",
    "TAGGED",
    "TASK_ROWS",
    "RowGroupScan",
    "RowGroups",
    "conform_arrow",
    "hint_pairs_of",
    "host_buckets",
    "hosts_of",
    "plan_row_groups",
    "presence_of",
    "scan_row_groups",
    "tagged_arrow",
    "unpacked",
]

#: Rows of one Spark task (whole row groups, consecutive in one file, are bundled up to this).
TASK_ROWS = 1 << 20
#: Rows read from Parquet per batch inside a task.
READ_ROWS = 131_072
#: Rows per call of the rules inside a task (the whole task: the pandas rules cost about 0.15 CPU-s
#: per call whatever the rows, see :data:`graph.spark.rules.TAG_CHUNK_ROWS`).
SCAN_TAG_ROWS = TASK_ROWS


class RowGroups(NamedTuple):
    """One task's share of the input: consecutive row groups of one file."""

    uri: str
    groups: tuple[int, ...]
    first_row: int          # event_index of the first row of the first group


def _open(uri: str) -> Any:
    """The ``pyarrow.parquet.ParquetFile`` at ``uri`` (a URI :mod:`pyarrow.fs` knows, or a local path)."""
    import pyarrow.parquet as pq
    from pyarrow import fs

    if "://" in uri or uri.startswith("file:"):
        filesystem, path = fs.FileSystem.from_uri(uri)
    else:
        filesystem, path = fs.LocalFileSystem(), uri
    return pq.ParquetFile(filesystem.open_input_file(path))


def _supported(field: pa.Field) -> bool:
    """Whether :func:`conform_arrow` converts this stored column as Spark's ``conform`` would."""
    t = field.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if field.name == "ts":
        return pa.types.is_timestamp(t) or pa.types.is_int64(t) or pa.types.is_int32(t)
    if DTYPES[field.name] in ("string", "category"):
        return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)
    return pa.types.is_integer(t) or pa.types.is_null(t)


def plan_row_groups(files: Sequence[str], *, task_rows: int | None = None) -> list[RowGroups] | None:
    """The tasks of :func:`scan_row_groups` over ``files`` (read in sorted order): consecutive row
    groups of one file up to ``task_rows`` rows (default :data:`TASK_ROWS`) per task, or None
    when pyarrow cannot open one of them here or a column's stored type is not one it converts."""
    task_rows = TASK_ROWS if task_rows is None else task_rows
    tasks: list[RowGroups] = []
    offset = 0
    for uri in sorted(files):
        try:
            meta = _open(uri)
        except (OSError, ValueError, TypeError, pa.ArrowException):
            return None
        schema = meta.schema_arrow
        names = set(schema.names)
        if any(c not in names and c not in LATER_COLUMNS for c in COLUMNS):
            return None     # Spark's read reports the missing columns (SchemaError)
        if not all(_supported(schema.field(c)) for c in COLUMNS if c in names):
            return None
        md = meta.metadata
        groups: list[int] = []
        size = 0
        start = offset
        for g in range(md.num_row_groups):
            n = md.row_group(g).num_rows
            if groups and size + n > task_rows:
                tasks.append(RowGroups(uri, tuple(groups), start))
                groups, size, start = [], 0, offset
            groups.append(g)
            size += n
            offset += n
        if groups:
            tasks.append(RowGroups(uri, tuple(groups), start))
    return tasks


def conform_arrow(table: pa.Table, schema: pa.Schema, *, text: bool = True) -> pa.Table:
    """A table read from a canonical Parquet file with the columns and Arrow types of ``schema``
    (the engine's Spark types: ``ts`` as int64 epoch ns, integers as Spark's widths, text as
    ``string``; columns the file lacks, :data:`ingest.schema.LATER_COLUMNS` only, missing).

    ``text=False`` leaves text columns as stored (``large_string``, dictionary-decoded): the
    pandas conversion of :func:`graph.spark.rules.tag_table` gives the same ``string`` column
    from either, without the copy.
    """
    cols = []
    for field in schema:
        if field.name not in table.column_names:
            cols.append(pa.nulls(table.num_rows, field.type))
            continue
        col = table.column(field.name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if field.name == "ts" and pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp("ns", col.type.tz)).cast(pa.int64())
        if text or not (pa.types.is_string(field.type) and pa.types.is_large_string(col.type)):
            col = col.cast(field.type)
        cols.append(col)
    if text:
        return pa.Table.from_arrays(cols, schema=schema)
    return pa.Table.from_arrays(cols, names=schema.names)


def scan_row_groups(spark: SparkSession, tasks: list[RowGroups], types: dict[str, Any],
                    rules: Iterable[Rule] | None = None, *, keep: Iterable[str] = (),
                    hint_days: bool = True) -> RowGroupScan:
    """:func:`graph.spark.rules.tag_rows` on events read by pyarrow in Spark tasks (see the module
    docstring), plus the partial aggregates of the case-wide steps, from the same read.

    What a task gives back is Arrow tables, each packed into one Spark row (``_payload``: the
    Arrow IPC stream; :data:`PACKED_SCHEMA`), so the JVM moves a few large values instead of
    converting every row to its own format and back: the tagged rows (``event_index``, the rule
    bit masks, the ``keep`` columns, :data:`TAGGED`); the rows that feed a derived column
    (:data:`FEED`), split by a hash of the lower-cased host into ``spark.sql.shuffle.partitions``
    buckets and tagged per bucket (``groupBy("_bucket").applyInArrow``: every row a count reads
    reaches its bucket, as in :func:`graph.spark.rules.tag_rows`); and per task:

    * the IP/name pairs of :func:`graph.spark.casewide.hint_pairs`: a count per (ip, name, UTC day
      when ``hint_days``, else the epoch), summed on the driver (:func:`hint_pairs_of`);
    * the rows :func:`graph.scoring.auth.presence` reads (event ids 4624 with an interactive logon
      type, 4768, 4769, 4776, with an account): one row per distinct value of the columns it reads
      and UTC hour, holding the earliest ``ts`` and the first ``event_index``; the pandas function
      itself runs on them on the driver (:func:`presence_of`): the first of each ``src_ip``'s
      machine rows and every key's earliest time survive, which is all it reads;
    * the distinct ``host`` values (:func:`hosts_of`).

    The scan and the per-bucket tagging are materialised here (``localCheckpoint``) and the
    aggregates collected.

    Args:
        spark: the session.
        tasks: :func:`plan_row_groups`' tasks.
        types: Spark type of each canonical column (the frame :func:`graph.spark.io.read_events`
            gives for these files).
        rules: the rules (default: all of :data:`graph.rules.RULES`), in the order of the bits.
        keep: event columns to carry along with the tagged rows.
        hint_days: count the IP/name pairs per UTC day (``AnalysisConfig.ip_hints_by_day``).
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
    from pyspark.sql.pandas.types import to_arrow_schema

    from graph.correlate import _LOOPBACK_IPS
    from graph.rules import RULES
    from graph.scoring.auth import PRESENCE_LOGON_TYPES
    from graph.spark.rules import MASK_BITS, _rule_columns, derived_feed, tag_table

    rule_list = list(RULES.values() if rules is None else rules)
    keep = list(keep)
    read = _rule_columns(rule_list) if rule_list else ["event_id"]
    n_masks = max(1, -(-len(rule_list) // MASK_BITS))
    masks = [f"_m{k}" for k in range(n_masks)]
    carried = list(dict.fromkeys([*keep, *read, *_PRESENCE_KEY, "ts", "dst_ip", "dst_port"]))
    event_schema = to_arrow_schema(T.StructType([T.StructField(c, types[c]) for c in COLUMNS]))
    row_schema = T.StructType([T.StructField("event_index", T.LongType()),
                               *(T.StructField(m, T.LongType()) for m in masks),
                               *(T.StructField(c, types[c]) for c in keep)])
    row_arrow = to_arrow_schema(row_schema)
    ids = sorted(set().union(*(r.event_ids for r in rule_list))) if rule_list else []
    grouped_ids, feed_ports = derived_feed(ids)
    read_schema = _with_index(event_schema, read)
    keep_schema = _with_index(event_schema, keep)
    carried_schema = _with_index(event_schema, carried)
    presence_schema = pa.schema([event_schema.field(c) for c in _PRESENCE_KEY])
    buckets = max(1, int(spark.conf.get("spark.sql.shuffle.partitions", "8") or 8))

    def tagged_out(tags: pa.Table, kept: pa.Table) -> pa.Table:
        return pa.Table.from_arrays([*tags.columns, *kept.columns], schema=row_arrow)

    def tag_plain(held: list[tuple[pa.RecordBatch, pa.Array, int]]) -> Iterator[pa.RecordBatch]:
        # the held batches are consecutive rows: positions in their concatenation = index - first
        if not held or not rule_list:
            return
        raw = pa.Table.from_batches([b for b, _, _ in held])
        first = held[0][2]
        chosen = pa.concat_arrays([m for _, m, _ in held])
        if not pc.any(chosen).as_py():
            return
        # no copy of the rows: the others get event id -1, which no rule and no derived column
        # reads (graph.rules.apply_rules selects rows by event id first)
        table = conform_arrow(raw.select([c for c in read if c in raw.column_names]), read_schema, text=False)
        eid = table.column("event_id")
        table = table.set_column(table.schema.get_field_index("event_id"), "event_id",
                                 pc.if_else(chosen, eid, pa.scalar(-1, eid.type)))
        index = pa.array(np.arange(first, first + len(chosen)), pa.int64())
        tags = tag_table(table.append_column("event_index", index), rule_list, read, [])
        kept = conform_arrow(raw.take(pc.subtract(tags.column("event_index"), first)), keep_schema)
        yield _pack(tagged_out(tags, kept), TAGGED)

    def reduce_batch(batch: pa.RecordBatch, index: pa.Array, parts: dict[int, list[pa.Table]]) -> None:
        table = conform_arrow(pa.Table.from_batches([batch]),
                              _with_index(event_schema, ["ts", *_PRESENCE_KEY, "dst_ip"]), text=False)
        ts = table.column("ts")
        for ip_col, name_col in (("src_ip", "src_host"), ("dst_ip", "dst_host")):
            ip, name = table.column(ip_col), table.column(name_col)
            ok = pc.and_(pc.and_(pc.is_valid(ip), pc.is_valid(name)),
                         pc.invert(pc.is_in(ip, pa.array(_LOOPBACK_IPS, ip.type))))
            day = _floor(ts, _DAY_NS) if hint_days else pa.array(np.zeros(len(ts), np.int64))
            part = pa.table({"ip": ip.cast(pa.string()), "name": name.cast(pa.string()),
                             "day": day}).filter(ok)
            parts[PAIRS].append(part.group_by(["ip", "name", "day"]).aggregate([([], "count_all")])
                                .rename_columns(["ip", "name", "day", "n"]))
        eid, lt = table.column("event_id"), table.column("logon_type")
        inter = pc.and_(pc.equal(eid, 4624),
                        pc.fill_null(pc.is_in(lt, pa.array(PRESENCE_LOGON_TYPES, lt.type)), False))
        other = pc.is_in(eid, pa.array([e for e in PRESENCE_EVENT_IDS if e != 4624], eid.type))
        seen = pc.and_(pc.or_(inter, other), pc.is_valid(table.column("account")))
        part = conform_arrow(table.select(_PRESENCE_KEY).filter(seen), presence_schema)
        part = part.append_column("_h", _floor(ts.filter(seen), _HOUR_NS))
        part = part.append_column("ts", ts.filter(seen)).append_column("event_index", index.filter(seen))
        parts[PRESENCE].append(_presence_reduce(part))
        parts[HOSTS].append(pa.table({"host": pc.unique(table.column("host").cast(pa.string()))}))

    def flush(parts: dict[int, list[pa.Table]], feeds: list[pa.Table]) -> Iterator[pa.RecordBatch]:
        if parts[PAIRS]:
            yield _pack(pa.concat_tables(parts[PAIRS]).group_by(["ip", "name", "day"]).aggregate(
                [("n", "sum")]).rename_columns(["ip", "name", "day", "n"]), PAIRS)
        if parts[PRESENCE]:
            yield _pack(_presence_reduce(pa.concat_tables(parts[PRESENCE]), hourly=False), PRESENCE)
        if parts[HOSTS]:
            yield _pack(pa.table({"host": pc.unique(pa.concat_tables(parts[HOSTS]).column(0))}), HOSTS)
        if feeds:
            fed = pa.concat_tables(feeds)
            bucket = host_buckets(fed.column("host"), buckets)
            for b in np.unique(bucket).tolist():
                yield _pack(fed.filter(pa.array(bucket == b)), FEED, b)

    def scan(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for ids_batch in batches:
            for t in ids_batch.column(0).to_pylist():
                yield from scan_task(tasks[t])

    def scan_task(task: RowGroups) -> Iterator[pa.RecordBatch]:
        held: list[tuple[pa.RecordBatch, pa.Array, int]] = []
        parts: dict[int, list[pa.Table]] = {PAIRS: [], PRESENCE: [], HOSTS: []}
        feeds: list[pa.Table] = []
        size = 0
        parquet = _open(task.uri)
        have = [c for c in carried if c in parquet.schema_arrow.names]
        index = task.first_row
        for batch in parquet.iter_batches(batch_size=READ_ROWS, row_groups=list(task.groups),
                                          columns=have, use_threads=False):
            n = batch.num_rows
            start, index = index, index + n
            positions = pa.array(np.arange(start, start + n, dtype=np.int64))
            reduce_batch(batch, positions, parts)
            eid = batch.column(batch.schema.get_field_index("event_id"))
            chosen = pc.is_in(eid, pa.array(ids, eid.type)) if ids else pa.array(np.zeros(n, bool))
            feed = _feeds(batch, grouped_ids, feed_ports)
            if feed is not None and pc.any(feed).as_py():
                rows = conform_arrow(pa.Table.from_batches([batch.filter(feed)]), carried_schema)
                feeds.append(rows.append_column("event_index", positions.filter(feed)))
                chosen = pc.and_(chosen, pc.invert(feed))
            held.append((batch, chosen, start))
            size += n
            if size >= SCAN_TAG_ROWS:
                yield from tag_plain(held)
                held, size = [], 0
        yield from tag_plain(held)
        yield from flush(parts, feeds)

    n_tasks = max(1, len(tasks))
    scanned = spark.range(0, len(tasks), 1, n_tasks).mapInArrow(scan, PACKED_SCHEMA)
    scanned = scanned.localCheckpoint(eager=True)
    small = scanned.where(F.col("_kind") >= PAIRS).toArrow()
    kinds = small.column("_kind").to_numpy(zero_copy_only=False)
    aggregates = {k: _concat(_unpack(small.filter(pa.array(kinds == k))), pa.schema([]))
                  for k in (PAIRS, PRESENCE, HOSTS)}
    packed = scanned.where(F.col("_kind") == TAGGED)
    if grouped_ids:
        def per_bucket(table: pa.Table) -> pa.Table:
            fed = _concat(_unpack(table), carried_schema)
            out = tag_table(fed, rule_list, read, keep) if fed.num_rows else row_arrow.empty_table()
            return pa.Table.from_batches([_pack(out.cast(row_arrow), TAGGED)])

        grouped = (scanned.where(F.col("_kind") == FEED).groupBy("_bucket")
                   .applyInArrow(per_bucket, PACKED_SCHEMA).localCheckpoint(eager=True))
        packed = packed.unionByName(grouped)
    n_tagged = int(packed.agg(F.sum("_n")).collect()[0][0] or 0)
    return RowGroupScan(packed, n_tagged, row_schema, aggregates)


def host_buckets(host: pa.ChunkedArray | pa.Array, buckets: int) -> np.ndarray:
    """The bucket of each row's lower-cased host (missing = ""): a fixed hash (pandas'
    ``hash_array``, the same in every process), modulo ``buckets``."""
    lowered = pc.fill_null(pc.utf8_lower(host.cast(pa.string())), "")
    values = lowered.to_numpy(zero_copy_only=False).astype(object)
    return (pd.util.hash_array(values) % np.uint64(buckets)).astype(np.int64)


def _with_index(schema: pa.Schema, names: list[str]) -> pa.Schema:
    """The fields of ``schema`` named in ``names``, in the order of ``names``."""
    return pa.schema([schema.field(n) for n in names if n in schema.names])


def _feeds(table: pa.Table | pa.RecordBatch, grouped_ids: Sequence[int],
           ports: Sequence[int]) -> pa.Array | None:
    """Which rows feed a derived column (tagged per host bucket, see
    :func:`graph.spark.rules.tag_rows`): event ids 13, 4697, 7045, and 3 to a client port."""
    if not grouped_ids:
        return None
    eid = table.column("event_id")
    other = [e for e in grouped_ids if e != 3]
    out = pc.is_in(eid, pa.array(other, eid.type)) if other else pc.equal(eid, -1)
    if 3 in grouped_ids:
        port = table.column("dst_port")
        to_port = pc.fill_null(pc.is_in(port, pa.array(ports).cast(port.type)), False)
        out = pc.or_(out, pc.and_(pc.equal(eid, 3), to_port))
    return out
