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
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ingest.schema import COLUMNS, DTYPES, LATER_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from graph.rules.base import Rule

#: Rows of one Spark task (whole row groups, consecutive in one file, are bundled up to this).
TASK_ROWS = 1 << 20
#: Rows read from Parquet per batch inside a task.
READ_ROWS = 131_072


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


def plan_row_groups(files: Sequence[str], *, task_rows: int = TASK_ROWS) -> list[RowGroups] | None:
    """The tasks of :func:`tag_row_groups` over ``files`` (read in sorted order), or None when
    pyarrow cannot open one of them here or a column's stored type is not one it converts."""
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


class RowGroupScan(NamedTuple):
    """What :func:`scan_row_groups` gives: the tagged rows (lazy Spark frame, as
    :func:`graph.spark.rules.tag_rows`) and the case-wide partial aggregates the tasks computed on
    the way (collected: :func:`hint_pairs_of`, :func:`presence_of`, :func:`hosts_of` finish them)."""

    hit: DataFrame
    aggregates: pa.Table


#: ``_kind`` of the scan's rows: tagged, feeding a derived column, and the partial aggregates.
TAGGED, FEED, PAIRS, PRESENCE, HOSTS = range(5)
#: Event ids whose rows :func:`graph.scoring.auth.presence` reads.
PRESENCE_EVENT_IDS = (4624, 4768, 4769, 4776)
_PRESENCE_KEY = ["event_id", "logon_type", "host", "account", "src_host", "src_ip", "dst_host", "status"]
_HOUR_NS = 3_600 * 10**9
_DAY_NS = 86_400 * 10**9


def scan_row_groups(spark: SparkSession, tasks: list[RowGroups], types: dict[str, Any],
                    rules: Iterable[Rule] | None = None, *, keep: Iterable[str] = (),
                    hint_days: bool = True) -> RowGroupScan:
    """:func:`graph.spark.rules.tag_rows` on events read by pyarrow in Spark tasks (see the module
    docstring), plus the partial aggregates of the case-wide steps, from the same read.

    The scan is materialised here (``localCheckpoint``): its tagged rows, the rows the derived
    columns count and the aggregates are all read from it. Besides tagging, each task reduces:

    * the IP/name pairs of :func:`graph.spark.stage.hint_pairs`: a count per (ip, name, UTC day
      when ``hint_days``, else the epoch), summed on the driver (:func:`hint_pairs_of`);
    * the rows :func:`graph.scoring.auth.presence` reads (event ids 4624 with an interactive logon
      type, 4768, 4769, 4776, with an account): one row per distinct value of the columns it reads
      and UTC hour, holding the earliest ``ts`` and the first ``event_index``; the pandas function
      itself runs on them on the driver (:func:`presence_of`): the first of each ``src_ip``'s
      machine rows and every key's earliest time survive, which is all it reads;
    * the distinct ``host`` values (:func:`hosts_of`).

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
    from graph.spark.rules import MASK_BITS, TAG_CHUNK_ROWS, _rule_columns, derived_feed, tag_table

    rule_list = list(RULES.values() if rules is None else rules)
    keep = list(keep)
    read = _rule_columns(rule_list) if rule_list else ["event_id"]
    n_masks = max(1, -(-len(rule_list) // MASK_BITS))
    masks = [f"_m{k}" for k in range(n_masks)]
    carried = list(dict.fromkeys([*keep, *read, *_PRESENCE_KEY, "ts", "dst_ip", "dst_port"]))
    event_schema = to_arrow_schema(T.StructType([T.StructField(c, types[c]) for c in COLUMNS]))
    tag_fields = [T.StructField("event_index", T.LongType()),
                  *(T.StructField(m, T.LongType()) for m in masks)]
    scan_schema = T.StructType([*tag_fields, *(T.StructField(c, types[c]) for c in carried),
                                T.StructField("_kind", T.ByteType()), T.StructField("_n", T.LongType())])
    out_schema = T.StructType([*tag_fields, *(T.StructField(c, types[c]) for c in keep)])
    scan_arrow = to_arrow_schema(scan_schema)
    ids = sorted(set().union(*(r.event_ids for r in rule_list))) if rule_list else []
    grouped_ids, feed_ports = derived_feed(ids)
    read_schema = _with_index(event_schema, read)
    keep_schema = _with_index(event_schema, keep)
    carried_schema = _with_index(event_schema, carried)
    presence_schema = pa.schema([event_schema.field(c) for c in _PRESENCE_KEY])

    def rows_out(table: pa.Table, kind: int) -> Iterator[pa.RecordBatch]:
        n = table.num_rows
        if not n:
            return
        have = set(table.column_names)
        cols = [table.column(f.name) if f.name in have
                else pa.array(np.full(n, kind, np.int8)) if f.name == "_kind"
                else pa.array(np.zeros(n, np.int64)) if f.name in masks and kind != TAGGED
                else pa.nulls(n, f.type) for f in scan_arrow]
        yield from pa.Table.from_arrays([c.cast(f.type) for c, f in zip(cols, scan_arrow, strict=True)],
                                        schema=scan_arrow).to_batches()

    def tag_plain(held: list[tuple[pa.RecordBatch, pa.Array, int]]) -> Iterator[pa.RecordBatch]:
        # the held batches are consecutive rows: positions in their concatenation = index - first
        if not held or not rule_list:
            return
        raw = pa.Table.from_batches([b for b, _, _ in held])
        first = held[0][2]
        pos = np.flatnonzero(pa.concat_arrays([m for _, m, _ in held]).to_numpy(zero_copy_only=False))
        if not len(pos):
            return
        table = conform_arrow(raw.select([c for c in read if c in raw.column_names]).take(pos),
                              read_schema, text=False)
        table = table.append_column("event_index", pa.array(pos + first, pa.int64()))
        tags = tag_table(table, rule_list, read, [])
        kept = conform_arrow(raw.take(pc.subtract(tags.column("event_index"), first)), keep_schema)
        yield from rows_out(pa.Table.from_arrays([*tags.columns, *kept.columns],
                                                 names=[*tags.column_names, *kept.column_names]), TAGGED)

    def reduce_batch(batch: pa.RecordBatch, index: pa.Array, parts: dict[int, list[pa.Table]]) -> None:
        table = conform_arrow(pa.Table.from_batches([batch]),
                              _with_index(event_schema, ["ts", *_PRESENCE_KEY, "dst_ip"]), text=False)
        ts = table.column("ts")
        for ip_col, name_col in (("src_ip", "src_host"), ("dst_ip", "dst_host")):
            ip, name = table.column(ip_col), table.column(name_col)
            ok = pc.and_(pc.and_(pc.is_valid(ip), pc.is_valid(name)),
                         pc.invert(pc.is_in(ip, pa.array(_LOOPBACK_IPS, ip.type))))
            day = _floor(ts, _DAY_NS) if hint_days else pa.array(np.zeros(len(ts), np.int64))
            part = pa.table({"src_ip": ip.cast(pa.string()), "src_host": name.cast(pa.string()),
                             "ts": day}).filter(ok)
            parts[PAIRS].append(part.group_by(["src_ip", "src_host", "ts"]).aggregate([([], "count_all")])
                                .rename_columns(["src_ip", "src_host", "ts", "_n"]))
        eid, lt = table.column("event_id"), table.column("logon_type")
        types = pa.array(PRESENCE_LOGON_TYPES, lt.type)
        inter = pc.and_(pc.equal(eid, 4624), pc.fill_null(pc.is_in(lt, types), False))
        other = pc.is_in(eid, pa.array([e for e in PRESENCE_EVENT_IDS if e != 4624], eid.type))
        seen = pc.and_(pc.or_(inter, other), pc.is_valid(table.column("account")))
        part = conform_arrow(table.select(_PRESENCE_KEY).filter(seen), presence_schema)
        part = part.append_column("_h", _floor(ts.filter(seen), _HOUR_NS))
        part = part.append_column("ts", ts.filter(seen)).append_column("event_index", index.filter(seen))
        parts[PRESENCE].append(_presence_reduce(part))
        parts[HOSTS].append(pa.table({"host": pc.unique(table.column("host").cast(pa.string()))}))

    def flush_parts(parts: dict[int, list[pa.Table]]) -> Iterator[pa.RecordBatch]:
        if parts[PAIRS]:
            pairs = pa.concat_tables(parts[PAIRS]).group_by(["src_ip", "src_host", "ts"]).aggregate(
                [("_n", "sum")]).rename_columns(["src_ip", "src_host", "ts", "_n"])
            yield from rows_out(pairs, PAIRS)
        if parts[PRESENCE]:
            yield from rows_out(_presence_reduce(pa.concat_tables(parts[PRESENCE]), hourly=False), PRESENCE)
        if parts[HOSTS]:
            yield from rows_out(pa.table({"host": pc.unique(pa.concat_tables(parts[HOSTS]).column(0))}),
                                HOSTS)

    def scan(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        held: list[tuple[pa.RecordBatch, pa.Array, int]] = []
        parts: dict[int, list[pa.Table]] = {PAIRS: [], PRESENCE: [], HOSTS: []}
        size = 0
        for ids_batch in batches:
            for t in ids_batch.column(0).to_pylist():
                task = tasks[t]
                parquet = _open(task.uri)
                have = [c for c in carried if c in parquet.schema_arrow.names]
                index = task.first_row
                for batch in parquet.iter_batches(batch_size=READ_ROWS, row_groups=list(task.groups),
                                                  columns=have, use_threads=False):
                    n = batch.num_rows
                    start, index = index, index + n
                    if held and held[-1][2] + held[-1][0].num_rows != start:   # next file: flush
                        yield from tag_plain(held)
                        held, size = [], 0
                    positions = pa.array(np.arange(start, start + n, dtype=np.int64))
                    reduce_batch(batch, positions, parts)
                    eid = batch.column(batch.schema.get_field_index("event_id"))
                    chosen = pc.is_in(eid, pa.array(ids, eid.type)) if ids else pa.array(np.zeros(n, bool))
                    feed = _feeds(batch, grouped_ids, feed_ports)
                    if feed is not None and pc.any(feed).as_py():
                        rows = conform_arrow(pa.Table.from_batches([batch.filter(feed)]), carried_schema)
                        yield from rows_out(rows.append_column("event_index", positions.filter(feed)), FEED)
                        chosen = pc.and_(chosen, pc.invert(feed))
                    held.append((batch, chosen, start))
                    size += pc.sum(chosen.cast(pa.int64())).as_py() or 0
                    if size >= TAG_CHUNK_ROWS:
                        yield from tag_plain(held)
                        held, size = [], 0
        yield from tag_plain(held)
        yield from flush_parts(parts)

    n_tasks = max(1, len(tasks))
    scanned = spark.range(0, len(tasks), 1, n_tasks).mapInArrow(scan, scan_schema).localCheckpoint(eager=True)
    aggregates = scanned.where(F.col("_kind") >= PAIRS).drop(*masks).toArrow()
    plain = scanned.where(F.col("_kind") == TAGGED).select(*out_schema.names)
    if not grouped_ids:
        return RowGroupScan(plain, aggregates)

    def per_group(table: pa.Table) -> pa.Table:
        return tag_table(table, rule_list, read, keep)

    buckets = int(spark.conf.get("spark.sql.shuffle.partitions", "8") or 8)
    key = F.pmod(F.xxhash64(F.coalesce(F.lower(F.col("host")), F.lit(""))), F.lit(max(1, buckets)))
    grouped = (scanned.where(F.col("_kind") == FEED).select("event_index", *carried)
               .groupBy(key.alias("_host_bucket")).applyInArrow(per_group, out_schema))
    return RowGroupScan(plain.unionByName(grouped), aggregates)


def _floor(ts: pa.ChunkedArray | pa.Array, unit: int) -> pa.Array:
    """``ts`` (int64 epoch ns) floored to a multiple of ``unit`` (pandas' ``dt.floor`` on UTC);
    missing stays missing."""
    arr = ts.combine_chunks() if isinstance(ts, pa.ChunkedArray) else ts
    values = pc.fill_null(arr, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return pa.array(values - values % unit, pa.int64(), mask=pc.is_null(arr).to_numpy(zero_copy_only=False))


def _presence_reduce(table: pa.Table, *, hourly: bool = True) -> pa.Table:
    """One row per distinct (presence key, hour): the earliest ``ts`` and the first ``event_index``
    (``hourly=False``: ``_h`` is recomputed from ``ts``, for tables already reduced)."""
    if not hourly:
        table = table.append_column("_h", _floor(table.column("ts"), _HOUR_NS))
    keys = [*_PRESENCE_KEY, "_h"]
    out = table.group_by(keys, use_threads=False).aggregate([("ts", "min"), ("event_index", "min")])
    return out.rename_columns([*keys, "ts", "event_index"]).drop_columns(["_h"])


def hint_pairs_of(aggregates: pa.Table) -> pd.DataFrame:
    """:func:`graph.spark.stage.hint_pairs` from :func:`scan_row_groups`' aggregates."""
    rows = aggregates.filter(pc.equal(aggregates.column("_kind"), PAIRS))
    got = rows.select(["src_ip", "src_host", "ts", "_n"]).group_by(["src_ip", "src_host", "ts"]).aggregate(
        [("_n", "sum")]).to_pandas()
    return pd.DataFrame({"ip": got["src_ip"].astype("string"), "name": got["src_host"].astype("string"),
                         "day": pd.to_datetime(got["ts"].astype("int64"), unit="ns", utc=True),
                         "n": got["_n_sum"].astype("int64")})


def presence_of(aggregates: pa.Table) -> pd.DataFrame:
    """:func:`graph.scoring.auth.presence` (the pandas function) on :func:`scan_row_groups`'
    reduced presence rows, in input order."""
    from graph.scoring.auth import presence
    from graph.spark.io import arrow_to_pandas

    rows = aggregates.filter(pc.equal(aggregates.column("_kind"), PRESENCE))
    rows = rows.take(pc.sort_indices(rows.column("event_index")))
    frame = arrow_to_pandas(rows.select([*_PRESENCE_KEY, "ts"]), ns_columns=("ts",))
    return presence(frame.reset_index(drop=True))


def hosts_of(aggregates: pa.Table) -> list[str | None]:
    """The distinct ``host`` values of the case (:func:`scan_row_groups`' aggregates)."""
    rows = aggregates.filter(pc.equal(aggregates.column("_kind"), HOSTS))
    return pc.unique(rows.column("host")).to_pylist()


def _with_index(schema: pa.Schema, names: list[str]) -> pa.Schema:
    """``schema`` restricted to ``names`` (in its order)."""
    return pa.schema([f for f in schema if f.name in names])


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
