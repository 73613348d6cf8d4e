"""Normalisers: Windows semantics on known values; total and idempotent on junk (hypothesis)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ingest.normalize import (
    is_loopback,
    normalize_account,
    normalize_host,
    normalize_ip,
    normalize_logon_id,
    normalize_logon_type,
    normalize_share,
    parse_int,
)
from ingest.records import normalize_records
from ingest.report import FileReport

JUNK = st.one_of(st.none(), st.text(), st.integers(), st.floats(), st.booleans(), st.binary())
NORMALISERS = [normalize_host, normalize_ip, normalize_account, normalize_share, normalize_logon_id]


@pytest.mark.parametrize(("raw", "host"), [
    ("pc01.example.corp", "PC01"), ("PC01", "PC01"), ("pc01", "PC01"), ("EXAMPLE\\PC01$", "PC01"),
    ("\\\\fs01", "FS01"), ("FS01.", "FS01"), ("-", None), ("", None), ("10.0.0.5", None), ("::1", None),
    ("localhost", None), ("  ws06.theshire.local ", "WS06"),
])
def test_host_names(raw: str, host: str | None) -> None:
    assert normalize_host(raw) == host


@pytest.mark.parametrize(("raw", "ip", "loop"), [
    ("::ffff:10.0.0.5", "10.0.0.5", False), ("::ffff:127.0.0.1", "127.0.0.1", True), ("::1", "::1", True),
    ("127.0.0.2", "127.0.0.2", True), ("-", None, False), ("", None, False), ("fe80::1%12", "fe80::1", False),
    ("not an ip", None, False),
])
def test_ip_addresses(raw: str, ip: str | None, loop: bool) -> None:
    assert normalize_ip(raw) == ip
    assert is_loopback(ip) is loop


@pytest.mark.parametrize(("raw", "account"), [
    ("Admin", "admin"), ("CORP\\Admin", "admin"), ("PC01$", "pc01$"), ("admin@corp.local", "admin"),
    ("ANONYMOUS LOGON", "anonymous logon"), ("SYSTEM", "system"), ("LocalSystem", "system"),
    ("NT AUTHORITY\\SYSTEM", "system"), ("-", None),
])
def test_accounts(raw: str, account: str | None) -> None:
    assert normalize_account(raw) == account


@pytest.mark.parametrize(("raw", "share"), [
    ("\\\\*\\ADMIN$", "\\\\*\\ADMIN$"), ("\\\\*\\admin$", "\\\\*\\ADMIN$"), ("C$", "\\\\*\\C$"),
    ("\\\\FS03VULN\\c$", "\\\\*\\C$"), ("\\\\fs01\\c$\\windows", "\\\\*\\C$"), ("-", None),
])
def test_shares(raw: str, share: str | None) -> None:
    assert normalize_share(raw) == share


def test_numbers_and_logon_ids() -> None:
    assert normalize_logon_id("0x00003E7") == "0x3e7" == normalize_logon_id(999) == normalize_logon_id("999")
    assert normalize_logon_id(20406205.0) == "0x1375fbd"
    assert parse_int("0x2") == 2 and parse_int("%%1833") is None and parse_int("3") == 3
    assert normalize_logon_type("Network") == 3 and normalize_logon_type("10") == 10
    assert normalize_logon_type("RemoteInteractive") == 10 and normalize_logon_type("?") is None


@pytest.mark.parametrize("func", NORMALISERS)
@settings(deadline=None)
@given(value=JUNK)
@example(value=b"\x00 \x00")      # a share part with a trailing blank (normalize_share, found by hypothesis)
def test_normalisers_are_total_and_idempotent(func, value) -> None:  # type: ignore[no-untyped-def]
    once = func(value)
    assert once is None or isinstance(once, str)
    assert func(once) == once


def _logon(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"EventID": 4624, "Channel": "Security", "Computer": "srv01.corp.local",
                               "TimeCreated": "2024-03-01T09:00:00.123Z", "EventRecordID": 7,
                               "TargetUserName": "alice", "TargetDomainName": "CORP", "LogonType": "3",
                               "TargetLogonId": "0xABC", "IpAddress": "10.0.0.5", "IpPort": "50000",
                               "WorkstationName": "PC01", "AuthenticationPackageName": "NTLM"}
    base.update(fields)
    return base


def _one(**fields: object) -> pd.Series:
    frame = normalize_records([_logon(**fields)], source_file="t", source_format="t", report=FileReport("t"))
    assert len(frame) == 1
    return frame.iloc[0]


def test_4624_network_logon_semantics() -> None:
    row = _one()
    assert (row["host"], row["dst_host"], row["src_host"]) == ("SRV01", "SRV01", "PC01")
    assert row["src_ip"] == "10.0.0.5"
    assert (row["account"], row["account_domain"]) == ("alice", "CORP")
    assert (row["logon_id"], row["logon_type"]) == ("0xabc", 3)
    assert row["ts"] == pd.Timestamp("2024-03-01T09:00:00.123Z")


def test_loopback_and_missing_sources_are_local() -> None:
    for ip in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        row = _one(IpAddress=ip, WorkstationName="-")
        assert row["src_host"] == "SRV01" and is_loopback(row["src_ip"])
    row = _one(IpAddress="-", WorkstationName="-", LogonType="5")
    assert row["src_host"] == "SRV01" and pd.isna(row["src_ip"])


def test_rdp_workstation_name_is_not_trusted() -> None:
    row = _one(LogonType="10", WorkstationName="SRV01")     # hayabusa #1678: the target's own name
    assert pd.isna(row["src_host"]) and row["src_ip"] == "10.0.0.5"
    row = _one(LogonType="3", WorkstationName="srv01")      # own name with a remote IP: not the client
    assert pd.isna(row["src_host"])


def test_channel_decides_between_sysmon_1_and_system_1() -> None:
    report = FileReport("t")
    recs = [_logon(EventID=1, Channel="System"),
            _logon(EventID=1, Channel="Microsoft-Windows-Sysmon/Operational", Image="C:\\x.exe",
                   User="CORP\\bob")]
    frame = normalize_records(recs, source_file="t", source_format="t", report=report)
    assert list(frame["channel"].astype(str)) == ["Sysmon"] and report.skipped["event id not kept"] == 1
    assert (frame.iloc[0]["account"], frame.iloc[0]["account_domain"]) == ("bob", "CORP")


def test_bad_records_are_counted_not_raised() -> None:
    report = FileReport("t")
    recs = [_logon(TimeCreated="yesterday"), _logon(EventID="abc"), _logon(TimeCreated=None), _logon()]
    frame = normalize_records(recs, source_file="t", source_format="t", report=report)
    assert len(frame) == 1
    assert report.skipped["no timestamp"] == 2 and report.skipped["no event id"] == 1
    assert any("record 7" in p for p in report.problems)


@settings(deadline=None, max_examples=60)
@given(st.lists(st.dictionaries(st.sampled_from(["EventID", "Channel", "Computer", "TimeCreated",
                                                 "IpAddress", "LogonType", "TargetUserName", "AccessMask",
                                                 "Initiated", "SourceIp", "EventRecordID"]), JUNK),
                max_size=5))
def test_normalize_records_never_raises_on_junk(records: list[dict[str, object]]) -> None:
    report = FileReport("t")
    frame = normalize_records(records, source_file="t", source_format="t", report=report)
    assert len(frame) + sum(report.skipped.values()) == len(records)
