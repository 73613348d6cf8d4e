"""The hop panel's data on a real analysis of the demo case: evidence fields and score parts."""

from __future__ import annotations

import pytest

from app.ui.evidence import hop_evidence, plural, reason, score_parts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_result(tmp_path_factory):
    pytest.importorskip("app.pipeline", reason="app.pipeline has not landed")
    from app.pipeline import run
    from app.ui import state

    folder = tmp_path_factory.mktemp("demo")
    old = state.DEMO_DIR
    state.DEMO_DIR = folder
    try:
        return run(state.demo_inputs())
    finally:
        state.DEMO_DIR = old


def test_admin_share_hop_shows_share_logon_type_and_service(demo_result):
    hops = demo_result.hops
    hop = hops[hops["kinds"].map(lambda k: "admin_share" in k and "service_install" in k)] \
        .sort_values("score", ascending=False).iloc[0]
    ev = hop_evidence(demo_result, hop)
    assert len(ev) == len(hop["evidence"])
    assert ev["share_name"].dropna().str.contains(r"\$", regex=True).any()   # ADMIN$ / C$ / IPC$
    assert (ev.loc[ev["event_id"] == 4624, "logon_type"] == 3).all()
    assert ev["service_name"].notna().any() and ev["service_image"].notna().any()
    assert {"record_id", "source_file", "host"} <= set(ev.columns)
    assert str(hop["dst_host"]) in reason(hop)


def test_low_hop_evidence_and_score_parts(demo_result):
    hops = demo_result.hops
    low = hops[hops["severity"] == "low"].iloc[0]
    ev = hop_evidence(demo_result, low)
    assert len(ev) >= 1 and ev["event_id"].notna().all()
    parts = score_parts(low, demo_result.config).set_index("part")["value"]
    assert parts["score"] == round(float(low["score"]), 3)
    assert {"strength", "rarity", "fanout", "habit", "novelty", "uncapped"} <= set(parts.index)
    if "cap" not in parts.index:               # no cap: the product is the score
        assert abs(parts["uncapped"] - parts["score"]) <= 0.001


def test_every_capped_hop_names_its_cap(demo_result):
    for _, hop in demo_result.hops.sample(200, random_state=1).iterrows():
        parts = score_parts(hop, demo_result.config).set_index("part")
        if parts.loc["uncapped", "value"] - parts.loc["score", "value"] > 0.001:
            assert "cap" in parts.index and parts.loc["cap", "meaning"] != "capped", hop["hop_id"]


def test_plural():
    assert plural(1, "hop") == "1 hop" and plural(0, "hop") == "0 hops"
    assert plural(1204, "event") == "1,204 events"
