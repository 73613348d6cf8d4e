"""IP -> host name resolution from evidence inside the data, time-aware (DHCP moves addresses).

Many target-side events name the client only by address (5140/5145 ``IpAddress``, Kerberos 4624
without ``WorkstationName``). Other events in the same case tie an address to a host *at a time*:

* 4624 (successful) with both ``IpAddress`` and a ``WorkstationName`` (the client's NetBIOS name);
* Sysmon 3 / MDE network events: the logging host owns its local address (outbound ``SourceIp``,
  inbound ``DestinationIp``), and an outbound ``DestinationHostname`` names the remote address;
* 4648 with ``TargetServerName`` and a network address.

For every row with an address but no name, :func:`resolve_ips` takes the evidence for that address
nearest in time (``pandas.merge_asof`` by address, within ``tolerance``) and fills the name.
Nothing is invented: without evidence the name stays missing; loopback is never resolved (it is
already local). 4625 is not used as evidence: failed logons carry attacker-chosen workstation names
(random per attempt in SMB password guessing).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ingest.normalize import is_loopback, map_unique

#: How far in time evidence may be from the event it names (DHCP leases are typically hours-days).
DEFAULT_TOLERANCE = pd.Timedelta(hours=24)


def _pairs(frame: pd.DataFrame, rows: pd.Series, ip: str, host: str) -> pd.DataFrame:
    """``(ts, ip, name)`` of the selected rows, as ``string`` columns (converted to Python objects
    only once, after the missing and duplicate pairs are gone)."""
    at = np.flatnonzero((rows & frame[ip].notna()).to_numpy())   # rows without an address: dropped anyway
    return pd.DataFrame({"ts": frame["ts"].array[at], "ip": frame[ip].astype("string").array[at],
                         "name": frame[host].astype("string").array[at]})


def ip_evidence(frame: pd.DataFrame) -> pd.DataFrame:
    """``(ts, ip, name)`` rows tying an address to a host name at a time, from ``frame`` itself."""
    eid = frame["event_id"]
    network = eid == 3
    if network.any():   # host-name comparisons only where there are network events
        outbound = network & (frame["src_host"] == frame["host"]).fillna(False)
        inbound = network & (frame["dst_host"] == frame["host"]).fillna(False) & ~outbound
    else:
        outbound = inbound = network
    parts = [
        # 4624 with a client workstation name (not the host itself, which the normaliser already dropped)
        _pairs(frame, eid == 4624, "src_ip", "src_host"),
        _pairs(frame, outbound, "src_ip", "host"),
        _pairs(frame, outbound, "dst_ip", "dst_host"),
        _pairs(frame, inbound, "dst_ip", "host"),
        _pairs(frame, eid == 4648, "dst_ip", "dst_host"),
    ]
    ev = pd.concat(parts, ignore_index=True).dropna()
    if ev.empty:
        return ev.astype({"ip": object, "name": object})
    ev = ev.drop_duplicates()   # before the loopback test: the same pairs, far fewer rows to test
    ev = ev[~map_unique(ev["ip"], is_loopback).astype(bool).to_numpy()]
    ev = ev.sort_values("ts", kind="stable").reset_index(drop=True)
    return ev.astype({"ip": object, "name": object})


def _fill(frame: pd.DataFrame, evidence: pd.DataFrame, ip_col: str, host_col: str,
          tolerance: pd.Timedelta | None) -> None:
    need = frame[host_col].isna() & frame[ip_col].notna()
    if not need.any():
        return
    at = np.flatnonzero(need.to_numpy())
    ips = pd.Series(frame[ip_col].astype("string").array[at])
    known = pd.unique(evidence["ip"]).tolist()
    at = at[ips.isin(known).to_numpy(dtype=bool)]   # only addresses with evidence go on
    if not len(at):
        return
    query = pd.DataFrame({"ts": frame["ts"].array[at],
                          "ip": pd.Series(frame[ip_col].array[at].to_numpy(dtype=object, na_value=None),
                                          dtype=object),
                          "row": frame.index[at]})
    query = query[~map_unique(query["ip"], is_loopback).astype(bool).to_numpy()]
    if query.empty:
        return
    hit = pd.merge_asof(query.sort_values("ts", kind="stable"), evidence, on="ts", by="ip",
                        direction="nearest", tolerance=tolerance)
    hit = hit.dropna(subset=["name"])
    frame.loc[hit["row"].to_numpy(), host_col] = hit["name"].to_numpy()


def resolve_ips(frame: pd.DataFrame, *, tolerance: pd.Timedelta | None = DEFAULT_TOLERANCE) -> pd.DataFrame:
    """Fill missing ``src_host``/``dst_host`` from IP-to-host evidence in ``frame`` (see module doc).

    Args:
        frame: a canonical events frame.
        tolerance: the largest time distance between an event and the evidence naming its address
            (``None`` = any distance).

    Returns:
        A new frame; only missing host names are filled, nothing else changes.
    """
    return resolve_with(frame, ip_evidence(frame), tolerance=tolerance)


def merge_evidence(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One evidence table from the :func:`ip_evidence` of several batches of the same case.

    Evidence is row-wise, so the union over batches equals the evidence of the whole case.
    """
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame({"ts": pd.Series([], dtype="datetime64[ns, UTC]"), "ip": [], "name": []})
    ev = pd.concat(parts, ignore_index=True).astype({"ip": object, "name": object})
    return ev.drop_duplicates().sort_values("ts", kind="stable").reset_index(drop=True)


def resolve_with(frame: pd.DataFrame, evidence: pd.DataFrame, *,
                 tolerance: pd.Timedelta | None = DEFAULT_TOLERANCE) -> pd.DataFrame:
    """:func:`resolve_ips` with evidence given (e.g. collected over a whole case, batch by batch).

    Returns:
        A new frame; only missing host names are filled, nothing else changes.
    """
    out = frame.copy()
    if evidence.empty or out.empty:
        return out
    evidence = evidence.astype({"ip": object, "name": object})
    evidence["ts"] = evidence["ts"].astype(out["ts"].dtype)
    _fill(out, evidence, "src_ip", "src_host", tolerance)
    _fill(out, evidence, "dst_ip", "dst_host", tolerance)
    return out
