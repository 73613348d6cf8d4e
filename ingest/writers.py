"""Canonical events back into each input format (the inverse of the readers), for demo data and tests.

Stable API (the synthetic data generator and the tests call it)::

    write_events(frame, path, fmt) -> int        # rows written

``fmt`` is one of :data:`WRITE_FORMATS`: ``xml`` (wevtutil ``/f:xml``: ``<Event>`` elements, no
root), ``xml-events`` (Event Viewer "Save as XML": ``<Events>`` root), ``winlogbeat`` (Winlogbeat 8
JSON lines), ``otrf`` (NXLog/OTRF flattened JSON lines), ``mde-csv`` / ``mde-jsonl`` (Defender
advanced hunting; ``mde`` = ``mde-jsonl``), ``lanl`` (``auth.txt``). A ``.gz`` path is gzip-compressed.
EVTX is a binary format with checksummed chunks and is not written.

Each canonical row becomes a record of Windows field names through the *same* tables the readers
use (:data:`ingest.winevents.FIELD_PICKS`, :data:`ingest.winevents.DIRECTION`,
:data:`ingest.formats.mde_table.MDE_FIELDS`, the readers' ``FIELD_MAP``), so that
``load_events(path)`` gives back the same canonical rows (apart from ``source_file``,
``source_format`` and fields the format cannot carry). Rows a format cannot express are skipped
and not counted: MDE carries 4624, 4625, 4648, Sysmon 1/3/11/17 and 7045 only; LANL 4624/4625/4634/4768/4769
(with whole-second times); for 5140/5145/4697 ``src_host`` has no Windows field (only ``IpAddress``).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

import orjson
import pandas as pd

from ingest import winevents as we
from ingest.atomic import atomic_path
from ingest.errors import ConfigError
from ingest.formats import mde_table, otrf_json, winlogbeat_json
from ingest.formats.lanl_auth import epoch
from ingest.schema import validate_frame

_HEX_FIELDS = {"logon_id", "access_mask"}


def _value(col: str, value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if col == "access_mask":
        return hex(int(value))
    if col in {"logon_type", "key_length", "remote_port", "dst_port", "src_port"}:
        return str(int(value))
    return value


def windows_record(row: dict[str, Any]) -> dict[str, Any]:
    """One canonical row (a dict) -> flat Windows-field record (the readers' intermediate form)."""
    eid = int(row["event_id"])
    host = row["host"]
    rec: dict[str, Any] = {
        "EventID": eid,
        "Channel": we.WINDOWS_CHANNEL.get(row["channel"], row["channel"]),
        "Computer": host,
        "TimeCreated": pd.Timestamp(row["ts"]).tz_convert("UTC").isoformat().replace("+00:00", "Z"),
        "EventRecordID": None if row["record_id"] is None else int(row["record_id"]),
    }
    picks = we.FIELD_PICKS.get(eid, {})
    for col, field in picks.items():
        if col.startswith("remote_"):
            continue
        rec[field] = _value(col, row.get(col))
    if "account" in picks and picks["account"] == "User" and row.get("account"):
        dom = row.get("account_domain")
        rec["User"] = f"{dom}\\{row['account']}" if dom else row["account"]
    direction = we.DIRECTION.get(eid, we.LOCAL)
    src_host, src_ip, dst_host, dst_ip = (row.get(c) for c in ("src_host", "src_ip", "dst_host", "dst_ip"))
    src_port = _value("src_port", row.get("src_port"))
    if direction == we.TARGET and "remote_ip" in picks:
        rec[picks["remote_ip"]] = src_ip or "-"
        if "remote_port" in picks:
            rec[picks["remote_port"]] = src_port or ("-" if not src_ip else "0")
        if "remote_host" in picks:
            rec[picks["remote_host"]] = src_host if src_host and src_host != host else "-"
    elif direction == we.SOURCE:
        rec[picks["remote_host"]] = dst_host
        rec[picks["remote_ip"]] = dst_ip or "-"
        rec[picks["remote_port"]] = _value("dst_port", row.get("dst_port"))
    elif direction == we.BROKERED:
        if "remote_ip" in picks:
            rec[picks["remote_ip"]] = src_ip or "-"
            rec[picks["remote_port"]] = src_port or "0"
        # Windows 4768/4769 name the client only by IP; 4776 (and LANL rows) by workstation name
        if src_host and src_host != host and (eid == 4776 or not src_ip):
            rec[picks["remote_host"]] = src_host
    elif direction == we.BY_INITIATED:
        outbound = src_host == host
        f = we.SYSMON3_FIELDS
        rec.update({f["initiated"]: "true" if outbound else "false", f["src_ip"]: src_ip, f["dst_ip"]: dst_ip,
                    f["dst_port"]: _value("dst_port", row.get("dst_port")), f["src_port"]: src_port,
                    f["src_host"]: src_host if not outbound else None,
                    f["dst_host"]: dst_host if outbound else None})
    return {k: v for k, v in rec.items() if v is not None}


def _rows(frame: pd.DataFrame, chunk: int = 10_000) -> Iterator[dict[str, Any]]:
    """Rows as dicts with ``None`` for missing values, converted 10k at a time (bounded memory)."""
    for start in range(0, len(frame), chunk):
        part = frame.iloc[start:start + chunk].astype(object)
        yield from part.where(part.notna(), None).to_dict("records")


# ---- containers -----------------------------------------------------------------------------------

_NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def _xml_event(rec: dict[str, Any]) -> str:
    system = (f"<System><EventID>{rec['EventID']}</EventID>"
              f"<TimeCreated SystemTime={quoteattr(rec['TimeCreated'])}/>"
              + (f"<EventRecordID>{rec['EventRecordID']}</EventRecordID>" if "EventRecordID" in rec else "")
              + f"<Channel>{escape(str(rec['Channel']))}</Channel>"
              f"<Computer>{escape(str(rec['Computer']))}</Computer></System>")
    data = "".join(f"<Data Name={quoteattr(k)}>{escape(str(v))}</Data>"
                   for k, v in rec.items() if k not in we.SYSTEM_FIELDS)
    return f"<Event xmlns='{_NS}'>{system}<EventData>{data}</EventData></Event>"


def _write_xml(frame: pd.DataFrame, out: IO[str], root: bool) -> int:
    n = 0
    if root:
        out.write('<?xml version="1.0" encoding="utf-8"?>\n<Events>\n')
    for row in _rows(frame):
        out.write(_xml_event(windows_record(row)) + "\n")
        n += 1
    if root:
        out.write("</Events>\n")
    return n


def _write_json_lines(frame: pd.DataFrame, out: IO[str],
                      to_doc: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    n = 0
    for row in _rows(frame):
        out.write(orjson.dumps(to_doc(windows_record(row))).decode() + "\n")
        n += 1
    return n


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for path, value in flat.items():
        cur = doc
        *parents, leaf = path.split(".") if not path.startswith("@") else [path]
        for p in parents:
            cur = cur.setdefault(p, {})
        cur[leaf] = value
    return doc


def winlogbeat_doc(rec: dict[str, Any]) -> dict[str, Any]:
    """Windows-field record -> Winlogbeat 8 document (inverse of ``winlogbeat_json.FIELD_MAP``)."""
    flat: dict[str, Any] = {}
    for path, field in winlogbeat_json.FIELD_MAP.items():
        if field in rec:
            flat[path] = str(rec[field]) if path in {"winlog.event_id", "event.code"} else rec[field]
    doc = _unflatten(flat)
    doc["winlog"]["event_data"] = {k: v for k, v in rec.items() if k not in we.SYSTEM_FIELDS}
    return doc


def otrf_doc(rec: dict[str, Any]) -> dict[str, Any]:
    """Windows-field record -> OTRF/NXLog flat document (inverse of ``otrf_json.FIELD_MAP``)."""
    inverse = {field: key for key, field in otrf_json.FIELD_MAP.items()}
    return {inverse.get(k, k): v for k, v in rec.items()}


def mde_row(row: dict[str, Any]) -> dict[str, Any] | None:
    """Canonical row -> advanced-hunting row (inverse of ``mde_table.MDE_FIELDS``), or ``None``."""
    eid = int(row["event_id"])
    rec = windows_record(row)
    key = eid
    if eid == 3 and rec.get("Initiated") == "false":
        key = -3
    if key not in mde_table.MDE_FIELDS:
        return None
    out: dict[str, Any] = {col: rec.get(field) for field, col in mde_table.SYSTEM_MAP.items()}
    out["ActionType"] = mde_table.ACTION_FOR_ID[key]
    extra: dict[str, Any] = {}
    for field, col in mde_table.MDE_FIELDS[key].items():
        value = rec.get(field)
        if isinstance(col, tuple):
            dom, _, name = str(value).rpartition("\\") if value else ("", "", None)
            out[col[0]], out[col[1]] = dom or None, name
        elif col.startswith("AdditionalFields."):
            extra[col.split(".", 1)[1]] = value
        elif field == "LogonType" and value is not None:
            out[col] = we.LOGON_TYPES.get(int(value), value)
        elif field in {"TargetLogonId", "SubjectLogonId"} and value:
            out[col] = int(str(value), 16)
        else:
            out[col] = value
    if extra:
        out["AdditionalFields"] = orjson.dumps(extra).decode()
    return out


_MDE_COLUMNS = ["Timestamp", "DeviceName", "ActionType", "ReportId", *dict.fromkeys(
    c for fields in mde_table.MDE_FIELDS.values() for v in fields.values()
    for c in (v if isinstance(v, tuple) else (v,)) if not c.startswith("AdditionalFields.")),
    "AdditionalFields"]


def _write_mde(frame: pd.DataFrame, out: IO[str], as_csv: bool) -> int:
    rows = (r for r in map(mde_row, _rows(frame)) if r is not None)
    n = 0
    if as_csv:
        writer = csv.DictWriter(out, fieldnames=_MDE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow(r)
            n += 1
        return n
    for r in rows:
        out.write(orjson.dumps(r).decode() + "\n")
        n += 1
    return n


_LANL_ORIENT = {4624: ("LogOn", "Success"), 4625: ("LogOn", "Fail"), 4634: ("LogOff", "Success"),
                4768: ("TGT", "Success"), 4769: ("TGS", "Success")}


def _write_lanl(frame: pd.DataFrame, out: IO[str]) -> int:
    n = 0
    t0 = pd.Timestamp(epoch())
    for row in _rows(frame):
        eid = int(row["event_id"])
        if eid not in _LANL_ORIENT:
            continue
        orient, result = _LANL_ORIENT[eid]
        if eid in (4768, 4769) and row.get("status") not in (None, "0x0"):
            result = "Fail"
        dst = (row.get("dst_host") or row["host"]) if eid == 4769 else row["host"]
        dom = row.get("account_domain") or "?"
        dst_user = f"{row.get('account') or '?'}@{dom}"
        src_user = f"{row.get('subject_account')}@{dom}" if row.get("subject_account") else dst_user
        lt = row.get("logon_type")
        cells = [str(int((pd.Timestamp(row["ts"]) - t0).total_seconds())), src_user, dst_user,
                 row.get("src_host") or "?", dst, row.get("auth_package") or "?",
                 we.LOGON_TYPES.get(int(lt), "?") if lt is not None else "?", orient, result]
        reps = row.get("repeats")      # a collapsed run (ingest.schema): its lines again, at its time
        k = 1 if reps is None or pd.isna(reps) else max(int(reps), 1)
        out.write((",".join(cells) + "\n") * k)
        n += k
    return n


#: Writable formats -> writer(frame, text stream) -> rows written.
WRITE_FORMATS: dict[str, Callable[[pd.DataFrame, IO[str]], int]] = {
    "xml": lambda f, o: _write_xml(f, o, root=False),
    "xml-events": lambda f, o: _write_xml(f, o, root=True),
    "winlogbeat": lambda f, o: _write_json_lines(f, o, winlogbeat_doc),
    "otrf": lambda f, o: _write_json_lines(f, o, otrf_doc),
    "mde": lambda f, o: _write_mde(f, o, as_csv=False),
    "mde-jsonl": lambda f, o: _write_mde(f, o, as_csv=False),
    "mde-csv": lambda f, o: _write_mde(f, o, as_csv=True),
    "lanl": _write_lanl,
}


def write_events(frame: pd.DataFrame, path: str | os.PathLike[str], fmt: str) -> int:
    """Write canonical events to ``path`` in format ``fmt`` (see module docstring); return rows written.

    Raises:
        ConfigError: unknown ``fmt`` (``evtx`` is not writable).
        SchemaError: ``frame`` is not a canonical events frame.
    """
    if fmt not in WRITE_FORMATS:
        raise ConfigError(f"cannot write format {fmt!r}; writable: {', '.join(WRITE_FORMATS)}")
    validate_frame(frame)
    out_path = Path(path)
    with atomic_path(out_path) as tmp:   # a complete file or the old one, never a partial one
        raw: IO[bytes] = gzip.open(tmp, "wb") if out_path.suffix == ".gz" else open(tmp, "wb")  # noqa: SIM115
        with raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
            return WRITE_FORMATS[fmt](frame, text)
