"""The canonical event: the only shape that leaves ``ingest/``.

Every reader (EVTX, Windows XML, Winlogbeat/ECS, OTRF/NXLog, Defender advanced hunting, LANL)
produces :class:`Event` rows; everything downstream reads only a frame with :data:`COLUMNS`.
Windows field names (``IpAddress``, ``TargetLogonId``...) never appear past this package.

Conventions (enforced by the normalisers in :mod:`ingest.normalize`):

* ``ts`` is timezone-aware UTC.
* Host names are upper-case short (NetBIOS-style) names: ``pc01.example.corp`` -> ``PC01``,
  ``EXAMPLE\\PC01$`` -> ``PC01``. A host known only by IP stays an IP string in ``*_ip``.
* ``host`` is the computer whose log holds the event (EVTX ``<Computer>``, MDE ``DeviceName``).
* ``src_*``/``dst_*`` describe the network direction of the action the event records. For a
  target-side event (4624, 5140, 5145, inbound Sysmon 3) ``dst_host == host`` and ``src_*`` is the
  remote client; for a source-side event (4648, outbound Sysmon 3, ``net use`` 4688, MDE outbound
  connection) ``src_host == host`` and ``dst_*`` is the remote server. Loopback is not remote: a
  logon from ``127.0.0.1``/``::1`` has ``src_host == host``.
* ``account`` is the account the action ran as (4624 TargetUserName, 4648 TargetUserName, 5140
  SubjectUserName...), lower-case, without domain; ``account_domain`` upper-case.
  ``subject_account`` is the logged-on account that initiated it where the event distinguishes
  the two (4648, 4688, 4697).
* ``logon_id`` is the session the event belongs to on ``host``, lower-case hex ``0x3e7``:
  4624 TargetLogonId, 5140/5145/4697/4688/4648/4672 SubjectLogonId. It is the session-join key.
* ``share_name`` is ``\\\\*\\ADMIN$`` style, upper-case share; ``target_name`` is the
  RelativeTargetName (file or pipe) as logged.
* ``repeats`` is how many identical events the row stands for (missing = 1). Only the LANL reader
  collapses (:mod:`ingest.formats.lanl_auth`): a run of lines identical but for their time within
  one UTC hour becomes its first line (``repeats`` = the run less its last line) and its last line
  (``repeats`` = 1), so times, hops and counts stay exact. ``n_events`` of hops, finding counts and
  the event count of a result add ``repeats`` up.

* ``src_port`` is the client's TCP port of a network action (the remote end's port on a target-side
  event, the host's own port on a source-side Sysmon 3 connection), ``dst_port`` the server's. A
  port logged as ``-`` or ``0`` is unknown (missing).

Columns added after the first case files (:data:`LATER_COLUMNS`: ``repeats``, ``src_port``) read as
missing from older case files and frames that lack them (``repeats`` missing = one event per row).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

import numpy as np
import pandas as pd

from ingest.errors import SchemaError


class Event(NamedTuple):
    """One canonical event row. Optional fields are ``None`` when the source lacks them."""

    ts: datetime
    event_id: int
    channel: str                        # "Security" | "System" | "Sysmon" | "MDE" | "LANL"
    host: str                           # computer whose log holds the event
    src_host: str | None = None
    src_ip: str | None = None
    src_port: int | None = None         # the client's port (4624/4625/5140/5145/4768/4769 IpPort, Sysmon 3)
    dst_host: str | None = None
    dst_ip: str | None = None
    dst_port: int | None = None
    account: str | None = None
    account_domain: str | None = None
    subject_account: str | None = None
    logon_type: int | None = None
    logon_id: str | None = None
    auth_package: str | None = None     # "NTLM" | "Kerberos" | "Negotiate"
    logon_process: str | None = None    # "NtLmSsp" | "Kerberos" | "seclogo" ...
    key_length: int | None = None       # NTLM session key length; 0 = pass-the-hash shape
    status: str | None = None           # 4625 Status/SubStatus, MDE FailureReason
    share_name: str | None = None
    target_name: str | None = None
    access_mask: int | None = None      # 5145 AccessMask (WriteData 0x2, AppendData 0x4)
    service_name: str | None = None
    service_image: str | None = None    # 7045 ImagePath / 4697 ServiceFileName
    process: str | None = None          # process image (Sysmon Image, 4688 NewProcessName)
    command_line: str | None = None
    parent_process: str | None = None
    record_id: int | None = None        # EventRecordID (or line number): the evidence link
    source_file: str = ""
    source_format: str = ""             # key in ingest.formats.FORMATS
    repeats: int | None = None          # identical events this row stands for (None = 1), see below


COLUMNS: tuple[str, ...] = Event._fields
#: Columns added to the schema after case files were first written: a frame or case file without
#: them reads with them missing (see :func:`coerce_frame`, ``graph.spark.io.conform``).
LATER_COLUMNS: tuple[str, ...] = ("repeats", "src_port")

_INT_COLUMNS: dict[str, str] = {
    "event_id": "int32",
    "dst_port": "Int32",
    "src_port": "Int32",
    "logon_type": "Int8",
    "key_length": "Int16",
    "access_mask": "Int64",
    "record_id": "Int64",
    "repeats": "Int32",
}
_CATEGORY_COLUMNS = ("channel", "source_format")
#: Fixed dtypes of the canonical events frame; every column not named here is ``string``.
DTYPES: dict[str, str] = {
    "ts": "datetime64[ns, UTC]",
    **_INT_COLUMNS,
    **{c: "category" for c in _CATEGORY_COLUMNS},
    **{c: "string" for c in COLUMNS if c not in _INT_COLUMNS and c not in _CATEGORY_COLUMNS
       and c != "ts"},
}


def empty_frame() -> pd.DataFrame:
    """An events frame with no rows and the canonical dtypes."""
    return to_frame(())


def to_frame(events: Iterable[Event]) -> pd.DataFrame:
    """Build a validated events frame (column order = :data:`COLUMNS`) from ``Event`` rows.

    Examples:
        >>> from datetime import datetime, timezone
        >>> ev = Event(datetime(2024, 1, 1, tzinfo=timezone.utc), 4624, "Security", "PC01")
        >>> to_frame([ev]).dtypes["event_id"]
        dtype('int32')
    """
    frame = pd.DataFrame.from_records(list(events), columns=list(COLUMNS))
    return coerce_frame(frame)


def coerce_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a frame that has the canonical columns the canonical dtypes, then validate it."""
    absent = [c for c in LATER_COLUMNS if c not in frame.columns]   # from before the column existed
    if absent:
        frame = frame.assign(**{c: pd.Series(pd.NA, index=frame.index, dtype=DTYPES[c]) for c in absent})
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise SchemaError(f"events frame lacks columns {missing}")
    out = frame.loc[:, list(COLUMNS)].copy()
    if str(out["ts"].dtype) != DTYPES["ts"]:
        out["ts"] = pd.to_datetime(out["ts"], utc=True).astype(DTYPES["ts"])
    for col, dtype in DTYPES.items():
        if col == "ts":
            continue
        if dtype == "string":
            # None/NaN stay missing; everything else becomes text
            if out[col].dtype != _STRING:   # a case file's columns already are (no copy then)
                out[col] = out[col].astype("string")
        elif dtype == "category":
            out[col] = _category(out[col])
        elif str(out[col].dtype) != dtype:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype(dtype)
    return validate_frame(out)


_STRING = pd.StringDtype()


def _category(col: pd.Series) -> pd.Series:
    """``col`` as text, missing values as "", categorical (categories: the sorted values present).

    A categorical column already in that shape (a case file's) only gets ``string`` categories
    instead of being converted row by row.
    """
    if isinstance(col.dtype, pd.CategoricalDtype) and not col.cat.ordered:
        cats, codes = col.cat.categories, col.cat.codes.to_numpy()
        if (len(codes) and codes.min() >= 0 and cats.is_unique and cats.is_monotonic_increasing
                and all(isinstance(c, str) for c in cats)
                and np.bincount(codes, minlength=len(cats)).all()):
            return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(cats, dtype="string")),
                             index=col.index, name=col.name)
    return col.astype("string").fillna("").astype("category")


def event_count(frame: pd.DataFrame) -> int:
    """Events a canonical frame stands for: its rows, each counted ``repeats`` times (missing = 1)."""
    if "repeats" not in frame.columns or not len(frame):
        return len(frame)
    return int(frame["repeats"].fillna(1).sum())


def validate_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Check that ``frame`` has exactly the canonical columns and dtypes; return it unchanged.

    Raises:
        SchemaError: naming the first column that is missing or has the wrong dtype.
    """
    if tuple(frame.columns) != COLUMNS:
        raise SchemaError(f"events frame columns {list(frame.columns)} != {list(COLUMNS)}")
    for col, dtype in DTYPES.items():
        actual = str(frame[col].dtype)
        if dtype == "category":
            ok = isinstance(frame[col].dtype, pd.CategoricalDtype)
        elif dtype == "string":
            ok = isinstance(frame[col].dtype, pd.StringDtype)
        else:
            ok = actual == dtype
        if not ok:
            raise SchemaError(f"events column {col!r} has dtype {actual}, expected {dtype}")
    return frame
