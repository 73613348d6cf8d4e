"""Users' own sessions on hosts (the presence frame) for the authentication signals of
:mod:`graph.scoring.auth`: where each account had a session, or had its credential used from a host by
NTLM, first per hour. The Spark engine mirrors :func:`presence` (``graph.spark.casewide.presence``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
