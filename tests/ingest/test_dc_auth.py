"""Domain-controller authentication (4768/4769/4776): kept, placed client -> service host, and
turned into hops when only the DC's Security log is collected."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.pipeline import run
from ingest import load_events
from ingest.normalize import spn_host

_NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def _event(eid: int, ts: str, rec: int, data: dict[str, str], computer: str = "DC01.corp.local") -> str:
    fields = "".join(f'<Data Name="{k}">{v}</Data>' for k, v in data.items())
    return (f'<Event xmlns="{_NS}"><System><Provider Name="Microsoft-Windows-Security-Auditing"/>'
            f"<EventID>{eid}</EventID><TimeCreated SystemTime=\"{ts}\"/><EventRecordID>{rec}</EventRecordID>"
            f"<Channel>Security</Channel><Computer>{computer}</Computer></System>"
            f"<EventData>{fields}</EventData></Event>")


def _tgt(ts: str, rec: int, account: str, ip: str) -> str:
    return _event(4768, ts, rec, {"TargetUserName": account, "TargetDomainName": "CORP",
                                  "TicketOptions": "0x40810010", "TicketEncryptionType": "0x12",
                                  "IpAddress": f"::ffff:{ip}", "IpPort": "50100", "Status": "0x0"})


def _tgs(ts: str, rec: int, account: str, service: str, ip: str, status: str = "0x0",
         etype: str = "0x12") -> str:
    return _event(4769, ts, rec, {"TargetUserName": f"{account}@CORP.LOCAL", "TargetDomainName": "CORP.LOCAL",
                                  "ServiceName": service, "ServiceSid": "S-1-5-21-1-2-3-1105",
                                  "TicketOptions": "0x40810000", "TicketEncryptionType": etype,
                                  "IpAddress": ip if ip == "::1" else f"::ffff:{ip}", "IpPort": "51000",
                                  "Status": status, "LogonGuid": "{00000000-0000-0000-0000-000000000000}",
                                  "TransmittedServices": "-"})


def write_dc_log(tmp_path: Path) -> Path:
    """A DC's Security log: machine TGTs name the clients' IPs; users ask for service tickets."""
    rows = [
        _tgt("2024-03-05T07:00:00Z", 1, "WS01$", "10.0.0.5"),
        _tgt("2024-03-05T07:01:00Z", 2, "WS02$", "10.0.0.6"),
        _tgt("2024-03-05T07:02:00Z", 3, "SRV01$", "10.0.1.10"),
        _tgt("2024-03-05T08:00:00Z", 4, "bob", "10.0.0.5"),
        _tgs("2024-03-05T08:00:05Z", 5, "bob", "krbtgt", "10.0.0.5"),                  # TGT renewal: no host
        _tgs("2024-03-05T08:01:00Z", 6, "bob", "FS01$", "10.0.0.5"),                   # bob WS01 -> FS01
        _tgs("2024-03-05T09:00:00Z", 7, "adm_x", "cifs/WS02.corp.local", "10.0.0.5", etype="0x17"),
        _tgs("2024-03-05T09:00:02Z", 8, "adm_x", "HOST/WS02.corp.local", "10.0.0.5", etype="0x17"),
        _tgs("2024-03-05T09:30:00Z", 9, "adm_y", "RPCSS/SRV01.corp.local", "10.0.0.6"),  # WS02 -> SRV01
        _tgs("2024-03-05T09:31:00Z", 10, "adm_y", "SRV02$", "10.0.0.6", status="0x1b"),  # failed: no hop
        _tgs("2024-03-05T09:40:00Z", 11, "adm_z", "cifs/SRV03", "::1"),                  # the DC itself
        _tgs("2024-03-05T09:50:00Z", 12, "svc_sql", "svc_web", "10.0.0.6"),             # user SPN: no host
        _tgs("2024-03-05T09:55:00Z", 13, "WS02$", "SRV01$", "10.0.0.6"),                # machine account
        _event(4776, "2024-03-05T10:00:00Z", 14, {"PackageName": "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0",
                                                  "TargetUserName": "adm_y", "Workstation": "WS02",
                                                  "Status": "0x0"}),
    ]
    path = tmp_path / "dc01-security.xml"
    path.write_text("<Events>\n" + "\n".join(rows) + "\n</Events>\n", encoding="utf-8")
    return path


@pytest.fixture()
def dc_log(tmp_path: Path) -> Path:
    """:func:`write_dc_log` in the test's folder."""
    return write_dc_log(tmp_path)


def test_spn_host_names_the_service_host() -> None:
    assert [spn_host(s) for s in ("FS01$", "cifs/fs01.corp.local", "HOST/FS01", "RPCSS/fs01:135",
                                  "cifs/FS01@CORP.LOCAL", "krbtgt", "krbtgt/CORP.LOCAL", "svc_sql",
                                  "MSSQLSvc/10.0.0.9:1433", None)] == [
        "FS01", "FS01", "FS01", "FS01", "FS01", None, None, None, None, None]


def test_dc_events_are_kept_with_their_fields(dc_log: Path) -> None:
    events, report = load_events([dc_log], workers=1, resolve=False)
    assert report.problem_count == 0 and len(events) == 14
    assert set(events["host"]) == {"DC01"}
    tgs = events[events["record_id"] == 7].iloc[0]
    assert (tgs["event_id"], tgs["src_ip"], tgs["dst_host"], tgs["account"], tgs["service_name"]) == (
        4769, "10.0.0.5", "WS02", "adm_x", "cifs/WS02.corp.local")
    assert (tgs["auth_package"], tgs["logon_process"], tgs["access_mask"], tgs["status"]) == (
        "Kerberos", "0x17", 0x40810000, "0x0")
    tgt = events[events["record_id"] == 1].iloc[0]     # a machine's own TGT names the machine's IP
    assert (tgt["event_id"], tgt["src_host"], tgt["src_ip"], tgt["account"]) == (
        4768, "WS01", "10.0.0.5", "ws01$")
    assert pd.isna(tgt["dst_host"])
    ntlm = events[events["event_id"] == 4776].iloc[0]
    assert (ntlm["src_host"], ntlm["account"], ntlm["auth_package"]) == ("WS02", "adm_y", "NTLM")
    own = events[events["record_id"] == 11].iloc[0]
    assert own["src_host"] == "DC01" and pd.isna(own["src_ip"])


def test_dc_only_log_gives_source_destination_hops(dc_log: Path) -> None:
    hops = run([dc_log]).hops
    got = {(h.src_host, h.dst_host, h.account) for h in hops.itertuples()}
    assert got == {("WS01", "FS01", "bob"), ("WS01", "WS02", "adm_x"), ("WS02", "SRV01", "adm_y")}
    x = hops[hops["account"] == "adm_x"].iloc[0]
    assert x["src_ip"] == "10.0.0.5" and x["src_resolved_by"] == "event+ip_hint"
    assert x["rules"] == ("lg.auth.service_ticket",) and x["n_events"] == 2
    assert x["auth_packages"] == ("kerberos",)
