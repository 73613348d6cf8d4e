"""Findings: rule hits reported beside the hops, so nothing a rule saw is dropped silently.

A **finding** is a group of evidence rows (:func:`graph.correlate.evidence_rows`) on one host that
the analyst should see although they form no hop, or whose hop cannot be checked on the other side:

* ``aimed at this host``: the technique run against the host itself (``net use \\\\127.0.0.1\\C$``,
  ``psexec \\\\localhost``, a command naming the host's own name, a loopback share access); the
  target-side rows such an action started (PSEXESVC) are reported with it;
* ``destination unknown``: a source-side command or connection whose destination cannot be named;
* ``no remote source``: target-side evidence with no remote logon to attach to and no lateral
  weight of its own (a service in a temp folder, a getsystem pipe service, a WMI child);
* ``destination has no logs``: a hop built from a source-side command (``net use \\\\FS99\\C$``)
  towards a host none of whose events are in the data (the finding names the hop).

Only rules at level **low or above** make findings. Rows are grouped per (host, account, rule): the
rule is the loopback rule a self-aimed row or its anchor matched, else the row's strongest rule;
rows of one group more than ``finding_window_s`` apart start a new finding, so a repeated command
is one finding with a ``count``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from graph.config import AnalysisConfig
from graph.correlate import event_counts, group_tuples, short_host
from graph.fields import EVIDENCE_FIELDS, field_dicts
from graph.rules import LEVEL_WEIGHT, RULES, SOURCE, Level

#: Columns of the findings frame, in order.
FINDING_COLUMNS: tuple[str, ...] = (
    "finding_id",
    "host",
    "account",
    "first_seen",
    "last_seen",
    "count",
    "rule",
    "title",
    "level",
    "attack",
    "rules",
    "reason",
    "fields",
    "evidence",
    "hop_ids",
)
AIMED_AT_HOST = "aimed at this host"
NO_DESTINATION = "destination unknown"
NO_SOURCE = "no remote source"
DESTINATION_NO_LOGS = "destination has no logs"


def empty_findings() -> pd.DataFrame:
    """A findings frame with no rows."""
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in FINDING_COLUMNS})
    for c in ("first_seen", "last_seen"):
        frame[c] = pd.Series([], dtype="datetime64[ns, UTC]")
    for c in ("finding_id", "count"):
        frame[c] = pd.Series([], dtype="int64")
    return frame


def logged_hosts(hosts: Iterable[object]) -> set[str]:
    """The short names (:func:`graph.correlate.short_host`) of the hosts whose logs are in the case."""
    return set(short_host(pd.Series(list(hosts), dtype="string")).dropna().tolist())


def find(
    events: pd.DataFrame, ev: pd.DataFrame, rows: pd.DataFrame, tags: pd.DataFrame, config: AnalysisConfig,
    *, logged: set[str] | None = None,
) -> pd.DataFrame:
    """The findings frame (:data:`FINDING_COLUMNS`) of one analysis.

    Args:
        events: the canonical events frame (positions = ``event_index``).
        ev: placed evidence rows (:func:`graph.correlate.evidence_rows`).
        rows: the hop rows (:func:`graph.correlate.hop_rows`, with ``hop_id``).
        tags: the tags frame.
        config: ``finding_window_s`` and ``max_evidence_per_hop``.
        logged: the short names of every host with events in the case (default: from ``events``;
            given when ``events`` holds only the tagged events).
    """
    if ev.empty:
        return empty_findings()
    weight = {r.id: r.weight for r in RULES.values()}
    in_hop = ev["event_index"].isin(rows["event_index"]).to_numpy(dtype=bool)
    rule = ev["loop_rule"].fillna(ev["j_loop_rule"]).fillna(ev["rule_id"]).astype("string")
    aimed = (ev["loop_rule"].notna() | ev["j_loop_rule"].notna()).to_numpy(dtype=bool) | (
        ev["src_host"].notna() & ev["src_host"].eq(ev["dst_host"])
    ).fillna(False).to_numpy(dtype=bool)
    source = ev["side"].eq(SOURCE).to_numpy(dtype=bool)
    no_dst = ev["dst_host"].isna().to_numpy(dtype=bool)
    reason = np.select([aimed, source & no_dst], [AIMED_AT_HOST, NO_DESTINATION], NO_SOURCE)
    pick = ~in_hop.copy()
    # hops built from a source-side command towards a host that logged nothing
    if logged is None:
        logged = logged_hosts(events["host"].unique())
    hop_src = rows[rows["side"].eq(SOURCE) & ~rows["dst_host"].isin(list(logged)).fillna(False)]
    hop_of = hop_src.set_index("event_index")["hop_id"]
    far = ev["event_index"].isin(hop_of.index).to_numpy(dtype=bool)
    reason = np.where(far, DESTINATION_NO_LOGS, reason)
    pick = pick | far
    strong = rule.map(weight).astype(float).to_numpy() >= LEVEL_WEIGHT[Level.LOW]
    sel = ev[pick & strong].assign(f_rule=rule[pick & strong], reason=reason[pick & strong])
    if sel.empty:
        return empty_findings()
    sel["hop_id"] = sel["event_index"].map(hop_of).astype("Int64")
    sel["acct_key"] = sel["account"].fillna("").astype("string")
    sel = sel.sort_values(["host", "acct_key", "f_rule", "ts", "event_index"], kind="stable")
    same = (
        (
            sel["host"].eq(sel["host"].shift())
            & sel["acct_key"].eq(sel["acct_key"].shift())
            & sel["f_rule"].eq(sel["f_rule"].shift())
        )
        .fillna(False)
        .to_numpy(dtype=bool)
    )
    gap = sel["ts"].diff().dt.total_seconds().to_numpy()
    sel["_g"] = np.cumsum(~same | np.isnan(gap) | (gap > config.finding_window_s))
    return _aggregate(sel, events, tags, config)


def _aggregate(
    sel: pd.DataFrame, events: pd.DataFrame, tags: pd.DataFrame, config: AnalysisConfig
) -> pd.DataFrame:
    g = sel.groupby("_g", sort=True)
    out = g.agg(
        host=("host", "first"),
        account=("account", "first"),
        first_seen=("ts", "min"),
        last_seen=("ts", "max"),
        rule=("f_rule", "first"),
        reason=("reason", "first"),
    )
    out.insert(4, "count", event_counts(sel).groupby(sel["_g"]).sum().reindex(out.index))
    by_rule = {r.id: r for r in RULES.values()}
    out["title"] = [by_rule[r].title for r in out["rule"]]
    out["level"] = [str(by_rule[r].level) for r in out["rule"]]
    out["attack"] = [tuple(by_rule[r].attack) for r in out["rule"]]
    t = tags.merge(sel[["event_index", "_g"]], on="event_index").drop_duplicates(["_g", "rule_id"])
    t = t.sort_values(["_g", "rule_id"])
    out["rules"] = group_tuples(t["_g"].to_numpy(), t["rule_id"].astype(str).to_numpy(dtype=object))
    hops = sel[sel["hop_id"].notna()].drop_duplicates(["_g", "hop_id"])
    out["hop_ids"] = group_tuples(hops["_g"].to_numpy(), hops["hop_id"].astype(int).to_numpy(dtype=object))
    first = sel.drop_duplicates("_g")  # earliest row of each group (sorted by ts)
    out["fields"] = pd.Series(
        field_dicts(events[list(EVIDENCE_FIELDS)].take(first["event_index"].to_numpy())),
        index=first["_g"].to_numpy(),
    )
    capped = sel[sel.groupby("_g").cumcount().to_numpy() < config.max_evidence_per_hop]
    rec = capped["record_id"].astype("Int64")
    items = [
        {
            "event_id": int(e),
            "source_file": str(f),
            "record_id": None if pd.isna(r) else int(r),
            "rule": str(ru),
            "ts": ts,
        }
        for e, f, r, ru, ts in zip(
            capped["event_id"].tolist(),
            capped["source_file"].tolist(),
            rec.astype(object).tolist(),
            capped["rule_id"].tolist(),
            capped["ts"].dt.to_pydatetime().tolist(),
            strict=True,
        )
    ]
    out["evidence"] = group_tuples(capped["_g"].to_numpy(), np.array([*items, None], dtype=object)[:-1])
    for c in ("rules", "hop_ids", "evidence"):
        out[c] = [v if isinstance(v, tuple) else () for v in out[c].tolist()]
    out = out.sort_values(["first_seen", "host", "rule", "account"], kind="stable", na_position="first")
    out = out.reset_index(drop=True)
    out["finding_id"] = np.arange(len(out), dtype="int64")
    out["count"] = out["count"].astype("int64")
    for c in ("host", "account", "rule", "title", "level", "reason"):
        out[c] = out[c].astype("string")
    return out[list(FINDING_COLUMNS)]


def finding_to_dict(row: dict) -> dict:
    """One findings-frame row as the JSON finding object (times ISO 8601 UTC)."""
    from graph.model import _iso, _opt

    return {
        "finding_id": int(row["finding_id"]),
        "host": row["host"],
        "account": _opt(row["account"]),
        "first_seen": _iso(row["first_seen"]),
        "last_seen": _iso(row["last_seen"]),
        "count": int(row["count"]),
        "rule": row["rule"],
        "title": row["title"],
        "level": row["level"],
        "attack": list(row["attack"]),
        "rules": list(row["rules"]),
        "reason": row["reason"],
        "fields": dict(row["fields"]) if isinstance(row["fields"], dict) else {},
        "hop_ids": [int(h) for h in row["hop_ids"]],
        "evidence": [
            {
                "event_id": e["event_id"],
                "source_file": e["source_file"],
                "record_id": e["record_id"],
                "rule": e["rule"],
                "ts": _iso(e["ts"]),
            }
            for e in row["evidence"]
        ],
    }
