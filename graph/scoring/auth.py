"""Authentication-graph signals: how anomalous a logon-only hop is against the hosts' and accounts' history.

Hops made only of authentication (network / remote-interactive logons, DC service tickets: LANL
``auth.txt``, DC-only logs) carry no share, service or process evidence, so their evidence strength
is tiny. What marks the attacker's logons is their place in the authentication graph (Hopper,
USENIX Security 2021; Bowman et al. 2020): first-seen edges, credentials that appear on a host no
logon brought them to, logons that continue from a host an anomalous logon just reached, and
bursts. Each signal below is 0 or 1 per hop; all are *time-respecting* (only hops that started
before the hop count as its history) and need a **baseline**: the source, destination and account
must have been active at least ``auth_baseline_s`` (24 h) before the hop, so short recordings (a
lab's attack files) and brand-new machines are never judged against an empty history.

=============  =============================================================================  ======
signal         1 means                                                                        weight
=============  =============================================================================  ======
``new_pair``   first hop ever from this source to this destination (not a hub: a host that    0.15
               >= ``auth_hub_share`` (10%) of all accounts reach, e.g. a domain controller);
               not where first contacts are the routine of the source and account (made on
               >= 2 earlier days: helpdesk, administrators' seats) -- unless the credential
               moves on from the host it reached (a first contact of the same account from
               it, a host it never worked from, within ``auth_chain_s``): an administrator's
               habit is seat -> target, never target -> onward
``new_access`` first time the account reaches this destination, and it never worked from it   0.15
               (same routine exception)
``foreign``    neither a logon of the account reached the source nor had it a session there   0.25
               (:func:`presence`) within ``auth_chain_s`` before, and the source is not its
               routine (it moved out of it on < 2 earlier days) and, unless users' own
               sessions on the source were seen before, the account never moved out of it:
               its
               credential is used from a host it has no session on (stolen, or cached from
               an old session)
``switch``     ``foreign``, and another account's logon reached the source, or another user   0.30
               had a session there, within ``auth_chain_s`` before (A is on X, then B moves
               on from X: Hopper's credential switch); sweeping accounts (>=
               ``auth_sweep_hosts`` destinations a day) do not count
``chain``      the source was reached within ``auth_chain_s`` before by an anomalous hop (a    0.35
               first contact: new pair and new access; an auth score >= medium; or lateral
               evidence of medium+ strength), and this hop carries that hop's account or one
               with no session on the source within ``auth_chain_s`` (Hopper: a login path
               follows a credential); arrivals by sweeping accounts do not count
``onward``     a first contact (or a ``foreign`` hop) whose destination makes a first         0.30
               contact of its own within ``auth_chain_s`` after it, with the same account or
               one with no session there
``burst``      the source (or the account) made first contacts with >= ``auth_burst_min``     0.40
               (3) destinations new to the account too (or with a ``foreign`` credential),
               within ``auth_burst_window_s`` (1 h)
               either side, and at least twice as many as on any earlier day of its own
               (source and account active >= 2 days: a brand-new account's contacts are all
               new to it); where first contacts are the routine of the source and account, at
               least twice its largest number on any earlier *day*
``ntlm``       NTLM-only hop where the pair (or the account, on >= 3 earlier hops) always     0.15
               used Kerberos
=============  =============================================================================  ======

``auth = 1 - prod(1 - weight * signal)``: **0** = a logon in line with the source's, the
destination's and the account's own history (or no history to judge by); **1** is approached by
a hop that has every signal. The hop stage lifts logon-only hops to this score
(:func:`lift`), see there for the caps.

**Where the destination logs more than authentication** (its own share, pipe, file, service or
process events are in the case: :func:`logged_destinations`), a logon-only hop to it is a logon
after which the host shows no action, and the intruder's action would show there. The graph
signals then rank it, but cannot lift it to medium: ``auth`` is capped at ``auth_logged_cap``
(below medium) and ``dst_logged`` (a marker, not a signal: weight 0) is added to its
``auth_signals``. Only estates that log authentication alone for a host (LANL ``auth.txt``,
domain-controller logs) are lifted to medium and high by the graph.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.config import AnalysisConfig

#: Signal -> weight (the table in the module docstring), in the order reasons are listed.
SIGNALS: dict[str, float] = {"new_pair": 0.15, "new_access": 0.15, "foreign": 0.25, "switch": 0.30,
                             "chain": 0.35, "onward": 0.30, "burst": 0.40, "ntlm": 0.15}
#: Rules whose hops are authentication only (the hops :func:`lift` may raise).
AUTH_RULES = frozenset({"lg.logon.network", "lg.auth.service_ticket", "lg.logon.remote_interactive",
                        "lg.logon.pass_the_hash", "lg.logon.explicit_creds", "lg.logon.special_privileges",
                        "lg.logon.external_ip", "lg.logon.metasploit_workstation"})
#: Marker in ``auth_signals`` (weight 0): the destination logs more than authentication, ``auth`` is
#: capped at ``auth_logged_cap`` (module docstring).
LOGGED_MARK = "dst_logged"
#: Evidence kinds a destination logs about itself beyond authentication (target-side rules only).
RICH_KINDS = frozenset({"admin_share", "ipc_pipe", "file_write", "service_install", "execution"})
#: Strength of lateral evidence that makes its hop an anomalous arrival for the ``chain`` signal.
_LATERAL_ARRIVAL = 0.5


#: Logon types that put a user's session on the host itself (credentials in memory there).
PRESENCE_LOGON_TYPES = (2, 7, 10, 11)
#: Columns of a presence frame: the first time ``account`` was seen on ``host`` in each hour, as a
#: ``kind``: :data:`SESSION` (its own session there) or :data:`NTLM_OUT` (its credential used *from*
#: the host by NTLM, a DC's 4776 naming the client workstation: the server is not named).
PRESENCE_COLUMNS = ("host", "account", "ts", "kind")
SESSION = "session"
NTLM_OUT = "ntlm_out"
_NOT_USERS = ("anonymous logon", "system", "local system", "localsystem", "local service", "network service",
              "-")


def presence(events: pd.DataFrame) -> pd.DataFrame:
    """Where user accounts had a session of their own, from authentication events (pandas engine;
    :func:`graph.spark.casewide.presence` mirrors it).

    * 4624 interactive / unlock / RDP / cached logons (types 2, 7, 10, 11): ``account`` on ``host``;
    * 4769 tickets for the client's own host (a DC's view of an interactive logon): ``account`` on
      ``dst_host`` when the client IP is that host's (its machine account's TGT, or a service
      ticket the machine account asked for itself, came from that IP) or the client host is named
      and equal.

    A user's TGT request (4768) or NTLM validation (4776) from a host is *not* a session: an
    intruder holding a stolen password or hash makes the same requests from the foothold. A
    successful 4776 (status ``0x0`` or none) naming a client workstation is kept apart, as kind
    :data:`NTLM_OUT`: the account's credential left that host for a server the DC does not name.

    Returns:
        Frame of :data:`PRESENCE_COLUMNS`, one row per (host, account, kind, UTC hour): the first time.
    """
    cols = ["event_id", "logon_type", "host", "account", "src_host", "src_ip", "dst_host", "ts", "status"]
    ev = events[cols]
    acct = ev["account"].astype("string").str.lower()
    user = acct.notna() & ~acct.str.endswith("$").fillna(False) & ~acct.isin(list(_NOT_USERS))
    eid = ev["event_id"]
    inter = eid.eq(4624) & ev["logon_type"].isin(list(PRESENCE_LOGON_TYPES)).fillna(False)
    # a machine account's own Kerberos requests name its address: its TGT (4768), or a service
    # ticket it asks for itself (4769 whose client host is named and is that machine)
    own_name = acct.eq(ev["src_host"].astype("string").str.lower() + "$").fillna(False)
    machine = ((eid.eq(4768) | (eid.eq(4769) & own_name)) & acct.str.endswith("$").fillna(False)
               & ev["src_ip"].notna())
    ip_host = (ev.loc[machine, ["src_ip", "src_host"]].dropna().drop_duplicates("src_ip")
               .set_index("src_ip")["src_host"])
    tgs = eid.eq(4769) & ev["dst_host"].notna()
    by_ip = ev["src_ip"].map(ip_host) if len(ip_host) else pd.Series(pd.NA, index=ev.index)
    own = tgs & (ev["src_host"].eq(ev["dst_host"]).fillna(False) | by_ip.eq(ev["dst_host"]).fillna(False))
    status = ev["status"].astype("string").str.lower()
    ntlm = eid.eq(4776) & ev["src_host"].notna() & (status.isna() | status.eq("0x0")).fillna(False)
    host = ev["host"].where(inter, ev["dst_host"].where(own, ev["src_host"].where(ntlm)))
    keep = user & (inter | own | ntlm) & host.notna()
    kind = np.where((inter | own).to_numpy(dtype=bool), SESSION, NTLM_OUT)
    return _hourly(pd.DataFrame({"host": host[keep].astype("string").str.upper(), "account": acct[keep],
                                 "ts": ev.loc[keep, "ts"], "kind": kind[keep.to_numpy(dtype=bool)]}))


def _hourly(p: pd.DataFrame) -> pd.DataFrame:
    """First row per (host, account, kind, UTC hour), sorted (host, account, kind, ts)."""
    if p.empty:
        return pd.DataFrame({"host": pd.Series([], dtype="string"), "account": pd.Series([], dtype="string"),
                             "ts": pd.Series([], dtype="datetime64[ns, UTC]"),
                             "kind": pd.Series([], dtype="string")})
    p = p.assign(_h=p["ts"].dt.floor("h")).sort_values(["host", "account", "kind", "ts"], kind="stable")
    p = p.drop_duplicates(["host", "account", "kind", "_h"])[list(PRESENCE_COLUMNS)].reset_index(drop=True)
    for c in ("host", "account", "kind"):
        p[c] = p[c].astype("string")
    return p


def _first_in_group(keys: list[pd.Series]) -> np.ndarray:
    """True for the earliest hop of each key combination (hops are in time order; NA keys: False)."""
    frame = pd.concat(keys, axis=1)
    ok = frame.notna().all(axis=1).to_numpy()
    first = ~frame.duplicated(keep="first").to_numpy()
    return ok & first


def _seen_before(left: pd.DataFrame, right: pd.DataFrame, on: list[str], window_s: float | None = None,
                 direction: str = "backward") -> np.ndarray:
    """For each left row, whether a right row with the same keys started strictly before it
    (within ``window_s`` when given)."""
    out = np.zeros(len(left), dtype=bool)
    lk = left.dropna(subset=on)
    rk = right.dropna(subset=on)
    if lk.empty or rk.empty:
        return out
    lk = lk.assign(_pos=np.flatnonzero(left[on].notna().all(axis=1).to_numpy())).sort_values("t")
    rk = rk[[*on, "t"]].assign(_hit=True).sort_values("t")
    tol = None if window_s is None else pd.Timedelta(seconds=window_s)
    m = pd.merge_asof(lk[[*on, "t", "_pos"]], rk, on="t", by=on, direction=direction,
                      allow_exact_matches=False, tolerance=tol)
    out[m["_pos"].to_numpy()] = m["_hit"].fillna(False).to_numpy(dtype=bool)
    return out


def _aged(t: pd.Series, key: pd.Series, first: pd.Series, age: pd.Timedelta) -> np.ndarray:
    """Whether ``key`` was first active at least ``age`` before ``t`` (unknown key: False)."""
    if first.empty:
        return np.zeros(len(t), dtype=bool)
    since = pd.to_datetime(key.astype(object).map(first.to_dict()), utc=True)
    return ((t - since) >= age).fillna(False).to_numpy(dtype=bool)


def _bursts(key: pd.Series, t: pd.Series, first: np.ndarray, config: AnalysisConfig,
            habitual: np.ndarray | None = None) -> np.ndarray:
    """First contacts of ``key`` (``first``) with at least ``auth_burst_min`` first contacts of the
    same key within ``auth_burst_window_s`` either side, and at least twice the key's largest such
    count on any earlier day (a deployment server's nightly sweep is its own habit). ``habitual``
    hops (first contacts are the routine of their seat and account: helpdesk, administrators)
    need at least twice the key's largest number of first contacts on any earlier *day*."""
    out = np.zeros(len(key), dtype=bool)
    ok = first & key.notna().to_numpy()
    if not ok.any():
        return out
    pos = np.flatnonzero(ok)
    tt = t.iloc[pos]
    secs = ((tt - t.min()) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)
    codes = pd.factorize(key.iloc[pos])[0].astype(float)
    k = codes * 1e10 + secs
    srt = np.sort(k)
    w = config.auth_burst_window_s
    cnt = np.searchsorted(srt, k + w, side="right") - np.searchsorted(srt, k - w, side="left")
    g = pd.DataFrame({"c": codes, "day": tt.dt.floor("D").to_numpy(), "n": cnt})
    daily = g.groupby(["c", "day"])["n"].max().reset_index().sort_values(["c", "day"])
    daily["prev"] = daily.groupby("c")["n"].shift().fillna(0)
    daily["prev"] = daily.groupby("c")["prev"].cummax()
    prev = pd.MultiIndex.from_frame(g[["c", "day"]]).map(daily.set_index(["c", "day"])["prev"])
    out[pos] = cnt >= np.maximum(config.auth_burst_min, 2 * np.asarray(prev, dtype=float))
    if habitual is not None and habitual[pos].any():
        total = g.groupby(["c", "day"]).size().rename("n").reset_index().sort_values(["c", "day"])
        total["prev"] = total.groupby("c")["n"].shift().fillna(0)
        total["prev"] = total.groupby("c")["prev"].cummax()
        prev_total = pd.MultiIndex.from_frame(g[["c", "day"]]).map(total.set_index(["c", "day"])["prev"])
        out[pos] &= ~habitual[pos] | (cnt >= 2 * np.asarray(prev_total, dtype=float))
    return out


def _days_with(f: pd.DataFrame, mask: np.ndarray, keys: list[str]) -> np.ndarray:
    """For each hop of ``f`` (time order), on how many distinct earlier UTC days the same ``keys``
    had a hop in ``mask``."""
    out = np.zeros(len(f), dtype=float)
    day = f["t"].dt.floor("D")
    hit = f.loc[mask, keys].assign(day=day[mask]).dropna().drop_duplicates()
    if hit.empty:
        return out
    hit = hit.assign(k=hit.groupby(keys).cumcount() + 1.0).sort_values("day")
    left = f[keys].assign(day=day, _pos=np.arange(len(f))).dropna(subset=keys).sort_values("day")
    m = pd.merge_asof(left, hit, on="day", by=keys, direction="backward", allow_exact_matches=False)
    out[m["_pos"].to_numpy()] = m["k"].fillna(0.0).to_numpy(dtype=float)
    return out


def _seen_after(left: pd.DataFrame, right: pd.DataFrame, on: list[str], window_s: float) -> np.ndarray:
    """For each left row, whether a right row with the same keys starts strictly after it, within
    ``window_s``."""
    return _seen_before(left, right, on, window_s, direction="forward")


def signals(hops: pd.DataFrame, config: AnalysisConfig, present: pd.DataFrame | None = None) -> pd.DataFrame:
    """The 0/1 signals of the module docstring, one column each, aligned to ``hops``; ``present`` =
    :func:`presence` of the events (sessions of users on hosts), when the engine gives it."""
    n = len(hops)
    sig = pd.DataFrame({k: np.zeros(n, dtype=bool) for k in SIGNALS}, index=hops.index)
    if n == 0:
        return sig
    departed = None         # NTLM uses of a credential from a host, server unnamed (a DC's 4776)
    if present is not None and "kind" in present:
        is_out = present["kind"].eq(NTLM_OUT).fillna(False).to_numpy(dtype=bool)
        departed = pd.DataFrame({"host": present.loc[is_out, "host"].astype("string"),
                                 "acct": present.loc[is_out, "account"].astype("string"),
                                 "t": present.loc[is_out, "ts"]})
        present = present[~is_out]
    order = np.argsort(hops["first_seen"].to_numpy(), kind="stable")
    h = hops.iloc[order]
    f = pd.DataFrame({"src": h["src_host"].fillna(h["src_ip"]).astype("string"),
                      "dst": h["dst_host"].astype("string"), "acct": h["account"].astype("string"),
                      "t": h["first_seen"]}).reset_index(drop=True)
    # sweeping service accounts (inventory, backup, deployment): automation, not a user's credential
    per_day = f.assign(day=f["t"].dt.floor("D")).groupby(["acct", "day"])["dst"].nunique()
    sweeping = per_day.groupby(level=0).mean()
    sweeper = f["acct"].map(sweeping).fillna(0).to_numpy(dtype=float) >= config.auth_sweep_hosts
    # --- baselines: first activity of each host (either end) and account
    ends = pd.concat([f[["src", "t"]].rename(columns={"src": "host"}),
                      f[["dst", "t"]].rename(columns={"dst": "host"})])
    host_first = ends.dropna().groupby("host")["t"].min()
    acct_first = f.dropna(subset=["acct"]).groupby("acct")["t"].min()
    base = pd.Timedelta(seconds=config.auth_baseline_s)
    src_old = _aged(f["t"], f["src"], host_first, base)
    dst_old = _aged(f["t"], f["dst"], host_first, base)
    acct_old = _aged(f["t"], f["acct"], acct_first, base)
    # hubs (domain controllers, mail): reached by a large share of all accounts, first contacts with
    # them are routine
    reach = f.dropna(subset=["acct"]).groupby("dst")["acct"].nunique()
    hub_min = max(config.auth_hub_accounts, config.auth_hub_share * f["acct"].nunique())
    hub = (f["dst"].map(reach).fillna(0).to_numpy(dtype=float) >= hub_min)
    based = src_old & dst_old & ~hub
    long_src = _aged(f["t"], f["src"], host_first, 2 * base)
    # --- first-seen edges; an account whose first contacts from this seat are its routine (made
    # on >= 2 earlier days: helpdesk, administrators) makes none that count
    to_new = _first_in_group([f["acct"], f["dst"]])
    habitual = _days_with(f, to_new, ["src", "acct"]) >= 2
    first_pair = _first_in_group([f["src"], f["dst"]])
    outs = f[["src", "acct", "t"]].rename(columns={"src": "host"})          # account worked from host
    ins = f[["dst", "acct", "t"]].rename(columns={"dst": "host"})           # account logged on to host
    at_dst = f.rename(columns={"dst": "host"})[["host", "acct", "t"]]
    worked_at_dst = _seen_before(at_dst, outs, ["host", "acct"])
    left_src = f.rename(columns={"src": "host"})[["host", "acct", "t"]]
    moved_before = _seen_before(left_src, outs, ["host", "acct"])
    # a routine first contact (an administrator's) is not routine when the credential then moves on
    # from the host it reached, which the account never worked from, within auth_chain_s, by a first
    # contact of its own (Hopper: a login path follows the credential; the admin's habit is seat ->
    # target, never target -> onward)
    relayed = np.zeros(n, dtype=bool)
    if habitual.any():
        step = (first_pair & to_new & ~worked_at_dst & based & acct_old & ~habitual & ~sweeper
                & ~moved_before)    # a novel hop (below), the first of its account from its source
        if step.any():
            relayed = habitual & _seen_after(at_dst, left_src[step], ["host", "acct"], config.auth_chain_s)
    routine_seat = habitual & ~relayed
    new_pair = first_pair & based & ~routine_seat
    new_access = to_new & ~worked_at_dst & based & acct_old & ~routine_seat
    sessions = ins
    if present is not None and len(present):
        here = pd.DataFrame({"host": present["host"].astype("string"),
                             "acct": present["account"].astype("string"), "t": present["ts"]})
        sessions = pd.concat([ins, here], ignore_index=True)
    # users' own sessions on the source are visible (one was seen on it before): an account that
    # worked from it before but has no session there now is foreign again (a cached credential)
    visible = np.zeros(n, dtype=bool)
    if present is not None and len(present):
        visible = _seen_before(left_src[["host", "t"]], here[["host", "t"]], ["host"])
    arrived_before = _seen_before(left_src, sessions, ["host", "acct"], config.auth_chain_s)
    # the account's routine at the source: it moved out of it on >= 2 earlier days (owner, service)
    day = f["t"].dt.floor("D")
    day_first = ~pd.concat([f["src"], f["acct"], day], axis=1).duplicated().to_numpy()
    days_upto = pd.Series(day_first.astype(int)).groupby([f["src"], f["acct"]], dropna=False).cumsum()
    routine = (days_upto.to_numpy() - 1) >= 2
    sessionless = ~arrived_before & ~routine & ~sweeper & src_old & f["acct"].notna().to_numpy()
    foreign = sessionless & acct_old & (~moved_before | visible)
    # --- credential switch: another account's logon reached the source shortly before (sweeping
    # service accounts, which reach dozens of hosts a day, bring no credential a user would steal)
    arr = f.loc[~sweeper, ["dst", "acct", "t"]].rename(columns={"dst": "host", "acct": "a_in"})
    if present is not None and len(present):    # ...or a user's own session on it (its owner)
        arr = pd.concat([arr, pd.DataFrame({"host": present["host"].astype("string"),
                                            "a_in": present["account"].astype("string"),
                                            "t": present["ts"]})], ignore_index=True)
    arr = arr.dropna(subset=["host"])
    lk = left_src.assign(_pos=np.arange(n)).dropna(subset=["host"]).sort_values("t")
    m = pd.merge_asof(lk, arr.sort_values("t"), on="t", by="host", direction="backward",
                      allow_exact_matches=False, tolerance=pd.Timedelta(seconds=config.auth_chain_s))
    other = (m["a_in"].notna() & m["a_in"].ne(m["acct"]).fillna(True)).to_numpy(dtype=bool)
    reached = np.zeros(n, dtype=bool)
    reached[m["_pos"].to_numpy()] = other
    switch = foreign & reached
    # --- bursts of first contacts, per source and per account, against the key's own earlier days
    burst = np.zeros(n, dtype=bool)
    # (first contacts of the source that are new to the account too: a roaming user's usual servers
    # are new to the hot desk, not to the user -- unless the account has no session on the source)
    # (a brand-new account's contacts are all "new to the account": they count towards the rate,
    # but only a hop whose account has a history of its own (active >= 2 days, like the source) is
    # flagged by it)
    long_acct = _aged(f["t"], f["acct"], acct_first, 2 * base)
    from_src = first_pair & (to_new | foreign)
    burst |= _bursts(f["src"], f["t"], from_src, config, habitual) & based & long_src & (long_acct | foreign)
    burst |= _bursts(f["acct"], f["t"], to_new, config, habitual) & based & long_src & long_acct
    # --- NTLM where Kerberos was the rule
    pk = h["auth_packages"] if "auth_packages" in h else pd.Series([()] * n, index=h.index)
    pk = pk.reset_index(drop=True)
    is_ntlm = pk.map(lambda t: "ntlm" in t and "kerberos" not in t).to_numpy(dtype=bool)
    is_krb = pk.map(lambda t: "kerberos" in t and "ntlm" not in t).to_numpy(dtype=bool)
    g = f.assign(k=is_krb.astype(int), nt=is_ntlm.astype(int))
    pair_k = g.groupby(["src", "dst"], dropna=False)["k"].cumsum() - g["k"]
    pair_n = g.groupby(["src", "dst"], dropna=False)["nt"].cumsum() - g["nt"]
    acct_k = g.groupby("acct", dropna=False)["k"].cumsum() - g["k"]
    acct_n = g.groupby("acct", dropna=False)["nt"].cumsum() - g["nt"]
    ntlm = is_ntlm & based & (((pair_k > 0) & (pair_n == 0)) | ((acct_k >= 3) & (acct_n == 0))).to_numpy()
    base_sig = pd.DataFrame({"new_pair": new_pair, "new_access": new_access, "foreign": foreign,
                             "switch": switch, "burst": burst, "ntlm": ntlm})
    # --- chains: first contacts continuing from / followed by first contacts (time-respecting)
    # a chain is carried by a credential: the account that arrived moves on, or a foreign one
    # (stolen there); first contacts by sweeping service accounts open none
    novel = new_pair & new_access & ~sweeper
    carried = f[["src", "acct", "t"]].rename(columns={"src": "host"})
    onward = np.zeros(n, dtype=bool)
    if novel.any():
        come = f[["dst", "acct", "t"]].rename(columns={"dst": "host"})
        went = carried[novel]
        onward = _seen_after(come, went, ["host", "acct"], config.auth_chain_s)
        onward |= _seen_after(come[["host", "t"]], went.loc[sessionless[novel], ["host", "t"]], ["host"],
                              config.auth_chain_s)
    if departed is not None and len(departed):
        # ...or it leaves the destination by NTLM (a 4776: the server is not named) with the same
        # account, or with one that had no session there within auth_chain_s
        came = f[["dst", "acct", "t"]].rename(columns={"dst": "host"})
        onward |= _seen_after(came, departed, ["host", "acct"], config.auth_chain_s)
        own = _seen_before(departed, sessions, ["host", "acct"], config.auth_chain_s)
        onward |= _seen_after(came[["host", "t"]], departed.loc[~own, ["host", "t"]], ["host"],
                              config.auth_chain_s)
    onward &= novel | foreign
    base_sig["onward"] = onward
    # --- causal chains: the source was reached by an anomalous hop shortly before (a few rounds)
    lateral_arrival = (h["lateral"].astype(bool).to_numpy()
                       & (h["strength"].to_numpy(dtype=float) >= _LATERAL_ARRIVAL))
    chain = np.zeros(n, dtype=bool)
    for _ in range(3):
        score = combine_signals(base_sig.assign(chain=chain))
        bad = (((score >= config.severity_medium) | novel) & ~sweeper) | lateral_arrival
        if not bad.any():
            break
        arr = f.loc[bad, ["dst", "acct", "t"]].rename(columns={"dst": "host"})
        new = _seen_before(carried, arr, ["host", "acct"], config.auth_chain_s)
        new |= sessionless & _seen_before(carried[["host", "t"]], arr[["host", "t"]], ["host"],
                                      config.auth_chain_s)
        new &= src_old
        if np.array_equal(new, chain):
            break
        chain = new
    base_sig["chain"] = chain
    out = base_sig[list(SIGNALS)]
    out.index = h.index
    return out.reindex(hops.index)


def combine_signals(sig: pd.DataFrame) -> np.ndarray:
    """``1 - prod(1 - weight * signal)`` over :data:`SIGNALS` (missing columns count 0)."""
    keep = np.ones(len(sig))
    for name, w in SIGNALS.items():
        if name in sig:
            keep = keep * (1.0 - w * sig[name].to_numpy(dtype=float))
    return 1.0 - keep


def logged_destinations(hops: pd.DataFrame) -> np.ndarray:
    """Per hop: whether its destination logs more than authentication, i.e. some hop into the same
    destination (in the same environment, when the frame has one) carries a target-side rule of a
    :data:`RICH_KINDS` kind (share, pipe, file, service or process events logged by that host)."""
    from graph.rules import RULES

    rich_rules = {r.id for r in RULES.values() if r.side == "target" and str(r.kind) in RICH_KINDS}
    rich = hops["rules"].map(lambda rs: any(r in rich_rules for r in rs)).to_numpy(dtype=bool)
    env = (hops["environment"].astype("string") if "environment" in hops
           else pd.Series("0", index=hops.index, dtype="string"))
    key = env.fillna("") + "|" + hops["dst_host"].astype("string").str.upper()
    return key.isin(set(key[rich].dropna())).fillna(False).to_numpy(dtype=bool)


def features(hops: pd.DataFrame, config: AnalysisConfig, present: pd.DataFrame | None = None) -> pd.DataFrame:
    """``auth`` (the combined score, in [0, 1]) and ``auth_signals`` (names of the signals that are 1,
    in :data:`SIGNALS` order, then :data:`LOGGED_MARK` when the cap applied) per hop; only
    authentication-only hops are scored (others get 0, ()). Hops to a destination that logs more
    than authentication (:func:`logged_destinations`) are capped at ``auth_logged_cap``."""
    out = pd.DataFrame({"auth": np.zeros(len(hops)), "auth_signals": [()] * len(hops)}, index=hops.index)
    if hops.empty:
        return out
    sig = signals(hops, config, present)
    only_auth = auth_only(hops)
    score = np.where(only_auth, combine_signals(sig), 0.0)
    logged = logged_destinations(hops) & only_auth & (score > 0)
    score = np.where(logged, np.minimum(score, config.auth_logged_cap), score)
    names = np.array(list(SIGNALS), dtype=object)
    vals = sig[list(SIGNALS)].to_numpy(dtype=bool) & only_auth[:, None]
    out["auth"] = score
    out["auth_signals"] = [tuple(names[row]) + ((LOGGED_MARK,) if cap else ())
                           for row, cap in zip(vals, logged, strict=True)]
    return out


def score(hops: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """Authentication-graph anomaly of each hop, in [0, 1] (the ``auth`` column of :func:`features`).

    **0** = not an authentication-only hop, or a logon in line with its source's, destination's and
    account's own history (or with no history to judge by); **1** is approached when every signal
    of the module docstring is present (a first contact, with a credential foreign to the source,
    right after an anomalous logon reached that source, in a burst).
    """
    return features(hops, config)["auth"].rename("auth")


def auth_only(hops: pd.DataFrame) -> np.ndarray:
    """Hops whose every rule is an authentication rule (:data:`AUTH_RULES`) and that have a source."""
    rules = hops["rules"].map(lambda rs: bool(rs) and all(r in AUTH_RULES for r in rs)).to_numpy(dtype=bool)
    has_src = (hops["src_host"].notna() | hops["src_ip"].notna()).to_numpy(dtype=bool)
    return rules & has_src & ~hops["lateral"].astype(bool).to_numpy()


def lift(hops: pd.DataFrame, scores: np.ndarray, config: AnalysisConfig) -> np.ndarray:
    """The hop stage's hook: authentication-only hops take ``max(score, auth)``, capped.

    Rule (documented in docs/analysis.md): an authentication-only hop may reach **high** (up to
    ``auth_high_cap``) only when a causal signal (``switch`` or ``chain``) and a first-seen signal
    (``new_pair`` or ``new_access``) are both present; otherwise it stays below high
    (``auth_medium_cap``). The 0.55 cap on non-lateral hops still bounds their rule-based score.
    Hops without the ``auth`` column (older frames) are unchanged.
    """
    if "auth" not in hops or hops.empty:
        return scores
    a = hops["auth"].to_numpy(dtype=float)
    sig = hops["auth_signals"]
    causal = sig.map(lambda t: "switch" in t or "chain" in t).to_numpy(dtype=bool)
    novel = sig.map(lambda t: "new_pair" in t or "new_access" in t).to_numpy(dtype=bool)
    cap = np.where(causal & novel, config.auth_high_cap, config.auth_medium_cap)
    return np.maximum(scores, np.minimum(a, cap))
