"""Evidence rules: each rule fires on a positive and not on a near miss; the condition language."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from graph.rules import RULES, apply_rules, rule_event_ids
from graph.rules.compile import OPS, all_, any_, compile_pandas, leaf, not_
from tests.conftest import events_frame, make_event

REMOTE = {"src_ip": "10.0.0.5", "src_host": "WS1", "host": "SRV1", "dst_host": "SRV1", "account": "bob",
          "logon_id": "0x1234"}


def fired(**fields) -> set[str]:
    """Rule ids that fire on one event."""
    return set(apply_rules(events_frame(make_event(**fields)))["rule_id"])


# (rule id, positive event fields, near-miss fields)
CASES = [
    ("lg.logon.network", {"event_id": 4624, "logon_type": 3, **REMOTE},
     {"event_id": 4624, "logon_type": 3, **REMOTE, "src_ip": "127.0.0.1", "src_host": "SRV1"}),
    ("lg.logon.pass_the_hash",
     {"event_id": 4624, "logon_type": 3, "logon_process": "NtLmSsp", "key_length": 0, **REMOTE},
     {"event_id": 4624, "logon_type": 3, "logon_process": "NtLmSsp", "key_length": 128, **REMOTE}),
    ("lg.logon.metasploit_workstation",
     {"event_id": 4624, "logon_type": 3, "auth_package": "NTLM", **REMOTE, "src_host": "ABCDEFGH12345678"},
     {"event_id": 4624, "logon_type": 3, "auth_package": "NTLM", **REMOTE}),
    ("lg.logon.explicit_creds_tool",
     {"event_id": 4648, "host": "WS1", "src_host": "WS1", "dst_host": "SRV1", "account": "bob",
      "process": r"C:\Windows\System32\net.exe"},
     {"event_id": 4648, "host": "WS1", "src_host": "WS1", "dst_host": "localhost", "account": "bob",
      "process": r"C:\Windows\System32\net.exe"}),
    ("lg.share.admin_access", {"event_id": 5140, "share_name": r"\\*\ADMIN$", **REMOTE},
     {"event_id": 5140, "share_name": r"\\*\ADMIN$", **REMOTE, "account": "SRV2$"}),
    ("lg.share.admin_write",
     {"event_id": 5145, "share_name": r"\\*\C$", "target_name": r"Windows\x.exe", "access_mask": 0x2,
      **REMOTE},
     {"event_id": 5145, "share_name": r"\\*\C$", "target_name": r"Windows\x.exe", "access_mask": 0x1,
      **REMOTE}),
    ("lg.share.svcctl_pipe", {"event_id": 5145, "share_name": r"\\*\IPC$", "target_name": "svcctl", **REMOTE},
     {"event_id": 5145, "share_name": r"\\*\IPC$", "target_name": "srvsvc", **REMOTE}),
    ("lg.share.renamed_psexec_pipe",
     {"event_id": 5145, "share_name": r"\\*\IPC$", "target_name": "blabla-WS1-123-stdin", **REMOTE},
     {"event_id": 5145, "share_name": r"\\*\IPC$", "target_name": "PSEXESVC-WS1-123-stdin", **REMOTE}),
    ("lg.share.remcom_pipe",
     {"event_id": 5145, "share_name": r"\\*\IPC$", "target_name": "RemCom_stdinABC", **REMOTE},
     {"event_id": 5145, "share_name": r"\\*\IPC$", "target_name": "RemCom", **REMOTE}),
    ("lg.share.atsvc_pipe", {"event_id": 5145, "share_name": r"\\*\IPC$", "target_name": "atsvc", **REMOTE},
     {"event_id": 5145, "share_name": r"\\*\ADMIN$", "target_name": "atsvc", **REMOTE}),
    ("lg.service.psexec", {"event_id": 7045, "service_name": "PSEXESVC",
                           "service_image": r"%SystemRoot%\PSEXESVC.exe"},
     {"event_id": 7045, "service_name": "Spooler", "service_image": r"C:\Windows\System32\spoolsv.exe"}),
    ("lg.service.smbexec", {"event_id": 7045, "service_name": "X",
                            "service_image": r"%COMSPEC% /Q /c echo cd ^> \\127.0.0.1\C$\__output 2^>^&1 > "
                                             r"%TEMP%\execute.bat & del %TEMP%\execute.bat"},
     {"event_id": 7045, "service_name": "X", "service_image": r"C:\Program Files\x\x.exe"}),
    ("lg.service.random_systemroot_exe",
     {"event_id": 7045, "service_name": "KgXItsbKgTJzdzwl", "service_image": r"%SYSTEMROOT%\duKhLYUX.exe"},
     {"event_id": 7045, "service_name": "x", "service_image": r"%SYSTEMROOT%\System32\duKhLYUX.exe"}),
    ("lg.service.getsystem",
     {"event_id": 7045, "service_name": "hgabms",
      "service_image": r"cmd.exe /c echo hgabms > \\.\pipe\hgabms"},
     {"event_id": 7045, "service_name": "hgabms", "service_image": "cmd.exe /c whoami"}),
    ("lg.service.bare_image", {"event_id": 7045, "service_name": "remotesvc", "service_image": "calc.exe"},
     {"event_id": 7045, "service_name": "x", "service_image": r"C:\Windows\calc.exe"}),
    ("lg.service.cobaltstrike",
     {"event_id": 4697, "service_name": "x", "service_image": r"\\10.0.0.5\ADMIN$\beacon.exe"},
     {"event_id": 4697, "service_name": "x", "service_image": r"C:\Windows\beacon.exe"}),
    ("lg.process.psexesvc_child",
     {"event_id": 1, "channel": "Sysmon", "process": r"C:\Windows\System32\cmd.exe",
      "parent_process": r"C:\Windows\PSEXESVC.exe"},
     {"event_id": 1, "channel": "Sysmon", "process": r"C:\Windows\System32\cmd.exe",
      "parent_process": r"C:\Windows\explorer.exe"}),
    ("lg.process.impacket_exec",
     {"event_id": 1, "channel": "Sysmon", "process": r"C:\Windows\System32\cmd.exe",
      "command_line": r"cmd.exe /Q /c whoami 1> \\127.0.0.1\ADMIN$\__1556656369.7 2>&1"},
     {"event_id": 1, "channel": "Sysmon", "process": r"C:\Windows\System32\cmd.exe",
      "command_line": "cmd.exe /Q /c whoami > out.txt"}),
    ("lg.process.random_windows_exe",
     {"event_id": 4688, "process": r"C:\Windows\duKhLYUX.exe"},
     {"event_id": 4688, "process": r"C:\Windows\explorer.exe"}),
    ("lg.process.net_use_admin_share",
     {"event_id": 4688, "process": r"C:\Windows\System32\net.exe", "command_line": r"net use m: \\fs03\c$"},
     {"event_id": 4688, "process": r"C:\Windows\System32\net.exe",
      "command_line": r"net use m: \\127.0.0.1\c$"}),
    ("lg.process.psexec_client",
     {"event_id": 4688, "process": r"C:\Tools\PsExec.exe", "command_line": r"psexec \\srv2 -accepteula cmd"},
     {"event_id": 4688, "process": r"C:\Tools\PsExec.exe", "command_line": "psexec -accepteula -s cmd"}),
    ("lg.network.smb_outbound",
     {"event_id": 3, "channel": "Sysmon", "host": "WS1", "src_host": "WS1", "src_ip": "10.0.0.5",
      "dst_ip": "10.0.0.9", "dst_port": 445, "process": r"C:\Program Files\Agent\agent.exe"},
     {"event_id": 3, "channel": "Sysmon", "host": "WS1", "src_host": "WS1", "src_ip": "10.0.0.5",
      "dst_ip": "10.0.0.9", "dst_port": 445, "process": "System"}),
    ("lg.network.unusual_client",
     {"event_id": 3, "channel": "Sysmon", "host": "WS1", "src_host": "WS1", "src_ip": "10.0.0.5",
      "dst_ip": "10.0.0.9", "dst_port": 135, "process": r"C:\Windows\System32\rundll32.exe"},
     {"event_id": 3, "channel": "Sysmon", "host": "WS1", "src_host": "WS1", "src_ip": "10.0.0.5",
      "dst_ip": "10.0.0.9", "dst_port": 135,
      "process": r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"}),
    ("lg.service.staged_image",
     {"event_id": 7045, "service_name": "Xkzqwert", "service_image": r"C:\Windows\Temp\qmzvbn.exe"},
     {"event_id": 7045, "service_name": "cpuz141", "service_image": r"C:\Windows\Temp\cpuz141\cpuz_x64.sys"}),
]


@pytest.mark.parametrize(("rule_id", "positive", "near_miss"), CASES, ids=[c[0] for c in CASES])
def test_rule_positive_and_near_miss(rule_id: str, positive: dict, near_miss: dict) -> None:
    assert rule_id in fired(**positive)
    assert rule_id not in fired(**near_miss)


def test_registry_metadata_is_complete() -> None:
    for rid, rule in RULES.items():
        assert rid == rule.id and rid.startswith("lg.") and rid.count(".") == 2
        assert rule.event_ids and rule.attack and all(t.startswith("T") for t in rule.attack)
        assert rule.title and rule.side in {"target", "source", "local", "brokered"}
        json.dumps(rule.to_dict())   # the declaration is data (the Spark compiler reads it)


def test_rule_event_ids_cover_the_core_events() -> None:
    assert {4624, 4648, 4672, 4688, 4697, 5140, 5145, 7045, 1, 3, 11}.issubset(rule_event_ids())


def test_apply_rules_reports_positions_and_levels() -> None:
    ev = events_frame(make_event(event_id=4634), make_event(event_id=4624, logon_type=3, **REMOTE))
    tags = apply_rules(ev.set_index(pd.Index([10, 20])))
    assert tags.to_dict("records") == [{"event_index": 1, "rule_id": "lg.logon.network",
                                        "level": "informational"}]


def test_condition_missing_values_are_false_and_not_negates() -> None:
    df = pd.DataFrame({"a": pd.array(["x", None], dtype="string"), "n": pd.array([6, None], dtype="Int64")})
    assert compile_pandas(leaf("a", "eq", "x"), df).tolist() == [True, False]
    assert compile_pandas(not_(leaf("a", "eq", "x")), df).tolist() == [False, True]
    assert compile_pandas(leaf("n", "mask_any", 0x2), df).tolist() == [True, False]
    assert compile_pandas(any_(leaf("a", "isnull"), leaf("n", "gt", 5)), df).tolist() == [True, True]
    assert compile_pandas(all_(leaf("a", "iregex", r"^X$"), leaf("n", "ge", 6)), df).tolist() == [True, False]


def test_condition_rejects_unknown_operator() -> None:
    with pytest.raises(ValueError, match="unknown condition operator"):
        leaf("a", "like", "x")
    assert {"eq", "iendswith", "mask_any", "ieq_col"} <= OPS


def _conn(day: float, image: str, port: int = 445, host: str = "WS1"):
    from datetime import timedelta

    from tests.conftest import T0

    return make_event(event_id=3, channel="Sysmon", host=host, src_host=host, src_ip="10.0.0.5",
                      dst_ip="10.0.0.9", dst_port=port, process=image, ts=T0 + timedelta(days=day, hours=1))


def test_a_hosts_routine_smb_client_is_no_evidence_and_a_new_one_is() -> None:
    agent = r"C:\Program Files\Inventory\agent.exe"
    routine = apply_rules(events_frame(_conn(0, agent), _conn(1, agent), _conn(2, agent)))
    assert routine.empty                       # the host's own agent, every day: its habit
    once = apply_rules(events_frame(_conn(2, agent)))
    assert set(once["rule_id"]) == {"lg.network.smb_outbound"}
    # the same image routine on another host does not make it routine here
    other = apply_rules(events_frame(_conn(0, agent, host="WS2"), _conn(1, agent, host="WS2"),
                                     _conn(2, agent)))
    assert set(other["rule_id"]) == {"lg.network.smb_outbound"}


def test_unusual_client_is_medium_when_new_and_low_when_the_hosts_routine() -> None:
    beacon = r"C:\Users\bob\AppData\Roaming\upd.exe"
    new = apply_rules(events_frame(_conn(1, beacon), _conn(1, beacon, 135)))
    assert set(new["rule_id"]) == {"lg.network.unusual_client"} and set(new["level"]) == {"medium"}
    daily = apply_rules(events_frame(_conn(0, beacon), _conn(1, beacon)))
    assert set(daily["rule_id"]) == {"lg.network.smb_outbound"}    # kept, but low
    python = apply_rules(events_frame(_conn(0, r"C:\Python311\python.exe", 5985)))
    assert set(python["rule_id"]) == {"lg.network.unusual_client"}
    # an inbound connection, System's SMB and PowerShell's remoting are not unusual clients
    inbound = make_event(event_id=3, channel="Sysmon", host="WS1", src_host="WS7", src_ip="10.0.0.7",
                         dst_host="WS1", dst_ip="10.0.0.5", dst_port=445,
                         process=r"C:\Windows\System32\rundll32.exe")
    tags = apply_rules(events_frame(inbound, _conn(0, "System")))
    assert "lg.network.unusual_client" not in set(tags["rule_id"])


def test_a_clients_baseline_is_its_own_stretch_of_time() -> None:
    # a month later is another stretch (as for environments): the agent's old routine neither
    # hides nor counts for a new use of it, and data loaded beside a case never changes it
    from graph.rules.derived import derive

    agent = r"C:\Program Files\Inventory\agent.exe"
    ev = events_frame(_conn(0, agent), _conn(1, agent), _conn(40, agent), _conn(41.2, agent),
                      _conn(43, agent))
    assert derive(ev, "client_days").tolist() == [2, 2, 3, 3, 3]
    tags = apply_rules(events_frame(_conn(0, agent), _conn(1, agent), _conn(40, agent)))
    assert set(tags["event_index"]) == {2}
