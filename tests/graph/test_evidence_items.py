"""Hop evidence kept as columns until read (graph.evidence_items): the items are the events' own."""

from __future__ import annotations

import copy
import pickle

import pandas as pd
import pytest

from graph.config import AnalysisConfig
from graph.engine import pandas_event_stage
from graph.evidence_items import EvidenceItems
from graph.fields import EVIDENCE_FIELDS, field_dicts
from graph.toy import toy_events

CFG = AnalysisConfig()


def _expected(events: pd.DataFrame, item: dict) -> dict:
    """The evidence item built straight from the event it names (file, record id, time, event id)."""
    hit = events[(events["source_file"] == item["source_file"]) & (events["record_id"] == item["record_id"])
                 & (events["ts"] == pd.Timestamp(item["ts"])) & (events["event_id"] == item["event_id"])]
    assert len(hit) == 1
    row = hit.iloc[0]
    return {"event_id": int(row["event_id"]), "source_file": row["source_file"],
            "record_id": int(row["record_id"]), "rule": item["rule"],
            "ts": row["ts"].to_pydatetime(), "host": str(row["host"]).upper(),
            "fields": field_dicts(hit[list(EVIDENCE_FIELDS)])[0]}


def test_items_are_the_events_own_fields_and_behave_as_a_tuple() -> None:
    events = toy_events("A>B@0s:psexec B>C@10m:psexec")
    hops = pandas_event_stage(events, CFG).hops
    assert len(hops) == 2
    for evidence in hops["evidence"]:
        assert isinstance(evidence, EvidenceItems) and len(evidence) >= 5
        items = list(evidence)
        for item in items:
            assert item == _expected(events, item)
        # the tuple of dicts it stands for: equality both ways, indexing, slicing, truth
        assert evidence == tuple(items) and tuple(items) == evidence and evidence == items
        assert evidence[0] == items[0] and evidence[-1] == items[-1] and evidence[1:3] == tuple(items[1:3])
        assert evidence and evidence != items[:-1]
        # pickles and copies as the plain tuple (UI caches, deep copies)
        assert pickle.loads(pickle.dumps(evidence)) == tuple(items)
        assert type(copy.deepcopy(evidence)) is tuple
    # items keep the event's own fields, not what correlation lent the row: the 7045 took its
    # source (and source IP) from the logon by a session join, but logged no IP itself
    install = next(e for e in hops["evidence"].iloc[0] if e["event_id"] == 7045)
    logon = next(e for e in hops["evidence"].iloc[0] if e["event_id"] == 4624)
    assert "src_ip" not in install["fields"] and logon["fields"].get("src_ip")
    # exports explode the column: one row per item
    assert len(hops[["hop_id", "evidence"]].explode("evidence")) == sum(map(len, hops["evidence"]))


def test_frames_with_items_equal_frames_with_tuples() -> None:
    """Another engine's hops (plain tuples) compare equal to the pandas engine's."""
    hops = pandas_event_stage(toy_events("A>B@0s:psexec"), CFG).hops
    plain = hops.assign(evidence=[tuple(e) for e in hops["evidence"]])
    pd.testing.assert_frame_equal(hops, plain)
    pd.testing.assert_frame_equal(plain, hops)
    changed = [tuple({**i, "record_id": -1} for i in e) for e in hops["evidence"]]
    assert hops["evidence"].iloc[0] != changed[0]
    with pytest.raises(AssertionError):   # the comparison reads the items
        pd.testing.assert_frame_equal(hops, hops.assign(evidence=changed))
