"""Derived per-event columns that rule conditions may read besides the canonical event columns.

A derived column is a count over *other* events (a cross-event feature) that is still a property of
one event, so a rule can test it like any column. Each one is defined here once, computed by
:func:`derive` for the pandas engine and by :func:`graph.spark.rules.with_derived` (a window
function) for Spark, with the same definition:

``service_burst``
    For a service-creation event (7045, 4697, or a Sysmon/MDE registry value on a service
    ``ImagePath``, i.e. event 13 with ``service_name``): the number of service-creation events
    on the same ``host`` whose time is within :data:`SERVICE_BURST_WINDOW_S` either side of it
    (itself included). 0 for every other event. Hundreds of installs in minutes is how payloads
    are smuggled through service names; an installer registers a handful.
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

#: Every derived column (name -> the event columns it reads).
DERIVED: dict[str, tuple[str, ...]] = {SERVICE_BURST: ("event_id", "host", "ts", "service_name")}


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


def derive(events: pd.DataFrame, name: str) -> pd.Series:
    """The derived column ``name`` for ``events`` (aligned to its index).

    Raises:
        KeyError: ``name`` is not a derived column.
    """
    if name == SERVICE_BURST:
        return pd.Series(service_burst(events), index=events.index, dtype="int64", name=name)
    raise KeyError(name)
