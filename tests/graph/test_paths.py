"""Time-respecting paths, spread tree and patient zero on the canonical toy topologies."""

from __future__ import annotations

import itertools

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.config import AnalysisConfig
from graph.paths import compromised_hosts, iter_paths, spread_tree, top_paths
from graph.patient_zero import patient_zero
from graph.toy import toy_hops

CFG = AnalysisConfig()


def hosts(spec: str, **cfg) -> list[tuple[str, ...]]:
    return sorted(p.hosts for p in iter_paths(toy_hops(spec), AnalysisConfig(**cfg)))


def test_chain() -> None:
    assert hosts("A>B@0s B>C@1m C>D@2m") == [("A", "B", "C", "D")]


def test_star() -> None:
    assert hosts("A>B@0s A>C@1m A>D@2m") == [("A", "B"), ("A", "C"), ("A", "D")]


def test_diamond() -> None:
    assert hosts("A>B@0s A>C@1m B>D@2m C>D@3m") == [("A", "B", "D"), ("A", "C", "D")]


def test_cycle_never_repeats_a_host() -> None:
    assert hosts("A>B@0s B>C@1m C>A@2m") == [("A", "B", "C")]


def test_not_time_respecting() -> None:
    assert hosts("A>B@2h B>C@1h") == [("A", "B"), ("B", "C")]


def test_equal_times_continue() -> None:
    assert hosts("A>B@0s B>C@0s") == [("A", "B", "C")]


def test_max_gap() -> None:
    assert hosts("A>B@0s B>C@2d") == [("A", "B"), ("B", "C")]
    assert hosts("A>B@0s B>C@2d", max_path_gap_s=3 * 86400) == [("A", "B", "C")]


def test_credential_switch_is_allowed() -> None:
    p = next(iter_paths(toy_hops("A>B@0s/alice B>C@1m/bob")))
    assert p.accounts == ("alice", "bob") and p.hop_ids == (0, 1)


def test_low_scores_and_unknown_sources_are_not_in_paths() -> None:
    assert hosts("A>B@0s B>C@1m=0.2") == [("A", "B")]
    assert hosts("?>B@0s B>C@1m") == [("B", "C")]


def test_top_paths_rank_longer_strong_chains_first() -> None:
    top = top_paths(toy_hops("A>B@0s B>C@1m X>Y@0s=1.0"), CFG)
    assert [p.hosts for p in top] == [("A", "B", "C"), ("X", "Y")]
    assert top[0].score == 0.9 * 0.75


def test_path_search_is_bounded() -> None:
    spec = " ".join(f"H{i}>H{j}@{i * 10 + j}s" for i in range(8) for j in range(8) if i != j)
    paths = list(iter_paths(toy_hops(spec), AnalysisConfig(max_path_expansions=500)))
    assert 0 < len(paths) <= 500


def test_spread_tree_uses_first_compromise() -> None:
    tree = spread_tree(toy_hops("A>B@0s A>C@1m B>C@2m C>D@3m"), CFG)
    assert sorted(tree.edges()) == [("A", "B"), ("A", "C"), ("C", "D")]
    comp = compromised_hosts(toy_hops("A>B@0s A>C@1m B>C@2m"), CFG)
    assert comp.loc[comp.host == "C", "parent"].item() == "A"


def test_patient_zero_is_the_earliest_source_explaining_the_spread() -> None:
    pz = patient_zero(toy_hops("A>B@0s B>C@1h B>D@2h C>E@3h Q>R@5h"), CFG)
    assert [p.host for p in pz] == ["A", "Q"]
    assert pz[0].score == 4 / 6 * 0.9
    assert "no hop scoring at least 0.40 from a known source enters A before" in pz[0].reason
    assert pz[0].confidence > pz[1].confidence


def test_patient_zero_excludes_sources_entered_before() -> None:
    pz = patient_zero(toy_hops("X>A@0s A>B@1h"), CFG)
    assert [p.host for p in pz] == ["X"]


def test_patient_zero_ties_break_by_time_then_name() -> None:
    pz = patient_zero(toy_hops("B>Y@0s A>X@0s C>Z@1m"), CFG)
    assert [p.host for p in pz] == ["A", "B", "C"]


def test_ip_only_source_can_be_patient_zero() -> None:
    pz = patient_zero(toy_hops("10.0.0.9>B@0s B>C@1m"), CFG)
    assert pz[0].host == "10.0.0.9"


tokens = st.lists(st.tuples(st.sampled_from("ABCDE"), st.sampled_from("ABCDE"),
                            st.integers(min_value=0, max_value=600)), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(tokens)
def test_every_path_is_time_respecting_and_simple(items) -> None:
    spec = " ".join(f"{a}>{b}@{t}s" for a, b, t in items if a != b)
    if not spec:
        return
    h = toy_hops(spec).set_index("hop_id")
    for p in iter_paths(toy_hops(spec), CFG):
        times = [h.loc[i, "first_seen"] for i in p.hop_ids]
        assert times == sorted(times)
        assert len(set(p.hosts)) == len(p.hosts)
        assert all(b - a <= pd.Timedelta(seconds=CFG.max_path_gap_s) for a, b in itertools.pairwise(times))
