"""Pushing into a real Neo4j: content, idempotency, incremental merge, resume after interruption."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from graph.neo4j_store import Neo4jSettings, hop_key, load_hops, open_driver, push
from graph.neo4j_store.cypher import COUNTS
from tests.neo4j.conftest import Neo4jServer, drop_schema
from tests.neo4j.factory import chain_case, ev, hop, hops_frame

pytestmark = pytest.mark.neo4j


def settings_of(server: Neo4jServer) -> Neo4jSettings:
    return Neo4jSettings(uri=server.uri, user=server.user, password=server.password,
                         database=server.database)


def query(server: Neo4jServer, statement: str, **params: Any) -> list[dict[str, Any]]:
    with open_driver(settings_of(server)) as driver, driver.session(database=server.database) as s:
        return s.run(statement, **params).data()


def counts(server: Neo4jServer) -> tuple[int, int]:
    rec = query(server, COUNTS)[0]
    return rec["nodes"], rec["rels"]


def snapshot(server: Neo4jServer) -> list[dict[str, Any]]:
    """Every LATERAL relationship with all its properties, sorted."""
    rows = query(server, "MATCH (s)-[r:LATERAL]->(d) RETURN properties(r) AS p ORDER BY r.hop_key")
    return [r["p"] for r in rows]


def test_push_stores_hosts_accounts_and_typed_relationships(neo4j_db: Neo4jServer) -> None:
    report = push(chain_case(), settings_of(neo4j_db), batch_size=2)
    assert (report.hops, report.batches, report.batches_written) == (5, 3, 3)
    hosts = {r["n"] for r in query(neo4j_db, "MATCH (h:Host) RETURN h.name AS n")}
    assert hosts == {"WS01", "SRV01", "SRV02", "DC01", "10.0.0.99"}
    accounts = {r["n"] for r in query(neo4j_db, "MATCH (a:Account) RETURN a.name AS n")}
    assert accounts == {"admin", "svc_backup", "system"}
    typed = query(neo4j_db, "MATCH (s:Host)-[k:SERVICE_INSTALL]->(d:Host) RETURN s.name AS s, d.name AS d")
    assert typed == [{"s": "SRV01", "d": "SRV02"}]
    unknown = query(neo4j_db, "MATCH (u:UnknownSource)-[r:LATERAL]->(d:Host) RETURN d.name AS d")
    assert unknown == [{"d": "SRV02"}]
    by_ip = query(neo4j_db, "MATCH (s:Host)-[r:LATERAL]->(:Host {name: 'SRV01'}) WHERE r.src_host IS NULL "
                            "RETURN s.name AS s, r.src_ip AS ip")
    assert by_ip == [{"s": "10.0.0.99", "ip": "10.0.0.99"}]
    rel = query(neo4j_db, "MATCH (:Host {name: 'WS01'})-[r:LATERAL]->(:Host {name: 'SRV01'}) "
                          "RETURN r.first_seen AS fs, r.n_events AS n, r.score AS score, r.severity AS sev, "
                          "r.evidence AS evidence, r.kinds AS kinds")[0]
    assert rel["fs"].to_native() == chain_case().loc[0, "first_seen"].to_pydatetime()
    assert (rel["n"], rel["score"], rel["sev"]) == (2, 0.8, "high")
    evidence = json.loads(rel["evidence"])   # one JSON array of the evidence objects
    assert [e["record_id"] for e in evidence] == [1, 2] and evidence[1]["event_id"] == 5145
    assert sorted(rel["kinds"]) == ["admin_share", "logon"]


def test_round_trip_equals_pushed_frame(neo4j_db: Neo4jServer) -> None:
    case = chain_case()
    push(case, settings_of(neo4j_db))
    loaded = load_hops(settings_of(neo4j_db))
    keys = case[["src_host", "src_ip", "dst_host", "account", "first_seen"]].itertuples(index=False)
    expected = case.assign(hop_key=[hop_key(*r) for r in keys])
    cols = ["hop_key", "src_host", "src_ip", "dst_host", "account", "first_seen", "last_seen", "n_events",
            "score", "severity"]
    got = loaded[cols].sort_values("hop_key").reset_index(drop=True)
    want = expected[cols].sort_values("hop_key").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    by_key = loaded.set_index("hop_key")
    for row in expected.to_dict("records"):
        assert by_key.loc[row["hop_key"], "evidence"] == row["evidence"]
        assert by_key.loc[row["hop_key"], "kinds"] == tuple(sorted(row["kinds"]))


def test_repush_changes_nothing(neo4j_db: Neo4jServer) -> None:
    settings = settings_of(neo4j_db)
    push(chain_case(), settings, batch_size=3)
    before, props = counts(neo4j_db), snapshot(neo4j_db)
    again = push(chain_case(), settings, batch_size=3)
    # The same case as the store's last finished push: recognised by its case digest, nothing read.
    assert again.repeated and (again.batches_written, again.unchanged, again.hops) == (0, 5, 5)
    assert not again.resumed
    assert counts(neo4j_db) == before
    assert snapshot(neo4j_db) == props
    # Checked row by row instead: every row is a no-op (its signature is stored), nothing written.
    checked = push(chain_case(), settings, batch_size=3, recheck=True)
    assert not checked.repeated and checked.batches_written == 2
    assert (checked.created, checked.joined, checked.unchanged) == (0, 0, 5)
    assert counts(neo4j_db) == before
    assert snapshot(neo4j_db) == props


def test_repush_shortcut_only_for_the_last_finished_case(neo4j_db: Neo4jServer) -> None:
    """The whole-case shortcut needs the very same case to be the last push that finished, with no
    push unfinished; anything else goes row by row (and a changed case writes only what changed)."""
    settings = settings_of(neo4j_db)
    first = chain_case()
    push(first, settings)
    changed = first.copy()
    changed.at[changed.index[-1], "score"] = 0.99
    report = push(changed, settings)
    assert not report.repeated and (report.created, report.joined, report.unchanged) == (0, 1, 4)
    assert push(changed, settings).repeated
    # The first case again: another push finished after it, so it is checked row by row.
    before, props = counts(neo4j_db), snapshot(neo4j_db)
    again = push(first, settings)
    assert not again.repeated and (again.created, again.joined, again.unchanged) == (0, 0, 5)
    assert (counts(neo4j_db), snapshot(neo4j_db)) == (before, props)
    # An unfinished push in the store: no shortcut (its rows may be half written).
    other = hops_frame(*[hop(f"H{i:03d}", f"H{i + 1:03d}", "admin", [ev(4624, i, i * 60)]) for i in range(9)])
    with pytest.raises(RuntimeError, match="interrupted"):
        push(other, settings, batch_size=2, _fail_after_batches=1)
    assert not push(first, settings).repeated


def test_incremental_push_merges_without_double_counting(neo4j_db: Neo4jServer) -> None:
    settings = settings_of(neo4j_db)
    first = hops_frame(hop("WS01", "SRV01", "admin", [ev(4624, 1, 100), ev(5145, 2, 105)], score=0.5,
                           severity="medium"))
    # The second batch of logs overlaps the first (record 2) and extends it both ways in time.
    second = hops_frame(
        hop("WS01", "SRV01", "admin", [ev(5145, 2, 105), ev(4624, 3, 50), ev(7045, 4, 300)],
            kinds=("service_install",), score=0.9, severity="high", techniques=("T1569.002",)),
        hop("SRV01", "SRV02", "admin", [ev(4624, 9, 400)]),
    )
    push(first, settings)
    push(second, settings)
    loaded = load_hops(settings).set_index("hop_key")
    merged = loaded.loc[hop_key("WS01", None, "SRV01", "admin", ev(0, 0, 100)["ts"])]
    assert merged["n_events"] == 4
    assert [e["record_id"] for e in merged["evidence"]] == [1, 2, 3, 4]
    assert merged["first_seen"] == ev(0, 0, 50)["ts"]
    assert merged["last_seen"] == ev(0, 0, 300)["ts"]
    assert merged["kinds"] == ("admin_share", "logon", "service_install")
    assert merged["techniques"] == ("T1021.002", "T1569.002")
    assert (merged["score"], merged["severity"]) == (0.9, "high")
    assert len(loaded) == 2
    # A hop of the same group more than hop_gap_s (1 h) later is a hop of its own.
    push(hops_frame(hop("WS01", "SRV01", "admin", [ev(4624, 50, 300 + 3601)])), settings)
    assert len(load_hops(settings)) == 3
    # The typed relationship for the new kind exists and names the merged hop (its merged times).
    typed = query(neo4j_db, "MATCH (s:Host {name:'WS01'})-[k:SERVICE_INSTALL]->(d:Host {name:'SRV01'}) "
                            "MATCH (s)-[r:LATERAL {hop_key: k.hop_key}]->(d) RETURN r.first_seen_ns AS fs")
    assert typed == [{"fs": ev(0, 0, 50)["ts"].value}]
    # Pushing the older batch again after the newer one changes nothing either.
    before, props = counts(neo4j_db), snapshot(neo4j_db)
    push(first, settings)
    assert (counts(neo4j_db), snapshot(neo4j_db)) == (before, props)


def test_interrupted_push_resumes_without_duplicates(neo4j_db: Neo4jServer) -> None:
    settings = settings_of(neo4j_db)
    case = hops_frame(*[hop(f"H{i:03d}", f"H{i + 1:03d}", "admin", [ev(4624, i, i * 60)]) for i in range(50)])
    with pytest.raises(RuntimeError, match="interrupted after 3 batches"):
        push(case, settings, batch_size=7, _fail_after_batches=3)
    assert len(load_hops(settings)) == 21
    status = query(neo4j_db, "MATCH (p:LatgraphPush) RETURN p.status AS s, p.batches_done AS b")
    assert status == [{"s": "running", "b": 3}]
    resumed = push(case, settings, batch_size=7)
    assert (resumed.batches, resumed.batches_skipped, resumed.batches_written) == (8, 3, 5)
    assert resumed.resumed
    loaded = load_hops(settings)
    assert len(loaded) == 50 and loaded["hop_key"].is_unique
    assert (loaded["n_events"] == 1).all()
    assert query(neo4j_db, "MATCH (p:LatgraphPush) RETURN p.status AS s")[0]["s"] == "done"
    # A clean push of the same case into an empty database gives the same graph.
    snap = snapshot(neo4j_db)
    query(neo4j_db, "MATCH (n) DETACH DELETE n")
    push(case, settings, batch_size=7)
    assert snapshot(neo4j_db) == snap


def test_push_creates_missing_constraints_and_indexes(neo4j_db: Neo4jServer) -> None:
    drop_schema(neo4j_db)
    push(chain_case(), settings_of(neo4j_db))
    names = {r["name"] for r in query(neo4j_db, "SHOW CONSTRAINTS YIELD name RETURN name")}
    assert {"latgraph_host_key", "latgraph_account_key", "latgraph_lateral_hop_key"} <= names
    indexes = {r["name"] for r in query(neo4j_db, "SHOW INDEXES YIELD name RETURN name")}
    assert {"latgraph_lateral_first_seen", "latgraph_lateral_group"} <= indexes
    with pytest.raises(Exception, match="already exists"):
        query(neo4j_db, "CREATE (:Host {key: 'WS01', name: 'WS01'})")


def test_a_frame_that_cannot_be_pushed_writes_nothing(neo4j_db: Neo4jServer) -> None:
    """The frame is checked before any write, although the push reads it on one session while the
    schema is created on another: a hop without a destination fails the push with no constraint,
    node or checkpoint written."""
    from graph.neo4j_store import Neo4jStoreError

    drop_schema(neo4j_db)
    frame = chain_case()
    frame.loc[2, "dst_host"] = pd.NA
    with pytest.raises(Neo4jStoreError, match="no destination host"):
        push(frame, settings_of(neo4j_db))
    assert counts(neo4j_db) == (0, 0)
    names = [r["name"] for r in query(neo4j_db, "SHOW CONSTRAINTS YIELD name RETURN name")]
    assert not [n for n in names if n.startswith("latgraph_")]


def test_the_driver_debug_log_gets_row_counts_not_rows(neo4j_db: Neo4jServer, caplog) -> None:
    """The driver builds each RUN's debug line from ``repr`` of its parameters even with debug logging
    off (CPU for nothing, per batch); the push sends its lists as QuietList, whose repr is a count,
    so hop rows (and the attacker-controlled names in them) never reach that line."""
    import logging

    case = chain_case()
    keys = {hop_key(r["src_host"], r["src_ip"], r["dst_host"], r["account"], r["first_seen"])
            for r in case.to_dict("records")}
    with caplog.at_level(logging.DEBUG, logger="neo4j"):
        push(case, settings_of(neo4j_db), batch_size=2)
    runs = [r.getMessage() for r in caplog.records if "C: RUN" in r.getMessage()]
    assert any("rows>" in m for m in runs)        # the batches were logged, as counts
    assert not [m for m in runs if any(k in m for k in keys)]
    assert not [m for m in runs if "svc_backup" in m]
