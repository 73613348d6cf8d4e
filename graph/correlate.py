"""Correlation: tagged events -> evidence rows with (source, destination, account) -> lateral hops.

Definitions (the Spark engine mirrors each step; parameters come from
:class:`~graph.config.AnalysisConfig`):

1. **Evidence rows.** Every event with at least one non-context-only rule hit becomes one
   evidence row. Its *primary rule* is its strongest hit (highest level weight, then rule id);
   the primary rule gives the row its ``kind`` and ``side``.
2. **Placement** by side: ``target`` rows (4624, 5140, 5145) have ``dst = host`` and the source from
   the event; ``brokered`` rows (4769 at a domain controller) take both ends from the event (the
   client, and the host the ticket's service runs on); ``source`` rows (4648, ``net use``,
   ``psexec \\\\srv``, outbound 445) have
   ``src = host`` and the destination from the event (``dst_host``/``dst_ip``, else the first
   remote UNC host of the command line, else a host argument such as ``/s H`` or
   ``-ComputerName H``); ``local`` rows (7045/4697, process, file, pipe) have
   ``dst = host`` and no source yet.
3. **Session join** (rows without a source, on the target): (a) by logon id: the latest *anchor*
   on the same host with the same ``logon_id`` at or before the row, at most
   ``session_max_s`` earlier; (b) else by time: the latest anchor on the same host at most
   ``service_join_window_s`` (service installs) or ``exec_join_window_s`` (others) earlier;
   (c) else the earliest anchor on the same host at most ``clock_skew_s`` *later* (the channels
   of one host disagree by a second or so: Sysmon rows before the Security logon).
   Anchors are target rows with a remote source and a user account (remote logons, share
   access). Brokered rows never join (their host is the DC). The row takes the anchor's source,
   source IP and (if it has none) account.
4. **Source resolution**: a source known only by IP gets a host name from IP hints in the data
   (events naming both, PsExec pipe names ``<svc>-<CLIENT>-<pid>-stdin``, and source-side rows
   that name this destination within ``source_join_window_s`` of a target row from that IP);
   the most frequent name per IP (per UTC day with ``ip_hints_by_day``), ties by name. Source
   rows whose destination is an IP resolve it likewise.
5. **Hop account**: the row's account unless it is a machine/system/anonymous account (4697:
   the installing ``subject_account``; 7045, SYSTEM processes and a source's outbound connection,
   whose account is the client process's owner, not the one it authenticates with: none), else
   the joined one;
   ``net use ... /user:DOM\\name`` gives ``name``.
6. **Hops**: rows are grouped by (source host or IP, destination host, account), in time
   order; a gap above ``hop_gap_s`` starts a new hop. Rows whose source equals the destination
   are dropped (loopback), and rows with no source are dropped unless their primary rule is
   ``lateral`` (a 7045-only log still yields a hop with unknown source). ``hop_id`` numbers the
   hops by (first_seen, src, dst, account).

The steps live in :mod:`graph.correlation`: shared helpers (``common``), the session join
(``sessions``, step 3), the IP hints (``ip_hints``, step 4) and the hops (``hops``, step 6 and the
aggregation); placement (steps 1, 2 and 5) is here. Every name they define is importable from here
too, as before the split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.config import AnalysisConfig
from graph.correlation.common import _IPV4, _b, _rule_table, short_host
from graph.correlation.hops import (
    EVIDENCE_FEATURES,
    ROW_COLUMNS,
    _borrow_account,
    _evidence_lists,
    _tuples,
    aggregate_hops,
    empty_hops,
    event_counts,
    group_tuples,
    hop_rows,
)
from graph.correlation.ip_hints import (
    _ALL_DAYS,
    _LOOPBACK_IPS,
    _PIPE_CLIENT,
    _hint_day,
    _lookup,
    _resolve_ips,
    hint_pairs,
    ip_hints,
)
from graph.correlation.sessions import _anchors, _session_join
from graph.evidence_items import evidence_items
from graph.fields import EVIDENCE_FIELDS, shared
from graph.model import HOP_COLUMNS
from graph.rules import BROKERED, RULES, SOURCE, TARGET
from ingest.compact import share_constant_columns, take_rows

#: The names of this module, those defined in :mod:`graph.correlation` and those it imported before
#: the split included (importers, tests and the Spark engine read some private ones too).
__all__ = [
    "EVIDENCE_FEATURES", "FIELD_COLUMNS", "HOP_COLUMNS", "ROW_COLUMNS", "RULES", "_ALL_DAYS", "_ARG_HOST",
    "_IPV4", "_LOOPBACK_IPS", "_NET_USER", "_NON_ACCOUNTS", "_PIPE_CLIENT", "_PLACEMENT_ONLY",
    "_UNC_HOST", "_anchors", "_b", "_borrow_account", "_clean_account", "_evidence_lists", "_hint_day",
    "_lookup", "_resolve_ips", "_rule_table", "_session_join", "_tuples", "aggregate_hops", "correlate",
    "correlate_rows", "empty_hops", "event_counts", "evidence_items", "evidence_rows", "group_tuples",
    "hint_pairs", "hop_rows", "ip_hints", "shared", "short_host",
]

#: The event's own analyst fields of an evidence item, named ``f_<column>`` (graph.fields; the Spark
#: engine's evidence rows carry them all under these names). The pandas rows carry none of them:
#: an item's fields are read from the events frame at its ``event_index`` (:func:`_evidence_lists`).
FIELD_COLUMNS = [f"f_{c}" for c in EVIDENCE_FIELDS]
#: Event columns that placement reads and nothing after :func:`evidence_rows` does: not kept in the
#: evidence rows it returns.
_PLACEMENT_ONLY = ("subject_account", "logon_id", "command_line", "target_name", "dst_ip", "service_image")
_NON_ACCOUNTS = ("anonymous logon", "system", "local system", "localsystem", "local service",
                 "network service", "-", "")
_UNC_HOST = r"\\\\([^\\ \t\"'.?][^\\ \t\"']*)"
#: The remote host of a client tool named by an argument, not a UNC path (``schtasks /s H``,
#: ``Invoke-Command -ComputerName H``, ``winrs -r:H``, ``wmic /node:H``); read only when the command
#: holds no UNC path, and only on source-side rows (the client rules that name hosts this way).
_ARG_HOST = (r"(?i)(?:^|[ \t])(?:/s|-computername|-cn|-r:|/r:|-remote:|/node:)[ \t]*[\"']?"
             r"([A-Za-z0-9][A-Za-z0-9_.-]*)")
_NET_USER = r"(?i)/u(?:ser)?:(?:[^\\ \t]+\\)?([^ \t\\]+)"


def _clean_account(s: pd.Series) -> pd.Series:
    s = s.astype("string").str.lower()
    bad = s.isin(list(_NON_ACCOUNTS)) | s.str.endswith("$").fillna(False)
    return s.mask(bad)


def evidence_rows(events: pd.DataFrame, tags: pd.DataFrame, config: AnalysisConfig, *,
                  pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Steps 1-5: one placed evidence row per tagged event (see the module docstring).

    ``pairs``: the IP/name pair counts of the whole case (:func:`hint_pairs`) when ``events`` holds
    only the tagged events (a driver that never sees the rest, ``graph.spark.stage``).

    Returns:
        Frame with ``event_index, rule_id, weight, kind, side, ts, event_id, host, src_host, src_ip,
        dst_host, account, service_name, process, record_id, source_file, auth_package, repeats,
        lateral, local_marker, context_only, loop_rule, loopback, src_resolved_by, j_loop_rule``
        (``rule_id``, ``kind``, ``side``, ``source_file``, ``src_resolved_by`` and ``auth_package``
        categorical).
    """
    # the rule table's columns per tag, by the rule's position in the table sorted by id (numbers: one
    # copy of the tags' ids is never made)
    rt = _rule_table().sort_values("rule_id", ignore_index=True)
    code = pd.Index(rt["rule_id"]).get_indexer(tags["rule_id"])
    if (code < 0).any():
        raise ValueError(f"unknown rule ids in tags: {sorted(set(tags['rule_id'][code < 0]))[:5]}")
    t = pd.DataFrame({"event_index": tags["event_index"].to_numpy(), "_r": code.astype(np.int32)})
    for c in ("weight", "context_only", "local_marker", "lateral", "loopback"):
        t[c] = rt[c].to_numpy()[code]
    t = t.sort_values(["event_index", "context_only", "weight", "_r"], ascending=[True, True, False, True])
    ctx = t.groupby("event_index")["context_only"].all()
    real = t[~t["context_only"]]
    marker = real.groupby("event_index")["local_marker"].any()
    lateral_any = real.groupby("event_index")["lateral"].any()
    lp = t[t["loopback"]].drop_duplicates("event_index")
    loop = pd.Series(rt["rule_id"].to_numpy()[lp["_r"].to_numpy()], index=lp["event_index"].to_numpy())
    first = t.drop_duplicates("event_index")
    del t, real   # one row per tag: let go before the rows are placed
    r = first["_r"].to_numpy()
    prim = pd.DataFrame({"event_index": first["event_index"].to_numpy(),
                         "rule_id": rt["rule_id"].to_numpy()[r], "weight": first["weight"].to_numpy(),
                         "kind": rt["kind"].to_numpy()[r], "side": rt["side"].to_numpy()[r]})
    pos = prim["event_index"].to_numpy()
    cols = ["ts", "event_id", "host", "src_host", "src_ip", "dst_host", "dst_ip", "account",
            "subject_account", "logon_id", "service_name", "service_image", "process",
            "command_line", "target_name", "record_id", "source_file", "auth_package", "repeats"]
    ev = take_rows(events, cols, pos)   # the events' all-missing columns stay (almost) free
    ev = pd.concat([prim.reset_index(drop=True), ev], axis=1)
    # few distinct values on many rows: categorical (1-2 bytes a row instead of the text)
    for c in ("rule_id", "kind", "side", "source_file"):
        ev[c] = ev[c].astype("category")
    ev["lateral"] = lateral_any.reindex(pos).fillna(False).to_numpy(dtype=bool)
    ev["local_marker"] = marker.reindex(pos).fillna(False).to_numpy(dtype=bool)
    ev["context_only"] = ctx.reindex(pos).to_numpy(dtype=bool)
    ev["loop_rule"] = pd.array(loop.reindex(pos).to_numpy(dtype=object), dtype="string")
    ev["loopback"] = ev["loop_rule"].notna().to_numpy(dtype=bool)
    for c in ("host", "src_host", "dst_host"):
        ev[c] = short_host(ev[c])

    target = ev["side"].eq(TARGET)
    source = ev["side"].eq(SOURCE)
    brokered = ev["side"].eq(BROKERED)
    # --- placement
    has_cmd = ev["command_line"].notna().to_numpy()
    unc = pd.Series(pd.NA, index=ev.index, dtype="string")
    arg = pd.Series(pd.NA, index=ev.index, dtype="string")
    if has_cmd.any():
        unc[has_cmd] = short_host(ev.loc[has_cmd, "command_line"].str.extract(_UNC_HOST, expand=False))
        arg[has_cmd] = short_host(ev.loc[has_cmd, "command_line"].str.extract(_ARG_HOST, expand=False))
    dst_src_side = ev["dst_host"].fillna(short_host(ev["dst_ip"])).fillna(unc).fillna(arg)
    named_dst = ev["dst_host"]
    ev["src_host"] = ev["src_host"].where(target | brokered, ev["host"].where(source))
    ev["src_ip"] = ev["src_ip"].astype("string").where(target | brokered)
    ev["dst_host"] = ev["host"].where(~source, dst_src_side).where(~brokered, named_dst)
    # loopback: the host is both ends (never a hop; it anchors what it started, see _anchors)
    loopback = ev["loopback"].to_numpy(dtype=bool)
    ev.loc[loopback, "src_host"] = ev.loc[loopback, "host"]
    ev.loc[loopback, "dst_host"] = ev.loc[loopback, "host"]

    # --- hop account
    acct = _clean_account(ev["account"])
    subj = _clean_account(ev["subject_account"])
    eid = ev["event_id"]
    # a source's outbound connection (event 3) names the client process's owner, not the account
    # the client presents to the server (a beacon running as the user relays another account's
    # NTLM): no hop account from it
    acct = acct.mask(eid.eq(7045)).mask(eid.eq(3) & source).mask(eid.eq(4697), subj)
    acct = acct.mask(eid.eq(4688), subj.fillna(acct))
    net_user = pd.Series(pd.NA, index=ev.index, dtype="string")
    if has_cmd.any():
        net_user[has_cmd] = ev.loc[has_cmd, "command_line"].str.extract(_NET_USER, expand=False).str.lower()
    acct = acct.mask(source & net_user.notna(), net_user)
    ev["account"] = acct
    ev["src_resolved_by"] = pd.Series(pd.NA, index=ev.index, dtype="string")
    ev.loc[ev["src_host"].notna() | ev["src_ip"].notna(), "src_resolved_by"] = "event"

    ev = _session_join(share_constant_columns(ev), config)   # (a column all missing is held once)
    ev = _resolve_ips(ev, events, config, pairs)
    ev = share_constant_columns(ev.drop(columns=list(_PLACEMENT_ONLY)))
    for c in ("src_resolved_by", "auth_package"):   # a few values on every row (read as text later)
        ev[c] = ev[c].astype("category")
    return ev


def correlate_rows(events: pd.DataFrame, tags: pd.DataFrame, config: AnalysisConfig, *,
                   pairs: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Steps 1-6 without the aggregation: ``(evidence rows, hop rows)`` (the hop rows carry
    ``hop_id``); :mod:`graph.findings` reads both. ``pairs``: see :func:`evidence_rows`."""
    ev = evidence_rows(events, tags, config, pairs=pairs)
    return ev, hop_rows(ev, config)


def correlate(events: pd.DataFrame, tags: pd.DataFrame, config: AnalysisConfig) -> pd.DataFrame:
    """Events + tags -> hops frame (unscored): steps 1-6 of the module docstring.

    Examples:
        >>> from graph.toy import toy_events
        >>> from graph.rules import apply_rules
        >>> ev = toy_events("A>B@0s:psexec B>C@10m:psexec")
        >>> hops = correlate(ev, apply_rules(ev), AnalysisConfig())
        >>> [(h.src_host, h.dst_host, h.account) for h in hops.itertuples()]
        [('A', 'B', 'admin'), ('B', 'C', 'admin')]
    """
    if tags.empty:
        return empty_hops()
    _, rows = correlate_rows(events, tags, config)
    return aggregate_hops(rows, tags, config, events)
