"""The Spark correlation path's hops: hop rows aggregated into one row per hop on Spark
(:func:`aggregate`), then finished on the driver into the pandas engine's hops frame
(:func:`finish_hops`: ``hop_id``, the noisy-or evidence strength and techniques from the hop's rule
set, the evidence dicts). Used by :func:`graph.spark.stage._spark_hops` above
:data:`graph.spark.stage.MAX_DRIVER_ROWS` tagged events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from graph import correlate as pc
from graph.config import AnalysisConfig
from graph.fields import EVIDENCE_FIELDS, INT_FIELDS, field_dicts
from graph.rules import RULES
from graph.spark import correlate as sc

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

_KEY = ["src_key", "dst_host", "acct_key", "episode"]
#: The evidence fields as pandas sees them (integers stay integers, text stays text).
_FIELD_DTYPES = {c: ("Int64" if c in INT_FIELDS else "string") for c in EVIDENCE_FIELDS}


def aggregate(rows: DataFrame, tags: DataFrame, config: AnalysisConfig) -> DataFrame:
    """Hop rows -> one row per hop (see :func:`graph.correlate.aggregate_hops`), hop-scale.

    ``first`` values are pandas' ``groupby().first()``: the first non-missing value in
    (time, event_index) order.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    c = F.col

    def first(col: str) -> Any:
        s = F.min(F.when(c(col).isNotNull(), F.struct("ts", "event_index", col)))
        return s[col].alias(col)

    rt = F.broadcast(sc.rule_table(rows.sparkSession).select("rule_id", "context_only"))
    ht = (tags.select("event_index", "rule_id").join(rows.select("event_index", *_KEY), "event_index")
          .join(rt, "rule_id", "left").where(~F.coalesce(c("context_only"), F.lit(False)))
          .groupBy(*_KEY).agg(F.array_sort(F.collect_set("rule_id")).alias("rules")))
    lower_img = F.substring_index(F.lower(c("process")), "\\", -1)
    cap = Window.partitionBy(*_KEY).orderBy(c("weight").desc(), "ts", "event_index")
    ranked = rows.withColumn("_rank", F.row_number().over(cap))
    evidence = F.struct("ts", "event_index", "event_id", "source_file", "record_id",
                        c("rule_id").alias("rule"), "host", *pc.FIELD_COLUMNS)
    hops = ranked.groupBy(*_KEY).agg(
        F.min("ts").alias("first_seen"), F.max("ts").alias("last_seen"),
        F.sum(F.coalesce(c("repeats"), F.lit(1))).alias("n_events"),
        first("src_host"), first("src_ip"), first("account"),
        first("src_resolved_by"),
        F.array_sort(F.collect_set("kind")).alias("kinds"),
        F.bool_or("lateral").alias("lateral"),
        F.bool_and(F.when(c("lateral"), c("local_marker"))).alias("_lat_marker"),
        F.array_sort(F.collect_set(F.when(c("kind") == "service_install", F.lower(c("service_name")))))
        .alias("services"),
        F.array_sort(F.collect_set(F.lower(c("auth_package")))).alias("auth_packages"),
        F.array_sort(F.collect_set(F.when((c("kind") == "execution") & c("process").isNotNull(),
                                          lower_img))).alias("images"),
        F.array_sort(F.collect_list(F.when(c("_rank") <= config.max_evidence_per_hop, evidence)))
        .alias("evidence"),
    )
    return hops.join(ht, _KEY, "left")


def _tuple_col(values: pd.Series) -> pd.Series:
    """Arrow list values (numpy arrays / None) -> tuples of plain Python objects."""
    return pd.Series([() if v is None else tuple(v.tolist() if hasattr(v, "tolist") else v)
                      for v in values], index=values.index, dtype=object)


def _evidence(values: pd.Series) -> pd.Series:
    """Collected evidence structs -> tuples of the evidence dicts of
    :func:`graph.correlate._evidence_lists` (same keys; ``ts`` as UTC ``datetime`` via
    ``Series.dt.to_pydatetime``, as there)."""
    items = [[] if v is None else list(v) for v in values]
    flat = [e for group in items for e in group]
    ts = pd.Series(pd.to_datetime(pd.array([int(e["ts"]) for e in flat], dtype="int64"),
                                  unit="ns", utc=True), dtype="datetime64[ns, UTC]").dt.to_pydatetime()
    fields = field_dicts(pd.DataFrame({c: pd.array([e[f] for e in flat], dtype=_FIELD_DTYPES[c])
                                       for c, f in zip(EVIDENCE_FIELDS, pc.FIELD_COLUMNS, strict=True)}))
    dicts = [
        {"event_id": int(e["event_id"]), "source_file": str(e["source_file"]),
         "record_id": None if e["record_id"] is None or pd.isna(e["record_id"]) else int(e["record_id"]),
         "rule": str(e["rule"]), "ts": t, "host": str(e["host"]), "fields": fd}
        for e, t, fd in zip(flat, ts, fields, strict=True)
    ]
    out, start = [], 0
    for group in items:
        out.append(tuple(dicts[start:start + len(group)]))
        start += len(group)
    return pd.Series(out, index=values.index, dtype=object)


def finish_hops(raw: pd.DataFrame, config: AnalysisConfig) -> pd.DataFrame:
    """The collected hop aggregates -> the pandas engine's hops frame (before scoring features).

    ``hop_id`` numbers hops by (first_seen, src, dst, account) as :func:`graph.correlate.hop_rows`;
    ``strength`` and ``techniques`` follow :func:`graph.correlate.aggregate_hops` on the rule set.
    """
    if raw.empty:
        return pc.empty_hops()
    raw = raw.sort_values(["first_seen", "src_key", "dst_host", "acct_key"], kind="stable")
    hops = raw.reset_index(drop=True)
    hops.index = pd.RangeIndex(len(hops), name="hop_id")
    rules = _tuple_col(hops["rules"])
    hops["rules"] = rules
    ht = pd.DataFrame({"hop_id": np.repeat(hops.index.to_numpy(), rules.map(len).to_numpy()),
                       "rule_id": [r for t in rules for r in t]})
    w = ht["rule_id"].map({r.id: r.weight for r in RULES.values()}).astype(float)
    log_keep = np.log1p(-w.clip(upper=0.999))
    hops["strength"] = 1.0 - np.exp(log_keep.groupby(ht["hop_id"]).sum())
    attack = {r.id: r.attack for r in RULES.values()}
    tech = ht.assign(t=ht["rule_id"].map(attack)).explode("t").dropna(subset=["t"])
    tech = tech.drop_duplicates(["hop_id", "t"]).sort_values(["hop_id", "t"])
    hops["techniques"] = tech["t"].astype(object).groupby(tech["hop_id"].to_numpy()).agg(tuple)
    for col in ("kinds", "services", "images", "auth_packages"):
        hops[col] = _tuple_col(hops[col])
    hops["techniques"] = hops["techniques"].apply(lambda v: v if isinstance(v, tuple) else ())
    hops["lateral"] = hops["lateral"].astype(bool)
    lat_marker = hops["_lat_marker"].astype("boolean").fillna(False).astype(bool)
    hops["local_only"] = hops["src_host"].isna() & hops["src_ip"].isna() & lat_marker
    hops["evidence"] = _evidence(hops["evidence"])
    hops["n_events"] = hops["n_events"].astype("int64")
    hops = hops.reset_index()
    hops["score"] = 0.0
    hops["severity"] = "info"
    for col in ("src_host", "src_ip", "dst_host", "account", "src_resolved_by"):
        hops[col] = hops[col].astype("string")
    hops["strength"] = hops["strength"].astype("float64")
    return hops[list(pc.HOP_COLUMNS) + list(pc.EVIDENCE_FEATURES)]
