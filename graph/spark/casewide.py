"""The case-wide aggregates the correlation and the scorers read besides the tagged events,
computed on Spark's rows and collected: the IP/name pair counts (:func:`hint_pairs`) and the users'
presence (:func:`presence`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from graph.config import AnalysisConfig
from graph.spark.io import arrow_to_pandas

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
