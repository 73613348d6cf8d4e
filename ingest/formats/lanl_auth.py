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
``record_id`` = line number. ``auth.txt(.gz)`` is read line by line (bounded memory).

``redteam.txt``: ``time,user@domain,src_computer,dst_computer``, labels not events: read it with
:func:`read_redteam`; ``load_events`` recognises it and skips it as a label file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from ingest.formats.base import Format, Source, text_lines
from ingest.normalize import normalize_account, normalize_domain, normalize_host
from ingest.report import SKIP_EVENT_ID, SKIP_LABELS, SKIP_MALFORMED, FileReport
from ingest.winevents import KEPT_EVENT_IDS

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


def iter_records(source: Source, *, event_ids: frozenset[int] | None, report: FileReport,
                 **_: Any) -> Iterator[dict[str, Any]]:
    """Flat Windows-field records of an ``auth.txt`` source."""
    keep = KEPT_EVENT_IDS if event_ids is None else event_ids
    t0 = epoch()
    last_t, last_iso = "", ""
    for no, line in text_lines(source):
        if not line:
            continue
        report.records_read += 1
        cells = line.split(",")
        if len(cells) != 9 or not cells[0].isdigit():
            report.skip(SKIP_MALFORMED, f"{source.name}, line {no}: expected 9 fields")
            continue
        t, src_user, dst_user, src_pc, dst_pc, auth_type, logon_type, orient, result = cells
        eid = EVENT_IDS.get((orient.lower(), result.lower().startswith("succ")))
        if eid is None:
            report.skip(SKIP_MALFORMED, f"{source.name}, line {no}: unknown orientation {orient!r}")
            continue
        if eid not in keep:
            report.skipped[SKIP_EVENT_ID] += 1
            continue
        if t != last_t:     # LANL times repeat line after line: one conversion per second
            last_t, last_iso = t, (t0 + timedelta(seconds=int(t))).isoformat()
        user, _, domain = dst_user.partition("@")
        ok = result.lower().startswith("succ")
        rec = {
            "EventID": eid, "Channel": "LANL", "Computer": dst_pc, "EventRecordID": no,
            "TimeCreated": last_iso,
            "TargetUserName": user, "TargetDomainName": domain, "SubjectUserName": src_user.partition("@")[0],
            "WorkstationName": src_pc, "LogonType": logon_type, "AuthenticationPackageName": auth_type,
            "Status": None if ok else result,
        }
        if eid == 4769:
            rec["ServiceName"] = dst_pc + "$"
        yield rec


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
