"""Regenerate the format-equivalence fixtures of this folder (run from the repo root).

The same four real events, copied from two real EVTX files of the shared data sets
(``evtx-to-mitre-attack/ID4688_4697_5140-5145_PSexec_remote_execution_admin_share.evtx`` EventRecordID
349321 (4624 type 3), 349325 (5145 write of PSEXESVC.exe to ADMIN$), 349343 (4697 PSEXESVC) and
``evtx-to-mitre-attack/ID7045-4697-SMBexec_service_registration.evtx`` record 1467331 (7045 BTOBTO)),
are written here BY HAND in each dialect's own document shape (not with ``ingest.writers``), so the
readers are checked against independently built input. See ../PROVENANCE.md.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

HERE = Path(__file__).parent
NS = "http://schemas.microsoft.com/win/2004/08/events/event"
HOST = "srvdefender01.offsec.lan"
DC = "rootdc1.offsec.lan"

#: (EventID, Channel, provider, Computer, SystemTime, EventRecordID, EventData) as in the EVTX files
EVENTS = [
    (4624, "Security", "Microsoft-Windows-Security-Auditing", HOST, "2021-04-21T09:40:32.342397Z", 349321, {
        "SubjectUserSid": "S-1-0-0", "SubjectUserName": "-", "SubjectDomainName": "-",
        "SubjectLogonId": "0x0",
        "TargetUserSid": "S-1-5-21-4230534742-2542757381-3142984815-1111", "TargetUserName": "admmig",
        "TargetDomainName": "OFFSEC.LAN", "TargetLogonId": "0x1375fbd", "LogonType": "3",
        "LogonProcessName": "Kerberos", "AuthenticationPackageName": "Kerberos", "WorkstationName": "-",
        "LmPackageName": "-", "KeyLength": "0", "ProcessId": "0x0", "ProcessName": "-",
        "IpAddress": "10.23.42.22", "IpPort": "56661", "ImpersonationLevel": "%%1833"}),
    (5145, "Security", "Microsoft-Windows-Security-Auditing", HOST, "2021-04-21T09:40:32.343360Z", 349325, {
        "SubjectUserSid": "S-1-5-21-4230534742-2542757381-3142984815-1111", "SubjectUserName": "admmig",
        "SubjectDomainName": "OFFSEC", "SubjectLogonId": "0x1375fbd", "ObjectType": "File",
        "IpAddress": "10.23.42.22", "IpPort": "56661", "ShareName": "\\\\*\\ADMIN$",
        "ShareLocalPath": "\\??\\C:\\Windows", "RelativeTargetName": "PSEXESVC.exe", "AccessMask": "0x2",
        "AccessList": "%%4417\r\n\t\t\t\t", "AccessReason": "-"}),
    (4697, "Security", "Microsoft-Windows-Security-Auditing", HOST, "2021-04-21T09:40:32.363393Z", 349343, {
        "SubjectUserSid": "S-1-5-21-4230534742-2542757381-3142984815-1111", "SubjectUserName": "admmig",
        "SubjectDomainName": "OFFSEC", "SubjectLogonId": "0x1376020", "ServiceName": "PSEXESVC",
        "ServiceFileName": "%SystemRoot%\\PSEXESVC.exe", "ServiceType": "0x10", "ServiceStartType": "3",
        "ServiceAccount": "LocalSystem"}),
    (7045, "System", "Service Control Manager", DC, "2021-12-13T12:55:45.250084Z", 1467331, {
        "ServiceName": "BTOBTO",
        "ImagePath": "%COMSPEC% /Q /c echo cd  ^> \\\\127.0.0.1\\C$\\__output 2^>^&1 > %TEMP%\\execute.bat & "
                     "%COMSPEC% /Q /c %TEMP%\\execute.bat & del %TEMP%\\execute.bat",
        "ServiceType": "user mode service", "StartType": "demand start", "AccountName": "LocalSystem"}),
]


def xml_event(e: tuple) -> str:
    eid, channel, provider, computer, ts, rid, data = e
    items = "".join(f"<Data Name={quoteattr(k)}>{escape(v)}</Data>" for k, v in data.items())
    return (f"<Event xmlns='{NS}'><System><Provider Name='{provider}'/><EventID>{eid}</EventID>"
            f"<Version>0</Version><Level>0</Level><TimeCreated SystemTime='{ts}'/>"
            f"<EventRecordID>{rid}</EventRecordID><Correlation/><Execution ProcessID='4' ThreadID='8'/>"
            f"<Channel>{channel}</Channel><Computer>{computer}</Computer><Security/></System>"
            f"<EventData>{items}</EventData></Event>")


def main() -> None:
    # wevtutil qe Security /f:xml : <Event> elements back to back, no root, no declaration
    (HERE / "psexec.wevtutil.xml").write_text("".join(xml_event(e) for e in EVENTS), encoding="utf-8")
    # Event Viewer "Save As... XML": UTF-16 with BOM, declaration, <Events> root, one event per line
    body = "\r\n".join(xml_event(e) for e in EVENTS)
    text = f'<?xml version="1.0" encoding="UTF-16"?>\r\n<Events>{body}</Events>\r\n'
    (HERE / "psexec.eventviewer.xml").write_bytes(text.encode("utf-16"))
    # Winlogbeat 7.x file output: JSON lines, winlog.event_id as a number
    lines = []
    for eid, channel, provider, computer, ts, rid, data in EVENTS:
        lines.append(json.dumps({
            "@timestamp": ts, "agent": {"type": "winlogbeat", "version": "7.17.0"},
            "event": {"code": eid, "provider": provider, "kind": "event"},
            "host": {"name": computer.split(".")[0]},
            "winlog": {"channel": channel, "computer_name": computer, "event_id": eid, "record_id": rid,
                       "provider_name": provider, "event_data": data}}))
    (HERE / "psexec.winlogbeat7.ndjson").write_text("\n".join(lines) + "\n")
    # Winlogbeat 8.x documents as returned by Elasticsearch _search (hits.hits[]._source)
    hits = [{"_index": ".ds-winlogbeat-8.12.0", "_id": str(rid), "_source": {
        "@timestamp": ts, "event": {"code": str(eid), "provider": provider},
        "host": {"name": computer},
        "winlog": {"channel": channel, "computer_name": computer, "event_id": str(eid),
                   "record_id": str(rid), "event_data": data}}}
        for eid, channel, provider, computer, ts, rid, data in EVENTS]
    (HERE / "psexec.winlogbeat8.search.json").write_text(json.dumps({"took": 3, "hits": {"hits": hits}},
                                                                    indent=1))
    # OTRF / NXLog: flat JSON lines in a zip; Hostname, @timestamp, RecordNumber; EventTime local (UTC-4)
    buf = io.StringIO()
    for eid, channel, provider, computer, ts, rid, data in EVENTS:
        buf.write(json.dumps({"EventID": eid, "Channel": channel.lower() if eid == 5145 else channel,
                              "SourceName": provider, "Hostname": computer,
                              "host": "wec.internal.cloudapp.net",
                              "EventTime": "2021-04-21 05:40:32", "@timestamp": ts[:23] + "Z",
                              "RecordNumber": rid, **data}) + "\n")
    with zipfile.ZipFile(HERE / "psexec.otrf.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("psexec_2021-04-21.json", buf.getvalue())
    # Defender advanced hunting: DeviceLogonEvents (the 4624) + DeviceEvents ServiceInstalled (the 7045)
    logon = {"Timestamp": "2021-04-21T09:40:32.3423970Z", "DeviceId": "a" * 40, "DeviceName": HOST,
             "ActionType": "LogonSuccess", "LogonType": "Network", "AccountDomain": "offsec.lan",
             "AccountName": "admmig", "AccountSid": "S-1-5-21-4230534742-2542757381-3142984815-1111",
             "Protocol": "Kerberos", "FailureReason": "", "IsLocalAdmin": "true", "LogonId": str(0x1375fbd),
             "RemoteDeviceName": "", "RemoteIP": "10.23.42.22", "RemoteIPType": "Private",
             "RemotePort": "56661",
             "ReportId": "349321", "InitiatingProcessFileName": "", "InitiatingProcessFolderPath": ""}
    service = {"Timestamp": "2021-12-13T12:55:45.2500840Z", "DeviceId": "b" * 40, "DeviceName": DC,
               "ActionType": "ServiceInstalled", "FileName": "cmd.exe",
               "FolderPath": EVENTS[3][6]["ImagePath"], "AccountName": "", "AccountDomain": "",
               "ReportId": "1467331", "InitiatingProcessFileName": "services.exe",
               "AdditionalFields": json.dumps({"ServiceName": "BTOBTO", "ServiceType": "Service",
                                               "ServiceStartType": "DemandStart",
                                               "ServiceAccount": "LocalSystem"})}
    columns = list(dict.fromkeys([*logon, *service]))
    with open(HERE / "psexec.mde.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows([logon, service])
    with open(HERE / "psexec.mde.jsonl", "w", encoding="utf-8") as fh:
        for row in (logon, service):
            fh.write(json.dumps({c: row.get(c) for c in columns}) + "\n")


if __name__ == "__main__":
    main()
