"""Correlation step 3 (:mod:`graph.correlate`): the session join.

Rows without a source on the target take the source (and account) of an *anchor* on the same host:
by logon id, else by time, else by clock skew (the module docstring of :mod:`graph.correlate`).
"""

from __future__ import annotations

import pandas as pd

from graph.config import AnalysisConfig
from graph.correlation.common import _b
from graph.rules import BROKERED, SOURCE, TARGET


def _anchors(ev: pd.DataFrame) -> pd.DataFrame:
    """Rows other rows of the same host may take their source from (step 3): remote logons and
    share access by a user, inbound SMB/RPC/WinRM connections (context-only), and *self-aimed*
    actions (loopback rows, a source-side command naming this host): those anchor with the host as
    source, so what they start on the host (PSEXESVC of ``psexec \\\\127.0.0.1``) is local too.
    ``j_loop_rule`` is the rule a self-aimed anchor is reported under (graph.findings)."""
    cols = ["ts", "host", "logon_id", "src_host", "src_ip", "account", "dst_host", "loop_rule", "rule_id"]
    is_a = (ev["side"].eq(TARGET) & (ev["src_host"].notna() | ev["src_ip"].notna())
            & (ev["account"].notna() | (ev["context_only"] & ev["kind"].eq("network")))
            & ~(ev["context_only"] & ev["kind"].ne("network")))
    is_a &= ev["src_host"].isna() | ev["src_host"].ne(ev["dst_host"]).fillna(True)
    a = ev.loc[_b(is_a), cols]   # the columns first: only they are copied
    self_aimed = ev["loopback"] | (ev["side"].eq(SOURCE) & ev["dst_host"].eq(ev["host"]).fillna(False))
    b = ev.loc[_b(self_aimed), cols]
    a = pd.concat([a.assign(j_loop_rule=pd.Series(pd.NA, index=a.index, dtype="string")),
                   b.assign(j_loop_rule=b["loop_rule"].fillna(b["rule_id"]).astype("string"))])
    a = a.sort_index(kind="stable")
    return a[["ts", "host", "logon_id", "src_host", "src_ip", "account", "j_loop_rule"]].rename(
        columns={"src_host": "j_src_host", "src_ip": "j_src_ip", "account": "j_account"})


def _session_join(ev: pd.DataFrame, config: AnalysisConfig) -> pd.DataFrame:
    ev = ev.assign(j_loop_rule=pd.Series(pd.NA, index=ev.index, dtype="string"))
    need = ev["src_host"].isna() & ev["src_ip"].isna() & ~ev["side"].isin([SOURCE, BROKERED])
    if not need.any():   # (authentication-only data: every row has its source; no anchors built)
        return ev
    anchors = _anchors(ev)
    if anchors.empty:
        return ev
    todo = ev.loc[need, ["ts", "host", "logon_id", "kind"]].copy()
    todo["_row"] = todo.index
    keep = ["_row", "j_src_host", "j_src_ip", "j_account", "j_loop_rule"]
    found: list[pd.DataFrame] = []
    # (a) logon id (not the SYSTEM / LOCAL SERVICE / NETWORK SERVICE sessions)
    by_id = todo[todo["logon_id"].notna() & ~todo["logon_id"].isin(["0x3e7", "0x3e4", "0x3e5"])]
    anc_id = anchors[anchors["logon_id"].notna()].sort_values("ts")
    if len(by_id) and len(anc_id):
        m = pd.merge_asof(by_id.sort_values("ts"), anc_id, on="ts", by=["host", "logon_id"],
                          direction="backward", tolerance=pd.Timedelta(seconds=config.session_max_s))
        found.append(m.loc[m["j_src_host"].notna() | m["j_src_ip"].notna(), keep]
                     .assign(how="session:logon_id"))
    # (b) time window on the same host: service installs use the service window
    done = pd.concat(found)["_row"] if found else pd.Series([], dtype="int64")
    rest = todo[~todo["_row"].isin(done)]
    anc_t = anchors.drop(columns="logon_id").sort_values("ts")
    is_svc = rest["kind"].eq("service_install")
    for part, window in ((rest[is_svc], config.service_join_window_s),
                         (rest[~is_svc], config.exec_join_window_s)):
        if part.empty:
            continue
        m = pd.merge_asof(part.drop(columns="logon_id").sort_values("ts"), anc_t, on="ts", by="host",
                          direction="backward", tolerance=pd.Timedelta(seconds=window))
        found.append(m.loc[m["j_src_host"].notna() | m["j_src_ip"].notna(), keep]
                     .assign(how="session:time"))
    # (c) clock skew: the earliest anchor on the same host at most clock_skew_s after the row
    done = pd.concat(found)["_row"] if found else pd.Series([], dtype="int64")
    late = todo[~todo["_row"].isin(done)]
    if config.clock_skew_s > 0 and len(late):
        m = pd.merge_asof(late.drop(columns="logon_id").sort_values("ts", kind="stable"),
                          anc_t.sort_index().sort_values("ts", kind="stable"), on="ts", by="host",
                          direction="forward", tolerance=pd.Timedelta(seconds=config.clock_skew_s))
        found.append(m.loc[m["j_src_host"].notna() | m["j_src_ip"].notna(), keep]
                     .assign(how="session:skew"))
    j = pd.concat(found, ignore_index=True).set_index("_row") if found else None
    if j is None or j.empty:
        return ev
    ev = ev.copy(deep=False)   # copy-on-write: a column set here is copied then
    idx = j.index
    ev.loc[idx, "src_host"] = j["j_src_host"].astype("string")
    ev.loc[idx, "src_ip"] = j["j_src_ip"].astype("string")
    ev.loc[idx, "account"] = ev.loc[idx, "account"].fillna(j["j_account"].astype("string"))
    ev.loc[idx, "src_resolved_by"] = j["how"].astype("string")
    ev.loc[idx, "j_loop_rule"] = j["j_loop_rule"].astype("string")
    return ev
