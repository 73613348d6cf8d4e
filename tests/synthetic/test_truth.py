"""The ground truth agrees with the events: every malicious hop left its evidence, patient zero
is where it started, the benign admin sources and hard negatives are really in the data."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pandas as pd
import pytest

from ingest.synthetic import GroundTruth, simulate

SIZE = {"n_workstations": 40, "n_servers": 6, "days": 3}
SERVICE_TECHNIQUES = {"psexec", "psexec_renamed", "smbexec", "copy_service"}


@pytest.fixture(scope="module", params=[(False, False), (True, False), (False, True), (True, True)],
                ids=["normal", "stealthy", "normal-admin-seat", "stealthy-admin-seat"])
def sim(request):
    stealthy, admin_seat = request.param
    return simulate(21, stealthy=stealthy, admin_seat=admin_seat, **SIZE)


def _rows(ev: pd.DataFrame, **eq) -> pd.DataFrame:
    mask = pd.Series(True, index=ev.index)
    for col, value in eq.items():
        mask &= (ev[col] == value).fillna(False).astype(bool)
    return ev[mask]


def test_every_malicious_hop_has_its_target_side_evidence(sim):
    ev = sim.events
    assert sim.truth.hops
    for hop in sim.truth.hops:
        at = pd.Timestamp(hop.first_seen)
        logon = _rows(ev, event_id=4624, host=hop.dst, account=hop.account, logon_type=3, src_ip=hop.src_ip)
        logon = logon[(logon.ts - at).abs() < pd.Timedelta(seconds=1)]
        assert len(logon) == 1, hop
        lid = logon.logon_id.iloc[0]
        session = _rows(ev, host=hop.dst, logon_id=lid)
        assert {5140, 4672} <= set(session.event_id), hop
        assert session.share_name.isin([r"\\*\ADMIN$", r"\\*\C$", r"\\*\IPC$"]).any()
        if hop.technique in SERVICE_TECHNIQUES:
            assert 4697 in set(session.event_id), hop
            svc = _rows(ev, event_id=7045, host=hop.dst)
            delay = svc.ts - at
            assert ((delay > pd.Timedelta(0)) & (delay < pd.Timedelta(seconds=2))).any(), hop
        else:  # wmiexec: cmd.exe under WmiPrvSE writing to \\127.0.0.1\ADMIN$\__<ts>
            cmds = _rows(ev, host=hop.dst, parent_process=r"C:\Windows\System32\wbem\WmiPrvSE.exe")
            assert cmds.command_line.str.contains(r"\\127.0.0.1\ADMIN$\__", regex=False).any()
        if hop.technique == "smbexec":
            svc = _rows(ev, event_id=7045, host=hop.dst)
            assert svc.service_image.str.contains("& del", regex=False).any()


def test_source_side_evidence_when_collected(sim):
    ev = sim.events
    for hop in sim.truth.hops:
        close = (ev.ts - pd.Timestamp(hop.first_seen)).abs() < pd.Timedelta(seconds=5)
        near = ev[(ev.host == hop.src) & close]
        conn = _rows(near, event_id=3, dst_host=hop.dst)
        explicit = _rows(near, event_id=4648, dst_host=hop.dst)
        if not hop.source_logs:
            assert conn.empty and explicit.empty
        elif hop.technique == "psexec" and hop.account != "administrator":
            assert len(explicit) == 1 and explicit.account.iloc[0] == hop.account


def test_patient_zero_is_where_it_starts(sim):
    truth = sim.truth
    assert all(h.dst != truth.patient_zero for h in truth.hops)
    first_out = min(h.first_seen for h in truth.hops if h.src == truth.patient_zero)
    assert truth.patient_zero_time < first_out
    for hop in truth.hops:   # every source was compromised before it moved on
        assert truth.compromised[hop.src] <= hop.first_seen
    assert set(truth.compromised) == {truth.patient_zero} | {h.dst for h in truth.hops}
    foothold = _rows(sim.events, host=truth.patient_zero, event_id=1)
    assert foothold.command_line.str.contains("-enc", regex=False).any()


def test_spread_speed(sim):
    hops = sorted(sim.truth.hops, key=lambda h: h.first_seen)
    gaps = [b.first_seen - a.first_seen for a, b in itertools.pairwise(hops)]
    span = hops[-1].first_seen - hops[0].first_seen
    if sim.truth.stealthy:
        assert 3 <= len(hops) <= 4
        assert min(gaps) >= timedelta(hours=1)
    else:
        assert len(hops) >= 12 and span < timedelta(hours=6)
        burst = [h for h in hops if h.first_seen >= hops[-1].first_seen - timedelta(minutes=5)]
        assert len(burst) >= 8 and len({h.src for h in burst}) == 1
    # a credential switch: the chain uses more than one account
    assert len({h.account for h in hops}) >= 2


def test_benign_admin_sources_are_in_the_data(sim):
    ev, src = sim.events, sim.truth.admin_sources
    days = SIZE["days"]
    deploy = _rows(ev, event_id=4624, account=src["deployment"]["account"])
    assert deploy.host.nunique() > SIZE["n_workstations"] // 4
    installs = _rows(ev, event_id=7045, service_name="CcmSetup")
    assert installs.ts.dt.date.nunique() == days
    backup = _rows(ev, event_id=5140, account=src["backup"]["account"], share_name=r"\\*\C$")
    assert backup.host.nunique() >= SIZE["n_servers"]
    for admin in src["it_admins"]:
        runs = _rows(ev, event_id=4624, account=admin["account"])
        assert not runs.empty
    assert not _rows(ev, event_id=7045, service_name="PSEXESVC").empty


def test_hard_negatives_are_in_the_data(sim):
    ev = sim.events
    failed = _rows(ev, event_id=4625)
    assert len(failed) >= 300 and failed.host.nunique() == 1
    loop = _rows(ev, event_id=4624, logon_type=3)
    loop = loop[loop.src_ip.isin(["127.0.0.1", "::1"]).fillna(False)]
    assert not loop.empty and (loop.src_host == loop.host).all()
    inventory = _rows(ev, event_id=5140, account=sim.truth.admin_sources["inventory"]["account"])
    assert set(inventory.share_name) == {r"\\*\IPC$"} and inventory.host.nunique() > 30


def test_truth_json_round_trip(sim, tmp_path):
    path = tmp_path / "truth.json"
    sim.truth.write(path)
    back = GroundTruth.read(path)
    assert back == sim.truth
