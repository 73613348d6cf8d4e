"""Raw Windows-field records -> one canonical frame per batch, vectorised with numpy.

A batch is a list of flat records (see :mod:`ingest.winevents`): dicts, or objects whose attributes
are the Windows field names (the EVTX reader's msgspec structs; missing attribute = ``None``), all of
one kind; or a columnar batch (anything with ``column(name)`` and ``take(rows)``, see
:class:`ingest.batching.ColumnBatch`). A batch may span many source files (:class:`Segment`:
consecutive records of one file), so small files share one normalisation instead of paying it each.
Each needed field is pulled into one object array, the scalar normalisers of :mod:`ingest.normalize`
run once per distinct value (:func:`~ingest.normalize.map_values`), the per-event-id picks and the
network direction are numpy mask assignments, and the frame is built once with the canonical dtypes.
No per-row pandas work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ingest import winevents as we
from ingest.normalize import (
    account_domain_of,
    int_values,
    is_loopback,
    map_values,
    normalize_account,
    normalize_domain,
    normalize_host,
    normalize_ip,
    normalize_logon_id,
    normalize_logon_type,
    normalize_share,
    normalize_text,
    parse_event_id,
    parse_key_length,
    parse_mask,
    parse_port,
    parse_record_id,
    parse_timestamps,
)
from ingest.report import SKIP_EVENT_ID, SKIP_NO_EVENT_ID, SKIP_NO_TIME, FileReport
from ingest.schema import COLUMNS, DTYPES, empty_frame

_COLUMN_NORMALISERS: dict[str, Callable[[Any], Any]] = {
    "account": normalize_account, "subject_account": normalize_account,
    "account_domain": normalize_domain, "logon_id": normalize_logon_id,
    "logon_type": normalize_logon_type, "key_length": parse_key_length, "access_mask": parse_mask,
    "share_name": normalize_share, "remote_ip": normalize_ip, "remote_host": normalize_host,
    "remote_port": parse_port,
}
#: Text columns nothing reads after normalisation: mapped straight to Arrow (:func:`_map_to_arrow`).
_ARROW_OUT = frozenset({"logon_id", "auth_package", "logon_process", "status", "share_name", "target_name",
                        "service_name", "service_image", "process", "command_line", "parent_process"})
#: Columns read by the endpoint and 4688 logic even when no event id of the batch fills them.
_READ_LATER = frozenset({"account", "subject_account", "logon_type"})
_TRUE = frozenset({"true", "1", "yes"})
#: pandas' "string" dtype is Arrow-backed here (pandas >= 3 with pyarrow): build the arrays directly.
_ARROW_STRINGS = pd.StringDtype().storage == "pyarrow" and hasattr(pd.arrays, "ArrowStringArray")


@dataclass(frozen=True)
class Segment:
    """``count`` consecutive records of a batch that come from one source (provenance + report)."""

    count: int
    source_file: str
    source_format: str
    report: FileReport


def _field(records: Sequence[Any], name: str) -> np.ndarray:
    """``[r.get(name) for r in records]`` as an object array, iterated in C (map + dict.get, or
    getattr with a ``None`` default for attribute records); a columnar batch
    (:class:`ingest.batching.ColumnBatch`) gives its column."""
    column = getattr(records, "column", None)
    if column is not None:
        return column(name)
    if records and not isinstance(records[0], dict):
        values = map(getattr, records, repeat(name), repeat(None))
    else:
        values = map(dict.get, records, repeat(name))
    return np.fromiter(values, dtype=object, count=len(records))


def _take(records: Sequence[Any], rows: np.ndarray) -> Sequence[Any]:
    """The records at ``rows`` (a list, or a view of a columnar batch)."""
    take = getattr(records, "take", None)
    return take(rows) if take is not None else [records[i] for i in rows]


def _none(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def normalize_records(records: Sequence[Any], *, source_file: str, source_format: str,
                      report: FileReport, event_ids: frozenset[int] | None = None) -> pd.DataFrame:
    """Turn raw Windows-field records into a canonical events frame; count every dropped record.

    Args:
        records: flat dicts with :data:`ingest.winevents.SYSTEM_FIELDS` plus EventData field names
            (or attribute records with those names).
        source_file: provenance written to every row.
        source_format: key in ``FORMATS`` written to every row.
        report: receives skip counts (no event id, no timestamp, event id/channel not kept).
        event_ids: ids to keep (``None`` = :data:`ingest.winevents.KEPT_EVENT_IDS`).

    Returns:
        A validated canonical frame (possibly empty).
    """
    segment = Segment(len(records), source_file, source_format, report)
    return normalize_batch(records, [segment], event_ids=event_ids)[0]


def normalize_batch(records: Sequence[Any], segments: Sequence[Segment], *,
                    event_ids: frozenset[int] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`normalize_records` over records of several sources at once.

    Args:
        records: the records of every segment, in segment order (one kind: dicts or attribute records).
        segments: consecutive runs of ``records``; their counts must add up to ``len(records)``.
            Each row gets its segment's ``source_file``/``source_format``; skips are counted in its report.
        event_ids: ids to keep (``None`` = :data:`ingest.winevents.KEPT_EVENT_IDS`).

    Returns:
        ``(frame, segment_of_row)``: the canonical frame and, per row, the index of its segment.
    """
    counts = np.fromiter((s.count for s in segments), dtype=np.int64, count=len(segments))
    if int(counts.sum()) != len(records):
        raise ValueError(f"segments cover {int(counts.sum())} records, the batch has {len(records)}")
    if not records:
        return empty_frame(), np.zeros(0, dtype=np.int64)
    seg = np.repeat(np.arange(len(segments)), counts)
    keep_ids = we.KEPT_EVENT_IDS if event_ids is None else event_ids
    rec_id = int_values(_field(records, "EventRecordID"), parse_record_id, 0, 2**63 - 1)
    eid_obj = int_values(_field(records, "EventID"), parse_event_id, 0, 65535)
    bad_id = np.equal(eid_obj, None)
    _skip(segments, seg, bad_id, SKIP_NO_EVENT_ID, rec_id)
    eid = np.where(bad_id, -1, eid_obj).astype(np.int64)
    channel = map_values(_field(records, "Channel"), _canonical_channel)
    chan_code, chan_names = pd.factorize(channel)
    allowed = np.zeros(len(records), dtype=bool)
    for i in np.unique(eid[~bad_id]):
        if int(i) in keep_ids:
            sel = eid == i
            chans = we.EVENT_CHANNELS.get(int(i))
            if chans:
                ok = np.fromiter((c in chans for c in chan_names), dtype=bool, count=len(chan_names))
                sel &= ok[chan_code]
            allowed |= sel
    _skip(segments, seg, ~bad_id & ~allowed, SKIP_EVENT_ID, rec_id)
    idx = np.flatnonzero(allowed)
    if not len(idx):
        return empty_frame(), np.zeros(0, dtype=np.int64)
    kept = _take(records, idx) if len(idx) < len(records) else records
    ts = _timestamps(kept)
    no_ts = ts.isna().to_numpy()
    _skip(segments, seg, _scatter(no_ts, idx, len(records)), SKIP_NO_TIME, rec_id)
    if no_ts.all():
        return empty_frame(), np.zeros(0, dtype=np.int64)
    if no_ts.any():
        keep = ~no_ts
        idx, kept, ts = idx[keep], _take(kept, np.flatnonzero(keep)), ts[keep]
    frame = _build(kept, eid[idx], _categorical(chan_code[idx], chan_names), rec_id[idx],
                   ts.reset_index(drop=True), segments, seg[idx])
    return frame, seg[idx]


def _timestamps(records: Sequence[Any]) -> pd.Series:
    """``parse_timestamps`` of the records' ``TimeCreated``; rows whose time the native EVTX reader
    already gave as nanoseconds (:meth:`ingest.batching.ColumnBatch.timestamps`) are not parsed."""
    native = getattr(records, "timestamps", None)
    got = native() if native is not None else None
    if got is None or not got[1].any():
        return parse_timestamps(_field(records, "TimeCreated"))
    ns, ok = got
    if not ok.all():
        text = parse_timestamps(_field(records, "TimeCreated")[~ok])
        ns = ns.copy()
        ns[~ok] = text.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64("NaT")).view(np.int64)
    return pd.Series(pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC"))


def _categorical(codes: np.ndarray, names: Any) -> pd.Categorical:
    """``pd.Categorical(names[codes])`` (sorted categories, only those used) from factorize codes."""
    used = np.unique(codes)
    labels = [str(names[u]) for u in used]
    order = sorted(range(len(used)), key=labels.__getitem__)
    remap = np.zeros(len(names), dtype=np.int32)
    remap[used[order]] = np.arange(len(used), dtype=np.int32)
    return pd.Categorical.from_codes(remap[codes], categories=[labels[k] for k in order])


def _canonical_channel(value: Any) -> str:
    text = normalize_text(value)
    return we.CHANNELS.get(text.lower(), text) if text else ""


def _scatter(mask: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    full = np.zeros(n, dtype=bool)
    full[idx[mask]] = True
    return full


def _skip(segments: Sequence[Segment], seg: np.ndarray, mask: np.ndarray, reason: str,
          rec_ids: np.ndarray) -> None:
    """Count the masked records as skipped in their own file's report (examples name file and record)."""
    if not mask.any():
        return
    per_segment = np.bincount(seg[mask], minlength=len(segments))
    for s in np.flatnonzero(per_segment):
        segment = segments[s]
        segment.report.skipped[reason] += int(per_segment[s])
        if reason != SKIP_EVENT_ID:
            for rid in rec_ids[mask & (seg == s)][:5]:
                segment.report.problem(f"{segment.source_file}, record {rid}: {reason}")


def _provenance(segments: Sequence[Segment], seg: np.ndarray) -> tuple[Any, pd.Categorical]:
    """``source_file`` values and the ``source_format`` categorical of rows from ``seg``."""
    files = [s.source_file for s in segments]
    if _ARROW_STRINGS:
        source_file: Any = pd.arrays.ArrowStringArray(
            pa.array(files, type=pa.large_string()).take(pa.array(seg)))
    else:
        source_file = np.array(files, dtype=object)[seg]
    formats = sorted({s.source_format for s in segments})
    codes = np.array([formats.index(s.source_format) for s in segments], dtype=np.int8)[seg]
    return source_file, pd.Categorical.from_codes(codes, categories=formats)


def _build(recs: Sequence[Any], eid: np.ndarray, channel: pd.Categorical, rec_id: np.ndarray,
           ts: pd.Series, segments: Sequence[Segment], seg: np.ndarray) -> pd.DataFrame:
    n = len(recs)
    ids = [int(i) for i in np.unique(eid)]
    sel = {i: eid == i for i in ids}
    fields: dict[str, np.ndarray] = {}

    def field(name: str) -> np.ndarray:
        if name not in fields:
            fields[name] = _field(recs, name)
        return fields[name]

    picked: dict[str, Any] = {}
    sources: dict[str, list[tuple[np.ndarray, Sequence[Any], str]]] = {}
    for i in ids:   # each event id reads only its own fields, from its own rows
        rows = np.flatnonzero(sel[i])
        sub = recs if len(rows) == n else _take(recs, rows)
        for col, name in we.FIELD_PICKS.get(i, {}).items():
            sources.setdefault(col, []).append((rows, sub, name))
    coded = getattr(recs, "coded", None) is not None
    for col, srcs in sources.items():   # normalise only the rows an event id filled
        func = _COLUMN_NORMALISERS.get(col, normalize_text)
        arrow = col in _ARROW_OUT and _ARROW_STRINGS
        picked[col] = _normalise_coded(srcs, n, func, arrow) if coded else _normalise(srcs, n, func, arrow)
    for i in ids:   # "DOMAIN\user" in one field (Sysmon User) when the event has no domain field
        picks = we.FIELD_PICKS.get(i, {})
        if "account" in picks and "account_domain" not in picks:
            dom = map_values(field(picks["account"])[sel[i]], account_domain_of)
            picked.setdefault("account_domain", _none(n))[sel[i]] = dom
    # columns no event id of the batch fills stay None here and become all-null arrays in _to_frame
    out: dict[str, Any] = {c: picked.get(c, _none(n) if c in _READ_LATER else None)
                           for c in COLUMNS if c not in {"ts"}}
    if 4688 in sel:   # no target subject: the process runs as its creator
        fill = sel[4688] & np.equal(out["account"], None)
        out["account"] = out["account"].copy()
        out["account"][fill] = out["subject_account"][fill]
    host = map_values(field("Computer"), normalize_host)
    host[np.equal(host, None)] = ""
    out.update(host=host, src_host=_none(n), src_ip=_none(n), dst_host=_none(n), dst_ip=_none(n),
               dst_port=_none(n))
    _place_endpoints(out, eid, sel, picked, recs)
    out["ts"] = ts
    out["event_id"] = eid.astype(np.int32)
    out["channel"] = channel
    out["record_id"] = rec_id
    out["source_file"], out["source_format"] = _provenance(segments, seg)
    return _to_frame(out)


def _normalise(srcs: list[tuple[np.ndarray, Sequence[Any], str]], n: int, func: Callable[[Any], Any],
               arrow: bool) -> Any:
    """One canonical column: field ``name`` of the ``rows`` of each source, through ``func`` once
    per distinct value (rows no source fills: ``func(None)``); an Arrow string array if ``arrow``
    and ``func`` gives text, else an object array."""
    if len(srcs) == 1 and len(srcs[0][0]) == n:   # one event id in the batch: no scatter
        values, rows = _field(srcs[0][1], srcs[0][2]), srcs[0][0]
    else:
        values = _none(n)
        for rows, sub, name in srcs:
            values[rows] = _field(sub, name)
        rows = np.concatenate([r for r, _, _ in srcs]) if len(srcs) > 1 else srcs[0][0]
    out = _map_to_arrow(values, rows, func) if arrow else None
    if out is not None:
        return out
    if len(rows) == n:
        return map_values(values, func)
    column = np.full(n, func(None), dtype=object)
    column[rows] = map_values(values[rows], func)
    return column


def _normalise_coded(srcs: list[tuple[np.ndarray, Any, str]], n: int, func: Callable[[Any], Any],
                     arrow: bool) -> Any:
    """:func:`_normalise` from a columnar batch's dictionary codes
    (:meth:`ingest.batching.ColumnBatch.coded`): ``func`` runs over each field's distinct values
    and the rows are a take by code; no object array per row, no hashing of row values."""
    codes = np.full(n, -1, dtype=np.int64)
    parts: list[np.ndarray] = []
    base = 0
    for rows, sub, name in srcs:
        c, v = sub.coded(name)
        codes[rows] = c + base
        parts.append(v)
        base += len(v)
    values = np.concatenate(parts) if len(parts) > 1 else parts[0]
    codes[codes < 0] = len(values)
    # JSON lists/objects where a scalar belongs count as missing (as in map_values)
    mapped = [func(None if isinstance(v, (list, dict)) else v) for v in values]
    mapped.append(func(None))
    if arrow:
        try:
            texts = pa.array(mapped, type=pa.large_string())
        except (TypeError, pa.ArrowInvalid, pa.ArrowTypeError):
            texts = None
        if texts is not None:
            return pd.arrays.ArrowStringArray(texts.take(pa.array(codes)))
    return np.fromiter(mapped, dtype=object, count=len(mapped))[codes]


def _map_to_arrow(values: np.ndarray, rows: np.ndarray, func: Callable[[Any], Any]) -> Any:
    """``map_values`` of ``values[rows]`` (the other rows: ``func(None)``) straight into the frame's
    Arrow string array: one ``take`` of the mapped distinct values instead of an object array that
    is converted afterwards. ``None`` (caller takes the general path) if ``func`` gives non-text."""
    n = len(values)
    sub = values if len(rows) == n else values[rows]
    try:
        codes, uniques = pd.factorize(sub, use_na_sentinel=True)
        mapped = pa.array([func(u) for u in uniques] + [func(None)], type=pa.large_string())
    except (TypeError, pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    codes[codes < 0] = len(uniques)
    if len(rows) < n:
        full = np.full(n, len(uniques), dtype=codes.dtype)
        full[rows] = codes
        codes = full
    return pd.arrays.ArrowStringArray(mapped.take(pa.array(codes)))


def _int_array(values: np.ndarray, dtype: str) -> Any:
    """Object array of Python ints (already range-checked by the parsers) and ``None`` -> a masked
    integer array of ``dtype``; the general constructor for anything else."""
    if set(map(type, values)) <= {int, type(None)}:
        missing = np.equal(values, None)
        data = values.copy()
        data[missing] = 0
        try:
            ints = data.astype(dtype.lower())
        except OverflowError:
            ints = None
        if ints is not None:
            return pd.arrays.IntegerArray(ints, missing)
    return pd.array(values, dtype=dtype)


def _to_frame(cols: dict[str, Any]) -> pd.DataFrame:
    """Columns (object arrays of str/int/None) -> a frame with the canonical dtypes."""
    data: dict[str, Any] = {}
    n = len(cols["event_id"])
    for col in COLUMNS:
        dtype, values = DTYPES[col], cols[col]
        if values is None:      # no row has a value
            values = _none(n) if not _ARROW_STRINGS or dtype != "string" else \
                pd.arrays.ArrowStringArray(pa.nulls(n, pa.large_string()))
        if col == "ts":
            data[col] = pd.Series(values).astype(dtype).array
        elif col in {"channel", "source_format"} or dtype == "int32" or not isinstance(values, np.ndarray):
            data[col] = values
        elif dtype == "string" and _ARROW_STRINGS:
            # straight to Arrow: the same dtype as pd.array(values, "string"), about half the cost
            data[col] = pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string(), from_pandas=True))
        elif dtype in {"Int8", "Int16", "Int32", "Int64"}:
            data[col] = _int_array(values, dtype)
        else:
            data[col] = pd.array(values, dtype=dtype)
    # dtypes are canonical by construction (checked by the tests and again by load_events)
    return pd.DataFrame(data, columns=list(COLUMNS))


def _place_endpoints(out: dict[str, Any], eid: np.ndarray, sel: dict[int, np.ndarray],
                     picked: dict[str, np.ndarray], recs: Sequence[Any]) -> None:
    """Put the remote end into src_* or dst_* by the event's direction; loopback is local."""
    n = len(eid)
    host = out["host"]
    r_host, r_ip, r_port = (picked.get(c, _none(n)) for c in ("remote_host", "remote_ip", "remote_port"))
    loop = map_values(r_ip, is_loopback).astype(bool)
    has_ip = ~np.equal(r_ip, None)
    lt = out["logon_type"]
    untrusted = map_values(lt, lambda v: v in we.UNTRUSTED_WORKSTATION_LOGON_TYPES).astype(bool)
    ws = np.where(untrusted, None, r_host)
    ws = np.where((ws == host) & has_ip & ~loop, None, ws)   # own name with a real remote IP: not the client
    for i, mask in sel.items():
        direction = we.DIRECTION.get(i, we.LOCAL)
        if direction == we.TARGET:
            out["dst_host"][mask] = host[mask]
            out["src_ip"][mask] = r_ip[mask]
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


def _sysmon3(out: dict[str, Any], rows: np.ndarray, recs: Sequence[Any]) -> None:
    """Sysmon 3: ``Initiated`` says the direction; for inbound connections older Sysmon schemas log
    the *local* listener as Source (SourceHostname = this host or SourcePort = 445 with an
    ephemeral DestinationPort), newer ones the remote client: the local end is detected, not assumed.
    Works on the Sysmon 3 ``rows`` only."""
    sub = _take(recs, rows)
    f = {k: _field(sub, v) for k, v in we.SYSMON3_FIELDS.items()}
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
    r_loop = map_values(r_ip, is_loopback).astype(bool) | ((r_ip == l_ip) & ~np.equal(r_ip, None))
    r_host = np.where(r_loop, host, r_host)
    out["dst_port"][rows] = port
    o, i = rows[outbound], rows[inbound]
    out["src_host"][o] = host[outbound]
    out["src_ip"][o] = l_ip[outbound]
    out["dst_ip"][o] = r_ip[outbound]
    out["dst_host"][o] = r_host[outbound]
    out["dst_host"][i] = host[inbound]
    out["dst_ip"][i] = l_ip[inbound]
    out["src_ip"][i] = r_ip[inbound]
    out["src_host"][i] = r_host[inbound]
