"""``src_port``: the client's port of a network action, from every reader that carries it.

Windows 4624/4625/5140/5145/4768/4769 ``IpPort`` is the client's (remote) port; 4648's ``IpPort`` is
the server's (``dst_port``); Sysmon 3 / Defender DeviceNetworkEvents name both ends, and old Sysmon
schemas log an inbound connection with the local listener as *Source* (the swap in
``ingest.records._sysmon3``). ``-`` and ``0`` are unknown. Case files written before the column
existed read with it missing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from ingest import load_events
from ingest.case import read_case, write_case
from ingest.formats.mde_table import to_windows
from ingest.formats.winlogbeat_json import to_windows as ecs_to_windows
from ingest.records import normalize_records
from ingest.report import FileReport
from ingest.schema import COLUMNS, DTYPES, LATER_COLUMNS
from ingest.writers import WRITE_FORMATS, write_events

T = "2024-03-01T09:00:00.000Z"


def _rows(*recs: dict[str, Any]) -> pd.DataFrame:
    base = {"Computer": "srv01.corp.local", "TimeCreated": T}
    records = [{**base, "EventRecordID": i + 1, **r} for i, r in enumerate(recs)]
    return normalize_records(records, source_file="t", source_format="t", report=FileReport("t"))


def _port(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)


@pytest.mark.parametrize("eid", [4624, 4625, 5140, 5145])
def test_target_side_ipport_is_the_clients_port(eid: int) -> None:
    row = _rows({"EventID": eid, "Channel": "Security", "IpAddress": "::ffff:10.0.0.5", "IpPort": "50123",
                 "LogonType": "3", "TargetUserName": "alice", "SubjectUserName": "alice",
                 "ShareName": "\\\\*\\C$"}).iloc[0]
    assert (row["src_ip"], _port(row["src_port"]), _port(row["dst_port"])) == ("10.0.0.5", 50123, None)


def test_4648_ipport_is_the_servers_port_not_the_clients() -> None:
    row = _rows({"EventID": 4648, "Channel": "Security", "TargetServerName": "fs01", "IpAddress": "10.0.0.9",
                 "IpPort": "445", "SubjectUserName": "bob", "TargetUserName": "bob"}).iloc[0]
    assert (_port(row["dst_port"]), _port(row["src_port"])) == (445, None)


@pytest.mark.parametrize("raw", ["-", "0", "", None, "70000", "junk"])
def test_dash_zero_and_junk_ports_are_unknown(raw: Any) -> None:
    row = _rows({"EventID": 4624, "Channel": "Security", "IpAddress": "10.0.0.5", "IpPort": raw,
                 "LogonType": "3", "TargetUserName": "alice"}).iloc[0]
    assert pd.isna(row["src_port"])


def test_dc_ticket_ipport_is_the_clients_port_and_loopback_has_none() -> None:
    frame = _rows(
        {"EventID": 4769, "Channel": "Security", "IpAddress": "::ffff:10.0.0.7", "IpPort": "51000",
         "TargetUserName": "alice@CORP", "ServiceName": "cifs/fs01.corp.local", "Status": "0x0"},
        {"EventID": 4769, "Channel": "Security", "IpAddress": "::1", "IpPort": "0",
         "TargetUserName": "alice@CORP", "ServiceName": "cifs/fs01.corp.local", "Status": "0x0"})
    assert [_port(p) for p in frame["src_port"]] == [51000, None]


def _sysmon3(initiated: str, src: tuple[str, str, str], dst: tuple[str, str, str]) -> dict[str, Any]:
    return {"EventID": 3, "Channel": "Microsoft-Windows-Sysmon/Operational", "Initiated": initiated,
            "Image": "System", "SourceHostname": src[0], "SourceIp": src[1], "SourcePort": src[2],
            "DestinationHostname": dst[0], "DestinationIp": dst[1], "DestinationPort": dst[2]}


def test_sysmon3_client_port_in_every_orientation() -> None:
    frame = _rows(
        # outbound from this host: the client port is this host's own source port
        _sysmon3("true", ("srv01", "10.0.0.1", "49700"), ("fs01", "10.0.0.9", "445")),
        # inbound, newer schema: the remote client is Source
        _sysmon3("false", ("pc07", "10.0.0.7", "50001"), ("srv01", "10.0.0.1", "445")),
        # inbound, older schema: the local listener is Source (port 445), the client is Destination
        _sysmon3("false", ("srv01", "10.0.0.1", "445"), ("pc08", "10.0.0.8", "50002")),
    )
    got = [(r.src_ip, _port(r.src_port), r.dst_ip, _port(r.dst_port)) for r in frame.itertuples()]
    assert got == [("10.0.0.1", 49700, "10.0.0.9", 445), ("10.0.0.7", 50001, "10.0.0.1", 445),
                   ("10.0.0.8", 50002, "10.0.0.1", 445)]


def test_defender_network_and_logon_rows_carry_the_client_port() -> None:
    base = {"Timestamp": T, "DeviceName": "srv01.corp.local", "ReportId": 1, "InitiatingProcessFolderPath":
            "System"}
    out = to_windows({**base, "ActionType": "ConnectionSuccess", "LocalIP": "10.0.0.1", "LocalPort": 49800,
                      "RemoteIP": "10.0.0.9", "RemotePort": 445})
    inbound = to_windows({**base, "ActionType": "InboundConnectionAccepted", "LocalIP": "10.0.0.1",
                          "LocalPort": 445, "RemoteIP": "10.0.0.7", "RemotePort": 50007})
    logon = to_windows({**base, "ActionType": "LogonSuccess", "AccountName": "alice", "LogonType": "Network",
                        "RemoteIP": "10.0.0.5", "RemotePort": 50555, "Protocol": "NTLM"})
    assert out and inbound and logon
    frame = normalize_records([out, inbound, logon], source_file="t", source_format="mde",
                              report=FileReport("t")).sort_values("event_id")
    got = [(int(r.event_id), r.src_ip, _port(r.src_port), _port(r.dst_port)) for r in frame.itertuples()]
    assert sorted(got, key=str) == sorted([(3, "10.0.0.1", 49800, 445), (3, "10.0.0.7", 50007, 445),
                                           (4624, "10.0.0.5", 50555, None)], key=str)


def test_ecs_source_port_stands_in_for_a_missing_ipport() -> None:
    doc = {"@timestamp": T, "winlog": {"event_id": 4624, "channel": "Security", "computer_name": "srv01",
                                       "event_data": {"TargetUserName": "alice", "LogonType": "3"}},
           "source": {"ip": "10.0.0.5", "port": 50321}}
    kept = {"@timestamp": T, "winlog": {"event_id": 4624, "channel": "Security", "computer_name": "srv01",
                                        "event_data": {"TargetUserName": "alice", "LogonType": "3",
                                                       "IpAddress": "10.0.0.6", "IpPort": "50999"}},
            "source": {"ip": "10.0.0.5", "port": 50321}}
    frame = normalize_records([ecs_to_windows(doc), ecs_to_windows(kept)], source_file="t",
                              source_format="winlogbeat", report=FileReport("t"))
    assert [(ip, _port(p)) for ip, p in zip(frame["src_ip"], frame["src_port"], strict=True)] == [
        ("10.0.0.5", 50321), ("10.0.0.6", 50999)]


@pytest.mark.parametrize("fmt", sorted(WRITE_FORMATS))
def test_every_writer_round_trips_the_client_port(fmt: str, tmp_path: Path) -> None:
    frame = _rows(
        {"EventID": 4624, "Channel": "Security", "IpAddress": "10.0.0.5", "IpPort": "50123", "LogonType": "3",
         "TargetUserName": "alice", "TargetLogonId": "0x1"},
        {"EventID": 4624, "Channel": "Security", "IpAddress": "10.0.0.6", "IpPort": "0", "LogonType": "3",
         "TargetUserName": "bob", "TargetLogonId": "0x2"},
        _sysmon3("true", ("srv01", "10.0.0.1", "49700"), ("fs01", "10.0.0.9", "445")))
    out = tmp_path / f"e.{fmt}"
    write_events(frame, out, fmt)
    back, report = load_events([out], workers=1, resolve=False)
    assert report.problem_count == 0, report.format_text()
    if fmt == "lanl":       # auth.txt has no ports
        assert back["src_port"].isna().all()
        return
    got = sorted((int(e), a if isinstance(a, str) else "", _port(p))
                 for e, a, p in zip(back["event_id"], back["account"], back["src_port"], strict=True))
    assert got == [(3, "", 49700), (4624, "alice", 50123), (4624, "bob", None)]


def test_a_case_file_from_before_the_column_reads_with_it_missing(tmp_path: Path) -> None:
    frame = _rows({"EventID": 4624, "Channel": "Security", "IpAddress": "10.0.0.5", "IpPort": "50123",
                   "LogonType": "3", "TargetUserName": "alice"})
    new = write_case(frame, tmp_path / "new.parquet")
    assert _port(read_case(new)["src_port"].iloc[0]) == 50123
    table = pq.read_table(new).drop_columns(list(LATER_COLUMNS))
    meta = {b"latgraph.schema": json.dumps({"version": 1, "columns": [c for c in COLUMNS
                                                                      if c not in LATER_COLUMNS]}).encode()}
    old = tmp_path / "old.parquet"
    pq.write_table(table.replace_schema_metadata(meta), old)
    back = read_case(old)
    assert list(back.columns) == list(COLUMNS) and back["src_port"].isna().all()
    assert str(back["src_port"].dtype) == DTYPES["src_port"] and back["src_ip"].tolist() == ["10.0.0.5"]
