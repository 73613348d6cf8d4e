"""Coverage-matrix generator (ingest.synthetic.tools / matrix) and bench/matrix.py's cells.

The full matrix is printed by ``bench/matrix.py``; here: the tools' shapes, the profile filter,
the evidence flag, a few cells through the real pipeline, and that every cell has an expectation.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from app.cli import cli
from app.pipeline import run
from ingest.case import read_case
from ingest.synthetic.matrix import PROFILES, canonical_channel, cell_evidence, tool_case
from ingest.synthetic.tools import TOOLS, Hop, Recorder

REPO = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_matrix", REPO / "bench" / "matrix.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _emit(tool: str) -> tuple[Recorder, Hop]:
    rec = Recorder()
    hop = Hop(
        "WS0003",
        "10.20.0.7",
        "SRV02",
        "10.10.0.12",
        "DC01",
        "da_test",
        1_709_550_000 * 10**9,
        np.random.default_rng(5),
    )
    TOOLS[tool].emit(rec, hop)
    return rec, hop


def _on(rec: Recorder, host: str, event_id: int) -> list[dict]:
    return [r for r in rec.windows if r["Computer"].split(".")[0] == host and r["EventID"] == event_id]


@pytest.mark.parametrize("tool", list(TOOLS))
def test_every_tool_logs_a_network_logon_on_the_target_and_its_authentication_at_the_dc(tool):
    rec, hop = _emit(tool)
    logons = _on(rec, hop.dst, 4624)
    assert logons and all(r["LogonType"] == "3" and r["IpAddress"] == hop.src_ip for r in logons)
    auth = {r["AuthenticationPackageName"] for r in logons}
    assert auth == {TOOLS[tool].auth}
    if TOOLS[tool].auth == "Kerberos":
        assert {r["ServiceName"] for r in _on(rec, hop.dc, 4769)} == {"SRV02$"}
        assert not _on(rec, hop.dc, 4776)
    else:  # NTLM: 4776 names the account, never the target
        assert _on(rec, hop.dc, 4776) and not _on(rec, hop.dc, 4769)
        assert all("SRV02" not in str(v) for r in _on(rec, hop.dc, 4776) for v in r.values())
    assert any(r["ActionType"] == "LogonSuccess" and r["RemoteIP"] == hop.src_ip for r in rec.mde)


def test_tool_shapes_carry_their_documented_names():
    rec, _ = _emit("psexec")
    pipes = {r["RelativeTargetName"] for r in _on(rec, "SRV02", 5145)}
    assert {"svcctl", "PSEXESVC"} <= pipes
    assert any(p.startswith("PSEXESVC-WS0003-") and p.endswith("-stdin") for p in pipes)
    assert any(r["TargetObject"].endswith(r"Services\PSEXESVC\ImagePath") for r in _on(rec, "SRV02", 13))
    rec, _ = _emit("remcom")
    assert "RemCom_communicaton" in {r["RelativeTargetName"] for r in _on(rec, "SRV02", 5145)}
    rec, _ = _emit("impacket-smbexec")
    images = [r["ImagePath"] for r in _on(rec, "SRV02", 7045)]
    assert len(images) == 3 and all(r"\\127.0.0.1\C$\__output" in i for i in images)
    rec, _ = _emit("cs-psexec-psh")
    (svc,) = _on(rec, "SRV02", 7045)
    assert svc["ImagePath"].startswith(
        "%COMSPEC% /b /c start /b /min powershell -nop -w hidden -encodedcommand "
    )
    assert any(
        r["ParentImage"].endswith("services.exe") and r["Image"].endswith("cmd.exe")
        for r in _on(rec, "SRV02", 1)
    )
    rec, _ = _emit("impacket-atexec")
    assert "atsvc" in {r["RelativeTargetName"] for r in _on(rec, "SRV02", 5145)}
    assert _on(rec, "SRV02", 4698) and _on(rec, "SRV02", 4699)
    assert any("svchost.exe" in r["ParentProcessName"] for r in _on(rec, "SRV02", 4688))
    rec, _ = _emit("impacket-dcomexec")
    assert any(
        r["ParentImage"].endswith("mmc.exe") and r"\\127.0.0.1\ADMIN$\__" in r["CommandLine"]
        for r in _on(rec, "SRV02", 1)
    )
    rec, _ = _emit("winrm")
    assert any(r["DestinationPort"] == "5985" and r["Initiated"] == "false" for r in _on(rec, "SRV02", 3))
    assert any(r["ParentImage"].endswith("wsmprovhost.exe") for r in _on(rec, "SRV02", 1))
    assert not _on(rec, "SRV02", 7045) and not _on(rec, "SRV02", 5140)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_profile_filter_keeps_only_its_channels_and_hosts(profile):
    case = tool_case("psexec", profile, seed=3)
    prof = PROFILES[profile]
    channels = set(case.events["channel"].astype(str))
    if prof.channels is None:
        assert "MDE" not in channels
    else:
        assert channels <= set(prof.channels)
    raw_channels = {canonical_channel(r["Channel"]) for r in case.windows}
    if profile == "defender":
        assert not case.windows and case.mde
    else:
        assert not case.mde
        assert prof.channels is None or raw_channels <= set(prof.channels)
    hosts = set(case.events["host"].astype(str)) | {r["Computer"].split(".")[0] for r in case.windows}
    want = {"target": {case.hop.dst}, "source": {case.hop.src}, "dc": {"DC01", "DC02"}}.get(prof.hosts)
    if want is not None:
        assert hosts <= want
    assert case.evidence


def test_evidence_flag_is_false_where_the_profile_holds_nothing_about_the_target():
    assert not tool_case("impacket-wmiexec", "system", seed=2).evidence  # no service, no System event
    assert not tool_case("impacket-smbexec", "dc", seed=2).evidence  # NTLM: 4776 names no target
    assert tool_case("sc", "dc", seed=2).evidence  # Kerberos: 4769 for DST$
    assert tool_case("sc", "source", seed=2).evidence  # sc.exe \\DST create


def test_same_seed_same_cell_and_unread_event_ids_are_counted_not_lost():
    a, b = tool_case("schtasks", "full", seed=4), tool_case("schtasks", "full", seed=4)
    assert a.events.equals(b.events) and a.hop == b.hop
    assert any(r["EventID"] == 4698 for r in a.attack_records)
    read = sum(f.records_read for f in a.report.files)
    kept_or_skipped = sum(f.kept + sum(f.skipped.values()) for f in a.report.files)
    assert read and read >= kept_or_skipped


@pytest.mark.parametrize(
    ("tool", "profile", "allowed"),
    [
        ("psexec", "full", {"S"}),
        ("impacket-smbexec", "security", {"S"}),
        ("impacket-wmiexec", "system", {" "}),
        ("impacket-psexec", "dc", {" "}),
        ("impacket-wmiexec", "source", {"S"}),   # only the implant's outbound 135/445
        ("sc", "system", {"D"}),                  # only the 7045 of C:\Windows\Temp\x.exe
        ("cs-psexec-psh", "dc", {"S"}),           # only the DC's 4768/4769
    ],
)
def test_cells_through_the_pipeline(tool, profile, allowed):
    bench = _bench()
    case = tool_case(tool, profile, seed=1)
    value, _, _ = bench.cell_value(run(case.events).hops, case)
    assert value in allowed


def test_every_cell_has_an_expectation_with_a_reason_and_blank_means_no_evidence():
    bench = _bench()
    assert set(bench.EXPECTED) == set(TOOLS)
    for tool, row in bench.EXPECTED.items():
        assert len(row) == len(PROFILES) and set(row) <= {"S", "D", "-", " "}, tool
        for k, profile in enumerate(PROFILES):
            assert bench.reason(tool, profile), (tool, profile)
            assert (row[k] == " ") == (not cell_evidence(tool, profile, seed=1)), (tool, profile)
    assert cell_evidence("winrm", "dc", seed=1) == tool_case("winrm", "dc", seed=1).evidence


def test_simulate_cli_writes_a_tool_cell(tmp_path):
    out = tmp_path / "cell"
    result = CliRunner().invoke(
        cli, ["simulate", "--tool", "paexec", "--profile", "target", "--seed", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    events = read_case(out / "events" / "case.parquet")
    assert set(events["host"].astype(str)) == {tool_case("paexec", "target", seed=2).hop.dst}
    xml = (out / "raw" / "windows.xml").read_text()
    assert "PAExec-" in xml and "<Events>" in xml
    assert "holds evidence" in result.output
    bad = CliRunner().invoke(cli, ["simulate", "--profile", "dc", "--out", str(out)])
    assert bad.exit_code == 2 and "--profile needs --tool" in bad.output


def test_a_proxied_tools_source_logs_the_implants_connections_as_the_phished_user():
    case = tool_case("impacket-psexec", "source", seed=1)
    conns = [r for r in case.attack_records if r["EventID"] == 3]
    assert conns and {r["Image"].lower().rsplit("\\", 1)[-1] for r in conns} == {"rundll32.exe"}
    users = {r["User"].split("\\")[-1] for r in conns}
    assert case.hop.account not in users and len(users) == 1   # the stolen account travels in NTLM
    assert {r["DestinationPort"] for r in conns} == {"445"}
