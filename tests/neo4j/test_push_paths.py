"""The two write paths of a push (plain CREATE for new hops, load-merge-update for joined ones) store
the same graph, re-pushes write nothing, and the stored properties keep their documented shape."""

from __future__ import annotations

import json
from typing import Any

import pytest

from graph.neo4j_store import hop_rows, push
from tests.neo4j.conftest import Neo4jServer
from tests.neo4j.factory import chain_case, ev, hop, hops_frame
from tests.neo4j.test_push import counts, query, settings_of

pytestmark = pytest.mark.neo4j

H = 3600


def whole_graph(server: Neo4jServer) -> tuple[list[Any], list[Any]]:
    """Every node (labels, properties) and relationship (type, ends, properties) but the checkpoints."""
    nodes = query(server, "MATCH (n) WHERE NOT n:LatgraphPush "
                          "RETURN labels(n) AS l, properties(n) AS p ORDER BY l, p.name, p.dst")
    rels = query(server, "MATCH (s)-[r]->(d) RETURN type(r) AS t, coalesce(s.name, s.dst) AS s, d.name AS d, "
                         "properties(r) AS p ORDER BY t, s, d, p.hop_key")
    return nodes, rels


def overlapping_case() -> Any:
    """Rows that join each other (same source, destination, account, within the hour), with and
    without a known source, and rows that stay apart."""
    return hops_frame(
        hop("WS01", "SRV01", "admin", [ev(4624, 1, 0), ev(5145, 2, 60)]),
        hop("WS01", "SRV01", "admin", [ev(5145, 2, 60), ev(7045, 3, 1800)],
            kinds=("service_install",), score=0.9, severity="high"),
        hop("WS01", "SRV01", "admin", [ev(4624, 4, 1800 + 2 * H)], kinds=("logon",), score=0.3,
            severity="low"),
        hop("WS01", "SRV01", "admin", [ev(4624, 5, 1800 + 2.5 * H)], kinds=("logon",), score=0.3,
            severity="low"),
        hop(None, "SRV02", "system", [ev(7045, 6, 100)], kinds=("service_install",)),
        hop(None, "SRV02", "system", [ev(7045, 7, 200)], kinds=("service_install",), score=0.6),
        hop(None, "SRV03", "system", [ev(7045, 8, 200)], kinds=("service_install",), src_ip="10.1.1.1"),
    )


def test_create_path_and_merge_path_store_the_same_graph(neo4j_db: Neo4jServer) -> None:
    """One push: later rows join hops created in the push (merged in Python, written by CREATE).
    One push per hop, in time order: each join is a load + update of a stored hop. Same graph."""
    settings = settings_of(neo4j_db)
    one = push(overlapping_case(), settings, batch_size=100)
    assert (one.created, one.joined, one.unchanged) == (4, 3, 0)
    single_batch = whole_graph(neo4j_db)
    query(neo4j_db, "MATCH (n) DETACH DELETE n")
    case = overlapping_case().sort_values("first_seen", kind="stable")
    reports = [push(case.iloc[[i]], settings, batch_size=1) for i in range(len(case))]
    assert (sum(r.created for r in reports), sum(r.joined for r in reports)) == (4, 3)
    assert whole_graph(neo4j_db) == single_batch
    lateral = [r["p"] for r in single_batch[1] if r["t"] == "LATERAL"]
    joined = next(p for p in lateral if p.get("src") == "WS01" and p["n_events"] > 2)
    assert joined["n_events"] == 3          # 2 + 2 - the shared record 2
    assert (joined["score"], joined["severity"]) == (0.9, "high")
    assert "evidence_ids" not in joined and len(json.loads(joined["evidence"])) == 3
    typed = [r for r in single_batch[1] if r["t"] == "SERVICE_INSTALL" and r["s"] == "WS01"]
    assert [r["p"] for r in typed] == [{"hop_key": joined["hop_key"]}]


def test_repush_after_either_path_writes_nothing(neo4j_db: Neo4jServer) -> None:
    settings = settings_of(neo4j_db)
    for batch_size in (100, 1):
        query(neo4j_db, "MATCH (n) DETACH DELETE n")
        push(overlapping_case(), settings, batch_size=batch_size)
        rels, graph = counts(neo4j_db)[1], whole_graph(neo4j_db)
        for again_size in (100, 2):   # (another batch size adds only its own checkpoint node)
            again = push(overlapping_case(), settings, batch_size=again_size)
            assert (again.created, again.joined, again.unchanged) == (0, 0, 7)
            assert counts(neo4j_db)[1] == rels and whole_graph(neo4j_db) == graph


def test_two_rows_of_one_push_join_one_stored_hop_from_both_sides(neo4j_db: Neo4jServer) -> None:
    settings = settings_of(neo4j_db)
    push(hops_frame(hop("A", "B", "u", [ev(4624, 1, 3 * H)])), settings)
    report = push(hops_frame(hop("A", "B", "u", [ev(4624, 2, 3 * H - 2700)]),
                             hop("A", "B", "u", [ev(4624, 3, 3 * H + 2700)])), settings)
    assert (report.created, report.joined) == (0, 2)
    [stored] = query(neo4j_db, "MATCH ()-[r:LATERAL]->() RETURN r.n_events AS n, r.evidence AS evidence")
    assert stored["n"] == 3 and len(json.loads(stored["evidence"])) == 3


def test_stored_hop_has_the_documented_properties(neo4j_db: Neo4jServer) -> None:
    case = chain_case()
    push(case, settings_of(neo4j_db))
    row = next(r for r in hop_rows(case) if r["src"] == "WS01")
    [got] = query(neo4j_db, "MATCH (:Host {name: 'WS01'})-[r:LATERAL]->() RETURN properties(r) AS p")
    p = got["p"]
    assert p.pop("first_seen").to_native() == case.loc[0, "first_seen"].to_pydatetime()
    assert p.pop("last_seen").to_native() == case.loc[0, "last_seen"].to_pydatetime()
    assert p == {
        "hop_key": row["hop_key"], "group_key": row["group_key"], "hop_id": 0, "src": "WS01",
        "src_host": "WS01", "dst_host": "SRV01", "account": "admin",
        "first_seen_ns": row["first_seen_ns"], "last_seen_ns": row["last_seen_ns"],
        "kinds": ["logon", "admin_share"], "techniques": ["T1021.002"], "rules": ["admin_share_access"],
        "evidence": "[" + ", ".join(row["evidence"]) + "]", "n_events": 2,
        "signatures": [row["signature"]], "score": 0.8, "severity": "high",
    }
    typed = query(neo4j_db, "MATCH (:Host {name: 'WS01'})-[k:ADMIN_SHARE]->() RETURN properties(k) AS p")
    assert typed[0]["p"] == {"hop_key": row["hop_key"]}
    auth = query(neo4j_db, "MATCH (:Account {name: 'admin'})-[t:AUTHENTICATED_TO]->(d) "
                           "RETURN d.name AS d, t.first_seen_ns AS f ORDER BY d")
    assert [a["d"] for a in auth] == ["DC01", "SRV01", "SRV02"]
