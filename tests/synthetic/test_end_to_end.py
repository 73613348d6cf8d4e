"""A generated case through the real pipeline: every malicious hop is reported at medium or above.

This is the integration check between the generator and the analysis (recall only: the precision
and patient-zero figures over 20 seeds are printed by bench/evaluate.py, not asserted here).
"""

from __future__ import annotations

import pytest

from app.pipeline import run
from ingest.case import write_case
from ingest.synthetic import simulate

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("stealthy", [False, True], ids=["normal", "stealthy"])
def test_every_malicious_hop_is_found(stealthy, tmp_path):
    sim = simulate(0, n_workstations=40, n_servers=6, days=3, stealthy=stealthy)
    case = write_case(sim.events, tmp_path / "events" / "case.parquet")
    result = run([case])
    hops = result.hops[result.hops["severity"].astype(str).isin(["high", "medium"])]
    for hop in sim.truth.hops:
        at_dst = hops[(hops["dst_host"] == hop.dst).fillna(False).to_numpy(dtype=bool)]
        src = at_dst["src_host"].isin([hop.src, hop.src_ip]) | at_dst["src_ip"].isin([hop.src_ip])
        acct = at_dst["account"].isna() | (at_dst["account"] == hop.account)
        assert (src & acct).fillna(False).any(), f"no medium+ hop for {hop}"
    assert result.summary["events"] == len(sim.events)
