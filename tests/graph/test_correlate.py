"""Correlation into hops: session joins, source/target joins, IP resolution, hard negatives."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from graph.config import AnalysisConfig
from graph.correlate import correlate, short_host
from graph.engine import hop_stage, pandas_event_stage
from graph.model import HOP_COLUMNS
from graph.rules import apply_rules
from graph.toy import toy_events
from tests.conftest import T0, events_frame, make_event

CFG = AnalysisConfig()
SEC = timedelta(seconds=1)


def hops_of(ev: pd.DataFrame) -> pd.DataFrame:
    return hop_stage(pandas_event_stage(ev, CFG).hops, CFG).hops


def test_psexec_chain_is_one_hop_with_every_kind() -> None:
    h = hops_of(toy_events("A>B@0s:psexec"))
    assert len(h) == 1
    row = h.iloc[0]
    assert (row.src_host, row.dst_host, row.account) == ("A", "B", "admin")
    assert set(row.kinds) == {"logon", "file_write", "ipc_pipe", "service_install", "execution"}
    assert {"T1021.002", "T1569.002"} <= set(row.techniques)
    assert row.severity == "high"
    assert [e["event_id"] for e in row.evidence] == [4624, 5145, 5145, 7045, 4688]


def test_hops_frame_has_contract_columns_first() -> None:
    h = correlate(toy_events("A>B@0s"), apply_rules(toy_events("A>B@0s")), CFG)
    assert tuple(h.columns[: len(HOP_COLUMNS)]) == HOP_COLUMNS


def test_service_install_joins_logon_by_time_window_only_within_window() -> None:
    logon = make_event(event_id=4624, logon_type=3, host="SRV", dst_host="SRV", src_host="WS1",
                       src_ip="10.0.0.1", account="bob", logon_id="0x99")
    near = make_event(ts=T0 + 20 * SEC, event_id=7045, channel="System", host="SRV",
                      service_name="BTOBTO", service_image="%COMSPEC% /Q /c x.bat & del x.bat")
    far = near._replace(ts=T0 + 40 * SEC, service_name="OTHER")
    h = hops_of(events_frame(logon, near))
    assert list(zip(h.src_host, h.dst_host, h.account, strict=True)) == [("WS1", "SRV", "bob")]
    h = hops_of(events_frame(logon, far))
    got = {(s if isinstance(s, str) else None, k) for s, k in zip(h.src_host, h.kinds, strict=True)}
    assert (None, ("service_install",)) in got   # 40 s > service_join_window_s: unknown source


def test_4697_joins_its_logon_by_logon_id_beyond_the_window() -> None:
    logon = make_event(event_id=4624, logon_type=3, host="SRV", dst_host="SRV", src_ip="10.0.0.7",
                       account="eve", logon_id="0xabc")
    svc = make_event(ts=T0 + timedelta(minutes=10), event_id=4697, host="SRV", subject_account="eve",
                     logon_id="0xabc", service_name="x", service_image=r"%systemroot%\abcdefgh.exe")
    h = hops_of(events_frame(logon, svc))
    assert len(h) == 1 and h.iloc[0].src_ip == "10.0.0.7" and "service_install" in h.iloc[0].kinds


def test_source_side_net_use_names_destination_and_explicit_account() -> None:
    ev = events_frame(make_event(event_id=4688, host="FS03", process=r"C:\Windows\System32\net.exe",
                                 subject_account="admmig",
                                 command_line=r"net  use m: \\fs03vuln.corp\c$ /USER:offsec\hack1"))
    h = hops_of(ev)
    assert list(zip(h.src_host, h.dst_host, h.account, strict=True)) == [("FS03", "FS03VULN", "hack1")]


def test_target_ip_resolved_by_nearby_source_side_evidence() -> None:
    src = make_event(event_id=4648, host="WS1", src_host="WS1", dst_host="SRV", account="bob",
                     process=r"C:\Windows\System32\cmd.exe")
    tgt = make_event(ts=T0 + SEC, event_id=5145, host="SRV", dst_host="SRV", src_ip="10.9.9.9",
                     account="bob", share_name=r"\\*\ADMIN$", target_name="x.exe", access_mask=2)
    h = hops_of(events_frame(src, tgt))
    assert len(h) == 1
    assert (h.iloc[0].src_host, h.iloc[0].src_ip) == ("WS1", "10.9.9.9")
    assert set(h.iloc[0].kinds) == {"explicit_creds", "file_write"}


def test_psexec_pipe_name_gives_the_client_host() -> None:
    pipe = make_event(event_id=5145, host="IEWIN7", dst_host="IEWIN7", src_ip="10.0.2.16", account="ieuser",
                      share_name=r"\\*\IPC$", target_name="blabla-NLLT108334-37048-stdin")
    assert hops_of(events_frame(pipe)).iloc[0].src_host == "NLLT108334"


def test_hard_negatives_do_not_make_high_hops() -> None:
    loop = make_event(event_id=4624, logon_type=3, host="PC", src_ip="127.0.0.1", src_host="PC",
                      account="anonymous logon")
    assert hops_of(events_frame(loop)).empty
    assert hops_of(toy_events("X>PC@0s:guess")).empty                   # failed logons only
    local = make_event(event_id=7045, channel="System", host="PC", service_name="WinPwnage",
                       service_image=r"%COMSPEC% /c ping 127.0.0.1 && echo x > \\.\pipe\WinPwnagePipe")
    h = hops_of(events_frame(local))
    assert h.severity.tolist() == ["low"]                               # local getsystem
    spread = " ".join(f"SH>S{i}@{i}s:discovery" for i in range(40))    # SharpHound fan-out
    assert set(hops_of(toy_events(spread)).severity) <= {"info", "low"}


def test_hop_episodes_split_on_gap() -> None:
    h = hops_of(toy_events("A>B@0s:logon A>B@30m:logon A>B@3h:logon"))
    assert h.n_events.tolist() == [2, 1]


def test_short_host() -> None:
    s = pd.Series(["pc01.example.corp", "10.0.0.1", "fe80::1", None, "-"], dtype="string")
    assert short_host(s).tolist() == ["PC01", "10.0.0.1", "fe80::1", pd.NA, pd.NA]


def test_ip_hints_apply_on_their_day_only() -> None:
    pipe = make_event(event_id=5145, host="IEWIN7", dst_host="IEWIN7", src_ip="10.0.2.16", account="ieuser",
                      share_name=r"\\*\IPC$", target_name="blabla-NLLT108334-37048-stdin")
    later = make_event(ts=T0 + timedelta(days=30), event_id=5145, host="PC01", dst_host="PC01",
                       src_ip="10.0.2.16", account="ieuser", share_name=r"\\*\ADMIN$",
                       target_name="x.exe", access_mask=2)
    cfg = AnalysisConfig(ip_hints_by_day=True)
    h = hop_stage(pandas_event_stage(events_frame(pipe, later), cfg).hops, cfg).hops.set_index("dst_host")
    assert h.loc["IEWIN7", "src_host"] == "NLLT108334"
    assert pd.isna(h.loc["PC01", "src_host"]) and h.loc["PC01", "src_ip"] == "10.0.2.16"
    h = hops_of(events_frame(pipe, later)).set_index("dst_host")      # default: case-wide hints
    assert h.loc["PC01", "src_host"] == "NLLT108334"
