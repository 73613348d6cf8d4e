"""The case-wide aggregates the correlation and the scorers read besides the tagged events: the
IP/name pair counts, the users' presence and (for findings) the hosts that logged anything.

Two ways: on Spark's rows, collected (:func:`hint_pairs`, :func:`presence`), or finished on the
driver from the partial aggregates the row-group scan's tasks computed
(:func:`graph.spark.scan.scan_row_groups`; :func:`hint_pairs_of`, :func:`presence_of`,
:func:`hosts_of`, with the per-task reduction :func:`_presence_reduce`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.config import AnalysisConfig
from graph.spark.io import arrow_to_pandas
from graph.spark.packing import HOSTS, PAIRS, PRESENCE

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def hint_pairs(events: DataFrame, config: AnalysisConfig) -> pd.DataFrame:
    """:func:`graph.correlate.hint_pairs` on Spark, collected (one row per distinct IP, name and day)."""
    from pyspark.sql import functions as F

    from graph.correlate import _LOOPBACK_IPS

    c = F.col
    day_ns = 86_400 * 10**9
    # pandas' ts.dt.floor("D") on UTC; ip_hints_by_day off: one constant day, the epoch (correlate._ALL_DAYS)
    day = (c("ts") - F.pmod(c("ts"), F.lit(day_ns))) if config.ip_hints_by_day else F.lit(0).cast("long")
    parts = []
    for ip_col, name_col in (("src_ip", "src_host"), ("dst_ip", "dst_host")):
        parts.append(events.where(c(ip_col).isNotNull() & c(name_col).isNotNull()
                                  & ~c(ip_col).isin(*_LOOPBACK_IPS))
                     .groupBy(c(ip_col).alias("ip"), c(name_col).alias("name"), day.alias("day"))
                     .agg(F.count("*").alias("n")))
    got = arrow_to_pandas(parts[0].unionByName(parts[1]).toArrow(), ns_columns=("day",))
    return pd.DataFrame({"ip": got["ip"].astype("string"), "name": got["name"].astype("string"),
                         "day": got["day"], "n": got["n"].astype("int64")})


def presence(events: DataFrame) -> pd.DataFrame:
    """:func:`graph.scoring.auth.presence` on Spark: users' own sessions on hosts and their NTLM
    credential uses from hosts (4776), one row per (host, account, kind, UTC hour), collected (a
    few rows per user and day)."""
    from pyspark.sql import functions as F

    from graph.scoring.auth import _NOT_USERS, NTLM_OUT, PRESENCE_LOGON_TYPES, SESSION, _hourly

    c = F.col
    acct = F.lower(c("account"))
    user = acct.isNotNull() & ~acct.endswith("$") & ~acct.isin(*_NOT_USERS)
    own_name = F.coalesce(F.lower(c("account")) == F.concat(F.lower(c("src_host")), F.lit("$")), F.lit(False))
    ip_host = (events.where(((c("event_id") == 4768) | ((c("event_id") == 4769) & own_name))
                            & F.lower(c("account")).endswith("$")
                            & c("src_ip").isNotNull() & c("src_host").isNotNull())
               .groupBy("src_ip").agg(F.min_by("src_host", "event_index").alias("_ip_host")))
    ev = events.join(F.broadcast(ip_host), "src_ip", "left")
    eid = c("event_id")
    inter = (eid == 4624) & F.coalesce(c("logon_type").isin(*PRESENCE_LOGON_TYPES), F.lit(False))
    own = (eid == 4769) & c("dst_host").isNotNull() & (
        F.coalesce(c("src_host") == c("dst_host"), F.lit(False))
        | F.coalesce(c("_ip_host") == c("dst_host"), F.lit(False)))
    ntlm = (eid == 4776) & c("src_host").isNotNull() & (
        c("status").isNull() | F.coalesce(F.lower(c("status")) == "0x0", F.lit(False)))
    host = F.when(inter, c("host")).when(own, c("dst_host")).when(ntlm, c("src_host"))
    kind = F.when(inter | own, F.lit(SESSION)).otherwise(F.lit(NTLM_OUT))
    rows = ev.where(user & host.isNotNull()).select(F.upper(host).alias("host"), acct.alias("account"), "ts",
                                                    kind.alias("kind"),
                                                    F.expr("ts div 3600000000000").alias("_h"))
    first = rows.groupBy("host", "account", "kind", "_h").agg(F.min("ts").alias("ts")).drop("_h")
    return _hourly(arrow_to_pandas(first.toArrow(), ns_columns=("ts",)))


#: Event ids whose rows :func:`graph.scoring.auth.presence` reads.
PRESENCE_EVENT_IDS = (4624, 4768, 4769, 4776)
_PRESENCE_KEY = ["event_id", "logon_type", "host", "account", "src_host", "src_ip", "dst_host", "status"]
_HOUR_NS = 3_600 * 10**9
_DAY_NS = 86_400 * 10**9


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


def hint_pairs_of(aggregates: dict[int, pa.Table]) -> pd.DataFrame:
    """:func:`graph.spark.casewide.hint_pairs` from :func:`scan_row_groups`' aggregates."""
    got = aggregates[PAIRS]
    if not got.num_rows:
        got = pa.table({"ip": pa.array([], pa.string()), "name": pa.array([], pa.string()),
                        "day": pa.array([], pa.int64()), "n_sum": pa.array([], pa.int64())})
    else:
        got = got.group_by(["ip", "name", "day"]).aggregate([("n", "sum")])
    frame = got.to_pandas()
    return pd.DataFrame({"ip": frame["ip"].astype("string"), "name": frame["name"].astype("string"),
                         "day": pd.to_datetime(frame["day"].astype("int64"), unit="ns", utc=True),
                         "n": frame["n_sum"].astype("int64")})


def presence_of(aggregates: dict[int, pa.Table]) -> pd.DataFrame:
    """:func:`graph.scoring.auth.presence` (the pandas function) on :func:`scan_row_groups`'
    reduced presence rows, in input order."""
    from graph.scoring.auth import _hourly, presence
    from graph.spark.io import arrow_to_pandas

    rows = aggregates[PRESENCE]
    if not rows.num_rows:
        return _hourly(pd.DataFrame())
    rows = rows.take(pc.sort_indices(rows.column("event_index")))
    frame = arrow_to_pandas(rows.select([*_PRESENCE_KEY, "ts"]), ns_columns=("ts",))
    return presence(frame.reset_index(drop=True))


def hosts_of(aggregates: dict[int, pa.Table]) -> list[str | None]:
    """The distinct ``host`` values of the case (:func:`scan_row_groups`' aggregates)."""
    rows = aggregates[HOSTS]
    return pc.unique(rows.column("host")).to_pylist() if rows.num_rows else []
