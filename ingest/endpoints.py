"""Network direction of normalised records: which end of an event is the source, which the destination.

:func:`_place_endpoints` puts the remote end of each row into ``src_*`` or ``dst_*`` by its event id's
direction (:data:`ingest.winevents.DIRECTION`): target-side logons and share access, source-side
explicit credentials, DC authentication (:func:`_brokered`) and Sysmon 3 connections, whose direction
is in the record (:func:`_sysmon3`). Called by :func:`ingest.records.normalize_batch` on the columns
it has built; loopback is local.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ingest import winevents as we
from ingest.fields import field_values, map_field, nones, take_rows
from ingest.normalize import is_loopback, map_values, normalize_host, normalize_ip, parse_port, spn_host

_TRUE = frozenset({"true", "1", "yes"})


def _place_endpoints(out: dict[str, Any], eid: np.ndarray, sel: dict[int, np.ndarray],
                     picked: dict[str, np.ndarray], recs: Sequence[Any], *, lanl: np.ndarray) -> None:
    """Put the remote end into src_* or dst_* by the event's direction; loopback is local.

    ``lanl``: rows from LANL ``auth.txt``, whose source computer is explicit for every logon type
    (the RemoteInteractive ``WorkstationName`` caveat is about Windows' own logging)."""
    n = len(eid)
    host = out["host"]
    r_host, r_ip, r_port = (picked.get(c, nones(n)) for c in ("remote_host", "remote_ip", "remote_port"))
    loop = map_values(r_ip, is_loopback).astype(bool)
    has_ip = ~np.equal(r_ip, None)
    lt = out["logon_type"]
    untrusted = map_values(lt, lambda v: v in we.UNTRUSTED_WORKSTATION_LOGON_TYPES).astype(bool) & ~lanl
    ws = np.where(untrusted, None, r_host)
    ws = np.where((ws == host) & has_ip & ~loop, None, ws)   # own name with a real remote IP: not the client
    for i, mask in sel.items():
        direction = we.DIRECTION.get(i, we.LOCAL)
        if direction == we.TARGET:
            out["dst_host"][mask] = host[mask]
            out["src_ip"][mask] = r_ip[mask]
            out["src_port"][mask] = r_port[mask]
            out["src_host"][mask] = ws[mask]
            if "remote_ip" in we.FIELD_PICKS.get(i, {}):
                local = mask & (loop | (~has_ip & np.equal(ws, None)))
                out["src_host"][local] = host[local]
        elif direction == we.SOURCE:
            out["src_host"][mask] = host[mask]
            out["dst_host"][mask] = np.where(np.equal(r_host, None) & loop, host, r_host)[mask]
            out["dst_ip"][mask] = r_ip[mask]
            out["dst_port"][mask] = r_port[mask]
        elif direction == we.BY_INITIATED:
            _sysmon3(out, np.flatnonzero(mask), recs)
        elif direction == we.BROKERED:
            _brokered(out, i, np.flatnonzero(mask), r_host, r_ip, r_port, loop, recs)


def _brokered(out: dict[str, Any], event_id: int, rows: np.ndarray, r_host: np.ndarray, r_ip: np.ndarray,
              r_port: np.ndarray, loop: np.ndarray, recs: Sequence[Any]) -> None:
    """DC authentication (4768/4769/4776): the client is the source, 4769's service host the
    destination; a machine account's own ticket names its machine (``PC01$`` -> ``PC01``), which
    also gives the IP -> host hint that names the users' clients in DC-only logs."""
    host = out["host"][rows]
    ip = r_ip[rows]
    ws = r_host[rows]
    acct = out["account"][rows]
    machine = map_values(acct, lambda a: normalize_host(a) if isinstance(a, str) and a.endswith("$")
                         else None)
    src = np.where(np.equal(ws, None), machine, ws)
    src = np.where(loop[rows], host, src)       # ::1 / 127.0.0.1: the DC itself
    out["src_ip"][rows] = np.where(loop[rows], None, ip)
    out["src_port"][rows] = np.where(loop[rows], None, r_port[rows])   # the client's port
    out["src_host"][rows] = src
    out["dst_port"][rows] = None
    if event_id == 4769:
        service = we.FIELD_PICKS[4769]["service_name"]
        out["dst_host"][rows] = map_field(take_rows(recs, rows), service, spn_host)


def _sysmon3(out: dict[str, Any], rows: np.ndarray, recs: Sequence[Any]) -> None:
    """Sysmon 3: ``Initiated`` says the direction; for inbound connections older Sysmon schemas log
    the *local* listener as Source (SourceHostname = this host or SourcePort = 445 with an
    ephemeral DestinationPort), newer ones the remote client: the local end is detected, not assumed.
    Works on the Sysmon 3 ``rows`` only."""
    sub = take_rows(recs, rows)
    f = {k: field_values(sub, v) for k, v in we.SYSMON3_FIELDS.items()}
    host = out["host"][rows]
    inbound = ~map_values(f["initiated"], lambda v: str(v).strip().lower() in _TRUE).astype(bool)
    outbound = ~inbound
    src_ip, dst_ip = map_values(f["src_ip"], normalize_ip), map_values(f["dst_ip"], normalize_ip)
    src_host, dst_host = map_values(f["src_host"], normalize_host), map_values(f["dst_host"], normalize_host)
    src_port, dst_port = map_values(f["src_port"], parse_port), map_values(f["dst_port"], parse_port)
    server = list(we.SERVER_PORTS)
    src_is_local = ((src_host == host) & (dst_host != host)) | (
        np.isin(src_port, server) & ~np.isin(dst_port, server))
    swap = inbound & src_is_local
    r_ip = np.where(inbound & ~swap, src_ip, dst_ip)
    r_host = np.where(inbound & ~swap, src_host, dst_host)
    l_ip = np.where(inbound & ~swap, dst_ip, src_ip)
    port = np.where(swap, src_port, dst_port)        # the server port in every case
    client_port = np.where(swap, dst_port, src_port)  # the client's (outbound: this host's own)
    r_loop = map_values(r_ip, is_loopback).astype(bool) | ((r_ip == l_ip) & ~np.equal(r_ip, None))
    r_host = np.where(r_loop, host, r_host)
    out["dst_port"][rows] = port
    out["src_port"][rows] = client_port
    o, i = rows[outbound], rows[inbound]
    out["src_host"][o] = host[outbound]
    out["src_ip"][o] = l_ip[outbound]
    out["dst_ip"][o] = r_ip[outbound]
    out["dst_host"][o] = r_host[outbound]
    out["dst_host"][i] = host[inbound]
    out["dst_ip"][i] = l_ip[inbound]
    out["src_ip"][i] = r_ip[inbound]
    out["src_host"][i] = r_host[inbound]
