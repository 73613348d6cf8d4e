"""LANL "Comprehensive, Multi-Source Cyber-Security Events" (Kent, 2015): ``auth.txt`` and ``redteam.txt``.

``auth.txt``: ``time,src_user@domain,dst_user@domain,src_computer,dst_computer,auth_type,logon_type,
auth_orientation,success/failure`` (``?`` = unknown). ``time`` is seconds from the start of the data
set; LANL publishes no calendar date, so it is added to :data:`DEFAULT_EPOCH` (1970-01-01 UTC),
overridable with the environment variable ``LATGRAPH_LANL_EPOCH`` (ISO 8601, e.g. ``2024-01-01T00:00:00Z``).

Mapping (one row is seen from the destination computer, like a target-side Security event):
``host = dst_computer``, ``WorkstationName = src_computer``, ``TargetUserName = dst_user``,
``SubjectUserName = src_user``; ``LogOn`` + ``Success`` -> 4624, ``LogOn`` + ``Fail`` -> 4625,
``LogOff`` -> 4634, ``TGT`` -> 4768, ``TGS`` -> 4769 (kept: Kerberos evidence, see
:mod:`ingest.winevents`; a TGS row's service runs on ``dst_computer``: ``ServiceName = dst_computer$``),
``AuthMap`` -> 0 (not kept); ``Status`` = the result word of failed rows; ``channel = "LANL"``;
``record_id`` = line number. Repeated authentications within an hour are collapsed into counted rows
(:func:`iter_records_lines` says how). ``auth.txt(.gz)`` is streamed in bounded memory: :func:`iter_records`
is the vectorised reader (:mod:`ingest.formats.lanl_columns`: byte blocks, numpy/Arrow, rows as
column blocks), which gives the same rows, order, ``Repeats`` and report as
:func:`iter_records_lines`, the line-by-line reader kept as the reference (``tests/ingest/
test_lanl_columns.py`` compares them). The 10.47M-line benchmark file streams into its case in about a
third of the CPU time of the line reader (docs/ingest.md, LANL).

``redteam.txt``: ``time,user@domain,src_computer,dst_computer``, labels not events: read it with
:func:`read_redteam`; ``load_events`` recognises it and skips it as a label file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from ingest.formats.base import Format, Source, text_lines
from ingest.formats.lanl_blocks import MAX_TIME_DIGITS
from ingest.formats.lanl_columns import iter_columns
from ingest.normalize import normalize_account, normalize_domain, normalize_host
from ingest.report import SKIP_EVENT_ID, SKIP_LABELS, SKIP_MALFORMED, FileReport
from ingest.winevents import KEPT_EVENT_IDS

if TYPE_CHECKING:
    from ingest.batching import ColumnBatch

DEFAULT_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
AUTH_COLUMNS = ("time", "src_user", "dst_user", "src_computer", "dst_computer", "auth_type", "logon_type",
                "auth_orientation", "result")
REDTEAM_COLUMNS = ("time", "user", "src_computer", "dst_computer")
#: (auth_orientation, success) -> event id
EVENT_IDS: dict[tuple[str, bool], int] = {
    ("logon", True): 4624, ("logon", False): 4625, ("logoff", True): 4634, ("logoff", False): 4634,
    ("tgt", True): 4768, ("tgt", False): 4768, ("tgs", True): 4769, ("tgs", False): 4769,
    ("authmap", True): 0, ("authmap", False): 0,
}
_AUTH_RE = re.compile(r"^\d+(,[^,\r\n]*){8}\r?$")
_REDTEAM_RE = re.compile(r"^\d+,[^,@\r\n]+@[^,\r\n]+,[^,\r\n]+,[^,\r\n]+\r?$")


def epoch() -> datetime:
    """The calendar instant of LANL time 0 (``LATGRAPH_LANL_EPOCH`` or 1970-01-01 UTC)."""
    value = os.environ.get("LATGRAPH_LANL_EPOCH")
    if not value:
        return DEFAULT_EPOCH
    return pd.Timestamp(value).tz_localize("UTC").to_pydatetime() if pd.Timestamp(value).tzinfo is None \
        else pd.Timestamp(value).tz_convert("UTC").to_pydatetime()


def _first_lines(head: bytes, n: int = 3) -> list[str]:
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = [ln for ln in text.split("\n") if ln.strip()]
    return lines[:n] if len(lines) > n or text.endswith("\n") else lines[: max(len(lines) - 1, 1)]


def sniff(head: bytes, name: str) -> bool:
    """Lines of nine comma-separated fields starting with an integer time."""
    lines = _first_lines(head)
    return bool(lines) and all(_AUTH_RE.match(ln) for ln in lines)


def sniff_redteam(head: bytes, name: str) -> bool:
    """Lines ``time,user@domain,src,dst``."""
    lines = _first_lines(head)
    return bool(lines) and all(_REDTEAM_RE.match(ln) for ln in lines)


#: Accounts the analysis does not take as a hop's account (``graph.correlate._NON_ACCOUNTS``, and
#: machine accounts ending in ``$``). A hop row without a user account borrows the account of the
#: nearest row of its (source, destination) (``graph.correlate._borrow_account``); the only rule that
#: makes hop rows of such lines is an NTLM network logon (Metasploit's random workstation name), so
#: NTLM lines of these accounts are never collapsed.
NON_ACCOUNTS = frozenset({"anonymous logon", "system", "local system", "localsystem", "local service",
                          "network service", "-", "", "?"})
#: Collapse window (seconds): identical lines within one UTC hour (``hop_gap_s`` and
#: ``finding_window_s`` are an hour by default; presence is hourly).
COLLAPSE_S = 3600
#: Most distinct lines held per window before they are written out anyway (bounded memory on
#: unsorted input; an early flush only collapses less, it never changes a result).
MAX_RUNS = 1_000_000


#: Why a line whose time is all digits is malformed when no date can hold it.
OUT_OF_RANGE = "time out of range (past the year 9999)"


def last_second(t0: datetime) -> int:
    """The largest LANL time (seconds after ``t0``) that is still a date (up to 9999-12-31)."""
    return int((datetime.max.replace(tzinfo=UTC) - t0) // timedelta(seconds=1))


def time_in_range(t: str, last: int) -> bool:
    """Whether the digit string ``t`` is a time up to ``last`` (:func:`last_second`); a line with
    a longer or later time is malformed (counted and named, never the end of its file).

    Examples:
        >>> last = last_second(DEFAULT_EPOCH)
        >>> time_in_range("0", last), time_in_range(str(last), last), time_in_range(str(last + 1), last)
        (True, True, False)
        >>> time_in_range("9" * 40, last)
        False
    """
    return len(t) <= MAX_TIME_DIGITS and int(t) <= last


def _parse(source: Source, no: int, t: str, rest: str, keep: frozenset[int],
           report: FileReport) -> tuple[int, dict[str, Any], bool] | None:
    """The fields of one line without its time: ``(event id, record fields, collapsible)`` or None
    (reported as malformed or not kept)."""
    cells = rest.split(",")
    if len(cells) != 8 or not t.isdigit():
        report.skip(SKIP_MALFORMED, f"{source.name}, line {no}: expected 9 fields")
        return None
    src_user, dst_user, src_pc, dst_pc, auth_type, logon_type, orient, result = cells
    ok = result.lower().startswith("succ")
    eid = EVENT_IDS.get((orient.lower(), ok))
    if eid is None:
        report.skip(SKIP_MALFORMED, f"{source.name}, line {no}: unknown orientation {orient!r}")
        return None
    if eid not in keep:
        report.skipped[SKIP_EVENT_ID] += 1
        return eid, {}, False
    user, _, domain = dst_user.partition("@")
    rec = {
        "EventID": eid, "Channel": "LANL", "Computer": dst_pc,
        "TargetUserName": user, "TargetDomainName": domain, "SubjectUserName": src_user.partition("@")[0],
        "WorkstationName": src_pc, "LogonType": logon_type, "AuthenticationPackageName": auth_type,
        "Status": None if ok else result,
    }
    if eid == 4769:
        rec["ServiceName"] = dst_pc + "$"
    low = user.strip().lower()
    human = low not in NON_ACCOUNTS and not low.endswith("$")
    collapsible = ((human or auth_type.strip().lower() != "ntlm")
                   and src_pc.strip() not in ("", "?") and dst_pc.strip() not in ("", "?"))
    return eid, rec, collapsible


def iter_records(source: Source, *, event_ids: frozenset[int] | None, report: FileReport,
                 collapse: bool | None = None, **_: Any) -> Iterator[ColumnBatch]:
    """The rows of an ``auth.txt`` source as column blocks: the vectorised reader
    (:func:`ingest.formats.lanl_columns.iter_columns`), which gives the rows, order, ``Repeats`` and
    report of :func:`iter_records_lines`."""
    return iter_columns(source, event_ids=event_ids, report=report, collapse=collapse)


def iter_records_lines(source: Source, *, event_ids: frozenset[int] | None, report: FileReport,
                       collapse: bool | None = None, **_: Any) -> Iterator[dict[str, Any]]:
    """Flat Windows-field records of an ``auth.txt`` source, line by line (the reference reader).

    Repeated authentications are collapsed (``collapse``): lines identical but for their time within
    one UTC hour (:data:`COLLAPSE_S`) give their first line, with ``Repeats`` = the run less its
    last line, and their last line (``Repeats`` = 1); the rows of a window come out in line order.
    First and last time, hops, ``n_events`` and finding counts stay exact (``ingest.schema``: the
    ``repeats`` column). Lines whose source or destination computer is unknown, and NTLM lines of
    machine, system or unknown accounts, are never collapsed (the analysis joins those to their
    neighbours: see :data:`NON_ACCOUNTS`). Every line is still counted (read / skipped) by the
    report. ``collapse`` None: on unless the environment variable ``LATGRAPH_LANL_COLLAPSE`` is ``0``.
    """
    if collapse is None:
        collapse = os.environ.get("LATGRAPH_LANL_COLLAPSE", "1") != "0"
    keep = KEPT_EVENT_IDS if event_ids is None else event_ids
    t0 = epoch()
    iso_cache: dict[str, str] = {}

    def iso(t: str) -> str:
        value = iso_cache.get(t)
        if value is None:
            if len(iso_cache) > 4096:
                iso_cache.clear()
            value = iso_cache[t] = (t0 + timedelta(seconds=int(t))).isoformat()
        return value

    # rest of line -> [first no, first t, count, last no, last t, record] (record None: not kept)
    runs: dict[str, list[Any]] = {}
    single: list[tuple[int, str, dict[str, Any]]] = []    # lines never collapsed, in this window
    window = -1

    def flush() -> Iterator[dict[str, Any]]:
        out: list[tuple[int, dict[str, Any]]] = []
        for no, t, rec in single:
            out.append((no, {**rec, "EventRecordID": no, "TimeCreated": iso(t)}))
        for first_no, first_t, count, last_no, last_t, rec in runs.values():
            if rec is None:
                continue
            out.append((first_no, {**rec, "EventRecordID": first_no, "TimeCreated": iso(first_t),
                                   "Repeats": max(count - 1, 1)}))
            if count > 1:
                out.append((last_no, {**rec, "EventRecordID": last_no, "TimeCreated": iso(last_t),
                                      "Repeats": 1}))
        runs.clear()
        single.clear()
        out.sort(key=lambda item: item[0])
        for _no, rec in out:
            yield rec

    last_ok = last_second(t0)
    last_t, in_window = "", False
    for no, line in text_lines(source):
        if not line:
            continue
        report.records_read += 1
        t, _, rest = line.partition(",")
        if t != last_t:              # LANL times repeat line after line: the window once per second
            last_t = t
            in_window = t.isdigit() and time_in_range(t, last_ok)
            if in_window and int(t) // COLLAPSE_S != window:
                yield from flush()
                window = int(t) // COLLAPSE_S
        run = runs.get(rest) if collapse and in_window else None
        if run is not None:
            if run[5] is None:
                report.skipped[SKIP_EVENT_ID] += 1
            else:
                run[2] += 1
                run[3] = no
                run[4] = t
            continue
        if not in_window and t.isdigit():   # all digits, but no instant a record can hold
            report.skip(SKIP_MALFORMED, f"{source.name}, line {no}: {OUT_OF_RANGE}")
            continue
        parsed = _parse(source, no, t, rest, keep, report)
        if parsed is None:
            continue
        _eid, rec, collapsible = parsed
        if not rec and not collapse:
            continue
        if collapse and (collapsible or not rec):
            if len(runs) >= MAX_RUNS:
                yield from flush()
            runs[rest] = [no, t, 1, no, t, rec or None]
        else:
            single.append((no, t, rec))
    yield from flush()


def iter_redteam(source: Source, *, event_ids: frozenset[int] | None, report: FileReport,
                 **_: Any) -> Iterator[dict[str, Any]]:
    """A red-team label file holds no events: count its lines as a (benign) label-file skip."""
    for _no, line in text_lines(source):
        if line.strip():
            report.records_read += 1
            report.skipped[SKIP_LABELS] += 1
    return
    yield


def read_redteam(path: str | os.PathLike[str]) -> pd.DataFrame:
    """LANL ``redteam.txt(.gz)`` -> labels frame.

    Columns: ``time`` (seconds, int64), ``ts`` (UTC, from :func:`epoch`), ``account``,
    ``account_domain``, ``src_host``, ``dst_host`` (normalised like canonical events).
    """
    frame = pd.read_csv(path, header=None, names=list(REDTEAM_COLUMNS), dtype=str,
                        compression="infer", keep_default_na=False)
    time = pd.to_numeric(frame["time"], errors="raise").astype("int64")
    return pd.DataFrame({
        "time": time,
        "ts": pd.Timestamp(epoch()) + pd.to_timedelta(time, unit="s"),
        "account": frame["user"].map(normalize_account).astype("string"),
        "account_domain": frame["user"].str.partition("@")[2].map(normalize_domain).astype("string"),
        "src_host": frame["src_computer"].map(normalize_host).astype("string"),
        "dst_host": frame["dst_computer"].map(normalize_host).astype("string"),
    })


FORMAT = Format(
    name="lanl",
    description="LANL cyber-security events auth.txt (time,src_user@dom,dst_user@dom,src,dst,auth,"
                "logon_type,orientation,result)",
    sniff=sniff,
    iter_records=iter_records,
)
REDTEAM_FORMAT = Format(
    name="lanl-redteam",
    description="LANL redteam.txt labels (time,user@domain,src,dst): recognised and skipped as labels; "
                "read with ingest.formats.lanl_auth.read_redteam",
    sniff=sniff_redteam,
    iter_records=iter_redteam,
)
