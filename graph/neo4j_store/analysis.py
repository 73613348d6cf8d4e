"""Time-respecting paths and patient zero computed in Cypher over a stored case.

The definitions are those of :mod:`graph.paths` and :mod:`graph.patient_zero` (same suspicious
hops, continuation rule, path maximality, score and ranking). What runs where:

* **Paths** (:func:`cypher_paths`): one Cypher query enumerates the maximal time-respecting paths
  of suspicious hops (variable-length ``LATERAL*1..max_path_len``, pairwise time predicates, no
  repeated host, no suspicious predecessor of the first hop, no continuation onto a new host
  after the last), scores them, orders them (score desc, start, hosts, then the in-memory DFS
  order) and returns the top k. Python only turns records into :class:`~graph.model.Path`.
  Difference: the in-memory search stops after ``max_path_expansions`` steps; Cypher has no such
  budget (it is exact where the in-memory search was truncated, and slower on huge cases).
* **Patient zero** (:func:`cypher_patient_zero`): one Cypher query finds the compromised set, the
  candidate sources, their ``t0`` and eligibility and their outgoing hops. **Reach** is a
  fixpoint: each round is one Cypher query that extends the chains found so far by the hops
  continuing them (the same time window and in-memory processing order); Python keeps the set
  of (candidate, hop) pairs seen and stops when a round adds nothing. A last Cypher query
  computes score, tie counts and confidence and ranks. Python builds the ``reason`` text with
  ``graph.patient_zero``'s own wording from the stored first hop.

Hop order: where the in-memory code breaks ties by ``hop_id``, Cypher uses (account, hop key),
the order :mod:`graph.correlate` numbers hops in and :func:`~graph.neo4j_store.load_hops` renumbers
them in, so results agree with the in-memory analysis of the pipeline's hops and of loaded hops.

String order: Cypher compares strings by UTF-16 code unit, Python by code point; they differ only
for characters outside the Basic Multilingual Plane, which host and account names do not use.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from graph.config import AnalysisConfig
from graph.model import Path, PatientZero
from graph.neo4j_store.connection import Neo4jSettings, open_driver, translate_errors
from graph.neo4j_store.read import READ_HOPS_STATEMENT, check_complete, hops_from_records

#: ``{max_len}`` / ``{max_rest}`` are the only text substituted (``int`` from the config: Cypher does
#: not take a parameter as a variable-length bound). Everything else is a parameter.
PATHS = """
MATCH (a:Host)-[first:LATERAL]->(b:Host)
WHERE first.score >= $min_score
  AND NOT EXISTS {{
    MATCH (:Host)-[p:LATERAL]->(a)
    WHERE p.score >= $min_score
      AND first.first_seen_ns - $gap_ns <= p.first_seen_ns <= first.first_seen_ns
  }}
MATCH path = (b)-[rest:LATERAL*0..{max_rest}]->(z:Host)
WHERE all(h IN rest WHERE h.score >= $min_score)
WITH a, z, [first] + rest AS hops, [a] + nodes(path) AS ns
WHERE all(i IN range(1, size(hops) - 1)
          WHERE hops[i - 1].first_seen_ns <= hops[i].first_seen_ns <= hops[i - 1].first_seen_ns + $gap_ns)
  AND all(i IN range(0, size(ns) - 2) WHERE NOT ns[i] IN ns[i + 1..])
  AND (size(hops) = {max_len} OR NOT EXISTS {{
    MATCH (z)-[n:LATERAL]->(w:Host)
    WHERE n.score >= $min_score AND NOT w IN ns
      AND last(hops).first_seen_ns <= n.first_seen_ns <= last(hops).first_seen_ns + $gap_ns
  }})
WITH [x IN ns | x.name] AS hosts, hops,
     reduce(s = 0.0, h IN hops | s + h.score) / size(hops) * (1.0 - 0.5 ^ size(hops)) AS score
RETURN hosts, [h IN hops | coalesce(h.account, '')] AS accounts, [h IN hops | h.hop_key] AS hop_keys,
       hops[0].first_seen_ns AS start_ns,
       reduce(m = 0, h IN hops | CASE WHEN h.last_seen_ns > m THEN h.last_seen_ns ELSE m END) AS end_ns,
       score
ORDER BY score DESC, start_ns, hosts,
         [h IN hops | [h.first_seen_ns, h.src, h.dst_host, coalesce(h.account, ''), h.hop_key]]
LIMIT $top_k
"""

#: Candidates (eligible sources), the compromised set size, t0, outgoing hops in processing order.
CANDIDATES = """
CALL () {
  MATCH (x)-[h:LATERAL]->(d:Host) WHERE h.score >= $min_score
  WITH collect(DISTINCT d.name) + collect(DISTINCT CASE WHEN x:Host THEN x.name END) AS names
  UNWIND names AS name
  RETURN collect(DISTINCT name) AS compromised
}
MATCH (s:Host)-[o:LATERAL]->(:Host) WHERE o.score >= $min_score
WITH compromised, s, min(o.first_seen_ns) AS t0
WHERE NOT EXISTS {
  MATCH (:Host)-[i:LATERAL]->(s) WHERE i.score >= $entry_score AND i.first_seen_ns < t0
}
CALL (s) {
  MATCH (s)-[o:LATERAL]->(:Host) WHERE o.score >= $min_score
  WITH o ORDER BY o.first_seen_ns, o.src, o.dst_host, coalesce(o.account, ''), o.hop_key
  RETURN collect(elementId(o)) AS out_ids, collect(o.hop_key) AS out_keys,
         collect(o.dst_host) AS out_dsts, collect(o.score) AS out_scores
}
RETURN s.name AS host, t0, out_ids, out_keys, out_dsts, out_scores, compromised
ORDER BY host
"""

#: One reach round: the suspicious hops that continue the given (origin, hop) chains.
REACH_STEP = """
UNWIND $frontier AS f
MATCH ()-[p:LATERAL]->(u:Host)-[n:LATERAL]->(v:Host)
WHERE elementId(p) = f.hop AND n.score >= $min_score
  AND p.first_seen_ns <= n.first_seen_ns <= p.first_seen_ns + $gap_ns
  AND (p.first_seen_ns < n.first_seen_ns OR p.src < n.src
       OR (p.src = n.src AND p.dst_host < n.dst_host)
       OR (p.src = n.src AND p.dst_host = n.dst_host   // a self-loop hop: correlate drops these
           AND (coalesce(p.account, '') < coalesce(n.account, '')
                OR (coalesce(p.account, '') = coalesce(n.account, '') AND p.hop_key < n.hop_key))))
RETURN DISTINCT f.origin AS origin, elementId(n) AS hop, v.name AS dst
"""

#: Score (coverage x mean outgoing hop score), ties, confidence (score / ties) and ranking of the
#: candidates, as in graph.patient_zero (reach sizes from the fixpoint).
RANK = """
UNWIND $cands AS c
WITH c, CASE WHEN $n_compromised - 1 > 0 THEN toFloat(c.reached) / ($n_compromised - 1) ELSE 0.0 END
        * (reduce(s = 0.0, v IN c.out_scores | s + v) / size(c.out_scores)) AS score
WITH collect({c: c, score: score}) AS all
UNWIND all AS x
WITH x, size([y IN all WHERE y.score = x.score]) AS ties
RETURN x.c.host AS host, x.score AS score, x.score / ties AS confidence, x.c.t0 AS t0
ORDER BY score DESC, t0, host
LIMIT $limit
"""


def cypher_paths(settings: Neo4jSettings | None = None, config: AnalysisConfig | None = None, *,
                 allow_incomplete: bool = False) -> list[Path]:
    """The top-k maximal time-respecting paths, computed in Neo4j (module docstring).

    ``hop_ids`` are those of :func:`graph.neo4j_store.load_hops` on the same store.

    Raises:
        IncompletePushError: a push into the store did not finish (unless ``allow_incomplete``:
            then the answer comes with a logged warning).
    """
    settings = settings or Neo4jSettings.from_env()
    config = config or AnalysisConfig()
    max_len = max(1, int(config.max_path_len))
    statement = PATHS.format(max_len=max_len, max_rest=max_len - 1)
    with open_driver(settings) as driver, translate_errors(settings), \
            driver.session(database=settings.database) as session:
        check_complete(session, allow_incomplete)
        records = session.run(statement, _params(config), top_k=int(config.top_k_paths)).data()
        ids = _hop_ids(session)
    return [Path(hosts=tuple(r["hosts"]), accounts=tuple(r["accounts"]),
                 hop_ids=tuple(ids[k] for k in r["hop_keys"]), start=_dt(r["start_ns"]),
                 end=_dt(r["end_ns"]), score=float(r["score"]))
            for r in records]


def cypher_patient_zero(settings: Neo4jSettings | None = None, config: AnalysisConfig | None = None,
                        *, limit: int | None = None, allow_incomplete: bool = False) -> list[PatientZero]:
    """Ranked patient-zero candidates computed in Neo4j (module docstring).

    Raises:
        IncompletePushError: a push into the store did not finish (unless ``allow_incomplete``).
    """
    # _reason is graph.patient_zero's own wording of a candidate; reused so both engines agree.
    from graph.patient_zero import MAX_CANDIDATES, _reason

    settings = settings or Neo4jSettings.from_env()
    config = config or AnalysisConfig()
    params = _params(config)
    with open_driver(settings) as driver, translate_errors(settings), \
            driver.session(database=settings.database) as session:
        check_complete(session, allow_incomplete)
        cands = session.run(CANDIDATES, params).data()
        if not cands:
            return []
        compromised = set(cands[0]["compromised"])
        reached = _reach(session, cands, params)
        rank_rows = [{"host": c["host"], "t0": c["t0"], "out_scores": c["out_scores"],
                      "reached": len(reached[c["host"]] & compromised)} for c in cands]
        ranked = session.run(RANK, cands=rank_rows, n_compromised=len(compromised),
                             limit=int(limit or MAX_CANDIDATES)).data()
        hops = hops_from_records(session.run(READ_HOPS_STATEMENT).data())
    by_host = {c["host"]: c for c in cands}
    ids = dict(zip(hops["hop_key"], hops["hop_id"], strict=True))
    hop_by_key = hops.set_index("hop_key")
    result = []
    for r in ranked:
        c = by_host[r["host"]]
        first = hop_by_key.loc[c["out_keys"][0]].to_dict()
        first["dst"] = c["out_dsts"][0]
        reason = _reason({"host": c["host"], "t0": pd.Timestamp(r["t0"], unit="ns", tz="UTC"), "first": first,
                          "reached": reached[c["host"]] & compromised, "others": compromised - {c["host"]}},
                         hops, config)
        result.append(PatientZero(host=c["host"], score=float(r["score"]), confidence=float(r["confidence"]),
                                  first_seen=_dt(r["t0"]), reason=reason,
                                  hop_ids=tuple(int(ids[k]) for k in c["out_keys"])))
    return result


def _reach(session: Any, cands: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, set[str]]:
    """Hosts reached from each candidate: fixpoint of :data:`REACH_STEP` rounds."""
    reached: dict[str, set[str]] = {c["host"]: set() for c in cands}
    seen: set[tuple[str, str]] = set()
    frontier: list[dict[str, str]] = []
    for c in cands:
        for hop, dst in zip(c["out_ids"], c["out_dsts"], strict=True):
            seen.add((c["host"], hop))
            frontier.append({"origin": c["host"], "hop": hop})
            if dst != c["host"]:
                reached[c["host"]].add(dst)
    while frontier:
        step = session.run(REACH_STEP, params, frontier=frontier).data()
        frontier = []
        for r in step:
            if (r["origin"], r["hop"]) in seen:
                continue
            seen.add((r["origin"], r["hop"]))
            frontier.append({"origin": r["origin"], "hop": r["hop"]})
            if r["dst"] != r["origin"]:
                reached[r["origin"]].add(r["dst"])
    return reached


def _params(config: AnalysisConfig) -> dict[str, Any]:
    from graph.patient_zero import entry_score

    return {"min_score": float(config.min_score), "entry_score": entry_score(config),
            "gap_ns": int(config.max_path_gap_s * 1e9)}


def _hop_ids(session: Any) -> dict[str, int]:
    hops = hops_from_records(session.run(READ_HOPS_STATEMENT).data())
    return dict(zip(hops["hop_key"], hops["hop_id"], strict=True))


def _dt(ns: int) -> Any:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").floor("us").to_pydatetime()
