"""Microsoft Defender for Endpoint / M365 Defender advanced-hunting exports, CSV or JSON lines.

Tables (Microsoft Learn, "Advanced hunting schema"): DeviceLogonEvents, DeviceNetworkEvents,
DeviceProcessEvents, DeviceFileEvents, DeviceEvents, DeviceRegistryEvents. A file is recognised by its columns
(``Timestamp``, ``DeviceName``, ``ActionType``); each row's ``ActionType`` picks the Windows event
with the same meaning (:data:`ingest.winevents.MDE_ACTION_IDS`, documented there) and
:data:`MDE_FIELDS` renames the row's columns to that event's Windows field names, so one
normaliser serves every format. Streaming-API records (``{"category": "AdvancedHunting-...",
"properties": {...}}``) are unwrapped. ``AdditionalFields.X`` reads key ``X`` of the JSON column.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from typing import Any

import orjson

from ingest.formats.base import Format, Source, iter_json_objects
from ingest.report import SKIP_EVENT_ID, SKIP_MALFORMED, FileReport
from ingest.winevents import KEPT_EVENT_IDS, MDE_ACTION_IDS

#: Columns every advanced-hunting export has (the recognition rule).
REQUIRED_COLUMNS: frozenset[str] = frozenset({"Timestamp", "DeviceName", "ActionType"})
#: Windows system field -> MDE column (all tables).
SYSTEM_MAP: dict[str, str] = {"Computer": "DeviceName", "TimeCreated": "Timestamp",
                              "EventRecordID": "ReportId"}
_INIT_USER = ("InitiatingProcessAccountDomain", "InitiatingProcessAccountName")
_LOGON = {"TargetUserName": "AccountName", "TargetDomainName": "AccountDomain", "LogonType": "LogonType",
          "IpAddress": "RemoteIP", "IpPort": "RemotePort", "WorkstationName": "RemoteDeviceName",
          "AuthenticationPackageName": "Protocol", "ProcessName": "InitiatingProcessFolderPath"}
#: DeviceRegistryEvents: the key path is ``RegistryKey\\RegistryValueName`` (Sysmon's TargetObject).
_REGISTRY: dict[str, str | tuple[str, str]] = {
    "TargetObject": ("RegistryKey", "RegistryValueName"), "Image": "InitiatingProcessFolderPath",
    "User": _INIT_USER}
#: DeviceEvents ScheduledTaskCreated/Updated (task name and XML in AdditionalFields).
_TASK: dict[str, str | tuple[str, str]] = {
    "SubjectUserName": "InitiatingProcessAccountName", "SubjectDomainName": "InitiatingProcessAccountDomain",
    "SubjectLogonId": "InitiatingProcessLogonId", "TaskName": "AdditionalFields.TaskName"}
#: Per event id: Windows field -> MDE column (a tuple = ``DOMAIN\\name`` from two columns).
#: Key ``-3`` is an inbound connection (InboundConnectionAccepted): the remote end is the source.
MDE_FIELDS: dict[int, dict[str, str | tuple[str, str]]] = {
    4624: {**_LOGON, "TargetLogonId": "LogonId"},
    4625: {**_LOGON, "Status": "FailureReason"},
    4648: {"SubjectUserName": "InitiatingProcessAccountName", "SubjectLogonId": "InitiatingProcessLogonId",
           "TargetUserName": "AccountName", "TargetDomainName": "AccountDomain",
           "TargetServerName": "RemoteDeviceName", "IpAddress": "RemoteIP", "IpPort": "RemotePort",
           "ProcessName": "InitiatingProcessFolderPath"},
    3: {"SourceIp": "LocalIP", "SourcePort": "LocalPort", "DestinationIp": "RemoteIP",
        "DestinationPort": "RemotePort", "DestinationHostname": "RemoteUrl", "User": _INIT_USER,
        "Image": "InitiatingProcessFolderPath"},
    -3: {"SourceIp": "RemoteIP", "SourcePort": "RemotePort", "DestinationIp": "LocalIP",
         "DestinationPort": "LocalPort", "SourceHostname": "RemoteUrl", "User": _INIT_USER,
         "Image": "InitiatingProcessFolderPath"},
    1: {"Image": "FolderPath", "CommandLine": "ProcessCommandLine",
        "ParentImage": "InitiatingProcessFolderPath", "User": ("AccountDomain", "AccountName")},
    11: {"TargetFilename": "FolderPath", "Image": "InitiatingProcessFolderPath", "User": _INIT_USER},
    7045: {"ServiceName": "AdditionalFields.ServiceName", "ImagePath": "FolderPath",
           "AccountName": "AdditionalFields.ServiceAccount"},
    17: {"PipeName": "AdditionalFields.PipeName", "Image": "InitiatingProcessFolderPath", "User": _INIT_USER},
    12: _REGISTRY,
    13: {**_REGISTRY, "Details": "RegistryValueData"},
    4698: {**_TASK, "TaskContent": "AdditionalFields.TaskContent"},
    4702: {**_TASK, "TaskContentNew": "AdditionalFields.TaskContent"},
}
#: ActionTypes of inbound connections (Sysmon ``Initiated=false``).
INBOUND_ACTIONS: frozenset[str] = frozenset({"InboundConnectionAccepted", "ListeningConnectionCreated"})
#: ActionType written for each event id by :mod:`ingest.writers` (first of MDE_ACTION_IDS).
ACTION_FOR_ID: dict[int, str] = {}
for _action, _eid in MDE_ACTION_IDS.items():
    ACTION_FOR_ID.setdefault(_eid, _action)
ACTION_FOR_ID[-3] = "InboundConnectionAccepted"

def sniff(head: bytes, name: str) -> bool:
    """JSON or CSV with the advanced-hunting columns Timestamp, DeviceName and ActionType."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:16384].decode("utf-8", errors="replace")
    if text.startswith(("{", "[")):
        return all(f'"{c}"' in text for c in REQUIRED_COLUMNS)
    header = text.split("\n", 1)[0]
    columns = {c.strip().strip('"') for c in header.split(",")}
    return columns >= REQUIRED_COLUMNS


def _additional(row: dict[str, Any]) -> dict[str, Any]:
    value = row.get("AdditionalFields")
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def to_windows(row: dict[str, Any]) -> dict[str, Any] | None:
    """One advanced-hunting row -> flat Windows-field record, or ``None`` for unmapped ActionTypes."""
    action = str(row.get("ActionType") or "")
    eid = MDE_ACTION_IDS.get(action)
    if eid is None:
        return None
    key = -3 if eid == 3 and action in INBOUND_ACTIONS else eid
    rec: dict[str, Any] = {"EventID": eid, "Channel": "MDE"}
    rec.update({field: row.get(col) for field, col in SYSTEM_MAP.items()})
    extra: dict[str, Any] | None = None
    for field, col in MDE_FIELDS[key].items():
        if isinstance(col, tuple):
            dom, name = row.get(col[0]), row.get(col[1])
            rec[field] = f"{dom}\\{name}" if dom and name else name
        elif col.startswith("AdditionalFields."):
            extra = _additional(row) if extra is None else extra
            rec[field] = extra.get(col.split(".", 1)[1])
        else:
            rec[field] = row.get(col)
    if eid == 3:
        rec["Initiated"] = key == 3
    return rec


def _rows(source: Source, report: FileReport) -> Iterator[tuple[int, dict[str, Any]]]:
    first = source.head(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if first.startswith((b"{", b"[")):
        for no, obj in iter_json_objects(source, report):
            props = obj.get("properties")
            yield no, props if isinstance(props, dict) and "Timestamp" not in obj else obj
        return
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with source.open() as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.DictReader(text)
        missing = REQUIRED_COLUMNS - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"CSV lacks advanced-hunting columns {sorted(missing)}")
        for no, row in enumerate(reader, 2):
            report.records_read += 1
            if None in row:      # more cells than header columns
                report.skip(SKIP_MALFORMED, f"{source.name}, line {no}: more cells than columns")
                continue
            yield no, row


def iter_records(source: Source, *, event_ids: frozenset[int] | None, report: FileReport,
                 **_: Any) -> Iterator[dict[str, Any]]:
    """Flat Windows-field records of the mapped ActionTypes of an advanced-hunting export."""
    keep = KEPT_EVENT_IDS if event_ids is None else event_ids
    for _no, row in _rows(source, report):
        rec = to_windows(row)
        if rec is None or rec["EventID"] not in keep:
            report.skipped[SKIP_EVENT_ID] += 1
            continue
        yield rec


FORMAT = Format(
    name="mde",
    description="Defender for Endpoint advanced hunting (DeviceLogon/Network/Process/File/Events), "
                "CSV or JSON lines, recognised by columns",
    sniff=sniff,
    iter_records=iter_records,
)
