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

The network direction of each row (source / destination ends) is placed by
:mod:`ingest.endpoints`, whose names are importable from here too.
"""

from __future__ import annotations

#: The public names, and those moved to :mod:`ingest.endpoints` or no longer used here that were
#: importable from this module before (tests name ``_sysmon3``).
__all__ = [
    "MAX_FIELD_CHARS", "WARN_LONG_VALUE", "_TRUE", "Segment", "_brokered", "_place_endpoints", "_sysmon3",
    "cap_long_values", "is_loopback", "normalize_batch", "normalize_records", "spn_host",
]

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ingest import winevents as we
from ingest.endpoints import _TRUE, _brokered, _place_endpoints, _sysmon3
from ingest.fields import (
    ARROW_STRINGS,
    event_times,
    field_values,
    map_field,
    nones,
    normalise_coded,
    normalise_column,
    take_rows,
)
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
    spn_host,
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
#: Text columns nothing reads after normalisation: mapped straight to Arrow
#: (:func:`ingest.fields.map_to_arrow`).
_ARROW_OUT = frozenset({"logon_id", "auth_package", "logon_process", "status", "share_name", "target_name",
                        "service_name", "service_image", "process", "command_line", "parent_process"})
#: Columns read by the endpoint and 4688 logic even when no event id of the batch fills them.
_READ_LATER = frozenset({"account", "subject_account", "logon_type"})


@dataclass(frozen=True)
class Segment:
    """``count`` consecutive records of a batch that come from one source (provenance + report)."""

    count: int
    source_file: str
    source_format: str
    report: FileReport


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
    rec_id = int_values(field_values(records, "EventRecordID"), parse_record_id, 0, 2**63 - 1)
    eid_obj = int_values(field_values(records, "EventID"), parse_event_id, 0, 65535)
    bad_id = np.equal(eid_obj, None)
    _skip(segments, seg, bad_id, SKIP_NO_EVENT_ID, rec_id)
    eid = np.where(bad_id, -1, eid_obj).astype(np.int64)
    channel = map_values(field_values(records, "Channel"), _canonical_channel)
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
    kept = take_rows(records, idx) if len(idx) < len(records) else records
    ts = event_times(kept)
    no_ts = ts.isna().to_numpy()
    _skip(segments, seg, _scatter(no_ts, idx, len(records)), SKIP_NO_TIME, rec_id)
    if no_ts.all():
        return empty_frame(), np.zeros(0, dtype=np.int64)
    if no_ts.any():
        keep = ~no_ts
        idx, kept, ts = idx[keep], take_rows(kept, np.flatnonzero(keep)), ts[keep]
    frame = _build(kept, eid[idx], _categorical(chan_code[idx], chan_names), rec_id[idx],
                   ts.reset_index(drop=True), segments, seg[idx])
    if "LANL" in set(chan_names):   # collapsed repeated authentications (ingest.formats.lanl_auth)
        reps = field_values(kept, "Repeats")
        if not np.equal(reps, None).all():
            reps = np.where(np.equal(reps, None), 1, reps).astype(np.int32)
            frame["repeats"] = pd.array(reps, dtype="Int32")
    cap_long_values(frame, segments, seg[idx], rec_id[idx])
    return frame, seg[idx]


#: The longest text a Windows event field holds (a command line: 32,767 characters). A longer value
#: cannot come from Windows: it is cut to this length and reported (it was an entity expansion or a
#: crafted log; kept whole it would weigh on every later stage, the UI and Neo4j's index keys).
MAX_FIELD_CHARS = 32_767
WARN_LONG_VALUE = "over-long value cut"


def cap_long_values(frame: pd.DataFrame, segments: Sequence[Segment], seg: np.ndarray,
                    rec_ids: np.ndarray) -> None:
    """Cut text values longer than :data:`MAX_FIELD_CHARS` in place; each is a problem naming the
    file, the record, the column and the original length."""
    for col in frame.columns:
        if frame[col].dtype != "string":
            continue
        arr = pa.chunked_array([pa.array(frame[col].array)]) if len(frame) else None
        if arr is None:
            continue
        if (pc.max(pc.binary_length(arr)).as_py() or 0) <= MAX_FIELD_CHARS:   # bytes >= characters
            continue
        lengths = pc.fill_null(pc.utf8_length(arr), 0).to_numpy()
        long_rows = np.flatnonzero(lengths > MAX_FIELD_CHARS)
        values = frame[col].to_numpy(dtype=object)
        for row in long_rows:
            segment = segments[int(seg[row])]
            segment.report.warn(WARN_LONG_VALUE, f"{segment.source_file}, record {rec_ids[row]}: {col} has "
                                f"{int(lengths[row]):,} characters (more than any Windows field holds); "
                                f"cut to {MAX_FIELD_CHARS:,}")
            values[row] = values[row][:MAX_FIELD_CHARS]
        frame[col] = pd.array(values, dtype="string")


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
    if ARROW_STRINGS:
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
            fields[name] = field_values(recs, name)
        return fields[name]

    picked: dict[str, Any] = {}
    sources: dict[str, list[tuple[np.ndarray, Sequence[Any], str]]] = {}
    for i in ids:   # each event id reads only its own fields, from its own rows
        rows = np.flatnonzero(sel[i])
        sub = recs if len(rows) == n else take_rows(recs, rows)
        for col, name in we.FIELD_PICKS.get(i, {}).items():
            sources.setdefault(col, []).append((rows, sub, name))
    coded = getattr(recs, "coded", None) is not None
    for col, srcs in sources.items():   # normalise only the rows an event id filled
        func = _COLUMN_NORMALISERS.get(col, normalize_text)
        arrow = col in _ARROW_OUT and ARROW_STRINGS
        normalise = normalise_coded if coded else normalise_column
        picked[col] = normalise(srcs, n, func, arrow)
    for i in ids:   # "DOMAIN\user" in one field (Sysmon User) when the event has no domain field
        picks = we.FIELD_PICKS.get(i, {})
        if "account" in picks and "account_domain" not in picks:
            dom = map_values(field(picks["account"])[sel[i]], account_domain_of)
            picked.setdefault("account_domain", nones(n))[sel[i]] = dom
    if 12 in sel or 13 in sel:
        none = np.zeros(n, dtype=bool)
        _registry_services(picked, sel.get(12, none) | sel.get(13, none))
    # columns no event id of the batch fills stay None here and become all-null arrays in _to_frame
    out: dict[str, Any] = {c: picked.get(c, nones(n) if c in _READ_LATER else None)
                           for c in COLUMNS if c not in {"ts"}}
    for i, package in ((4768, "Kerberos"), (4769, "Kerberos"), (4776, "NTLM")):
        if i in sel:   # DC authentication events: the protocol is the event (4776 PackageName is
            # MICROSOFT_AUTHENTICATION_PACKAGE_V1_0, i.e. NTLM; LANL rows name it themselves)
            col = out.get("auth_package")
            if col is None:
                col = nones(n)
            else:
                vals = pd.Series(col, dtype=object)
                col = vals.where(vals.notna(), None).to_numpy(dtype=object).copy()
            fill = sel[i] & (np.equal(col, None) | (col == "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"))
            col[fill] = package
            out["auth_package"] = col
    if 4688 in sel:   # no target subject: the process runs as its creator
        fill = sel[4688] & np.equal(out["account"], None)
        out["account"] = out["account"].copy()
        out["account"][fill] = out["subject_account"][fill]
    host = map_field(recs, "Computer", normalize_host)
    host[np.equal(host, None)] = ""
    out.update(host=host, src_host=nones(n), src_ip=nones(n), src_port=nones(n), dst_host=nones(n),
               dst_ip=nones(n), dst_port=nones(n))
    _place_endpoints(out, eid, sel, picked, recs, lanl=np.asarray(channel == "LANL", dtype=bool))
    out["ts"] = ts
    out["event_id"] = eid.astype(np.int32)
    out["channel"] = channel
    out["record_id"] = rec_id
    out["source_file"], out["source_format"] = _provenance(segments, seg)
    return _to_frame(out)


def _objects(values: Any, n: int) -> np.ndarray:
    """A picked column (object array, Arrow string array or ``None``) as an object array."""
    if values is None:
        return nones(n)
    if isinstance(values, np.ndarray):
        return values.copy()
    return pd.array(values).to_numpy(dtype=object, na_value=None)


_SERVICE_KEY = re.compile(we.SERVICE_IMAGE_KEY)


def _registry_services(picked: dict[str, Any], rows: np.ndarray) -> None:
    """Registry rows (Sysmon 12/13, MDE registry): a value on ``Services\\<name>\\ImagePath`` names
    the service (``service_name``) and keeps its value as ``service_image``; every other registry row
    has no ``service_image`` (see :data:`ingest.winevents.SERVICE_IMAGE_KEY`)."""
    n = len(rows)
    keys = _objects(picked.get("target_name"), n)

    def name_of(key: Any) -> str | None:
        m = _SERVICE_KEY.search(key) if isinstance(key, str) else None
        return m.group(1) if m else None

    names = map_values(keys, name_of)
    names[~rows] = None
    svc = _objects(picked.get("service_name"), n)
    img = _objects(picked.get("service_image"), n)
    svc[rows] = names[rows]
    img[rows & np.equal(names, None)] = None
    picked["service_name"], picked["service_image"] = svc, img


def _int_array(values: np.ndarray, dtype: str) -> Any:
    """Object array of Python ints (already range-checked by the parsers) and ``None`` -> a masked
    integer array of ``dtype``; the general constructor for anything else."""
    missing = np.equal(values, None)
    if missing.all():   # (many columns of a batch: no row has a value)
        return pd.arrays.IntegerArray(np.zeros(len(values), dtype=dtype.lower()), missing.astype(bool))
    if set(map(type, values)) <= {int, type(None)}:
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
            values = nones(n) if not ARROW_STRINGS or dtype != "string" else \
                pd.arrays.ArrowStringArray(pa.nulls(n, pa.large_string()))
        if col == "ts":
            data[col] = pd.Series(values).astype(dtype).array
        elif col in {"channel", "source_format"} or dtype == "int32" or not isinstance(values, np.ndarray):
            data[col] = values
        elif dtype == "string" and ARROW_STRINGS:
            # straight to Arrow: the same dtype as pd.array(values, "string"), about half the cost
            data[col] = pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string(), from_pandas=True))
        elif dtype in {"Int8", "Int16", "Int32", "Int64"}:
            data[col] = _int_array(values, dtype)
        else:
            data[col] = pd.array(values, dtype=dtype)
    # dtypes are canonical by construction (checked by the tests and again by load_events)
    return pd.DataFrame(data, columns=list(COLUMNS))
