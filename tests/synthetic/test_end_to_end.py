"""A generated case through the real pipeline: every malicious hop is reported at medium or above.

This is the integration check between the generator and the analysis (recall only: the precision
and patient-zero figures over 20 seeds are printed by bench/evaluate.py, not asserted here).
"""

from __future__ import annotations

import pandas as pd
import pytest

from app.pipeline import run
from ingest.case import write_case
from ingest.synthetic import simulate

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("stealthy", "admin_seat"),
                         [(False, False), (True, False), (False, True), (True, True)],
                         ids=["normal", "stealthy", "normal-admin-seat", "stealthy-admin-seat"])
def test_every_malicious_hop_is_found(stealthy, admin_seat, tmp_path):
    sim = simulate(0, n_workstations=40, n_servers=6, days=3, stealthy=stealthy, admin_seat=admin_seat)
    case = write_case(sim.events, tmp_path / "events" / "case.parquet")
    result = run([case])
    hops = result.hops[result.hops["severity"].astype(str).isin(["high", "medium"])]
    for hop in sim.truth.hops:
        at_dst = hops[(hops["dst_host"] == hop.dst).fillna(False).to_numpy(dtype=bool)]
        src = at_dst["src_host"].isin([hop.src, hop.src_ip]) | at_dst["src_ip"].isin([hop.src_ip])
        acct = at_dst["account"].isna() | (at_dst["account"] == hop.account)
        assert (src & acct).fillna(False).any(), f"no medium+ hop for {hop}"
    assert result.summary["events"] == len(sim.events)


def test_attacker_on_the_admin_seat_is_not_discounted_as_the_admin_routine(tmp_path):
    """The attacker runs the IT admin's PsExec with the admin's account from the admin's seat: the
    routine matches, but the seat was reached by a suspicious hop first, so no habit discount."""
    sim = simulate(0, n_workstations=40, n_servers=6, days=3, admin_seat=True)
    seat = sim.truth.admin_sources["it_admins"][0]
    from_seat = [h for h in sim.truth.hops if h.src == seat["host"]]
    assert from_seat and {h.account for h in from_seat} == {seat["account"]}
    assert {h.technique for h in from_seat} == {"psexec"}
    result = run([write_case(sim.events, tmp_path / "events" / "case.parquet")])
    hops = result.hops
    mine = (hops["src_host"] == seat["host"]) & (hops["account"] == seat["account"]) & hops["lateral"]
    routine = hops[mine.fillna(False).to_numpy(dtype=bool)]
    before = routine[routine["first_seen"] < pd.Timestamp(sim.truth.compromised[seat["host"]])]
    after = routine[routine["first_seen"] >= pd.Timestamp(sim.truth.compromised[seat["host"]])]
    assert (before["habit"] == 1).sum() > len(before) // 2     # the admin's routine is recognised...
    assert len(after) and (after["habit"] == 0).all()         # ...and void once the seat is held
    # each hop from the held seat is medium+ on its own, or (when it matches the admin's routine
    # from before the compromise: account, tool, hour, destination pool) a member of the seat's
    # routine group: one medium finding, still on the paths
    medium_plus = after["severity"].astype(str).isin(["medium", "high"])
    grouped = after["routine_group"].notna()
    assert (medium_plus | grouped).all()
    if grouped.any():
        group = next(g for g in result.routine_groups if g.source == seat["host"])
        assert group.severity == "medium" and set(after.loc[grouped, "hop_id"]) <= set(group.hop_ids)
