"""Native Windows ``.evtx`` files (MS-EVEN6 binary XML) via the ``evtx`` package (pyevtx-rs).

Speed: pyevtx-rs renders each record to a JSON string in Rust; the event id is found in that string
with one regular expression and records whose id is not wanted are counted and dropped *before*
any Python object is built (LogonTracer rendered every record to XML and re-parsed it first; see
PEERS.md 0.5). Kept records are decoded in batches by ``msgspec`` straight into one flat
:data:`EvtxRecord` struct per record: only the System fields and the EventData fields latgraph
reads (:data:`~ingest.winevents.NEEDED_FIELDS`) become Python objects, everything else in the
record is skipped inside the decoder. A record of an unusual shape (no ``Event`` wrapper, EventData
that is not an object...) falls back to ``orjson`` + :func:`flatten`, so nothing is lost.

Tolerance: a record the parser cannot decode is counted as "malformed record" with its position;
a truncated or corrupt chunk ends the file with a problem, never the run.

Accelerator: when the optional Rust extension ``latgraph_evtx`` (``tools/evtx-columns``) is
installed, the same filter and flattening run in Rust and the kept records arrive as
:class:`~ingest.batching.ColumnBatch` blocks (one Arrow string column per field, event times as
nanoseconds, no Python object per record). Records of the usual shape are read straight from their
template substitution values (no JSON at all); the others are rendered to JSON there; records it
cannot carry exactly are handed back as JSON and decoded here. Same rows, same counts (see
docs/ingest.md). ``LATGRAPH_EVTX_NATIVE=0`` forces the pure-Python path.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import msgspec
import numpy as np
import orjson
from evtx import PyEvtxParser

from ingest.batching import TIMES, ColumnBatch
from ingest.formats.base import Format, Source
from ingest.formats.evtx_check import SKIP_CORRUPT_CHUNK, check_file, write_repaired
from ingest.report import SKIP_EVENT_ID, SKIP_MALFORMED, FileReport
from ingest.winevents import CHANNELS, EVENT_CHANNELS, KEPT_EVENT_IDS, NEEDED_FIELDS

try:   # the optional accelerator (tools/evtx-columns); the pure-Python path below is the fallback
    import latgraph_evtx as _native
except ImportError:   # pragma: no cover - depends on the build
    _native = None

MAGIC = b"ElfFile\x00"
#: ``"EventID":4624`` or ``"EventID":{"#attributes":{"Qualifiers":16384},"#text":7045}``
EVENT_ID_RE = re.compile(r'"EventID":\s*(?:"?(\d+)|\{[^{}]*(?:\{[^{}]*\}[^{}]*)*?"#text":\s*"?(\d+))')


def sniff(head: bytes, name: str) -> bool:
    """EVTX files start with ``ElfFile\\0``."""
    return head.startswith(MAGIC)


def event_id_of(data: str) -> int | None:
    """The EventID in a pyevtx-rs JSON record string, without decoding the JSON.

    Examples:
        >>> event_id_of('{"Event":{"System":{"EventID":4624,"Version":2}}}')
        4624
        >>> event_id_of('{"EventID":{"#attributes":{"Qualifiers":16384},"#text":7045}}')
        7045
    """
    at = data.find('"EventID":')
    if at < 0:
        return None
    start = at + 10
    end = start
    while end < len(data) and data[end].isdigit():   # the common case: "EventID":4624
        end += 1
    if end > start:
        return int(data[start:end])
    m = EVENT_ID_RE.search(data, at)
    return None if m is None else int(m.group(1) or m.group(2))


def _text(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("#text")
    return value


def flatten(event: dict[str, Any], record_id: int | None = None) -> dict[str, Any]:
    """A decoded ``{"Event": {"System":..., "EventData":...}}`` -> flat Windows-field dict.

    The decoded EventData dict itself is extended with the system fields (no copy, no filtering in
    Python); the normaliser reads only the fields it needs.
    """
    ev = event.get("Event", event)
    data = ev.get("EventData")
    out: dict[str, Any] = data if isinstance(data, dict) else {}   # freshly decoded: ours to extend
    user = ev.get("UserData")
    if isinstance(user, dict):   # events logged with a UserData element: one wrapper level
        for inner in user.values():
            if isinstance(inner, dict):
                out.update({k: _text(v) for k, v in inner.items() if k in NEEDED_FIELDS})
    system = ev.get("System") or {}
    created = system.get("TimeCreated")
    eid = system.get("EventID")
    out["EventID"] = eid.get("#text") if isinstance(eid, dict) else eid
    out["Channel"] = system.get("Channel")
    out["Computer"] = system.get("Computer")
    out["TimeCreated"] = (created.get("#attributes") or {}).get("SystemTime") if isinstance(created, dict) \
        else None
    out["EventRecordID"] = system.get("EventRecordID", record_id)
    return out


#: One kept EVTX record, flat: the System fields and every EventData/UserData field of
#: :data:`~ingest.winevents.NEEDED_FIELDS` as attributes (``None`` when absent). Read by
#: :func:`ingest.records.normalize_records` like a dict.
EvtxRecord = msgspec.defstruct("EvtxRecord", [(f, Any, None) for f in sorted(NEEDED_FIELDS)], gc=False,
                               module=__name__)
_FIELDS = frozenset(EvtxRecord.__struct_fields__)


class _Attributes(msgspec.Struct, gc=False):
    SystemTime: Any = None


class _TimeCreated(msgspec.Struct, gc=False, rename={"attributes": "#attributes"}):
    attributes: _Attributes | None = None


class _System(msgspec.Struct, gc=False):
    EventID: Any = None
    Channel: Any = None
    Computer: Any = None
    TimeCreated: _TimeCreated | None = None
    EventRecordID: Any = msgspec.UNSET


class _Event(msgspec.Struct, gc=False):
    System: _System | None = None
    EventData: EvtxRecord | None = None  # type: ignore[valid-type]
    UserData: dict[str, Any] | None = None


class _Root(msgspec.Struct, gc=False):
    Event: _Event | None = None


_DECODE_BATCH = msgspec.json.Decoder(list[_Root]).decode
_DECODE_ONE = msgspec.json.Decoder(_Root).decode
#: Kept records decoded per ``msgspec`` call (one JSON array of that many records).
DECODE_BATCH = 512


def decode_records(datas: list[str], record_ids: list[Any], name: str, report: FileReport) -> list[Any]:
    """pyevtx-rs JSON strings -> :data:`EvtxRecord` structs (undecodable records counted as malformed)."""
    try:
        roots: list[Any] = _DECODE_BATCH("[" + ",".join(datas) + "]")
        if len(roots) != len(datas):
            raise msgspec.DecodeError("record boundaries lost")
    except msgspec.DecodeError:   # one odd record: decode one by one (ValidationError is a DecodeError)
        roots = [_decode_one(d) for d in datas]
    out: list[Any] = []
    append, new, unset = out.append, EvtxRecord, msgspec.UNSET
    for root, data, rid in zip(roots, datas, record_ids, strict=True):
        ev = None if root is None else root.Event
        if ev is None:      # an unusual shape: the generic decoder and flatten() take it
            try:
                flat = flatten(orjson.loads(data), rid)
            except (orjson.JSONDecodeError, AttributeError, TypeError) as exc:
                report.skip(SKIP_MALFORMED, f"{name}, record {rid}: {exc}")
                continue
            append(new(**{k: v for k, v in flat.items() if k in _FIELDS}))
            continue
        rec = ev.EventData
        if rec is None:
            rec = new()
        if ev.UserData is not None:
            _merge_user_data(rec, ev.UserData)
        system = ev.System
        if system is None:
            rec.EventID = rec.Channel = rec.Computer = rec.TimeCreated = None
            rec.EventRecordID = rid
        else:
            eid = system.EventID
            rec.EventID = eid.get("#text") if type(eid) is dict else eid
            rec.Channel = system.Channel
            rec.Computer = system.Computer
            created = system.TimeCreated
            attributes = None if created is None else created.attributes
            rec.TimeCreated = None if attributes is None else attributes.SystemTime
            rid_value = system.EventRecordID
            rec.EventRecordID = rid if rid_value is unset else rid_value
        append(rec)
    return out


def _merge_user_data(rec: Any, user_data: dict[str, Any]) -> None:
    """Events logged with a UserData element: its one wrapper level, like :func:`flatten`."""
    for inner in user_data.values():
        if isinstance(inner, dict):
            for k, v in inner.items():
                if k in NEEDED_FIELDS:
                    setattr(rec, k, _text(v))


def _decode_one(data: str) -> Any:
    try:
        return _DECODE_ONE(data)
    except msgspec.DecodeError:
        return None


#: Skip reason: the file is shorter than its header says (records at the end are lost).
SKIP_TRUNCATED = "file truncated"
HEADER_BLOCK, CHUNK_SIZE = 4096, 65536


def truncation_problem(path: str) -> str | None:
    """A message when the file is shorter than the chunk count in its header declares, else ``None``.

    pyevtx-rs stops quietly at the end of a cut file; this makes the loss visible in the report.
    """
    with open(path, "rb") as fh:
        header = fh.read(128)
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
    if len(header) < 128 or not header.startswith(MAGIC):
        return f"file header incomplete ({size} bytes)"
    chunks = int.from_bytes(header[42:44], "little")
    expected = HEADER_BLOCK + chunks * CHUNK_SIZE
    if size < expected:
        return (f"file truncated: header declares {chunks} chunks ({expected} bytes) but the file has "
                f"{size} bytes; records in the missing {expected - size} bytes are lost")
    return None


def iter_records(source: Source, *, event_ids: frozenset[int] | None, report: FileReport,
                 threads: int = 0, **_: Any) -> Iterator[Any]:
    """Flat :data:`EvtxRecord` records of the kept event ids of one EVTX source (see module docstring)."""
    keep = KEPT_EVENT_IDS if event_ids is None else event_ids
    tmp: str | None = None
    tmp_repaired: str | None = None
    try:
        if source.is_plain_file:
            path = source.path
        else:  # archive member: pyevtx-rs wants a seekable file; spool it to disk, not to memory
            fd, tmp = tempfile.mkstemp(suffix=".evtx")
            with os.fdopen(fd, "wb") as out, source.open() as fh:
                shutil.copyfileobj(fh, out, 1 << 20)
            path = tmp
        problem = truncation_problem(path)
        if problem:
            report.skip(SKIP_TRUNCATED, f"{source.name}: {problem}")
        repaired = _verified_path(path, source.name, report)
        if repaired is not None:
            tmp_repaired = path = repaired
        if native_available():
            yield from _native_records(path, source.name, keep, report)
        else:
            yield from _records(PyEvtxParser(path, number_of_threads=threads), source.name, keep, report)
    finally:
        for leftover in (tmp, tmp_repaired):
            if leftover:
                os.unlink(leftover)


def _verified_path(path: str, name: str, report: FileReport) -> str | None:
    """Check the file's checksums and chunk layout (:mod:`ingest.formats.evtx_check`), book what was
    found, and return the path of a repaired copy when the readers must not read the file as it is."""
    check = check_file(path, name)
    if check is None:
        return None
    for reason, message in check.warnings:
        report.warn(reason, message)
    for count, message in check.lost:
        report.skip_many(SKIP_CORRUPT_CHUNK, count, message)
    for message in check.notes:
        report.note(message)
    if not check.needs_copy:
        return None
    fd, target = tempfile.mkstemp(suffix=".evtx", prefix="latgraph-repaired-")
    os.close(fd)
    try:
        write_repaired(path, check, target)
    except BaseException:
        os.unlink(target)
        raise
    return target


#: Event ids that other providers reuse (System event 1 is not Sysmon 1): their channel is checked
#: in the JSON string too, so a System log's thousands of id-1/3/11 records are never decoded.
CHANNEL_CHECKED: dict[int, frozenset[str]] = {
    i: chans for i, chans in EVENT_CHANNELS.items() if "Security" not in chans and "System" not in chans}


def channel_allows(data: str, eid: int) -> bool:
    """False when the record's ``"Channel"`` names a channel event ``eid`` is not kept from (the same
    rule as :func:`ingest.records.normalize_batch` applies); True when unsure (then it decides).

    Examples:
        >>> channel_allows('{"EventID":1,"Channel":"System","Computer":"A"}', 1)
        False
        >>> channel_allows('{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational"}', 1)
        True
    """
    at = data.find('"Channel":"')
    if at < 0:
        return True
    end = data.find('"', at + 11)
    raw = data[at + 11:end]
    if end < 0 or "\\" in raw:
        return True
    text = raw.strip().strip("\x00").strip()
    return CHANNELS.get(text.lower(), text) in CHANNEL_CHECKED[eid] if text else False


#: More unreadable records than this in one file: the rest of the file is skipped (both paths).
MAX_MALFORMED = 10_000


def _count(report: FileReport, read: int, dropped: int) -> None:
    """Book a file's records read and dropped by event id (both paths, also when cut short)."""
    report.records_read += read
    report.skipped[SKIP_EVENT_ID] += dropped
    if not report.skipped[SKIP_EVENT_ID]:
        del report.skipped[SKIP_EVENT_ID]


def _records(parser: PyEvtxParser, name: str, keep: frozenset[int],
             report: FileReport) -> Iterator[Any]:
    """The hot loop: count and drop unwanted records with string operations only; decode the kept
    ones in batches of :data:`DECODE_BATCH`."""
    it = parser.records_json()
    find = str.find
    checked = CHANNEL_CHECKED
    tokens = {str(i): i for i in keep}
    read = dropped = 0
    datas: list[str] = []
    rids: list[Any] = []
    try:
        while True:
            try:
                for rec in it:      # a plain for loop: no per-record try/next()
                    read += 1
                    data = rec["data"]
                    at = find(data, '"EventID":') + 10
                    comma = find(data, ",", at)
                    token = data[at:comma]
                    eid = tokens.get(token)     # a kept id, written the usual way
                    if eid is None:
                        eid = int(token) if token.isascii() and token.isdigit() else event_id_of(data)
                        if eid is not None and eid not in keep:
                            dropped += 1
                            continue
                    if eid in checked and not channel_allows(data, eid):
                        dropped += 1
                        continue
                    datas.append(data)
                    rids.append(rec.get("event_record_id"))
                    if len(datas) >= DECODE_BATCH:
                        yield from decode_records(datas, rids, name, report)
                        datas, rids = [], []
                break
            except (RuntimeError, OSError, ValueError) as exc:   # pyevtx-rs: a bad chunk or record
                read += 1
                report.skip(SKIP_MALFORMED, f"{name}, after record #{read - 1}: {exc}")
                if report.skipped[SKIP_MALFORMED] > MAX_MALFORMED:
                    report.problem(f"{name}: too many unreadable records, rest of the file skipped")
                    break
        if datas:
            yield from decode_records(datas, rids, name, report)
    finally:
        _count(report, read, dropped)


#: The columns the native reader fills: every field of :data:`EvtxRecord`.
_NATIVE_FIELDS = sorted(_FIELDS)
#: Kept records per native batch (one :class:`~ingest.batching.ColumnBatch`).
NATIVE_BATCH = 50_000


def native_available() -> bool:
    """True when the Rust reader is installed and not disabled with ``LATGRAPH_EVTX_NATIVE=0``."""
    return _native is not None and os.environ.get("LATGRAPH_EVTX_NATIVE", "1").strip() != "0"


def _native_records(path: str, name: str, keep: frozenset[int], report: FileReport) -> Iterator[Any]:
    """:func:`_records` done by the Rust reader: yields :class:`~ingest.batching.ColumnBatch` blocks."""
    assert _native is not None
    fields = _NATIVE_FIELDS
    checked = {i: sorted(chans) for i, chans in CHANNEL_CHECKED.items() if i in keep}
    reader = _native.Reader(path, list(keep), checked, CHANNELS, fields, NATIVE_BATCH,
                            MAX_MALFORMED - report.skipped[SKIP_MALFORMED])
    read = dropped = 0
    try:
        while (batch := reader.next_batch()) is not None:
            read += batch["read"]
            dropped += batch["dropped"]
            for pos, msg in batch["malformed"]:
                report.skip(SKIP_MALFORMED, f"{name}, after record #{pos}: {msg}")
            if batch["too_many"]:
                report.problem(f"{name}: too many unreadable records, rest of the file skipped")
            rows = batch["rows"]
            if not rows:
                continue
            patches: dict[int, Any] = {}
            gone: list[int] = []
            for row, data, rid in batch["fallback"]:   # shapes only the Python decoder takes exactly
                recs = decode_records([data], [rid], name, report)
                if recs:
                    patches[row] = recs[0]
                else:
                    gone.append(row)
            columns = dict(zip(fields, batch["columns"], strict=True))
            columns[TIMES] = batch["times"]
            block = ColumnBatch([(rows, columns, patches)])
            if gone:
                block = block.take(np.setdiff1d(np.arange(rows), gone))
                if not len(block):
                    continue
            yield block
    finally:
        _count(report, read, dropped)


FORMAT = Format(
    name="evtx",
    description="Windows event log file (.evtx), any channel; parsed by pyevtx-rs, event-id "
                "pre-filtered before decoding",
    sniff=sniff,
    iter_records=iter_records,
)
