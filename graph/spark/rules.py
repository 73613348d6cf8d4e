"""The rules on Spark: the pandas engine's :func:`graph.rules.apply_rules` run in Spark tasks
(:func:`tag_rows`), and the rule condition language (:mod:`graph.rules.compile`) compiled to Spark
SQL (:func:`compile_spark`).

The engine tags events with the pandas code itself, on Arrow batches inside Spark tasks, so both
engines share one implementation. The SQL compiler is used for the cheap pre-filter that keeps
rows no rule can fire on out of Python (:func:`relaxed_sql`) and for ad-hoc queries; it reads the
same declarative ``Rule.condition`` data the pandas compiler reads, operator by operator, with the
same missing-value rule (every leaf except ``isnull`` is false on a missing value; ``not`` negates
that boolean).

Regular expressions run on Java's engine here and on pyarrow's RE2 / Python's ``re`` in pandas.
The rule patterns use the common subset (classes, anchors, alternation, ``\\d``/``\\s``/``\\S``);
case-insensitive patterns get ``(?iu)`` so Java folds case beyond ASCII like the others.
``tests/spark/test_rules.py`` checks the tags of every rule in :data:`graph.rules.RULES` and the
SQL of every operator against the pandas compiler on the same events.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from graph.rules.compile import OPS
from ingest.schema import DTYPES

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from graph.rules.base import Rule

Condition = Mapping[str, Any]
#: Canonical columns held as integers (the others are text in both engines).
_INTEGER: dict[str, bool] = {c: d.lower().startswith("int") for c, d in DTYPES.items()}


def compile_spark(cond: Condition) -> Column:
    """A boolean, never-null Spark Column for ``cond`` (see :mod:`graph.rules.compile`).

    Built as one SQL expression (:func:`compile_sql`) so a rule costs one call into the JVM, not
    one per operator node (building the rules node by node through py4j took seconds).

    Raises:
        ValueError: an unknown operator (same message as the pandas compiler).
    """
    from pyspark.sql import functions as F

    return F.expr(compile_sql(cond))


def compile_sql(cond: Condition) -> str:
    r"""``cond`` as a Spark SQL boolean expression that is never NULL.

    Examples:
        >>> compile_sql({"col": "share_name", "op": "iendswith", "value": "ADMIN$"})
        "coalesce((coalesce(endswith(lower(CAST(`share_name` AS STRING)), 'admin$'), false)), false)"
        >>> print(_lit(r"\\*\IPC$ 'x'"))
        '\\\\*\\IPC$ \'x\''
        >>> compile_sql({"not": {"col": "event_id", "op": "in", "value": [4624, 4625]}})
        '(NOT coalesce(`event_id` IN (4624, 4625), false))'
    """
    if "all" in cond:
        subs = [compile_sql(c) for c in cond["all"]]
        return "(" + " AND ".join(subs) + ")" if subs else "true"
    if "any" in cond:
        subs = [compile_sql(c) for c in cond["any"]]
        return "(" + " OR ".join(subs) + ")" if subs else "false"
    if "not" in cond:
        return f"(NOT {compile_sql(cond['not'])})"
    return f"coalesce({_leaf(cond)}, false)"


def _lit(value: Any) -> str:
    """A SQL string literal (backslash escapes: Spark's default string-literal syntax)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _text(name: str, icase: bool) -> str:
    col = f"CAST({_ident(name)} AS STRING)"
    return f"lower({col})" if icase else col


def _leaf(cond: Condition) -> str:
    name, op, value = cond["col"], cond["op"], cond.get("value")
    if op not in OPS:
        raise ValueError(f"unknown condition operator {op!r}")
    col = _ident(name)
    if op == "isnull":
        return f"{col} IS NULL"
    if op == "notnull":
        return f"{col} IS NOT NULL"
    if op in ("gt", "ge", "lt", "le"):
        sym = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}[op]
        return f"try_cast({col} AS DOUBLE) {sym} {float(value)!r}D"
    if op == "mask_any":
        return f"(CAST({col} AS BIGINT) & {int(value)}) != 0"
    icase = op.startswith("i") and op != "in"
    base = op[1:] if icase else op
    if base in ("eq_col", "ne_col"):
        a, b = _text(name, icase), _text(value, icase)
        return f"({a} IS NOT NULL AND {b} IS NOT NULL AND {a} {'=' if base == 'eq_col' else '!='} {b})"
    values = value if isinstance(value, list) else [value]
    if base == "regex":
        pattern = "|".join(f"(?:{v})" for v in values)
        return f"({_text(name, False)} RLIKE {_lit(('(?iu)' if icase else '') + pattern)})"
    if not icase and base in ("eq", "ne", "in") and _INTEGER.get(name, False):
        # integer column (event_id, logon_type...): compare values, as pandas does off StringDtype
        nums = ", ".join(str(int(v)) for v in values)
        if base == "in":
            return f"{col} IN ({nums})" if values else "false"
        return f"{col} {'=' if base == 'eq' else '!='} {int(values[0])}"
    text = _text(name, icase)
    strs = [_lit(str(v).lower() if icase else str(v)) for v in values]
    if base == "eq":
        return f"{text} = {strs[0]}"
    if base == "ne":
        return f"{text} != {strs[0]}"
    if base == "in":
        return f"{text} IN ({', '.join(strs)})" if strs else "false"
    return "(" + " OR ".join(f"coalesce({base}({text}, {v}), false)" for v in strs) + ")"


#: Rules per bit mask column (bit 63 is the sign bit of a long and stays unused).
MASK_BITS = 63


#: Event ids whose rows feed a derived column (:mod:`graph.rules.derived`): rows of these ids are
#: tagged per host group, every other row batch by batch.
_DERIVED_EVENT_IDS = (3, 13, 4697, 7045)   # graph.rules.derived: client_days (3), service events


#: Rows per call of the rules in a Spark task (joined Arrow batches): the pandas rules cost about
#: 0.15 CPU-s per call whatever the rows, so Spark's 10,000-row batches would cost 15x the rules.
TAG_CHUNK_ROWS = 250_000


def derived_feed(ids: Iterable[int]) -> tuple[list[int], list[int]]:
    """Of the rules' event ``ids``, those whose rows feed a derived column (tagged per host
    bucket), and the client ports an event 3 must target to feed ``client_days``."""
    from graph.rules.derived import CLIENT_PORT_CLASSES

    grouped = [e for e in ids if e in _DERIVED_EVENT_IDS]
    return grouped, [p for ps in CLIENT_PORT_CLASSES.values() for p in ps]


def _rule_columns(rule_list: list[Rule]) -> list[str]:
    """The canonical event columns the rules and their derived columns read (sorted)."""
    from graph.rules.compile import columns_of
    from graph.rules.derived import DERIVED

    read = set().union(*(columns_of(r.condition) for r in rule_list)) if rule_list else set()
    for name in read & set(DERIVED):
        read |= set(DERIVED[name])
    return sorted((read - set(DERIVED)) | {"event_id"})


def _cheap(cond: Condition) -> bool:
    """A leaf Spark evaluates without string work: a test of an integer column, or (not)null."""
    return cond["op"] in ("isnull", "notnull") or (
        _INTEGER.get(cond["col"], False)
        and cond["op"] in ("eq", "ne", "in", "gt", "ge", "lt", "le", "mask_any"))


def relaxed_sql(cond: Condition, *, loose: bool = True) -> str:
    """A cheap Spark SQL condition implied by ``cond`` (``loose``: true wherever ``cond`` is) or
    implying it (not ``loose``: true only where ``cond`` is), built from its integer and null
    tests only (every other leaf becomes ``true`` / ``false``). :func:`tag_rows` drops the rows no
    rule's loose condition admits before they reach Python: the rules themselves still decide.

    Examples:
        >>> relaxed_sql({"all": [{"col": "logon_type", "op": "eq", "value": 3},
        ...                      {"col": "account", "op": "iendswith", "value": "$"}]})
        '(coalesce(`logon_type` = 3, false) AND true)'
        >>> relaxed_sql({"not": {"col": "account", "op": "ieq", "value": "x"}})
        '(NOT false)'
    """
    if "all" in cond:
        subs = [relaxed_sql(c, loose=loose) for c in cond["all"]]
        return "(" + " AND ".join(subs) + ")" if subs else "true"
    if "any" in cond:
        subs = [relaxed_sql(c, loose=loose) for c in cond["any"]]
        return "(" + " OR ".join(subs) + ")" if subs else "false"
    if "not" in cond:
        return f"(NOT {relaxed_sql(cond['not'], loose=not loose)})"
    if _cheap(cond):
        return f"coalesce({_leaf(cond)}, false)"
    return "true" if loose else "false"


def tag_table(table: pa.Table, rule_list: list[Rule], read: list[str], keep: list[str],
              index_col: str = "event_index") -> pa.Table:
    """:func:`graph.rules.apply_rules` on one Arrow table of Spark events: the rows some rule fires
    on, as ``event_index``, the bit masks ``_m0, _m1, ...`` (bit ``j`` of ``_m{k}`` = rule
    ``rule_list[k * MASK_BITS + j]``) and the ``keep`` columns (their Arrow values, untouched).

    The ``read`` columns are converted to the pandas engine's dtypes (``ts`` from epoch ns to
    ``datetime64[ns, UTC]``), so the rules run on exactly what the pandas engine evaluates. The
    derived columns are computed over the table's rows: the caller passes whole host groups for
    the rows that feed them (:func:`tag_rows`).
    """
    import pandas as pd

    from graph.rules import apply_rules
    from graph.spark.io import arrow_to_pandas
    from ingest.schema import DTYPES

    n_masks = max(1, -(-len(rule_list) // MASK_BITS))
    frame = arrow_to_pandas(table.select(read))
    for col in read:
        if col == "ts":
            frame[col] = pd.to_datetime(frame[col].astype("int64"), unit="ns", utc=True)
        elif DTYPES[col] not in ("string", "category") and str(frame[col].dtype) != DTYPES[col]:
            frame[col] = frame[col].astype(DTYPES[col])
    tags = apply_rules(frame, rule_list)
    where = {r.id: i for i, r in enumerate(rule_list)}
    pos = tags["event_index"].to_numpy(dtype=np.int64)
    bit = tags["rule_id"].map(where).to_numpy(dtype=np.int64)
    rows, inverse = np.unique(pos, return_inverse=True)
    masks = np.zeros((n_masks, len(rows)), dtype=np.int64)
    np.bitwise_or.at(masks, (bit // MASK_BITS, inverse), np.left_shift(1, bit % MASK_BITS))
    out = table.select([index_col, *keep]).take(pa.array(rows, pa.int64()))
    cols = [out.column(0).cast(pa.int64())] + [pa.array(m, pa.int64()) for m in masks]
    cols += [out.column(1 + i) for i in range(len(keep))]
    names = ["event_index", *(f"_m{k}" for k in range(n_masks)), *keep]
    return pa.Table.from_arrays(cols, names=names)


def tag_rows(events: DataFrame, rules: Iterable[Rule] | None = None, *, index_col: str = "event_index",
             keep: Iterable[str] = ()) -> DataFrame:
    """The events some rule fires on: ``event_index``, the rule bit masks ``_m0, _m1, ...`` and the
    ``keep`` columns (lazy; see :func:`tags_of` for the tags).

    The rules run as the pandas engine's own :func:`graph.rules.apply_rules` inside Spark tasks on
    Arrow batches (:func:`tag_table`), so both engines share one implementation:

    * only events whose ``event_id`` some rule reads and that pass some rule's integer and null
      tests (:func:`relaxed_sql`, implied by the rule: a cheap filter, never a decision), and only
      the columns the rules read plus the ``keep`` columns, reach Python;
    * rows that feed a derived column (event ids 3, 13, 4697, 7045) are grouped per lower-cased
      host (``groupBy().applyInArrow`` on a hash bucket of it, ``spark.sql.shuffle.partitions``
      buckets): ``service_burst`` counts per host and ``client_days`` per lower-cased host, so each
      group holds every row those counts read; this is the only shuffle;
    * every other row is tagged where it is, :data:`TAG_CHUNK_ROWS` rows per call (``mapInArrow``,
      no shuffle).

    Args:
        events: a Spark events frame with an ``index_col`` column (the event's position).
        rules: the rules (default: all of :data:`graph.rules.RULES`), in the order of the bits.
        index_col: the column holding the event position.
        keep: event columns to carry along (the correlation reads them from here, so the wide
            events frame is never joined to the tags).
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from graph.rules import RULES

    rule_list = list(RULES.values() if rules is None else rules)
    keep = list(keep)
    idx = F.col(index_col).cast("long").alias("event_index")
    if not rule_list:
        return events.select(idx, *keep).limit(0)
    read = _rule_columns(rule_list)
    cols = list(dict.fromkeys([index_col, *read, *keep]))
    n_masks = -(-len(rule_list) // MASK_BITS)
    types = {f.name: f.dataType for f in events.schema.fields}
    schema = T.StructType([T.StructField("event_index", T.LongType()),
                           *(T.StructField(f"_m{k}", T.LongType()) for k in range(n_masks)),
                           *(T.StructField(c, types[c]) for c in keep)])
    ids = sorted(set().union(*(r.event_ids for r in rule_list)))
    grouped_ids, client_ports = derived_feed(ids)
    # rows no rule can fire on never reach Python: per rule its event ids and the integer/null tests
    # its condition implies; the rows a derived column counts are all kept (other rows' counts)
    admit = [f"(`event_id` IN ({', '.join(str(e) for e in sorted(r.event_ids))}) "
             f"AND {relaxed_sql(r.condition)})" for r in rule_list]
    if grouped_ids:
        ports = ", ".join(str(p) for p in client_ports)
        feeds = [f"`event_id` = {e}" if e != 3 else f"(`event_id` = 3 AND `dst_port` IN ({ports}))"
                 for e in grouped_ids]
        admit.append("(" + " OR ".join(feeds) + ")")
    cand = events.where(F.col("event_id").isin(*ids)).where(F.expr(" OR ".join(admit))).select(*cols)

    def per_batch(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        # the rules cost about 0.15 CPU-s per call whatever the rows (each condition is evaluated
        # once per distinct value): Spark's 10,000-row Arrow batches are joined into chunks
        held: list[pa.RecordBatch] = []
        size = 0
        for batch in batches:
            held.append(batch)
            size += batch.num_rows
            if size >= TAG_CHUNK_ROWS:
                yield from per_group(pa.Table.from_batches(held)).to_batches()
                held, size = [], 0
        if held:
            yield from per_group(pa.Table.from_batches(held)).to_batches()

    def per_group(table: pa.Table) -> pa.Table:
        return tag_table(table, rule_list, read, keep, index_col)

    plain = cand.where(~F.col("event_id").isin(*grouped_ids)) if grouped_ids else cand
    out = plain.mapInArrow(per_batch, schema)
    if grouped_ids:
        part = cand.where(F.col("event_id").isin(*grouped_ids))
        # whole hosts per group, a few groups (one call per group): a hash bucket of the host key
        buckets = int(events.sparkSession.conf.get("spark.sql.shuffle.partitions", "8") or 8)
        key = F.pmod(F.xxhash64(F.coalesce(F.lower(F.col("host")), F.lit(""))), F.lit(max(1, buckets)))
        grouped = part.groupBy(key.alias("_host_bucket")).applyInArrow(per_group, schema)
        out = out.unionByName(grouped)
    return out


def tags_of(hits: DataFrame, rules: Iterable[Rule] | None = None) -> DataFrame:
    """The tags ``(event_index, rule_id, level)`` of :func:`tag_rows`' frame, one row per hit:
    the tagged rows joined to the small broadcast table of rule bits (``mask & bit != 0``)."""
    from pyspark.sql import functions as F

    from graph.rules import RULES

    rule_list = list(RULES.values() if rules is None else rules)
    if not rule_list:
        return hits.select("event_index", F.lit("").alias("rule_id"), F.lit("").alias("level")).limit(0)
    chunks = [rule_list[k:k + MASK_BITS] for k in range(0, len(rule_list), MASK_BITS)]
    bits = hits.sparkSession.createDataFrame(
        [tuple([*(1 << j if i == k else 0 for i in range(len(chunks))), r.id, str(r.level)])
         for k, chunk in enumerate(chunks) for j, r in enumerate(chunk)],
        ", ".join([*(f"_b{k} long" for k in range(len(chunks))), "rule_id string", "level string"]))
    on = " OR ".join(f"(_m{k} & _b{k}) != 0" for k in range(len(chunks)))
    return hits.join(F.broadcast(bits), F.expr(on)).select("event_index", "rule_id", "level")


def tag_events(events: DataFrame, rules: Iterable[Rule] | None = None, *,
               index_col: str = "event_index") -> DataFrame:
    """The tags frame of :func:`graph.rules.apply_rules`, computed in Spark.

    The rules run as :func:`graph.rules.apply_rules` in Spark tasks (:func:`tag_rows`); the few
    tagged rows are joined to the small broadcast table of rule bits to give one row per hit
    (:func:`tags_of`).

    Args:
        events: a Spark events frame with an ``index_col`` column (the event's position).
        rules: the rules (default: all of :data:`graph.rules.RULES`).
        index_col: the column holding the event position.

    Returns:
        A lazy frame ``(event_index long, rule_id string, level string)``: one row per hit, in
        no particular order (sort on the driver, or join on ``event_index``).
    """
    rule_list = None if rules is None else list(rules)
    return tags_of(tag_rows(events, rule_list, index_col=index_col), rule_list)
