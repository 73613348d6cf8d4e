"""The analysis's memory-saving layouts give the same results: events with constant text columns held
once (ingest.compact), hop reasons built once per distinct combination of their inputs."""

from __future__ import annotations

import pandas as pd

from app.pipeline import analyze_from_events
from graph.config import AnalysisConfig
from graph.engine import hop_stage, pandas_event_stage
from graph.scoring import combine
from graph.toy import toy_events
from ingest import compact
from ingest.report import IngestReport

CFG = AnalysisConfig()
SPEC = ("A>B@0s:psexec B>C@10m:smbexec C>D@20m:share ?>D@30m:svc A>Z@1h:netuse E>E@2h:session "
        "B>F@3h:discovery C>10.0.0.9@4h:logon A>B@1d:psexec/other A>G@2d:guess")


def test_analysis_is_the_same_with_shared_constant_columns(monkeypatch) -> None:
    """Every column that is all-missing or one value (most of a toy case's) held as slices of one
    small chunk: the hops (evidence items included), tags, findings and summary are unchanged."""
    events = toy_events(SPEC)
    monkeypatch.setattr(compact, "CHUNK_ROWS", 4)   # many chunks, several shared columns
    shared = compact.share_constant_columns(events.copy(), min_rows=0)
    assert sum(shared[c].array._pa_array.num_chunks > 1 for c in shared.columns
               if isinstance(shared[c].dtype, pd.StringDtype)) >= 3
    pd.testing.assert_frame_equal(shared, events)
    plain = analyze_from_events(events, IngestReport(), CFG)
    small = analyze_from_events(shared, IngestReport(), CFG)
    assert len(plain.hops) >= 8 and len(plain.findings) >= 1
    pd.testing.assert_frame_equal(small.hops, plain.hops)
    pd.testing.assert_frame_equal(small.tags, plain.tags)
    pd.testing.assert_frame_equal(small.findings, plain.findings)
    assert [list(e) for e in small.hops["evidence"]] == [list(e) for e in plain.hops["evidence"]]
    drop = ("timings",)
    assert ({k: v for k, v in small.summary.items() if k not in drop}
            == {k: v for k, v in plain.summary.items() if k not in drop})


def test_reasons_built_once_per_combination_equal_the_row_by_row_sentence() -> None:
    """Pairs of copies of one hop that differ in one input of the sentence only (in a context where
    that input shows) get different sentences, each the row-by-row one."""
    hops = hop_stage(pandas_event_stage(toy_events(SPEC), CFG).hops, CFG).hops
    net = ("lg.network.smb_outbound",)
    pairs = [  # (context, column, value in the second copy)
        ({}, "strength", 0.123), ({}, "rarity", 0.25), ({}, "lateral", False),
        ({"lateral": True, "fanout": 0.0, "fanout_src": 7}, "fanout", 0.9),
        ({"lateral": True, "fanout": 0.9, "fanout_src": 3, "fanout_account": 0}, "fanout_src", 7),
        ({"lateral": True, "fanout": 0.9, "fanout_src": 0, "fanout_account": 4}, "fanout_account", 9),
        ({"habit": 0.0, "routine_group": None, "known_admin": False}, "habit", 0.5),
        ({"routine_group": "g1"}, "routine_group", "g2"),
        ({"habit": 0.5, "routine_group": None, "known_admin": False}, "known_admin", True),
        ({"src_ip": None}, "src_host", None),
        ({"auth_signals": ("new_pair",), "auth": 0.2}, "auth", 0.42),
        ({"auth_signals": ("new_pair",)}, "auth_signals", ("new_pair", "chain")),
        ({"rules": ("lg.logon.network",)}, "rules", ("lg.logon.network", "lg.auth.service_ticket")),
        ({"rules": net, "kinds": ("logon",)}, "kinds", ("network",)),
    ]
    rows = []
    for context, col, value in pairs:
        first = hops.iloc[[0]].copy()
        for c, v in context.items():
            first[c] = _cell(first, c, v)
        second = first.copy()
        second[col] = _cell(second, col, value)
        rows += [first, second]
    frame = pd.concat([*rows, hops], ignore_index=True)
    got = combine.reasons(frame, CFG)
    pd.testing.assert_series_equal(got, combine._reasons(frame, CFG))
    for k, (_, col, _) in enumerate(pairs):
        assert got.iloc[2 * k] != got.iloc[2 * k + 1], col


def _cell(frame: pd.DataFrame, col: str, value: object) -> pd.Series:
    """A one-row column holding ``value`` with ``frame[col]``'s dtype (tuples in object columns)."""
    if isinstance(value, tuple):
        out = pd.Series([None], index=frame.index, dtype=object)
        out.iloc[0] = value
        return out
    return pd.Series([value], index=frame.index, dtype=frame[col].dtype)
