"""Steps 1-6 of :mod:`graph.correlate` on Spark: tagged events -> placed evidence rows -> hop rows.

Each function mirrors the pandas function of the same name; the step numbers and the
definitions are those of the :mod:`graph.correlate` docstring, with the same
:class:`~graph.config.AnalysisConfig` parameters and the same regular expressions (imported, not
copied). Ties that pandas breaks by row order are broken here by ``event_index`` (the event's
position in the input), which is the order the pandas frames carry.

``merge_asof`` (latest/nearest row per key within a tolerance) becomes a union of the two sides
ordered by time, with ``last(..., ignorenulls)`` / ``first(..., ignorenulls)`` over a window per
key: linear after a sort, no range join that could blow up on busy hosts.

All times are epoch nanoseconds (``long``), see :mod:`graph.spark.io`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from graph import correlate as pc
from graph.config import AnalysisConfig
from graph.fields import EVIDENCE_FIELDS
from graph.rules import BROKERED, SOURCE, TARGET

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

NS = 1_000_000_000
_SYSTEM_SESSIONS = ["0x3e7", "0x3e4", "0x3e5"]
_LOOPBACK = ["127.0.0.1", "::1"]


def _f():
    from pyspark.sql import functions as F

    return F


def short_host(col: Column) -> Column:
    """:func:`graph.correlate.short_host`: upper-case short names; IP addresses unchanged."""
    F = _f()
    s = F.regexp_replace(col.cast("string"), r"^(?U)\s+|(?U)\s+$", "")
    is_ip = F.coalesce(s.rlike(pc._IPV4), F.lit(False)) | F.coalesce(s.contains(":"), F.lit(False))
    out = F.when(is_ip, s).otherwise(F.upper(F.regexp_replace(s, r"\..*$", "")))
    return F.when(out.isin("", "-"), F.lit(None).cast("string")).otherwise(out)


def _extract(col: Column, pattern: str) -> Column:
    """``Series.str.extract(pattern)`` (first match, group 1; missing when no match)."""
    F = _f()
    return F.when(col.rlike(pattern), F.regexp_extract(col, pattern, 1))


def _clean_account(col: Column) -> Column:
    F = _f()
    s = F.lower(col.cast("string"))
    bad = s.isin(list(pc._NON_ACCOUNTS)) | s.endswith("$")
    return F.when(F.coalesce(bad, F.lit(False)), F.lit(None).cast("string")).otherwise(s)


_PLACED = ["ts", "event_id", "host", "src_host", "src_ip", "dst_host", "dst_ip", "account",
           "subject_account", "logon_id", "service_name", "service_image", "process", "command_line",
           "target_name", "record_id", "source_file", "auth_package", "repeats"]
#: The event columns :func:`evidence_rows` reads from a tagged event.
SOURCE_COLUMNS: tuple[str, ...] = (*_PLACED, *(c for c in EVIDENCE_FIELDS if c not in _PLACED))


def rule_table(spark: SparkSession) -> DataFrame:
    """:func:`graph.correlate._rule_table` as a small Spark frame (broadcast in joins)."""
    rt = pc._rule_table()
    rows = [tuple(r) for r in rt[["rule_id", "weight", "kind", "side", "lateral", "local_marker",
                                  "context_only", "loopback"]].itertuples(index=False)]
    schema = ("rule_id string, weight double, kind string, side string, lateral boolean, "
              "local_marker boolean, context_only boolean, loopback boolean")
    return spark.createDataFrame(rows, schema)


def evidence_rows(events: DataFrame, tags: DataFrame, config: AnalysisConfig, *,
                  tagged: DataFrame | None = None) -> DataFrame:
    """Steps 1-5 (see :func:`graph.correlate.evidence_rows`): one placed row per tagged event.

    Args:
        events: Spark events frame with ``event_index``.
        tags: ``(event_index, rule_id, level)``.
        config: the analysis settings.
        tagged: the tagged events only, with ``event_index`` and :data:`SOURCE_COLUMNS`
            (:func:`graph.spark.rules.tag_rows`); their columns are joined to the tags instead of
            shuffling the whole events frame for the join. ``events`` is still read for the IP
            hints.
    """
    F = _f()
    spark = events.sparkSession
    t = tags.join(F.broadcast(rule_table(spark)), "rule_id", "left")
    not_ctx = ~t["context_only"]
    per_event = t.groupBy("event_index").agg(
        F.min(F.struct((t["context_only"]).alias("c"), (-t["weight"]).alias("w"),
                       t["rule_id"].alias("r"), t["kind"].alias("k"), t["side"].alias("s"))).alias("p"),
        F.bool_and("context_only").alias("context_only"),
        F.coalesce(F.bool_or(F.when(not_ctx, t["local_marker"])), F.lit(False)).alias("local_marker"),
        F.coalesce(F.bool_or(F.when(not_ctx, t["lateral"])), F.lit(False)).alias("lateral"),
        F.coalesce(F.bool_or(t["loopback"]), F.lit(False)).alias("loopback"),
    ).select("event_index", F.col("p.r").alias("rule_id"), (-F.col("p.w")).alias("weight"),
             F.col("p.k").alias("kind"), F.col("p.s").alias("side"),
             "lateral", "local_marker", "context_only", "loopback")
    raw = [F.col(c).alias(f) for c, f in zip(EVIDENCE_FIELDS, pc.FIELD_COLUMNS, strict=True)]
    source = events if tagged is None else tagged
    ev = per_event.join(source.select("event_index", *_PLACED, *raw), "event_index")
    host, src_host, dst_host = (short_host(F.col(c)) for c in ("host", "src_host", "dst_host"))
    target = F.col("side") == TARGET
    source = F.col("side") == SOURCE
    brokered = F.col("side") == BROKERED
    cmd = F.col("command_line")
    unc = short_host(_extract(cmd, pc._UNC_HOST))
    arg = short_host(_extract(cmd, pc._ARG_HOST))
    dst_src_side = F.coalesce(dst_host, short_host(F.col("dst_ip")), unc, arg)
    acct, subj = _clean_account(F.col("account")), _clean_account(F.col("subject_account"))
    eid = F.col("event_id")
    acct = (F.when(eid == 7045, F.lit(None).cast("string"))
            .when((eid == 3) & source, F.lit(None).cast("string")).when(eid == 4697, subj)
            .when(eid == 4688, F.coalesce(subj, acct)).otherwise(acct))
    net_user = F.lower(_extract(cmd, pc._NET_USER))
    acct = F.when(source & net_user.isNotNull(), net_user).otherwise(acct)
    loop = F.col("loopback")
    placed = ev.select(
        "event_index", "rule_id", "weight", "kind", "side", "lateral", "local_marker", "context_only",
        "loopback", "ts", "event_id", host.alias("host"),
        F.when(loop, host).when(target | brokered, src_host).when(source, host).alias("src_host"),
        F.when(target | brokered, F.col("src_ip").cast("string")).alias("src_ip"),
        F.when(source & ~loop, dst_src_side).when(brokered & ~loop, dst_host).otherwise(host)
        .alias("dst_host"),
        acct.alias("account"), "logon_id", "service_name", "service_image", "process",
        "command_line", "target_name", "record_id", "source_file", "auth_package", "repeats",
        *pc.FIELD_COLUMNS,
    )
    placed = placed.withColumn(
        "src_resolved_by",
        F.when(F.col("src_host").isNotNull() | F.col("src_ip").isNotNull(), F.lit("event")))
    # cut the lineage after each step: every step reads its input several times, and without a
    # checkpoint Catalyst re-plans (and Spark recomputes) the whole chain in each branch
    placed = _checkpoint(placed)
    placed = _checkpoint(session_join(placed, config))
    return _checkpoint(resolve_ips(placed, events, config))


def _checkpoint(frame: DataFrame) -> DataFrame:
    """Materialise ``frame`` (executor memory/disk) and cut its lineage (``localCheckpoint``)."""
    return frame.localCheckpoint(eager=True)


def _asof(left: DataFrame, right: DataFrame, by: list[str], value_cols: list[str],
          tolerance_ns: int, direction: str) -> DataFrame:
    """``pd.merge_asof(left, right, on="ts", by=by, direction, tolerance)`` for ``backward``,
    ``forward`` and ``nearest``: ``left`` gains ``value_cols`` (NULL when nothing is in tolerance).

    Ties: backward takes the last right row at the latest time (``event_index`` order); nearest
    prefers backward on equal distance and takes the first right row of the forward side.
    ``left`` and ``right`` must carry ``ts`` and ``event_index``; right rows with NULL ``by``
    values never match (as in pandas).
    """
    from pyspark.sql import Window

    F = _f()
    lcols = left.columns
    right = right.dropna(subset=by)
    val = F.struct(F.col("ts").alias("_ts"), *[F.col(c) for c in value_cols])
    r = right.select(*by, "ts", "event_index", F.lit(0).alias("_side"), val.alias("_v"))
    left_key = left.select(*by, "ts", "event_index", F.lit(1).alias("_side"),
                           F.lit(None).cast(r.schema["_v"].dataType).alias("_v"))
    u = r.unionByName(left_key)
    part = Window.partitionBy(*by)
    back = part.orderBy("ts", "_side", "event_index").rowsBetween(Window.unboundedPreceding, 0)
    # forward = the same running frame over the reversed order (a frame running to
    # unboundedFollowing is re-aggregated per row in Spark: quadratic on a busy host)
    fwd = (part.orderBy(F.col("ts").desc(), "_side", F.col("event_index").desc())
           .rowsBetween(Window.unboundedPreceding, 0))
    u = u.withColumn("_b", F.last("_v", ignorenulls=True).over(back))
    if direction in ("nearest", "forward"):
        u = u.withColumn("_f", F.last("_v", ignorenulls=True).over(fwd))
    u = u.where(F.col("_side") == 1)
    tol = F.lit(tolerance_ns)
    b_ok = F.col("_b").isNotNull() & ((F.col("ts") - F.col("_b._ts")) <= tol)
    if direction == "nearest":
        f_ok = F.col("_f").isNotNull() & ((F.col("_f._ts") - F.col("ts")) <= tol)
        closer = f_ok & (~b_ok | ((F.col("_f._ts") - F.col("ts")) < (F.col("ts") - F.col("_b._ts"))))
        pick = F.when(closer, F.col("_f")).when(b_ok, F.col("_b"))
    elif direction == "backward":
        pick = F.when(b_ok, F.col("_b"))
    elif direction == "forward":
        f_ok = F.col("_f").isNotNull() & ((F.col("_f._ts") - F.col("ts")) <= tol)
        pick = F.when(f_ok, F.col("_f"))
    else:
        raise ValueError(f"unsupported direction {direction!r}")
    found = u.select("event_index", *[pick[c].alias(c) for c in value_cols])
    return left.join(found, "event_index", "left").select(*lcols, *value_cols)


def _anchors(ev: DataFrame) -> DataFrame:
    """:func:`graph.correlate._anchors` (keeps ``event_index`` for tie order)."""
    F = _f()
    c = F.col
    a = ev.where((c("side") == TARGET) & (c("src_host").isNotNull() | c("src_ip").isNotNull())
                 & (c("account").isNotNull() | (c("context_only") & (c("kind") == "network")))
                 & ~(c("context_only") & F.coalesce(c("kind") != "network", F.lit(False))))
    a = a.where(c("src_host").isNull() | F.coalesce(c("src_host") != c("dst_host"), F.lit(True)))
    self_aimed = c("loopback") | ((c("side") == SOURCE)
                                  & F.coalesce(c("dst_host") == c("host"), F.lit(False)))
    a = a.unionByName(ev.where(self_aimed))
    return a.select("ts", "event_index", "host", "logon_id", c("src_host").alias("j_src_host"),
                    c("src_ip").alias("j_src_ip"), c("account").alias("j_account"))


def session_join(ev: DataFrame, config: AnalysisConfig) -> DataFrame:
    """Step 3 (:func:`graph.correlate._session_join`): sources for rows that lack one."""
    F = _f()
    c = F.col
    anchors = _anchors(ev)
    vals = ["j_src_host", "j_src_ip", "j_account"]
    need = (c("src_host").isNull() & c("src_ip").isNull()
            & F.coalesce(~c("side").isin(SOURCE, BROKERED), F.lit(True)))
    todo = ev.where(need).select("event_index", "ts", "host", "logon_id", "kind")
    by_id = todo.where(c("logon_id").isNotNull() & ~c("logon_id").isin(_SYSTEM_SESSIONS))
    m_id = _asof(by_id, anchors.where(c("logon_id").isNotNull()), ["host", "logon_id"], vals,
                 int(config.session_max_s * NS), "backward")
    found = m_id.where(c("j_src_host").isNotNull() | c("j_src_ip").isNotNull()).select(
        "event_index", *vals, F.lit("session:logon_id").alias("how"))
    rest = todo.join(found.select("event_index"), "event_index", "left_anti")
    is_svc = F.coalesce(c("kind") == "service_install", F.lit(False))
    anc_t = anchors.drop("logon_id")
    for part, window in ((rest.where(is_svc), config.service_join_window_s),
                         (rest.where(~is_svc), config.exec_join_window_s)):
        m = _asof(part.drop("logon_id"), anc_t, ["host"], vals, int(window * NS), "backward")
        found = found.unionByName(
            m.where(c("j_src_host").isNotNull() | c("j_src_ip").isNotNull())
            .select("event_index", *vals, F.lit("session:time").alias("how")))
    if config.clock_skew_s > 0:   # (c) clock skew: an anchor up to clock_skew_s later
        late = todo.join(found.select("event_index"), "event_index", "left_anti")
        m = _asof(late.drop("logon_id"), anc_t, ["host"], vals, int(config.clock_skew_s * NS), "forward")
        found = found.unionByName(
            m.where(c("j_src_host").isNotNull() | c("j_src_ip").isNotNull())
            .select("event_index", *vals, F.lit("session:skew").alias("how")))
    j = ev.join(found, "event_index", "left")
    hit = c("how").isNotNull()
    return j.select(
        *[c(x) for x in ev.columns if x not in ("src_host", "src_ip", "account", "src_resolved_by")],
        F.when(hit, c("j_src_host")).otherwise(c("src_host")).alias("src_host"),
        F.when(hit, c("j_src_ip")).otherwise(c("src_ip")).alias("src_ip"),
        F.when(hit, F.coalesce(c("account"), c("j_account"))).otherwise(c("account")).alias("account"),
        F.when(hit, c("how")).otherwise(c("src_resolved_by")).alias("src_resolved_by"),
    ).select(*ev.columns)


def ip_hints(ev: DataFrame, events: DataFrame, config: AnalysisConfig) -> DataFrame:
    """:func:`graph.correlate.ip_hints` as a frame ``(ip, name)``: each IP's most frequent name."""
    from pyspark.sql import Window

    F = _f()
    c = F.col
    both = events.where(c("src_ip").isNotNull() & c("src_host").isNotNull()).select(
        c("src_ip").alias("ip"), c("src_host").alias("name"))
    own_dst = events.where(c("dst_ip").isNotNull() & c("dst_host").isNotNull()).select(
        c("dst_ip").alias("ip"), c("dst_host").alias("name"))
    pipes = ev.where(c("target_name").isNotNull() & c("src_ip").isNotNull()).select(
        c("src_ip").alias("ip"), _extract(c("target_name"), pc._PIPE_CLIENT).alias("name"))
    tgt = ev.where((c("side") == TARGET) & c("src_host").isNull() & c("src_ip").isNotNull()).select(
        "event_index", "ts", "dst_host", "src_ip")
    src = ev.where((c("side") == SOURCE) & c("dst_host").isNotNull() & c("src_host").isNotNull()).select(
        "event_index", "ts", "dst_host", "src_host")
    near = _asof(tgt, src, ["dst_host"], ["src_host"], int(config.source_join_window_s * NS), "nearest")
    h = (both.unionByName(own_dst).unionByName(pipes)
         .unionByName(near.select(c("src_ip").alias("ip"), c("src_host").alias("name")))
         .dropna())
    h = h.select(c("ip").cast("string").alias("ip"), short_host(c("name")).alias("name")).dropna()
    h = h.where(~F.coalesce(c("name").rlike(pc._IPV4), F.lit(False)) & (c("name") != c("ip"))
                & ~c("ip").isin(_LOOPBACK))
    counts = h.groupBy("ip", "name").count()
    best = Window.partitionBy("ip").orderBy(c("count").desc(), c("name"))
    return (counts.withColumn("_r", F.row_number().over(best)).where(c("_r") == 1)
            .select("ip", "name"))


def resolve_ips(ev: DataFrame, events: DataFrame, config: AnalysisConfig) -> DataFrame:
    """Step 4 (:func:`graph.correlate._resolve_ips`)."""
    F = _f()
    c = F.col
    hints = F.broadcast(ip_hints(ev, events, config))
    by_src = hints.select(c("ip").alias("_sip"), c("name").alias("_sname"))
    by_dst = hints.select(c("ip").alias("_dip"), c("name").alias("_dname"))
    j = (ev.join(by_src, ev["src_ip"] == by_src["_sip"], "left")
         .join(by_dst, ev["dst_host"] == by_dst["_dip"], "left"))
    need = c("src_host").isNull() & c("src_ip").isNotNull()
    got = need & c("_sname").isNotNull()
    dst_is_ip = (c("side") == SOURCE) & c("dst_host").isNotNull() & c("_dname").isNotNull()
    return j.select(
        *[c(x) for x in ev.columns if x not in ("src_host", "dst_host", "src_resolved_by")],
        F.when(need, c("_sname")).otherwise(c("src_host")).alias("src_host"),
        F.when(dst_is_ip, c("_dname")).otherwise(c("dst_host")).alias("dst_host"),
        F.when(got, F.concat(F.coalesce(c("src_resolved_by"), F.lit("event")), F.lit("+ip_hint")))
        .otherwise(c("src_resolved_by")).alias("src_resolved_by"),
    ).select(*ev.columns)


def hop_rows(ev: DataFrame, config: AnalysisConfig) -> DataFrame:
    """Step 6 (:func:`graph.correlate.hop_rows`): rows that belong to a hop, with a hop key.

    Returns:
        The kept rows with ``src_key``, ``acct_key``, the borrowed ``account`` and ``episode``
        (episodes of one (src_key, dst_host, acct_key) numbered from 0 in time order). The
        global ``hop_id`` (order of first_seen, src, dst, account) is assigned on the driver.
    """
    from pyspark.sql import Window

    F = _f()
    c = F.col
    src_key = F.coalesce(c("src_host"), c("src_ip"))
    keep = (c("dst_host").isNotNull() & (src_key.isNotNull() | c("lateral")) & ~c("context_only")
            & ~(src_key.isNotNull() & F.coalesce(src_key == c("dst_host"), F.lit(False)))
            & ~(c("src_ip").isNotNull() & c("src_host").isNull() & c("src_ip").isin(_LOOPBACK)))
    rows = ev.where(keep).withColumn("src_key", F.coalesce(src_key, F.lit("")))
    rows = _borrow_account(_checkpoint(rows), config)
    rows = rows.withColumn("acct_key", F.coalesce(c("account"), F.lit("")))
    key = ["src_key", "dst_host", "acct_key"]
    w = Window.partitionBy(*key).orderBy("ts", "event_index")
    gap = (c("ts") - F.lag("ts").over(w)) / 1e9
    new = F.when(F.lag("ts").over(w).isNull() | (gap > config.hop_gap_s), 1).otherwise(0)
    rows = rows.withColumn("_new", new)
    return rows.withColumn("episode", F.sum("_new").over(w.rowsBetween(Window.unboundedPreceding, 0))
                           ).drop("_new")


def _borrow_account(rows: DataFrame, config: AnalysisConfig) -> DataFrame:
    """:func:`graph.correlate._borrow_account`: accountless rows take the nearest account of the
    same (source, destination) within ``hop_gap_s``."""
    F = _f()
    c = F.col
    miss = rows.where(c("account").isNull()).select("event_index", "ts", "src_key", "dst_host")
    has = rows.where(c("account").isNotNull()).select("event_index", "ts", "src_key", "dst_host",
                                                     c("account").alias("_a"))
    m = _asof(miss, has, ["src_key", "dst_host"], ["_a"], int(config.hop_gap_s * NS), "nearest")
    j = rows.join(m.select("event_index", "_a"), "event_index", "left")
    return j.withColumn("account", F.coalesce(c("account"), c("_a"))).drop("_a").select(*rows.columns)
