"""IP -> host resolution: time-aware, evidence-only, loopback untouched."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from ingest.resolve import ip_evidence, resolve_ips
from tests.conftest import T0, events_frame, make_event

H = timedelta(hours=1)


def _logon(t, ip, ws=None, host="SRV01", **kw):  # a target-side 4624
    return make_event(ts=T0 + t, event_id=4624, host=host, dst_host=host, src_ip=ip, src_host=ws,
                      logon_type=3, **kw)


def _share(t, ip, host="SRV01"):
    return make_event(ts=T0 + t, event_id=5145, host=host, dst_host=host, src_ip=ip,
                      share_name="\\\\*\\ADMIN$")


def test_dhcp_move_each_event_gets_the_host_that_held_the_address_then() -> None:
    frame = events_frame(
        _logon(0 * H, "10.0.0.5", "PC01"),
        _share(1 * H, "10.0.0.5"),
        _logon(10 * H, "10.0.0.5", "PC02"),      # the lease moved to PC02
        _share(11 * H, "10.0.0.5"),
    )
    out = resolve_ips(frame)
    assert list(out["src_host"]) == ["PC01", "PC01", "PC02", "PC02"]
    assert frame["src_host"].isna().sum() == 2        # input untouched


def test_no_evidence_no_name_and_tolerance_respected() -> None:
    frame = events_frame(_logon(0 * H, "10.0.0.5", "PC01"), _share(1 * H, "10.0.0.9"),
                         _share(48 * H, "10.0.0.5"))
    out = resolve_ips(frame)
    assert pd.isna(out.loc[1, "src_host"])            # another address: never invented
    assert pd.isna(out.loc[2, "src_host"])            # evidence 47 h away > 24 h tolerance
    assert resolve_ips(frame, tolerance=None).loc[2, "src_host"] == "PC01"


def test_failed_logons_and_loopback_are_not_evidence() -> None:
    frame = events_frame(
        make_event(ts=T0, event_id=4625, host="SRV01", dst_host="SRV01", src_ip="10.0.0.7",
                   src_host="RANDOM1"),
        make_event(ts=T0, event_id=4624, host="SRV01", dst_host="SRV01", src_ip="127.0.0.1",
                   src_host="SRV01"),
        _share(H, "10.0.0.7"),
        _share(H, "127.0.0.1"),
    )
    assert ip_evidence(frame).empty
    out = resolve_ips(frame)
    assert out["src_host"].isna().sum() == 2


def test_sysmon_network_events_and_4648_tie_addresses_to_hosts() -> None:
    frame = events_frame(
        make_event(ts=T0, event_id=3, channel="Sysmon", host="WS05", src_host="WS05", src_ip="10.0.0.5",
                   dst_ip="10.0.0.6", dst_port=445),
        make_event(ts=T0, event_id=4648, host="WS05", src_host="WS05", dst_host="FS01", dst_ip="10.0.0.9"),
        _share(H, "10.0.0.5", host="WS06"),
        make_event(ts=T0 + H, event_id=3, channel="Sysmon", host="WS07", src_host="WS07", src_ip="10.0.0.7",
                   dst_ip="10.0.0.9", dst_port=445),
    )
    out = resolve_ips(frame)
    assert out.loc[2, "src_host"] == "WS05"
    assert out.loc[3, "dst_host"] == "FS01"
    assert pd.isna(out.loc[0, "dst_host"])             # 10.0.0.6 is never named
