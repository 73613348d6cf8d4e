"""Execution evidence from every event type that carries it, and findings beside hops (issue #11).

Fixtures: tests/data/techniques (made by make_technique_fixtures.py there; see tests/data/PROVENANCE.md).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from app.pipeline import analyze_from_events, run
from graph.config import AnalysisConfig
from graph.rules import apply_rules
from ingest import load_events
from ingest.report import IngestReport
from tests.conftest import T0, events_frame, make_event
from tests.data_helpers import sysmon_xml

DATA = Path(__file__).resolve().parents[1] / "data" / "techniques"
ATOMIC_RULES = {"lg.loopback.net_use", "lg.loopback.copy", "lg.loopback.psexec", "lg.loopback.net_view"}
SYS32 = "C:\\Windows\\System32\\"
STAGER = "JABzAD0ATgBlAHcALQBPAGIAagBlAGMAdAAgAEkATwAuAE0AZQBtAG8AcgB5AFMAdAByAGUAYQBtACgALABbAEMA"


@pytest.mark.parametrize("name", ["atomic_t1021_002.xml", "atomic_t1021_002.mde.csv"])
def test_atomic_t1021_002_tests_are_four_findings_and_no_hop(name: str) -> None:
    result = run([DATA / name])
    assert result.hops.empty, result.hops[["src_host", "dst_host", "rules"]].to_string()
    f = result.findings
    assert len(f) == 4, f[["host", "rule", "count"]].to_string()
    assert set(f["host"]) == {"LAB-WIN10"} and set(f["rule"]) == ATOMIC_RULES
    assert set(f["level"]) == {"low"} and set(f["reason"]) == {"aimed at this host"}
    assert all("T1021.002" in a for a in f["attack"])
    psexec = f[f["rule"] == "lg.loopback.psexec"].iloc[0]
    # what PsExec did on the host itself is reported with it, not as a hop with no source
    assert {"lg.service.psexec", "lg.process.psexesvc"} <= set(psexec["rules"])
    assert "\\\\127.0.0.1" in psexec["fields"]["command_line"]
    doc = result.to_json()
    assert doc["version"] == 2 and len(doc["findings"]) == 4 and doc["summary"]["findings"] == 4


def _only(name: str, channel: str) -> pd.DataFrame:
    events, _ = load_events([DATA / name])
    return events[events["channel"].astype(str) == channel]


@pytest.mark.parametrize(
    ("name", "channel"),
    [
        ("psexec_psh_target.xml", "Security"),
        ("psexec_psh_target.xml", "Sysmon"),
        ("psexec_psh_target.mde.csv", "MDE"),
    ],
)
def test_service_spawned_stager_alone_is_a_target_only_hop(name: str, channel: str) -> None:
    events = _only(name, channel)
    assert set(events["event_id"]) <= {4688, 1}
    hops = analyze_from_events(events, IngestReport()).hops
    assert len(hops) == 1
    hop = hops.iloc[0]
    assert hop["dst_host"] == "FS01" and pd.isna(hop["src_host"]) and hop["severity"] in ("medium", "high")
    assert "lg.process.service_spawned_shell" in hop["rules"]


@pytest.mark.parametrize("name", ["registry_service_target.xml", "registry_service_target.mde.csv"])
def test_registry_only_service_creation_is_a_target_only_hop(name: str) -> None:
    result = run([DATA / name])
    assert set(result.events["event_id"]) == {12, 13}
    hop = result.hops.iloc[0]
    assert len(result.hops) == 1 and hop["dst_host"] == "FS01" and hop["severity"] in ("medium", "high")
    assert hop["services"] == ("a1b2c3d",) and "lg.service.cobaltstrike" in hop["rules"]


def _svc(i: int, name: str, image: str, host: str = "SRV9") -> object:
    return make_event(
        event_id=7045,
        channel="System",
        host=host,
        ts=T0 + timedelta(seconds=6 * i),
        service_name=name,
        service_image=image,
    )


def test_service_install_burst_is_a_hop_and_a_few_installs_are_not() -> None:
    burst = [_svc(i, f"Updater{i}", f"C:\\Program Files\\Vendor\\upd{i}.exe") for i in range(25)]
    result = analyze_from_events(events_frame(*burst), IngestReport())
    assert len(result.hops) == 1 and "lg.service.burst" in result.hops.iloc[0]["rules"]
    assert result.hops.iloc[0]["severity"] in ("medium", "high")
    few = events_frame(*burst[:10])
    assert "lg.service.burst" not in set(apply_rules(few)["rule_id"])
    # installs on other hosts do not add up
    spread = events_frame(*[_svc(i, f"U{i}", "C:\\x\\u.exe", host=f"H{i}") for i in range(25)])
    assert "lg.service.burst" not in set(apply_rules(spread)["rule_id"])


def _proc(cmd: str, parent: str, image: str = SYS32 + "cmd.exe", **kw: object) -> object:
    return make_event(
        event_id=kw.pop("event_id", 4688), process=image, parent_process=parent, command_line=cmd, **kw
    )


def _inbound(src_ip: str, src_host: str) -> object:
    return make_event(event_id=3, channel="Sysmon", host="PC01", dst_host="PC01", dst_port=5985,
                      src_ip=src_ip, src_host=src_host)


#: rule id -> (an event it must fire on, a benign look-alike it must not fire on)
CASES = {
    "lg.process.service_spawned_shell": (
        _proc(
            f"cmd.exe /b /c start /b /min powershell.exe -nop -w hidden -e {STAGER}", SYS32 + "services.exe"
        ),
        _proc("cmd.exe /c C:\\Program Files\\Agent\\start.cmd", SYS32 + "services.exe"),
    ),
    "lg.process.wmi_child": (
        _proc("cmd.exe /c ipconfig", SYS32 + "wbem\\WmiPrvSE.exe"),
        _proc(
            "C:\\Windows\\System32\\msiexec.exe /i x.msi",
            SYS32 + "wbem\\WmiPrvSE.exe",
            image=SYS32 + "msiexec.exe",
        ),
    ),
    "lg.process.wmi_child_suspicious": (
        _proc(
            f"powershell -nop -w hidden -enc {STAGER}",
            SYS32 + "wbem\\WmiPrvSE.exe",
            image=SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe",
        ),
        _proc("cmd.exe /c ipconfig", SYS32 + "wbem\\WmiPrvSE.exe"),
    ),
    "lg.process.winrm_child": (
        _proc("whoami.exe", SYS32 + "wsmprovhost.exe", image=SYS32 + "whoami.exe"),
        _proc("whoami.exe", SYS32 + "svchost.exe", image=SYS32 + "whoami.exe"),
    ),
    "lg.process.winrm_child_suspicious": (
        _proc(f"powershell.exe -e {STAGER}", SYS32 + "wsmprovhost.exe"),
        _proc("hostname", SYS32 + "wsmprovhost.exe"),
    ),
    "lg.process.dcom_mmc_child": (
        _proc("cmd.exe /c calc", SYS32 + "mmc.exe"),
        _proc("cmd.exe /c calc", SYS32 + "explorer.exe"),
    ),
    "lg.process.dcom_excel_child": (
        _proc("cmd.exe /c calc", "C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE"),
        _proc(
            "C:\\x\\splwow64.exe",
            "C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE",
            image="C:\\x\\splwow64.exe",
        ),
    ),
    "lg.process.task_spawned_shell": (
        _proc("cmd.exe /C whoami > C:\\Windows\\Temp\\qWeRtYuI.tmp 2>&1", SYS32 + "svchost.exe"),
        _proc("cmd.exe /C cleanup.bat > C:\\Windows\\Temp\\cleanup.log 2>&1", SYS32 + "svchost.exe"),
    ),
    "lg.task.suspicious_command": (
        make_event(
            event_id=4698,
            target_name="\\qWeRtYuI",
            command_line=(
                "<Exec><Command>cmd.exe</Command><Arguments>/C whoami &gt; %windir%\\Temp\\qWeRtYuI.tmp "
                "2&gt;&amp;1</Arguments></Exec>"
            ),
        ),
        make_event(
            event_id=4698,
            target_name="\\GoogleUpdate",
            command_line=(
                "<Exec><Command>C:\\Program Files\\Google\\Update\\GoogleUpdate.exe</Command></Exec>"
            ),
        ),
    ),
    "lg.network.winrm_inbound": (_inbound("10.0.0.5", "WS05"), _inbound("127.0.0.1", "PC01")),
    "lg.service.script_image": (
        make_event(
            event_id=7045, channel="System", service_name="x", service_image="cmd /c powershell -c iex"
        ),
        make_event(event_id=7045, channel="System", service_name="x", service_image="C:\\a\\cmdagent.exe /r"),
    ),
    "lg.service.encoded_powershell": (
        make_event(
            event_id=7045,
            channel="System",
            service_name="x",
            service_image=f"powershell.exe -nop -EncodedCommand {STAGER}",
        ),
        make_event(
            event_id=7045,
            channel="System",
            service_name="x",
            service_image="powershell.exe -File C:\\scripts\\agent.ps1",
        ),
    ),
    "lg.service.encoded_name": (
        make_event(
            event_id=7045,
            channel="System",
            service_name="aGVsbG8gd29ybGQgZnJvbSBh7dGVzdA2Qx",
            service_image="C:\\x.exe",
        ),
        make_event(
            event_id=7045,
            channel="System",
            service_name="MicrosoftEdgeElevationService",
            service_image="C:\\x.exe",
        ),
    ),
    "lg.loopback.net_use": (
        _proc("net use \\\\127.0.0.1\\C$ /u:lab\\adm pw", SYS32 + "cmd.exe", image=SYS32 + "net.exe"),
        _proc("net use \\\\FS01\\C$ /u:lab\\adm pw", SYS32 + "cmd.exe", image=SYS32 + "net.exe"),
    ),
    "lg.loopback.copy": (
        _proc("cmd /c copy a.exe \\\\localhost\\ADMIN$\\a.exe", SYS32 + "explorer.exe"),
        _proc("cmd /c copy a.exe \\\\FS01\\ADMIN$\\a.exe", SYS32 + "explorer.exe"),
    ),
    "lg.loopback.psexec": (
        _proc("PsExec.exe \\\\localhost -accepteula cmd", SYS32 + "cmd.exe", image="C:\\t\\PsExec.exe"),
        _proc("PsExec.exe \\\\FS01 -accepteula cmd", SYS32 + "cmd.exe", image="C:\\t\\PsExec.exe"),
    ),
    "lg.loopback.net_view": (
        _proc("net view \\\\127.0.0.1 /all", SYS32 + "cmd.exe", image=SYS32 + "net.exe"),
        _proc("net view \\\\FS01 /all", SYS32 + "cmd.exe", image=SYS32 + "net.exe"),
    ),
    "lg.loopback.share_access": (
        make_event(
            event_id=5140,
            share_name="\\\\*\\C$",
            account="adm",
            src_ip="::1",
            src_host="PC01",
            dst_host="PC01",
        ),
        make_event(
            event_id=5140,
            share_name="\\\\*\\C$",
            account="adm",
            src_ip="10.0.0.9",
            src_host="WS09",
            dst_host="PC01",
        ),
    ),
}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_new_rule_fires_on_its_shape_and_not_on_the_look_alike(rule_id: str) -> None:
    hit, miss = CASES[rule_id]
    tags = apply_rules(events_frame(hit, miss))
    assert set(tags[tags["rule_id"] == rule_id]["event_index"]) == {0}


def test_registry_value_on_a_service_image_path_names_the_service(tmp_path: Path) -> None:
    path = tmp_path / "reg.xml"
    path.write_text(
        sysmon_xml(
            [
                (
                    13,
                    {
                        "TargetObject": "HKLM\\System\\CurrentControlSet\\Services\\evil\\ImagePath",
                        "Details": "C:\\Windows\\evil.exe",
                        "Image": SYS32 + "services.exe",
                    },
                ),
                (
                    13,
                    {
                        "TargetObject": "HKLM\\Software\\Vendor\\Path",
                        "Details": "C:\\x",
                        "Image": "C:\\v.exe",
                    },
                ),
            ]
        )
    )
    events, _ = load_events([path])

    def values(col: str) -> list[object]:
        return events[col].astype(object).where(events[col].notna(), None).tolist()

    assert values("service_name") == ["evil", None]
    assert values("service_image") == ["C:\\Windows\\evil.exe", None]


def test_wmi_child_joins_the_remote_session_by_logon_id() -> None:
    ev = events_frame(
        make_event(
            account="adm",
            logon_type=3,
            src_ip="10.0.0.5",
            src_host="WS05",
            dst_host="PC01",
            logon_id="0x77aa",
            auth_package="NTLM",
        ),
        _proc(
            "cmd.exe /c ipconfig",
            SYS32 + "wbem\\WmiPrvSE.exe",
            logon_id="0x77aa",
            subject_account="adm",
            ts=T0 + timedelta(minutes=5),
        ),
    )
    hops = analyze_from_events(ev, IngestReport()).hops
    assert len(hops) == 1 and hops.iloc[0]["src_host"] == "WS05"
    assert "lg.process.wmi_child" in hops.iloc[0]["rules"]


def test_winrm_inbound_connection_gives_the_remote_shell_its_source() -> None:
    ev = events_frame(
        CASES["lg.network.winrm_inbound"][0],
        _proc(f"powershell.exe -e {STAGER}", SYS32 + "wsmprovhost.exe", ts=T0 + timedelta(seconds=3)),
    )
    hops = analyze_from_events(ev, IngestReport()).hops
    assert len(hops) == 1 and hops.iloc[0]["src_ip"] == "10.0.0.5"
    assert "T1021.006" in hops.iloc[0]["techniques"]


def test_command_naming_the_host_itself_is_a_finding_not_a_hop() -> None:
    ev = events_frame(
        _proc(
            "net use \\\\PC01\\C$ /u:corp\\adm pw",
            SYS32 + "cmd.exe",
            image=SYS32 + "net.exe",
            host="PC01",
            subject_account="adm",
        )
    )
    result = analyze_from_events(ev, IngestReport())
    assert result.hops.empty and len(result.findings) == 1
    assert result.findings.iloc[0]["reason"] == "aimed at this host"


def test_source_command_towards_a_host_without_logs_is_a_hop_and_a_finding() -> None:
    ev = events_frame(
        _proc(
            "net use \\\\FS99\\C$ /u:corp\\adm pw",
            SYS32 + "cmd.exe",
            image=SYS32 + "net.exe",
            host="WS01",
            subject_account="adm",
        ),
        make_event(host="FS01", account="bob", logon_type=3, src_ip="10.1.1.1"),
    )
    result = analyze_from_events(ev, IngestReport())
    hop = result.hops[result.hops["dst_host"] == "FS99"]
    assert len(hop) == 1
    f = result.findings
    assert len(f) == 1 and f.iloc[0]["reason"] == "destination has no logs"
    assert f.iloc[0]["hop_ids"] == (int(hop.iloc[0]["hop_id"]),)
    assert f.iloc[0]["fields"]["command_line"].startswith("net use")


def test_repeated_findings_are_grouped_with_a_count() -> None:
    cmd = "net view \\\\127.0.0.1 /all"
    near = [
        _proc(
            cmd,
            SYS32 + "cmd.exe",
            image=SYS32 + "net.exe",
            subject_account="adm",
            ts=T0 + timedelta(minutes=i),
        )
        for i in range(5)
    ]
    far = _proc(
        cmd, SYS32 + "cmd.exe", image=SYS32 + "net.exe", subject_account="adm", ts=T0 + timedelta(hours=5)
    )
    other = _proc(cmd, SYS32 + "cmd.exe", image=SYS32 + "net.exe", subject_account="eve", ts=T0)
    f = analyze_from_events(events_frame(*near, far, other), IngestReport(), AnalysisConfig()).findings
    assert sorted(zip(f["account"], f["count"], strict=True)) == [("adm", 1), ("adm", 5), ("eve", 1)]


def test_evidence_items_carry_the_analysts_fields() -> None:
    doc = run([DATA.parent / "formats" / "psexec.wevtutil.xml"]).to_json()
    items = {e["event_id"]: e for h in doc["hops"] for e in h["evidence"]}
    assert items[4624]["fields"] == {"logon_type": 3, "auth_package": "Kerberos", "src_ip": "10.23.42.22",
                                     "src_port": 56661, "dst_host": "SRVDEFENDER01"}
    assert items[5145]["fields"]["share_name"] == "\\\\*\\ADMIN$"
    assert items[5145]["fields"]["target_name"] == "PSEXESVC.exe"
    assert (items[5145]["fields"]["src_ip"], items[5145]["fields"]["src_port"]) == ("10.23.42.22", 56661)
    assert items[4697]["fields"] == {"service_name": "PSEXESVC",
                                     "service_image": "%SystemRoot%\\PSEXESVC.exe"}
    proc = run([DATA / "psexec_psh_target.xml"]).to_json()["hops"][0]["evidence"][0]["fields"]
    assert proc["parent_process"].endswith("services.exe") and "/b /c start /b /min" in proc["command_line"]


def test_payload_smuggled_through_hundreds_of_service_names_is_a_hop() -> None:
    # the seen miss: hundreds of 7045 in minutes, base64-like names, `cmd /c powershell` images
    import base64

    rows = []
    for i in range(200):
        chunk = base64.b64encode(f"part {i:04d} of a staged payload, padded out".encode()).decode()
        rows.append(_svc(i, chunk.rstrip("="), f'cmd /c powershell -c "$x+=\'{chunk[:20]}\'"'))
    events = events_frame(*rows)
    rules = set(apply_rules(events)["rule_id"])
    assert {"lg.service.burst", "lg.service.encoded_name", "lg.service.script_image"} <= rules
    hops = analyze_from_events(events, IngestReport()).hops
    assert len(hops) == 1 and hops.iloc[0]["dst_host"] == "SRV9"
    assert hops.iloc[0]["severity"] in ("medium", "high")


def test_task_registered_in_a_remote_session_joins_its_hop() -> None:
    # schtasks /s: the 4698 carries the network logon's session id on the target
    task = make_event(event_id=4698, account="adm", logon_id="0x99", target_name="\\Update",
                      command_line="<Exec><Command>C:\\Tools\\upd.exe</Command></Exec>",
                      ts=T0 + timedelta(seconds=2))
    logon = make_event(account="adm", logon_type=3, src_ip="10.0.0.5", src_host="WS05", dst_host="PC01",
                       logon_id="0x99")
    hops = analyze_from_events(events_frame(logon, task), IngestReport()).hops
    assert len(hops) == 1 and "lg.task.registered" in hops.iloc[0]["rules"]
    assert "T1053.005" in hops.iloc[0]["techniques"]
    alone = analyze_from_events(events_frame(task), IngestReport())
    assert alone.hops.empty   # a plain task registration is not lateral by itself


def test_long_display_like_service_names_are_not_encoded_names() -> None:
    benign = make_event(event_id=7045, channel="System",
                        service_image="\\SystemRoot\\system32\\DRIVERS\\HdAudio.sys",
                        service_name="Microsoft 1.1 UAA Function Driver for High Definition Audio Service")
    unbroken = make_event(event_id=7045, channel="System", service_image="C:\\x.exe",
                          service_name="x" * 70)
    tags = apply_rules(events_frame(benign, unbroken))
    assert set(tags[tags["rule_id"] == "lg.service.encoded_name"]["event_index"]) == {1}


@pytest.mark.parametrize(("delay_s", "joined"), [(1.1, True), (5.0, False)])
def test_rows_a_second_before_the_logon_join_it(delay_s: float, joined: bool) -> None:
    # Sysmon stamps the service-spawned shell about a second before the Security 4624 (clock_skew_s)
    shell = _proc(f"cmd.exe /b /c start /b /min powershell.exe -nop -w hidden -e {STAGER}",
                  SYS32 + "services.exe", event_id=1, channel="Sysmon")
    logon = make_event(account="adm", logon_type=3, src_ip="10.0.0.5", src_host="WS05", dst_host="PC01",
                       ts=T0 + timedelta(seconds=delay_s))
    hops = analyze_from_events(events_frame(shell, logon), IngestReport()).hops
    with_src = hops[hops["src_host"] == "WS05"]
    assert ("lg.process.service_spawned_shell" in with_src.iloc[0]["rules"]) is joined
    assert len(hops) == (1 if joined else 2)


@pytest.mark.parametrize(("cmd", "image", "rule", "dst"), [
    ("schtasks.exe /create /s FS01 /u CORP\\adm /p x /tn Upd /tr C:\\t\\u.cmd /sc once /st 23:59 /ru SYSTEM",
     SYS32 + "schtasks.exe", "lg.process.remote_task_client", "FS01"),
    ("powershell.exe -c Invoke-Command -ComputerName FS02 -ScriptBlock { whoami }",
     SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe", "lg.process.winrm_client", "FS02"),
    ("winrs -r:fs03.corp.local cmd /c whoami", SYS32 + "winrs.exe", "lg.process.winrm_client", "FS03"),
    ("RemCom.exe \\\\SQL01 /user:CORP\\adm /pwd:x cmd.exe", "C:\\Users\\Public\\RemCom.exe",
     "lg.process.psexec_client", "SQL01"),
])
def test_client_commands_naming_a_host_make_source_side_hops(cmd: str, image: str, rule: str,
                                                            dst: str) -> None:
    ev = events_frame(_proc(cmd, SYS32 + "cmd.exe", image=image, host="WS03", subject_account="adm"))
    hops = analyze_from_events(ev, IngestReport()).hops
    assert len(hops) == 1 and (hops.iloc[0]["src_host"], hops.iloc[0]["dst_host"]) == ("WS03", dst)
    assert rule in hops.iloc[0]["rules"] and hops.iloc[0]["severity"] in ("medium", "high")


@pytest.mark.parametrize("cmd", ["schtasks /query /fo LIST", "shutdown /s /t 0",
                                 "schtasks /create /s localhost /tn x",
                                 "powershell Invoke-Command -ScriptBlock { hostname }"])
def test_local_task_and_remoting_commands_make_no_hop(cmd: str) -> None:
    ev = events_frame(_proc(cmd, SYS32 + "cmd.exe", image=SYS32 + "schtasks.exe", host="WS03"))
    assert analyze_from_events(ev, IngestReport()).hops.empty


def _outbound(image: str, port: int, ts: object, *, host: str = "WS05", user: str = "CORP\\bob") -> object:
    return make_event(event_id=3, channel="Sysmon", host=host, src_host=host, src_ip="10.20.0.5",
                      dst_ip="10.10.0.11", dst_port=port, process=image, account=user, ts=ts)


def test_proxied_tool_seen_only_on_the_source_is_a_medium_hop() -> None:
    # Impacket through a beacon's SOCKS proxy: the source logs only the implant's own connections
    implant = SYS32 + "rundll32.exe"
    ev = events_frame(_outbound(implant, 135, T0), _outbound(implant, 445, T0 + timedelta(seconds=1)),
                      _outbound("System", 445, T0 - timedelta(days=1)))
    hops = analyze_from_events(ev, IngestReport()).hops
    assert len(hops) == 1
    hop = hops.iloc[0]
    assert (hop["src_host"], hop["dst_host"]) == ("WS05", "10.10.0.11")
    assert hop["severity"] == "medium" and hop["rules"] == ("lg.network.unusual_client",)
    # the implant's owner is not the account the proxied tool authenticates with
    assert pd.isna(hop["account"])
    assert "not a Windows network client" in hop["reason"] and "outbound connection" in hop["reason"]


def test_a_routine_outbound_smb_agent_makes_no_hop_and_no_finding() -> None:
    agent = "C:\\Program Files\\Inventory\\agent.exe"
    ev = events_frame(*[_outbound(agent, 445, T0 + timedelta(days=d), host="MON01",
                                  user="CORP\\svc_inventory") for d in range(3)])
    result = analyze_from_events(ev, IngestReport())
    assert result.hops.empty and result.findings.empty
    once = analyze_from_events(events_frame(_outbound(agent, 445, T0, host="MON01")), IngestReport())
    assert len(once.findings) == 1 and set(once.hops["severity"]) <= {"info", "low"}


@pytest.mark.parametrize("image", ["C:\\Windows\\Temp\\qmzvbn.exe", "%TEMP%\\a1b2c3d.exe",
                                   "C:\\Users\\Public\\svc.bat", "C:\\ProgramData\\upd.exe"])
def test_service_binary_staged_in_a_writable_folder_alone_is_a_target_only_hop(image: str) -> None:
    # `copy x.exe \\host\C$\Windows\Temp` + `sc \\host create`, seen through the System log only
    result = analyze_from_events(events_frame(_svc(0, "Xkzqwert", image)), IngestReport())
    assert len(result.hops) == 1
    hop = result.hops.iloc[0]
    assert hop["dst_host"] == "SRV9" and pd.isna(hop["src_host"]) and hop["severity"] == "medium"
    # look-alikes seen in real benign System logs: a driver, Sysmon installing itself in
    # C:\Windows, a test harness registering a service from the user's own temp folder
    for name, benign in (("cpuz141", "C:\\Windows\\Temp\\cpuz141\\cpuz141_x64.sys"),
                         ("Sysmon", "C:\\Windows\\Sysmon.exe"),
                         ("Pathfinder", '"C:\\Users\\tony\\AppData\\Local\\Temp\\pytest-0\\pf.exe"')):
        assert analyze_from_events(events_frame(_svc(0, name, benign)), IngestReport()).hops.empty, benign


def test_a_machines_own_service_ticket_names_its_address_for_user_presence() -> None:
    # DC-only logs: no machine TGT in the window, but WS05$ asked a ticket from 10.0.0.5 itself,
    # so nils's ticket for WS05 from that address is nils's own session on WS05
    from graph.scoring.auth import presence

    machine = make_event(event_id=4769, channel="Security", host="DC01", account="ws05$", src_host="WS05",
                         src_ip="10.0.0.5", dst_host="DC01")
    user = make_event(event_id=4769, channel="Security", host="DC01", account="nils", src_ip="10.0.0.5",
                      dst_host="WS05", ts=T0 + timedelta(hours=1))
    p = presence(events_frame(machine, user))
    assert p[["host", "account"]].values.tolist() == [["WS05", "nils"]]
    # another machine's ticket from that address says nothing about it
    other = make_event(event_id=4769, channel="Security", host="DC01", account="ws09$", src_host="WS05",
                       src_ip="10.0.0.5", dst_host="DC01")
    assert presence(events_frame(other, user)).empty


def test_a_dc_ticket_is_not_an_installed_service_of_the_hop() -> None:
    # the 4769's ServiceName is the target's machine account: in the hop's tool signature it would
    # make every destination of a deployment routine a new tool
    ticket = make_event(event_id=4769, channel="Security", host="DC01", account="svc_sccm", src_ip="10.0.0.5",
                        src_host="SCCM01", dst_host="WS07", service_name="WS07$")
    svc = _svc(0, "ccmsetup", "C:\\Windows\\ccmsetup\\ccmsetup.exe", host="WS07")
    logon = make_event(host="WS07", dst_host="WS07", account="svc_sccm", logon_type=3, src_ip="10.0.0.5",
                       src_host="SCCM01", ts=T0 - timedelta(seconds=1))
    hops = analyze_from_events(events_frame(ticket, logon, svc), IngestReport()).hops
    assert set(hops["dst_host"]) == {"WS07"}
    assert {s for t in hops["services"] for s in t} == {"ccmsetup"}
