"""A small, consistent hand-made AnalysisResult for the export tests (PC01 -> SRV02 -> DC03 with
evidence, a benign backup hop, a target-only hop; graph from the real graph.build), and the
hostile names (XSS and spreadsheet-formula payloads) that can replace any of its values.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pandas as pd
from hypothesis import strategies as st

from graph.build import build_graph
from graph.config import AnalysisConfig
from graph.model import HOP_COLUMNS, AnalysisResult, Path, PatientZero
from ingest.report import IngestReport
from tests.conftest import T0, events_frame, make_event

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SVG = '"><svg onload=alert(1)>'
CSV_CMD = "=cmd|' /C calc'!A0"
CSV_PLUS = "+cmd|' /C calc'!A0"
CSV_AT = "@SUM(1+1)*cmd|' /C calc'!A0"
CSV_LINK = '=HYPERLINK("http://evil.example/x","click")'


def _ev(hop: int, event_id: int, record_id: int, rule: str, ts, file: str) -> dict[str, Any]:
    return {"event_id": event_id, "source_file": file, "record_id": record_id, "rule": rule, "ts": ts,
            "hop": hop}


def build_result(*, pc: str = "PC01", srv: str = "SRV02", dc: str = "DC03", alice: str = "alice",
                 bob: str = "bob", service: str = "PSEXESVC", command_line: str = "cmd.exe /c whoami",
                 sec_file: str = "Security.evtx") -> AnalysisResult:
    """A small, consistent result. Every name can be replaced by a hostile payload."""
    t1, t2, t_old = T0 + timedelta(minutes=1), T0 + timedelta(minutes=30), T0 - timedelta(days=1)
    events = events_frame(
        make_event(ts=t1, event_id=4624, host=srv, src_host=pc, src_ip="10.0.0.1", dst_host=srv,
                   account=alice, logon_type=3, auth_package="NTLM", record_id=11, source_file=sec_file),
        make_event(ts=t1 + timedelta(seconds=2), event_id=5140, host=srv, src_host=pc, dst_host=srv,
                   account=alice, share_name="\\\\*\\ADMIN$", record_id=12, source_file=sec_file),
        make_event(ts=t1 + timedelta(seconds=5), event_id=7045, channel="System", host=srv,
                   service_name=service, service_image=f"%SystemRoot%\\{service}.exe", record_id=13,
                   source_file="System.evtx"),
        make_event(ts=t1 + timedelta(seconds=6), event_id=1, channel="Sysmon", host=srv,
                   process="C:\\Windows\\PSEXESVC.exe", command_line=command_line, record_id=14,
                   source_file="Sysmon.evtx"),
        make_event(ts=t2, event_id=4624, host=dc, src_host=srv, dst_host=dc, account=bob, logon_type=3,
                   record_id=21, source_file=sec_file),
        make_event(ts=t2 + timedelta(seconds=3), event_id=5145, host=dc, src_host=srv, dst_host=dc,
                   account=bob, share_name="\\\\*\\C$", target_name="Windows\\Temp\\x.exe",
                   access_mask=2, record_id=22, source_file=sec_file),
        make_event(ts=t_old, event_id=4624, host=pc, src_host="BACKUP", dst_host=pc, account="svc_backup",
                   logon_type=3, record_id=31, source_file=sec_file),
        make_event(ts=t2 + timedelta(minutes=5), event_id=7045, channel="System", host=dc,
                   service_name="updater", record_id=41, source_file="System.evtx"),
    )
    evidence = {
        1: (_ev(1, 4624, 11, "lg.logon.network", t1, sec_file),
            _ev(1, 5140, 12, "lg.admin_share.access", t1 + timedelta(seconds=2), sec_file),
            _ev(1, 7045, 13, "lg.service.psexec", t1 + timedelta(seconds=5), "System.evtx"),
            _ev(1, 1, 14, "lg.process.psexesvc", t1 + timedelta(seconds=6), "Sysmon.evtx")),
        2: (_ev(2, 4624, 21, "lg.logon.network", t2, sec_file),
            _ev(2, 5145, 22, "lg.admin_share.write", t2 + timedelta(seconds=3), sec_file)),
        3: (_ev(3, 4624, 31, "lg.logon.network", t_old, sec_file),),
        4: (_ev(4, 7045, 41, "lg.service.install", t2 + timedelta(minutes=5), "System.evtx"),),
    }
    for items in evidence.values():
        for item in items:
            del item["hop"]
    rows = [
        (1, pc, "10.0.0.1", srv, alice, t1, t1 + timedelta(seconds=6),
         ("logon", "admin_share", "service_install", "execution"), ("T1021.002", "T1569.002"),
         ("lg.logon.network", "lg.admin_share.access", "lg.service.psexec", "lg.process.psexesvc"),
         evidence[1], 4, 0.92, "high"),
        (2, srv, None, dc, bob, t2, t2 + timedelta(seconds=3), ("logon", "admin_share", "file_write"),
         ("T1021.002",), ("lg.logon.network", "lg.admin_share.write"), evidence[2], 2, 0.65, "medium"),
        (3, "BACKUP", None, pc, "svc_backup", t_old, t_old, ("logon",), (), ("lg.logon.network",),
         evidence[3], 1, 0.1, "info"),
        (4, None, None, dc, None, t2 + timedelta(minutes=5), t2 + timedelta(minutes=5),
         ("service_install",), ("T1569.002",), ("lg.service.install",), evidence[4], 1, 0.3, "low"),
    ]
    hops = pd.DataFrame(rows, columns=list(HOP_COLUMNS))
    hops["first_seen"] = pd.to_datetime(hops["first_seen"], utc=True)
    hops["last_seen"] = pd.to_datetime(hops["last_seen"], utc=True)
    report = IngestReport()
    fr = report.add(sec_file, "evtx")
    fr.records_read, fr.kept = 100, 6
    hops["rarity"] = [1.0, 0.5, 0.0, 1.0]          # a score component the analysis adds
    patient_zero = [PatientZero(host=pc, score=0.9, confidence=0.85, first_seen=t1,
                                reason=f"{pc} is the earliest source; its hop to {srv} as {alice} "
                                       "explains the spread", hop_ids=(1,))]
    compromised = pd.DataFrame({"host": [srv, dc], "first_seen": pd.to_datetime([t1, t2], utc=True),
                                "score": [0.92, 0.65]})
    return AnalysisResult(
        events=events, report=report, config=AnalysisConfig(), tags=pd.DataFrame(), hops=hops,
        graph=build_graph(hops, compromised, patient_zero),   # the real graph builder
        paths=[Path(hosts=(pc, srv, dc), accounts=(alice, bob), hop_ids=(1, 2), start=t1,
                    end=t2 + timedelta(seconds=3), score=0.8)],
        patient_zero=patient_zero, compromised=compromised,
        summary={"hosts": 4, "hops": 4, "note": "fixture"},
    )


HOSTILE = {"pc": XSS_SCRIPT, "srv": XSS_IMG, "dc": CSV_CMD, "alice": XSS_SVG, "bob": CSV_AT,
           "service": XSS_SVG + CSV_PLUS, "command_line": CSV_LINK, "sec_file": CSV_PLUS}



def csv_rows(data: bytes) -> list[dict[str, str]]:
    """A CSV export parsed back into dicts."""
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


#: Any text a log field can carry (no lone surrogates: they cannot be encoded as UTF-8 at all).
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
