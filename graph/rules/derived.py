"""Derived per-event columns that rule conditions may read besides the canonical event columns.

A derived column is a count over *other* events (a cross-event feature) that is still a property of
one event, so a rule can test it like any column. Each one is defined here once, computed by
:func:`derive` (the Spark engine runs the same code in its tasks, on whole hosts:
:func:`graph.spark.rules.tag_rows`), with this definition:

``service_burst``
    For a service-creation event (7045, 4697, or a Sysmon/MDE registry value on a service
    ``ImagePath``, i.e. event 13 with ``service_name``): the number of service-creation events
    on the same ``host`` whose time is within :data:`SERVICE_BURST_WINDOW_S` either side of it
    (itself included). 0 for every other event. Hundreds of installs in minutes is how payloads
    are smuggled through service names; an installer registers a handful.

``client_days``
    For an outbound connection logged by its source (event 3: Sysmon 3 or a Defender network row,
    ``src_host`` equal to ``host``, case-insensitive) to an SMB, RPC or WinRM port
    (:data:`CLIENT_PORT_CLASSES`): the number of distinct UTC days on which the same ``host``'s
    same process image (lower-cased, missing = "") opened an outbound connection to a port of the
    same class, within the stretch of such connections the event belongs to (itself included):
    the (host, image, class) connections split wherever none happened for more than
    :data:`CLIENT_SEGMENT_GAP_S` (7 days, the default ``environment_gap_s``), so data loaded
    beside a case a month later never changes it (graph.scoring.environment). 0 for every other
    event. It is the host's
    own baseline of which processes talk SMB/RPC/WinRM: an agent that does it every day is that
    host's routine; a process that does it on one day only is new there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SERVICE_BURST = "service_burst"
#: Half-width of the burst window, seconds.
SERVICE_BURST_WINDOW_S = 300
#: Installs within the window (the event itself included) from which a rule calls it a burst.
SERVICE_BURST_MIN = 20
#: Event ids that always record a service creation (13 only when ingest named a service).
SERVICE_EVENT_IDS = (7045, 4697)

CLIENT_DAYS = "client_days"
#: Port classes of ``client_days``: SMB (445, and NetBIOS session 139), the RPC endpoint mapper
#: (135) and WinRM (5985/5986).
CLIENT_PORT_CLASSES: dict[str, tuple[int, ...]] = {"smb": (445, 139), "rpc": (135,), "winrm": (5985, 5986)}
#: From this many distinct days on, a (host, image, port class) is the host's routine.
CLIENT_ROUTINE_DAYS = 2
DAY_NS = 86_400 * 1_000_000_000
#: Gap that splits a (host, image, port class)'s connections into separate stretches (seconds).
CLIENT_SEGMENT_GAP_S = 7 * 86_400

#: Every derived column (name -> the event columns it reads).
DERIVED: dict[str, tuple[str, ...]] = {SERVICE_BURST: ("event_id", "host", "ts", "service_name"),
                                       CLIENT_DAYS: ("event_id", "host", "src_host", "dst_port", "process",
                                                     "ts")}


def is_service_event(events: pd.DataFrame) -> np.ndarray:
    """Which events record a service creation (see the module docstring)."""
    eid = events["event_id"]
    return (eid.isin(list(SERVICE_EVENT_IDS)) | (eid.eq(13) & events["service_name"].notna())).to_numpy(bool)


def service_burst(events: pd.DataFrame) -> np.ndarray:
    """The ``service_burst`` count per event (int64, 0 for non-service events)."""
    out = np.zeros(len(events), dtype=np.int64)
    svc = np.flatnonzero(is_service_event(events))
    if not len(svc):
        return out
    sub = events.iloc[svc]
    ts = pd.DatetimeIndex(sub["ts"]).as_unit("ns").asi8
    hosts = sub["host"].astype("string").fillna("").to_numpy(dtype=object)
    width = SERVICE_BURST_WINDOW_S * 1_000_000_000
    codes, _ = pd.factorize(hosts)
    order = np.lexsort((ts, codes))
    c, t = codes[order], ts[order]
    bounds = np.r_[0, np.flatnonzero(c[1:] != c[:-1]) + 1, len(c)]
    counts = np.empty(len(order), dtype=np.int64)
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        g = t[a:b]
        counts[a:b] = np.searchsorted(g, g + width, "right") - np.searchsorted(g, g - width, "left")
    out[svc[order]] = counts
    return out


def port_class(dst_port: pd.Series) -> pd.Series:
    """The :data:`CLIENT_PORT_CLASSES` class of each port ("smb", "rpc", "winrm"), missing otherwise."""
    port = pd.to_numeric(dst_port, errors="coerce")
    out = pd.Series(pd.NA, index=dst_port.index, dtype="string")
    for name, ports in CLIENT_PORT_CLASSES.items():
        out[port.isin(list(ports)).fillna(False).to_numpy(dtype=bool)] = name
    return out


def client_days(events: pd.DataFrame) -> np.ndarray:
    """The ``client_days`` count per event (int64, 0 for the events it does not describe)."""
    out = np.zeros(len(events), dtype=np.int64)
    eid = events["event_id"]
    cand = np.flatnonzero(eid.eq(3).fillna(False).to_numpy(dtype=bool))
    if not len(cand):
        return out
    sub = events.iloc[cand]
    cls = port_class(sub["dst_port"])
    host = sub["host"].astype("string").str.lower()
    outbound = (sub["src_host"].astype("string").str.lower() == host).fillna(False).to_numpy(dtype=bool)
    keep = outbound & cls.notna().to_numpy(dtype=bool)
    if not keep.any():
        return out
    sub, cls, host = sub[keep], cls[keep], host[keep]
    image = sub["process"].astype("string").str.lower().fillna("")
    ts = pd.DatetimeIndex(sub["ts"]).as_unit("ns").asi8
    key = pd.DataFrame({"h": host.to_numpy(dtype=object), "p": image.to_numpy(dtype=object),
                        "c": cls.to_numpy(dtype=object), "t": ts, "d": ts // DAY_NS,
                        "i": np.arange(len(ts))})
    key = key.sort_values(["h", "p", "c", "t"], kind="stable")
    same = (key[["h", "p", "c"]] == key[["h", "p", "c"]].shift()).all(axis=1).to_numpy()
    near = np.r_[False, np.diff(key["t"].to_numpy()) <= CLIENT_SEGMENT_GAP_S * 1_000_000_000]
    key["s"] = np.cumsum(~(same & near))
    days = key.groupby("s", sort=False)["d"].transform("nunique").to_numpy(dtype=np.int64)
    out[cand[keep][key["i"].to_numpy()]] = days
    return out


def derive(events: pd.DataFrame, name: str) -> pd.Series:
    """The derived column ``name`` for ``events`` (aligned to its index).

    Raises:
        KeyError: ``name`` is not a derived column.
    """
    if name == SERVICE_BURST:
        return pd.Series(service_burst(events), index=events.index, dtype="int64", name=name)
    if name == CLIENT_DAYS:
        return pd.Series(client_days(events), index=events.index, dtype="int64", name=name)
    raise KeyError(name)
