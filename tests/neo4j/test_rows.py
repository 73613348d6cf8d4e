"""Push rows and batch plans without a server: stable stored text, and the create/join/no-op decisions."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from graph.neo4j_store import evidence_id, hop_rows
from graph.neo4j_store.merge import merge_props, plan_batch
from graph.neo4j_store.stored_text import (
    _evidence_json,
    _evidence_texts,
    _evidence_texts_bulk,
    _iso_ns,
    _iso_reference,
)
from tests.neo4j.factory import ev, hop, hops_frame

HOUR_NS = 3600 * 10**9

instants = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                        timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30)),
                                                   timezone(timedelta(hours=-8))]))


@given(instants, st.integers(min_value=0, max_value=999))
def test_fast_time_text_equals_pandas_isoformat(value: datetime, nanos: int) -> None:
    """Evidence ids and JSON are stored: the fast formatting must give the pandas text exactly."""
    assert _iso_ns(value) == _iso_reference(value)
    stamp = pd.Timestamp(value) + pd.Timedelta(nanoseconds=nanos)
    assert _iso_ns(stamp) == _iso_reference(stamp)
    assert _iso_ns(stamp.to_datetime64()) == _iso_reference(stamp.to_datetime64())


@given(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()),
       st.one_of(st.none(), st.integers(min_value=0, max_value=2**40)), st.one_of(st.none(), instants))
def test_assembled_evidence_text_equals_json_dumps(source_file: str | None, rule: str | None,
                                                  record_id: int | None, ts: datetime | None) -> None:
    """Any names (quotes, control characters, non-ASCII): the text json.dumps gave before."""
    e = {"event_id": 4624, "source_file": source_file, "record_id": record_id, "rule": rule, "ts": ts}
    ident, text = _evidence_texts(e, {})
    assert ident == json.dumps([4624, source_file, record_id, _iso_reference(ts)], ensure_ascii=False)
    assert ident == evidence_id(e)
    assert text == json.dumps(_evidence_json(e), ensure_ascii=False, sort_keys=True)


def test_evidence_text_is_the_documented_format() -> None:
    e = {"event_id": 5145, "source_file": "SRV01/Security.evtx", "record_id": 42, "rule": "admin_share",
         "ts": datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC)}
    assert evidence_id(e) == '[5145, "SRV01/Security.evtx", 42, "2024-05-01T10:00:00.250000Z"]'
    row = hop_rows(hops_frame(hop("WS01", "SRV01", "admin", [e])))[0]
    assert row["evidence_ids"] == [evidence_id(e)]
    assert json.loads(row["evidence"][0]) == {"event_id": 5145, "source_file": "SRV01/Security.evtx",
                                              "record_id": 42, "rule": "admin_share",
                                              "ts": "2024-05-01T10:00:00.250000Z"}


def test_rows_of_a_group_are_adjacent_and_in_time_order() -> None:
    frame = hops_frame(hop("A", "B", "u", [ev(4624, 1, 7200)]), hop("C", "D", "u", [ev(4624, 2, 0)]),
                       hop("A", "B", "u", [ev(4624, 3, 0)]), hop("C", "D", "u", [ev(4624, 4, 9000)]))
    rows = hop_rows(frame)
    assert [r["group_key"] for r in rows] == sorted(r["group_key"] for r in rows)
    for a, b in itertools.pairwise(rows):
        if a["group_key"] == b["group_key"]:
            assert a["first_seen_ns"] < b["first_seen_ns"]


def _rows(*hops: dict) -> list[dict]:
    return hop_rows(hops_frame(*hops))


def test_plan_creates_joins_and_skips() -> None:
    near, far = _rows(hop("A", "B", "u", [ev(4624, 1, 0)]), hop("A", "B", "u", [ev(4624, 2, 1800)])), \
        _rows(hop("A", "B", "u", [ev(4624, 3, 5 * 3600)]))
    # Nothing stored: the first row creates, the second (30 min later) joins the new hop.
    plan = plan_batch(near, [], HOUR_NS)
    assert len(plan.created) == 1 and not plan.updated and plan.unchanged == 0
    assert plan.created[0].props["evidence_ids"] == [*near[0]["evidence_ids"], *near[1]["evidence_ids"]]
    assert plan.created[0].props == merge_props(merge_props(None, near[0]), near[1])
    # The joined hop stored: the same rows are no-ops, a far row creates, a near new row joins it.
    stored = [{"group_key": near[0]["group_key"], "hop_key": near[0]["hop_key"],
               "first_seen_ns": near[0]["first_seen_ns"], "last_seen_ns": near[1]["last_seen_ns"],
               "signatures": [near[0]["signature"], near[1]["signature"]]}]
    assert plan_batch(near, stored, HOUR_NS).unchanged == 2
    plan = plan_batch(far, stored, HOUR_NS)
    assert len(plan.created) == 1 and not plan.updated
    joining = _rows(hop("A", "B", "u", [ev(4624, 4, 3000)]))
    plan = plan_batch(joining, stored, HOUR_NS)
    assert not plan.created and [h.hop_key for h in plan.updated] == [near[0]["hop_key"]]
    assert plan.updated[0].rows == joining


def test_rows_joining_one_stored_hop_from_both_sides_all_count() -> None:
    """Two rows of one batch join the same stored hop: both merges apply (none overwrites the other)."""
    base = merge_props(None, _rows(hop("A", "B", "u", [ev(4624, 1, 3 * 3600)]))[0])
    before, after = _rows(hop("A", "B", "u", [ev(4624, 2, 3 * 3600 - 2700)]),
                          hop("A", "B", "u", [ev(4624, 3, 3 * 3600 + 2700)]))
    stored = [{"group_key": base["group_key"], "hop_key": base["hop_key"],
               "first_seen_ns": base["first_seen_ns"], "last_seen_ns": base["last_seen_ns"],
               "signatures": base["signatures"]}]
    plan = plan_batch([before, after], stored, HOUR_NS)
    assert len(plan.updated) == 1 and plan.updated[0].rows == [before, after]
    merged = merge_props(merge_props(base, before), after)
    assert merged["n_events"] == 3 and len(merged["evidence_ids"]) == 3
    assert merged["first_seen_ns"] == before["first_seen_ns"]
    assert merged["last_seen_ns"] == after["last_seen_ns"]


@given(st.lists(st.tuples(st.one_of(st.none(), st.text(max_size=8)), st.one_of(st.none(), instants),
                          st.integers(min_value=0, max_value=999)), max_size=6))
def test_bulk_evidence_texts_equal_the_per_item_texts(items: list) -> None:
    """hop_rows formats evidence times in one vectorised pass: the same text as one at a time."""
    evidence = []
    for i, (name, ts, nanos) in enumerate(items):
        if ts is not None and nanos and ts.tzinfo is not None:
            ts = pd.Timestamp(ts) + pd.Timedelta(nanoseconds=nanos)
        evidence.append({"event_id": 4624, "source_file": name, "record_id": i, "rule": name, "ts": ts})
    assert _evidence_texts_bulk([evidence, evidence[:1]]) == [
        [_evidence_texts(e, {}) for e in evidence], [_evidence_texts(e, {}) for e in evidence[:1]]]


def test_new_hop_props_equal_the_merge_rules() -> None:
    """The fast path for a new hop (``stored=None``) gives what the general merge into an empty hop
    (``stored={}``) gives."""
    rows = _rows(hop("A", "B", "u", [ev(4624, 1, 0), ev(5145, 2, 5)], kinds=("logon", "logon")),
                 hop(None, "B", None, [ev(7045, 3, 9)], src_ip="10.0.0.1", n_events=5))
    for row in rows:
        assert merge_props(None, row) == merge_props({}, row)


def test_rows_and_digest_read_evidence_columns_without_building_items(monkeypatch) -> None:
    """The pandas engine's evidence (graph.evidence_items: columns until read) goes into the rows and
    the case digest column-wise, never one item dict at a time (that took 2 of the client's 5 CPU-s
    on a 49,770-hop push), and gives the very rows and digest of the same evidence as plain dicts."""
    from graph.config import AnalysisConfig
    from graph.engine import pandas_event_stage
    from graph.evidence_items import EvidenceColumns, EvidenceItems
    from graph.neo4j_store.rows import case_digest
    from graph.toy import toy_events

    events = toy_events("A>B@0s:psexec B>C@10m:psexec C>D@20m:psexec")
    hops = pandas_event_stage(events, AnalysisConfig()).hops
    assert all(isinstance(e, EvidenceItems) for e in hops["evidence"])
    plain = hops.assign(evidence=[tuple(e) for e in hops["evidence"]])
    want_rows, want_digest = hop_rows(plain), case_digest(plain, [], None, HOUR_NS)

    def no_item(self: EvidenceColumns, i: int) -> dict:
        raise AssertionError("an evidence item was built one at a time")

    monkeypatch.setattr(EvidenceColumns, "item", no_item)
    assert hop_rows(hops) == want_rows
    assert case_digest(hops, [], None, HOUR_NS) == want_digest
