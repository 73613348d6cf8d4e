"""Format detection and format equivalence: the same real events in every dialect give the same rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ingest import load_events
from ingest.formats import FORMATS, Source, detect_format
from ingest.schema import COLUMNS
from ingest.writers import WRITE_FORMATS, write_events
from tests.conftest import datasets_or_skip

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "formats"
PSEXEC = "evtx-to-mitre-attack/ID4688_4697_5140-5145_PSexec_remote_execution_admin_share.evtx"
SMBEXEC = "evtx-to-mitre-attack/ID7045-4697-SMBexec_service_registration.evtx"
#: the fixture events: (file, record id) in the real EVTX files
FIXTURE_RECORDS = {(PSEXEC, 349321), (PSEXEC, 349325), (PSEXEC, 349343), (SMBEXEC, 1467331)}
COMPARED = [c for c in COLUMNS if c not in ("source_file", "source_format")]
#: what a Defender advanced-hunting row can carry for the 4624 and the 7045
MDE_COMPARED = ["ts", "event_id", "host", "src_host", "src_ip", "src_port", "dst_host", "account",
                "account_domain", "logon_type", "logon_id", "auth_package", "service_name", "service_image",
                "record_id"]


def _evtx_rows() -> pd.DataFrame:
    root = datasets_or_skip()
    frame, _ = load_events([root / PSEXEC, root / SMBEXEC], workers=1, resolve=False)
    keys = {(Path(p).name, r) for p, r in FIXTURE_RECORDS}
    mask = [(Path(f.split("!")[0]).name, r) in keys for f, r in zip(frame["source_file"], frame["record_id"],
                                                                     strict=True)]
    return frame[mask].reset_index(drop=True)


def _canonical(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame[columns].copy()
    out["ts"] = out["ts"].dt.floor("ms")     # OTRF/NXLog @timestamp has millisecond precision
    if "channel" in out:
        out["channel"] = out["channel"].astype(str)
    return out.sort_values(["ts", "event_id"]).reset_index(drop=True)


@pytest.mark.parametrize(("name", "fmt"), [
    ("psexec.wevtutil.xml", "xml"), ("psexec.eventviewer.xml", "xml"),
    ("psexec.winlogbeat7.ndjson", "winlogbeat"), ("psexec.winlogbeat8.search.json", "winlogbeat"),
    ("psexec.otrf.zip", "otrf"),
])
def test_same_events_in_every_windows_dialect(name: str, fmt: str) -> None:
    expected = _evtx_rows()
    assert sorted(expected["event_id"]) == [4624, 4697, 5145, 7045]
    frame, report = load_events([FIXTURES / name], workers=1, resolve=False)
    assert report.problem_count == 0 and report.files[0].format == fmt, report.format_text()
    pd.testing.assert_frame_equal(_canonical(frame, COMPARED), _canonical(expected, COMPARED))


@pytest.mark.parametrize("name", ["psexec.mde.csv", "psexec.mde.jsonl"])
def test_same_logon_and_service_install_in_defender_exports(name: str) -> None:
    expected = _evtx_rows()
    expected = expected[expected["event_id"].isin([4624, 7045])]
    frame, report = load_events([FIXTURES / name], workers=1, resolve=False)
    assert report.problem_count == 0 and report.files[0].format == "mde", report.format_text()
    assert set(frame["channel"].astype(str)) == {"MDE"}
    pd.testing.assert_frame_equal(_canonical(frame, MDE_COMPARED), _canonical(expected, MDE_COMPARED))


def test_real_psexec_rows_have_windows_semantics() -> None:
    rows = _evtx_rows().set_index("event_id")
    logon, write, svc = rows.loc[4624], rows.loc[5145], rows.loc[4697]
    assert (logon["host"], logon["dst_host"]) == ("SRVDEFENDER01", "SRVDEFENDER01")
    assert logon["src_ip"] == "10.23.42.22"
    assert pd.isna(logon["src_host"])    # Kerberos type 3: no WorkstationName, only the IP
    assert (logon["account"], logon["logon_type"], logon["logon_id"]) == ("admmig", 3, "0x1375fbd")
    assert (write["share_name"], write["target_name"], write["access_mask"]) == (
        "\\\\*\\ADMIN$", "PSEXESVC.exe", 2)
    assert write["logon_id"] == "0x1375fbd"
    assert (svc["service_name"], svc["subject_account"], svc["account"]) == ("PSEXESVC", "admmig", "system")


@pytest.mark.parametrize("fmt", sorted(WRITE_FORMATS))
def test_writers_round_trip_real_events(fmt: str, tmp_path: Path) -> None:
    root = datasets_or_skip()
    paths = [root / PSEXEC, root / SMBEXEC,
             root / "evtx-attack-samples/LM_wmiexec_impacket_sysmon_whoami.evtx",
             root / "evtx-to-mitre-attack/ID4688-4648_Lateral_movement_with_net_use.evtx",
             root / "otrf-security-datasets/empire_smbexec_dcerpc_smb_svcctl.zip"]
    events, _ = load_events(paths, workers=1, resolve=False)
    out = tmp_path / f"events.{fmt}.gz"
    written = write_events(events, out, fmt)
    back, report = load_events([out], workers=1, resolve=False)
    assert report.problem_count == 0, report.format_text()
    assert len(back) == written > 0
    if fmt.startswith("mde"):
        mde_ids = [4624, 4625, 4648, 1, 3, 11, 12, 13, 17, 4698, 4702, 7045]
        expressible = events[events["event_id"].isin(mde_ids)]
        assert written == len(expressible)
        cols = [c for c in MDE_COMPARED if c not in ("logon_type",)]
        pd.testing.assert_frame_equal(_canonical(back, cols), _canonical(expressible, cols))
    elif fmt == "lanl":
        assert set(back["event_id"]) <= {4624, 4625, 4634}
    else:
        pd.testing.assert_frame_equal(_canonical(back, COMPARED), _canonical(events, COMPARED))


@pytest.mark.parametrize(("name", "fmt"), [
    ("psexec.wevtutil.xml", "xml"), ("psexec.eventviewer.xml", "xml"),
    ("psexec.winlogbeat7.ndjson", "winlogbeat"), ("psexec.winlogbeat8.search.json", "winlogbeat"),
    ("psexec.mde.csv", "mde"), ("psexec.mde.jsonl", "mde"),
])
def test_detect_format_by_content(name: str, fmt: str, tmp_path: Path) -> None:
    renamed = tmp_path / "no_extension"
    renamed.write_bytes((FIXTURES / name).read_bytes())
    assert detect_format(renamed).name == fmt
    assert detect_format(Source(str(FIXTURES / name))).name == fmt


def test_format_override_reads_a_file_as_the_forced_format(tmp_path: Path) -> None:
    frame, report = load_events([FIXTURES / "psexec.wevtutil.xml"], formats="xml", workers=1)
    assert len(frame) == 4 and report.files[0].format == "xml"
    assert set(FORMATS) >= {"evtx", "xml", "winlogbeat", "otrf", "mde", "lanl"}
