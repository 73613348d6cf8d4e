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
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.config import AnalysisConfig
from graph.evidence_items import evidence_items
from graph.fields import EVIDENCE_FIELDS, shared
from graph.model import HOP_COLUMNS
from graph.rules import BROKERED, RULES, SOURCE, TARGET
from ingest.compact import share_constant_columns, take_rows

#: Feature columns the event stage adds after :data:`graph.model.HOP_COLUMNS` (documented in
#: docs/analysis.md): evidence features here, scoring features in graph.scoring.
EVIDENCE_FEATURES = ("strength", "lateral", "local_only", "services", "images", "src_resolved_by",
                     "auth_packages")

#: The event's own analyst fields of an evidence item, named ``f_<column>`` (graph.fields; the Spark
#: engine's evidence rows carry them all under these names). The pandas rows carry none of them:
#: an item's fields are read from the events frame at its ``event_index`` (:func:`_evidence_lists`).
FIELD_COLUMNS = [f"f_{c}" for c in EVIDENCE_FIELDS]
#: Event columns that placement reads and nothing after :func:`evidence_rows` does: not kept in the
#: evidence rows it returns.
_PLACEMENT_ONLY = ("subject_account", "logon_id", "command_line", "target_name", "dst_ip", "service_image")
#: Columns of the hop rows (:func:`hop_rows`): what :func:`aggregate_hops` and the findings read.
ROW_COLUMNS = ("event_index", "ts", "rule_id", "weight", "kind", "side", "lateral", "local_marker", "host",
               "src_host", "src_ip", "dst_host", "account", "src_resolved_by", "service_name", "process",
               "auth_package", "repeats")
_NON_ACCOUNTS = ("anonymous logon", "system", "local system", "localsystem", "local service",
                 "network service", "-", "")
_UNC_HOST = r"\\\\([^\\ \t\"'.?][^\\ \t\"']*)"
#: The remote host of a client tool named by an argument, not a UNC path (``schtasks /s H``,
#: ``Invoke-Command -ComputerName H``, ``winrs -r:H``, ``wmic /node:H``); read only when the command
#: holds no UNC path, and only on source-side rows (the client rules that name hosts this way).
_ARG_HOST = (r"(?i)(?:^|[ \t])(?:/s|-computername|-cn|-r:|/r:|-remote:|/node:)[ \t]*[\"']?"
             r"([A-Za-z0-9][A-Za-z0-9_.-]*)")
_PIPE_CLIENT = r"^[^-]+-([A-Za-z0-9_.]+)-\d+-(?:stdin|stdout|stderr)$"
_NET_USER = r"(?i)/u(?:ser)?:(?:[^\\ \t]+\\)?([^ \t\\]+)"
_IPV4 = r"^\d{1,3}(\.\d{1,3}){3}$"


def _rule_table() -> pd.DataFrame:
    rows = [{"rule_id": r.id, "weight": r.weight, "kind": str(r.kind), "side": r.side,
             "lateral": r.lateral, "local_marker": r.local_marker, "context_only": r.context_only,
             "loopback": r.loopback}
            for r in RULES.values()]
    return pd.DataFrame(rows)


def short_host(s: pd.Series) -> pd.Series:
    """Upper-case short host names (``pc01.corp`` -> ``PC01``); IP addresses stay as they are."""
    s = s.astype("string").str.strip()
    is_ip = s.str.match(_IPV4).fillna(False) | s.str.contains(":", regex=False).fillna(False)
    short = s.str.replace(r"\..*$", "", regex=True).str.upper()
    out = s.where(is_ip, short)
    return out.mask(out.isin(["", "-"]))


def _b(s: pd.Series) -> np.ndarray:
    """A (possibly Arrow-backed, nullable) boolean Series as numpy bool, missing = False."""
    return s.fillna(False).to_numpy(dtype=bool)


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


def _resolve_ips(ev: pd.DataFrame, events: pd.DataFrame, config: AnalysisConfig,
                 pairs: pd.DataFrame | None = None) -> pd.DataFrame:
    """Step 4: name sources (and source-side destinations) known only by IP."""
    hints = ip_hints(ev, events, config, pairs=pairs)
    if hints.empty:
        return ev
    ev = ev.copy(deep=False)   # copy-on-write: a column set here is copied then
    day = _hint_day(ev["ts"], config)
    need = (ev["src_host"].isna() & ev["src_ip"].notna()).to_numpy(dtype=bool)
    keys = pd.MultiIndex.from_arrays([ev.loc[need, "src_ip"].astype("string"), day[need]])
    ev.loc[need, "src_host"] = _lookup(hints, keys)
    got = need & ev["src_host"].notna().to_numpy(dtype=bool)
    ev.loc[got, "src_resolved_by"] = (ev.loc[got, "src_resolved_by"].fillna("event") + "+ip_hint")
    is_ip = (ev["side"].eq(SOURCE) & ev["dst_host"].notna()
             & ev["dst_host"].str.match(_IPV4).fillna(False)).to_numpy(dtype=bool)
    if is_ip.any():
        keys = pd.MultiIndex.from_arrays([ev.loc[is_ip, "dst_host"].astype("string"), day[is_ip]])
        named = _lookup(hints, keys)
        ev.loc[is_ip, "dst_host"] = ev.loc[is_ip, "dst_host"].where(pd.isna(named), named)
    return ev


def _lookup(hints: pd.Series, keys: pd.MultiIndex) -> pd.api.extensions.ExtensionArray:
    """``hints`` at each of ``keys`` (missing where it has none), as a ``string`` array: an index
    look-up (the same as ``keys.map(hints)``, without a Python call per key)."""
    if not hints.index.is_unique:
        return pd.array(keys.map(hints), dtype="string")
    return pd.array(hints.array.take(hints.index.get_indexer(keys), allow_fill=True), dtype="string")


_ALL_DAYS = pd.Timestamp("1970-01-01", tz="UTC")
#: Loopback addresses that never give an IP -> name hint.
_LOOPBACK_IPS: tuple[str, ...] = ("127.0.0.1", "::1")


def _hint_day(ts: pd.Series, config: AnalysisConfig) -> pd.Series:
    """The hint scope of each timestamp: its UTC day, or one constant (``ip_hints_by_day`` off)."""
    if config.ip_hints_by_day:
        return ts.dt.floor("D")
    return pd.Series(_ALL_DAYS, index=ts.index, dtype=ts.dtype)


def hint_pairs(events: pd.DataFrame, config: AnalysisConfig) -> pd.DataFrame:
    """The events' own IP/name pairs, counted: ``(ip, name, day, n)`` for every event naming both an
    IP and a host for the same end (``src_ip``+``src_host``, ``dst_ip``+``dst_host``; loopback
    addresses left out). ``name`` is as logged; ``day`` is :func:`_hint_day`."""
    parts: list[pd.DataFrame] = []
    day = _hint_day(events["ts"], config)
    for ip_col, name_col in (("src_ip", "src_host"), ("dst_ip", "dst_host")):
        pairs = events[[ip_col, name_col]].assign(day=day).dropna()
        pairs = pairs[~pairs[ip_col].isin(list(_LOOPBACK_IPS)).to_numpy(dtype=bool)]
        counts = pairs.value_counts().reset_index()
        parts.append(pd.DataFrame({"ip": counts[ip_col].astype("string"), "name": counts[name_col],
                                   "day": counts["day"], "n": counts["count"]}))
    return pd.concat(parts, ignore_index=True)


def ip_hints(ev: pd.DataFrame, events: pd.DataFrame, config: AnalysisConfig, *,
             pairs: pd.DataFrame | None = None) -> pd.Series:
    """IP -> host name hints found in the data, per UTC day (step 4 of the module docstring).

    Hints: events naming both an IP and a host for the same end (``src_ip``+``src_host``,
    ``dst_ip``+``dst_host``), PsExec pipe names (``<svc>-<CLIENT>-<pid>-stdin``), and source-side
    rows towards D within ``source_join_window_s`` of a target row on D from the IP. Hints only
    apply on the UTC day they were seen (addresses move between machines: DHCP, labs).

    ``pairs``: :func:`hint_pairs` of the whole case, computed elsewhere (default: of ``events``).

    Returns:
        Series indexed by (ip, day) with the most frequent host name that day (ties: name order).
    """
    parts: list[pd.DataFrame] = [hint_pairs(events, config) if pairs is None else pairs]
    pipes = ev[ev["target_name"].notna() & ev["src_ip"].notna()]
    client = pipes["target_name"].astype("string").str.extract(_PIPE_CLIENT, expand=False)
    parts.append(pd.DataFrame({"ip": pipes["src_ip"], "name": client, "day": _hint_day(pipes["ts"], config),
                               "n": 1}))
    tgt = ev[ev["side"].eq(TARGET) & ev["src_host"].isna() & ev["src_ip"].notna()]
    src = ev[ev["side"].eq(SOURCE) & ev["dst_host"].notna() & ev["src_host"].notna()]
    if len(tgt) and len(src):
        m = pd.merge_asof(tgt[["ts", "dst_host", "src_ip"]].sort_values("ts"),
                          src[["ts", "dst_host", "src_host"]].sort_values("ts"), on="ts",
                          by="dst_host", direction="nearest",
                          tolerance=pd.Timedelta(seconds=config.source_join_window_s))
        parts.append(pd.DataFrame({"ip": m["src_ip"], "name": m["src_host"],
                                   "day": _hint_day(m["ts"], config), "n": 1}))
    h = pd.concat(parts, ignore_index=True).dropna()
    if h.empty:
        return pd.Series([], dtype="string")
    h["ip"] = h["ip"].astype("string")
    h["name"] = short_host(h["name"])
    h = h.dropna()
    h = h[~h["name"].str.match(_IPV4).fillna(False) & h["name"].ne(h["ip"])]
    h = h[~h["ip"].isin(["127.0.0.1", "::1"]).to_numpy(dtype=bool)]
    counts = h.groupby(["ip", "day", "name"])["n"].sum().reset_index()
    counts = counts.sort_values(["ip", "day", "n", "name"], ascending=[True, True, False, True])
    best = counts.drop_duplicates(["ip", "day"])
    index = pd.MultiIndex.from_arrays([best["ip"].astype("string"), best["day"]])
    return pd.Series(best["name"].to_numpy(), index=index, dtype="string")


def hop_rows(ev: pd.DataFrame, config: AnalysisConfig) -> pd.DataFrame:
    """Step 6: the rows that belong to a hop (:data:`ROW_COLUMNS` of ``ev``, ``account`` as the hop's),
    in hop order, with ``hop_id``."""
    src_key = ev["src_host"].fillna(ev["src_ip"]).astype("string")
    keep = ev["dst_host"].notna() & (src_key.notna() | ev["lateral"]) & ~ev["context_only"]
    keep &= ~(src_key.notna() & src_key.eq(ev["dst_host"]).fillna(False))
    keep &= ~(ev["src_ip"].notna() & ev["src_host"].isna()
              & ev["src_ip"].isin(["127.0.0.1", "::1"]).fillna(False))
    # the keys on their own first: the kept rows are copied once, already in hop order
    keys = pd.DataFrame({"ts": ev["ts"], "src_key": src_key.fillna(""), "dst_host": ev["dst_host"],
                         "account": ev["account"]})[keep.to_numpy(dtype=bool)]
    keys["account"] = _borrow_account(keys, config)
    keys["acct_key"] = keys["account"].fillna("").astype("string")
    keys = keys.sort_values(["src_key", "dst_host", "acct_key", "ts"], kind="stable")
    same = (_b(keys["src_key"].eq(keys["src_key"].shift()))
            & _b(keys["dst_host"].eq(keys["dst_host"].shift()))
            & _b(keys["acct_key"].eq(keys["acct_key"].shift())))
    gap = keys["ts"].diff().dt.total_seconds().to_numpy()
    gap = np.isnan(gap) | (gap > config.hop_gap_s)
    keys["_seq"] = np.cumsum(~same | gap)
    first = keys.groupby("_seq").agg(first_seen=("ts", "min"), src_key=("src_key", "first"),
                                     dst_host=("dst_host", "first"), acct_key=("acct_key", "first"))
    order = first.sort_values(["first_seen", "src_key", "dst_host", "acct_key"], kind="stable")
    hop_of_seq = pd.Series(np.arange(len(order), dtype="int64"), index=order.index)
    account, hop_id = keys["account"], keys["_seq"].map(hop_of_seq).to_numpy()
    del keys, first, order   # the keys' text goes before the rows are copied
    # only the columns read later, copied once, already in hop order
    rows = take_rows(ev, [c for c in ROW_COLUMNS if c in ev.columns], ev.index.get_indexer(account.index))
    rows.index = account.index
    rows["account"] = account
    rows["hop_id"] = hop_id
    return rows


def _borrow_account(rows: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """Rows without an account take the account of the nearest row with one for the same (source,
    destination) within ``hop_gap_s`` (a 7045 next to the 4697 that names the installer)."""
    acct = rows["account"].astype("string")
    miss = acct.isna()
    has = rows[~miss]
    if not miss.any() or has.empty:
        return acct
    left = rows.loc[miss, ["ts", "src_key", "dst_host"]].assign(_i=rows.index[miss]).sort_values("ts")
    right = has[["ts", "src_key", "dst_host", "account"]].rename(columns={"account": "_a"}).sort_values("ts")
    m = pd.merge_asof(left, right, on="ts", by=["src_key", "dst_host"], direction="nearest",
                      tolerance=pd.Timedelta(seconds=config.hop_gap_s))
    m = m[m["_a"].notna()]
    acct.loc[m["_i"].to_numpy()] = m["_a"].astype("string").to_numpy()
    return acct


def aggregate_hops(rows: pd.DataFrame, tags: pd.DataFrame, config: AnalysisConfig,
                   events: pd.DataFrame) -> pd.DataFrame:
    """Hop rows (with ``hop_id``) -> the hops frame: :data:`HOP_COLUMNS` (score 0, severity
    "info" until scoring) plus :data:`EVIDENCE_FEATURES`. ``events``: the frame the rows' ``event_index``
    points into (the evidence items' event ids, files, record ids and fields are read there).

    ``strength`` = 1 - prod(1 - weight) over the *distinct* rules that fired on the hop's events
    (noisy-or: independent pieces of evidence add up; repeats of one rule do not).
    """
    if rows.empty:
        return empty_hops()
    g = rows.groupby("hop_id", sort=True)
    hops = g.agg(first_seen=("ts", "min"), last_seen=("ts", "max"),
                 src_host=("src_host", "first"), src_ip=("src_ip", "first"),
                 dst_host=("dst_host", "first"), account=("account", "first"),
                 src_resolved_by=("src_resolved_by", "first"))
    hops.insert(2, "n_events", event_counts(rows).groupby(rows["hop_id"]).sum().reindex(hops.index))
    # rules of every tag on the hop's events (not only the primary rule)
    ht = tags.merge(rows[["event_index", "hop_id"]], on="event_index")
    ht = ht.drop_duplicates(["hop_id", "rule_id"]).sort_values(["hop_id", "rule_id"])
    rt = _rule_table().set_index("rule_id")
    ht = ht[~ht["rule_id"].map(rt["context_only"]).astype(bool)]
    ht["w"] = ht["rule_id"].map(rt["weight"]).astype(float)
    hops["rules"] = _tuples(ht["rule_id"], ht["hop_id"])
    log_keep = np.log1p(-ht["w"].clip(upper=0.999))
    hops["strength"] = 1.0 - np.exp(log_keep.groupby(ht["hop_id"]).sum())
    attack = {r.id: r.attack for r in RULES.values()}
    tech = ht[["hop_id", "rule_id"]].assign(t=ht["rule_id"].map(attack)).explode("t")
    tech = tech.drop_duplicates(["hop_id", "t"]).sort_values(["hop_id", "t"])
    hops["techniques"] = _tuples(tech["t"], tech["hop_id"])
    kinds = rows[["hop_id", "kind"]].drop_duplicates().sort_values(["hop_id", "kind"])
    hops["kinds"] = _tuples(kinds["kind"], kinds["hop_id"])
    hops["lateral"] = g["lateral"].any()
    lat = rows.loc[rows["lateral"].to_numpy(dtype=bool), ["hop_id", "local_marker"]]
    hops["local_only"] = (hops["src_host"].isna() & hops["src_ip"].isna()
                          & lat.groupby("hop_id")["local_marker"].all().reindex(hops.index)
                          .fillna(False).astype(bool))
    # services *installed* (a DC's 4769 carries the ticket's ServiceName, the target's machine
    # account: not a service, and it would make every destination a new tool signature)
    svc = rows[rows["service_name"].notna() & rows["kind"].eq("service_install")][["hop_id", "service_name"]]
    svc = svc.assign(v=svc["service_name"].str.lower()).drop_duplicates(["hop_id", "v"])
    svc = svc.sort_values(["hop_id", "v"])
    hops["services"] = _tuples(svc["v"], svc["hop_id"])
    exe = rows[rows["kind"].eq("execution") & rows["process"].notna()][["hop_id", "process"]]
    exe = exe.assign(v=exe["process"].str.lower().str.split("\\").str[-1]).drop_duplicates(["hop_id", "v"])
    exe = exe.sort_values(["hop_id", "v"])
    hops["images"] = _tuples(exe["v"], exe["hop_id"])
    pkg = rows[rows["auth_package"].notna()][["hop_id", "auth_package"]]
    pkg = pkg.assign(v=pkg["auth_package"].str.lower()).drop_duplicates(["hop_id", "v"])
    pkg = pkg.sort_values(["hop_id", "v"])
    hops["auth_packages"] = _tuples(pkg["v"], pkg["hop_id"])
    for c in ("rules", "techniques", "kinds", "services", "images", "auth_packages"):
        hops[c] = [v if isinstance(v, tuple) else () for v in hops[c].tolist()]
    del g, ht, tech, kinds, lat, svc, exe, pkg, log_keep   # let go before the evidence items are built
    hops["evidence"] = _evidence_lists(rows, events, config.max_evidence_per_hop).reindex(hops.index)
    hops = hops.reset_index()
    hops["score"] = 0.0
    hops["severity"] = "info"
    for c in ("src_host", "src_ip", "dst_host", "account", "src_resolved_by"):
        hops[c] = hops[c].astype("string")
    return hops[list(HOP_COLUMNS) + list(EVIDENCE_FEATURES)]


def event_counts(rows: pd.DataFrame) -> pd.Series:
    """Events each row stands for (``repeats``, missing = 1: ``ingest.schema``), int64."""
    if "repeats" not in rows.columns:
        return pd.Series(1, index=rows.index, dtype="int64")
    return rows["repeats"].fillna(1).astype("int64")


def group_tuples(keys: pd.Series | np.ndarray, values: pd.Series | np.ndarray) -> pd.Series:
    """Tuples of plain Python values per key, keeping the given order within a key (stable sort).

    Linear apart from one stable argsort: ``np.split`` at key boundaries, no per-group pandas calls.

    Examples:
        >>> group_tuples(np.array([2, 1, 2]), np.array(["a", "b", "c"], dtype=object)).to_dict()
        {1: ('b',), 2: ('a', 'c')}
    """
    k = np.asarray(keys)
    v = (values.astype(object).to_numpy() if isinstance(values, pd.Series)
         else np.asarray(values, dtype=object))
    if len(k) == 0:
        return pd.Series([], dtype=object)
    order = np.argsort(k, kind="stable")
    k, v = k[order], v[order]
    bounds = np.flatnonzero(k[1:] != k[:-1]) + 1
    starts = np.r_[0, bounds]
    ends = np.r_[bounds, len(k)]
    items = v.tolist()
    return pd.Series([tuple(items[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)],
                     index=k[starts], dtype=object)


def _tuples(values: pd.Series, by: pd.Series) -> pd.Series:
    """Group ``values`` (already in the wanted order; strings) into tuples per ``by``; equal tuples
    are one object (most hops of a large case share a few rule / kind tuples)."""
    out = group_tuples(by.to_numpy(), np.array([*shared(values.astype(object).tolist()), None],
                                                dtype=object)[:-1])
    items = np.empty(len(out), dtype=object)
    items[:] = shared(out.tolist())
    return pd.Series(items, index=out.index, dtype=object)


def _evidence_lists(rows: pd.DataFrame, events: pd.DataFrame, cap: int) -> pd.Series:
    """Per hop, a tuple of evidence dicts: the ``cap`` strongest events (then earliest), in time order.
    The event's id, file, record id and fields are its own (never rewritten by correlation): read from
    ``events`` for the items kept only."""
    # only the columns the order reads: the sorts below copy what they are given
    r = rows[["hop_id", "weight", "ts", "event_index", "rule_id", "host"]]
    r = r.sort_values(["hop_id", "weight", "ts"], ascending=[True, False, True])
    r = r[r.groupby("hop_id").cumcount().to_numpy() < cap].sort_values(["hop_id", "ts", "event_index"])
    return evidence_items(r["hop_id"].to_numpy(), r, events)


def empty_hops() -> pd.DataFrame:
    """A hops frame with no rows (all columns, sensible dtypes)."""
    cols = list(HOP_COLUMNS) + list(EVIDENCE_FEATURES)
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    for c in ("first_seen", "last_seen"):
        frame[c] = pd.Series([], dtype="datetime64[ns, UTC]")
    for c in ("hop_id", "n_events"):
        frame[c] = pd.Series([], dtype="int64")
    for c in ("score", "strength"):
        frame[c] = pd.Series([], dtype="float64")
    for c in ("lateral", "local_only"):
        frame[c] = pd.Series([], dtype=bool)
    for c in ("src_host", "src_ip", "dst_host", "account", "severity", "src_resolved_by"):
        frame[c] = pd.Series([], dtype="string")
    return frame


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
