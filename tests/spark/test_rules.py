"""Every rule of graph.rules.RULES compiled to Spark fires on exactly the events pandas flags."""

from __future__ import annotations

import pandas as pd
import pytest

from graph.rules import apply_rules
from graph.rules.compile import all_, any_, leaf, not_
from graph.spark.io import events_to_spark
from graph.spark.rules import compile_spark, tag_events
from tests.conftest import events_frame, make_event

pytestmark = pytest.mark.spark


def _spark_tags(spark, events: pd.DataFrame) -> pd.DataFrame:
    from pyspark.sql import functions as F

    # one partition, so monotonically_increasing_id is the dense row position
    frame = events_to_spark(spark, events).coalesce(1).withColumn(
        "event_index", F.monotonically_increasing_id())
    tags = tag_events(frame).toArrow().to_pandas()
    tags["rule_id"] = tags["rule_id"].astype("string")
    tags["level"] = tags["level"].astype("string")
    return tags.sort_values(["event_index", "rule_id"], kind="stable").reset_index(drop=True)


def _assert_same_tags(spark, events: pd.DataFrame) -> int:
    want = apply_rules(events)
    got = _spark_tags(spark, events)
    key = ["event_index", "rule_id"]
    both = want[key].merge(got[key], how="outer", indicator=True)
    diff = both[both["_merge"] != "both"]
    shown = diff.merge(events.reset_index(drop=True), left_on="event_index", right_index=True).head(5)
    assert diff.empty, f"{len(diff)} rule hits differ (left_only = pandas only):\n{shown.to_string()}"
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    return len(want)


def _tricky() -> pd.DataFrame:
    """Edge cases: missing values, case, unicode, loopback, regex-looking names."""
    return events_frame(
        make_event(logon_type=3, account="ADMIN", src_ip="10.0.0.9", src_host="WS01", dst_host="PC01",
                   auth_package="NTLM", key_length=0, logon_process="NtLmSsp"),
        make_event(logon_type=3, account=None, src_ip=None, src_host="PC01", dst_host="PC01"),
        make_event(logon_type=3, account="İstanbul", src_ip="127.0.0.1", src_host=None),
        make_event(event_id=5145, share_name="\\\\*\\ADMIN$", target_name="PSEXESVC.exe",
                   access_mask=0x2, account="bob", src_ip="10.1.1.1"),
        make_event(event_id=5145, share_name="\\\\*\\IPC$", target_name="svcctl", access_mask=None),
        make_event(event_id=5145, share_name="\\\\*\\c$", target_name="Windows\\Temp\\x.bat",
                   access_mask=0x4),
        make_event(event_id=5140, share_name=None),
        make_event(event_id=7045, channel="System", service_name="ABCDEFGH",
                   service_image="%SystemRoot%\\abcdefgh.exe"),
        make_event(event_id=7045, channel="System", service_name="x",
                   service_image="cmd.exe /c echo x > \\\\.\\pipe\\y & del"),
        make_event(event_id=4688, process="C:\\Windows\\System32\\cmd.exe",
                   command_line="net use \\\\SRV01\\ADMIN$ /user:corp\\adm pw"),
        make_event(event_id=1, channel="Sysmon", process="C:\\Windows\\PSEXESVC.exe",
                   parent_process="C:\\Windows\\System32\\services.exe", command_line=None),
        make_event(event_id=3, channel="Sysmon", dst_port=445, process="C:\\Users\\x\\evil.exe",
                   src_host="PC01", dst_host="SRV01", dst_ip="10.0.0.2"),
        make_event(event_id=4648, account="adm", subject_account="bob", dst_host="SRV01",
                   process="C:\\Tools\\PsExec.exe"),
    )


def test_every_rule_matches_pandas_on_edge_cases(spark) -> None:
    # the generated enterprise and the real samples are compared (tags included) end to end in
    # test_equivalence.py; this covers hand-made edge cases on every rule
    assert _assert_same_tags(spark, _tricky()) > 10


def test_condition_operators(spark) -> None:
    from pyspark.sql import functions as F

    events = _tricky()
    conds = [
        leaf("account", "ieq", "admin"), leaf("account", "ne", "bob"), not_(leaf("account", "in", ["bob"])),
        leaf("access_mask", "mask_any", 0x6), leaf("logon_type", "ge", 3), leaf("key_length", "lt", 1),
        leaf("src_host", "ine_col", "host"), leaf("share_name", "iregex", [r"\\[a-z]\$$", "ipc"]),
        any_(leaf("command_line", "icontains", ["ADMIN$", "zz"]), leaf("process", "istartswith", "c:\\win")),
        all_(leaf("event_id", "in", [5145, 5140]), leaf("target_name", "isnull")),
        leaf("account", "iin", ["istanbul", "i̇stanbul"]),
    ]
    frame = events_to_spark(spark, events).coalesce(1)
    got = frame.select(*[compile_spark(c).alias(f"c{i}") for i, c in enumerate(conds)]).toArrow().to_pandas()
    from graph.rules.compile import compile_pandas

    for i, cond in enumerate(conds):
        assert got[f"c{i}"].tolist() == compile_pandas(cond, events).tolist(), cond
    assert frame.select(F.sum(compile_spark(conds[0]).cast("int"))).first()[0] == 1
    with pytest.raises(ValueError, match="unknown condition operator"):
        compile_spark({"col": "x", "op": "like", "value": "a"})


def test_derived_service_burst_matches_pandas(spark) -> None:
    from datetime import timedelta

    from tests.conftest import T0

    burst = [make_event(event_id=7045, channel="System", host="SRV9", ts=T0 + timedelta(seconds=7 * i),
                        service_name=f"U{i}", service_image="C:\\x\\u.exe") for i in range(24)]
    other = [make_event(event_id=7045, channel="System", host=f"H{i}", ts=T0, service_name="U",
                        service_image="C:\\x\\u.exe") for i in range(3)]
    reg = make_event(event_id=13, channel="Sysmon", host="SRV9", ts=T0 + timedelta(seconds=300),
                     service_name="a1b2c3d", service_image="%COMSPEC% /b /c start /b /min powershell -nop")
    events = events_frame(*burst, *other, reg)
    assert "lg.service.burst" in set(apply_rules(events)["rule_id"])
    _assert_same_tags(spark, events)


def test_derived_client_days_matches_pandas(spark) -> None:
    from datetime import timedelta

    from tests.conftest import T0

    def conn(day: float, image: str | None, port: int, host: str = "WS1", src: str | None = "WS1") -> object:
        return make_event(event_id=3, channel="Sysmon", host=host, src_host=src, src_ip="10.0.0.5",
                          dst_ip="10.0.0.9", dst_port=port, process=image, ts=T0 + timedelta(days=day))

    agent, beacon = r"C:\Program Files\Agent\agent.exe", r"C:\Windows\System32\RUNDLL32.exe"
    events = events_frame(
        conn(0, agent, 445), conn(1, agent.upper(), 139), conn(2.5, agent, 445),   # routine, any case
        conn(30, agent, 445), conn(37.5, agent, 445),    # another stretch (a gap > 7 days), then < 7
        conn(1, beacon, 445), conn(1.1, beacon, 135), conn(2, beacon.lower(), 135),
        conn(0, None, 445), conn(1, "System", 445), conn(1, beacon, 5986, host="ws2", src="WS2"),
        conn(1, beacon, 445, host="WS3", src="WS9"),     # not logged by its source: no count
        # a midnight boundary: 1 ns before and at 00:00 UTC are two days
        make_event(event_id=3, channel="Sysmon", host="WS4", src_host="WS4", dst_ip="10.0.0.9", dst_port=445,
                   process=beacon, ts=T0.replace(hour=0) + timedelta(days=1) - timedelta(microseconds=1)),
        make_event(event_id=3, channel="Sysmon", host="WS4", src_host="WS4", dst_ip="10.0.0.9", dst_port=445,
                   process=beacon, ts=T0.replace(hour=0) + timedelta(days=1)),
    )
    tags = apply_rules(events)
    assert {"lg.network.unusual_client", "lg.network.smb_outbound"} <= set(tags["rule_id"])
    assert _assert_same_tags(spark, events) > 0
