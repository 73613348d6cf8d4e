"""Every Cypher statement latgraph sends, as constants. Data only ever travels as parameters.

The one piece of generated text is :data:`WRITE_KINDS`: one statement per relationship type, built
once, at import, from the fixed :data:`KIND_TYPES` whitelist (``EdgeKind`` -> relationship type),
never from data.

Graph shape (see docs/neo4j.md):

* ``(:Host {name})`` (a hop's source node is ``src_host``, else ``src_ip``, as in
  :mod:`graph.paths`), ``(:Account {name})``; hops with no known source start at
  ``(:UnknownSource {dst})`` so they are stored but never take part in host paths.
* ``(src)-[:LATERAL {hop_key, group_key, ...all hop properties}]->(dst)``: one relationship per
  hop. ``group_key`` = (source, destination, account); an incoming hop joins a stored hop of the
  same group whose time range comes within ``hop_gap_s`` of it (as re-analysing all the logs
  together would group them), else it is created with ``hop_key`` = (group, first_seen).
* ``(src)-[:<KIND> {hop_key, account, first_seen, last_seen}]->(dst)``: one typed relationship per
  evidence kind of the hop (``ADMIN_SHARE``, ``SERVICE_INSTALL``, ...), for Bloom-style filtering.
* ``(:Account)-[:AUTHENTICATED_TO]->(dst)`` and ``(src)-[:USED_ACCOUNT]->(:Account)``, aggregated
  per pair with first/last time.
* ``(:LatgraphPush {push_id})``: the checkpoint of a (possibly interrupted) push.
"""

from __future__ import annotations

from graph.model import EdgeKind

#: EdgeKind value -> relationship type. The only source of relationship-type names.
KIND_TYPES: dict[str, str] = {
    EdgeKind.LOGON: "LOGON",
    EdgeKind.ADMIN_SHARE: "ADMIN_SHARE",
    EdgeKind.IPC_PIPE: "IPC_PIPE",
    EdgeKind.FILE_WRITE: "FILE_WRITE",
    EdgeKind.SERVICE_INSTALL: "SERVICE_INSTALL",
    EdgeKind.EXECUTION: "EXECUTION",
    EdgeKind.EXPLICIT_CREDS: "EXPLICIT_CREDS",
    EdgeKind.NETWORK: "NETWORK",
    EdgeKind.ADMIN_LOGON: "ADMIN_LOGON",
}

SCHEMA: tuple[str, ...] = (
    "CREATE CONSTRAINT latgraph_host_name IF NOT EXISTS FOR (h:Host) REQUIRE h.name IS UNIQUE",
    "CREATE CONSTRAINT latgraph_account_name IF NOT EXISTS FOR (a:Account) REQUIRE a.name IS UNIQUE",
    "CREATE CONSTRAINT latgraph_unknown_source IF NOT EXISTS FOR (u:UnknownSource) REQUIRE u.dst IS UNIQUE",
    "CREATE CONSTRAINT latgraph_push_id IF NOT EXISTS FOR (p:LatgraphPush) REQUIRE p.push_id IS UNIQUE",
    "CREATE CONSTRAINT latgraph_lateral_hop_key IF NOT EXISTS"
    " FOR ()-[r:LATERAL]-() REQUIRE r.hop_key IS UNIQUE",
    "CREATE INDEX latgraph_lateral_first_seen IF NOT EXISTS FOR ()-[r:LATERAL]-() ON (r.first_seen_ns)",
    "CREATE INDEX latgraph_lateral_account IF NOT EXISTS FOR ()-[r:LATERAL]-() ON (r.account)",
    "CREATE INDEX latgraph_lateral_group IF NOT EXISTS FOR ()-[r:LATERAL]-() ON (r.group_key)",
)

# Merge rules for a hop that already exists (an incremental or repeated push):
# evidence is a set keyed by evidence id (new ids appended, parallel JSON list kept in step);
# n_events grows by the incoming count minus the evidence already stored; first/last are min/max;
# kinds/techniques/rules are unions; score is the max and severity follows the max score.
_MERGE_HOP = """
WITH s, d, row
CALL (s, d, row) {
  OPTIONAL MATCH (s)-[e:LATERAL {group_key: row.group_key}]->(d)
  WHERE e.first_seen_ns <= row.last_seen_ns + $merge_gap_ns
    AND e.last_seen_ns >= row.first_seen_ns - $merge_gap_ns
  RETURN e ORDER BY e.first_seen_ns LIMIT 1
}
CALL (s, d, row, e) {
  WITH s, d, row, e WHERE e IS NULL
  CREATE (s)-[r:LATERAL {hop_key: row.hop_key, group_key: row.group_key}]->(d)
  RETURN r
  UNION
  WITH e WHERE e IS NOT NULL
  RETURN e AS r
}
WITH s, d, row, r, coalesce(r.evidence_ids, []) AS old_ids, coalesce(r.signatures, []) AS sigs,
     r.first_seen_ns IS NULL OR row.first_seen_ns < r.first_seen_ns AS earlier,
     r.last_seen_ns IS NULL OR row.last_seen_ns > r.last_seen_ns AS later,
     r.score IS NULL OR row.score > r.score AS higher
WITH s, d, row, r, old_ids, sigs, earlier, later, higher,
     CASE WHEN size(old_ids) = 0 THEN range(0, size(row.evidence_ids) - 1)
          ELSE [i IN range(0, size(row.evidence_ids) - 1) WHERE NOT row.evidence_ids[i] IN old_ids]
     END AS new_idx
WITH s, d, row, r, old_ids, sigs, earlier, later, higher, new_idx,
     size(row.evidence_ids) - size(new_idx) AS overlap,
     row.n_events = size(row.evidence_ids) AND coalesce(r.evidence_complete, true) AS complete
FOREACH (_ IN CASE WHEN row.signature IN sigs THEN [] ELSE [1] END |
  SET r.n_events = CASE WHEN r.n_events IS NULL THEN row.n_events
                        WHEN overlap = 0 OR complete THEN r.n_events + row.n_events - overlap
                        WHEN row.n_events > r.n_events THEN row.n_events ELSE r.n_events END,
      r.evidence_complete = complete AND (overlap = 0 OR complete),
      r.signatures = sigs + [row.signature],
      r.evidence_ids = old_ids + [i IN new_idx | row.evidence_ids[i]],
      r.evidence = coalesce(r.evidence, []) + [i IN new_idx | row.evidence[i]],
      r.first_seen_ns = CASE WHEN earlier THEN row.first_seen_ns ELSE r.first_seen_ns END,
      r.first_seen = CASE WHEN earlier THEN datetime({epochSeconds: row.first_seen_ns / 1000000000,
                                                      nanosecond: row.first_seen_ns % 1000000000})
                          ELSE r.first_seen END,
      r.last_seen_ns = CASE WHEN later THEN row.last_seen_ns ELSE r.last_seen_ns END,
      r.last_seen = CASE WHEN later THEN datetime({epochSeconds: row.last_seen_ns / 1000000000,
                                                    nanosecond: row.last_seen_ns % 1000000000})
                         ELSE r.last_seen END,
      r.kinds = coalesce(r.kinds, []) + [k IN row.kinds WHERE NOT k IN coalesce(r.kinds, [])],
      r.techniques = coalesce(r.techniques, [])
                     + [t IN row.techniques WHERE NOT t IN coalesce(r.techniques, [])],
      r.rules = coalesce(r.rules, []) + [x IN row.rules WHERE NOT x IN coalesce(r.rules, [])],
      r.severity = CASE WHEN higher THEN row.severity ELSE r.severity END,
      r.score = CASE WHEN higher THEN row.score ELSE r.score END,
      r.hop_id = row.hop_id, r.src = row.src, r.src_host = row.src_host,
      r.src_ip = coalesce(r.src_ip, row.src_ip), r.dst_host = row.dst, r.account = row.account)
"""

_KIND_TEMPLATE = """
UNWIND $keys AS key
MATCH (s)-[r:LATERAL {{hop_key: key}}]->(d)
MERGE (s)-[k:{rel_type} {{hop_key: key}}]->(d)
SET k.account = r.account, k.first_seen = r.first_seen, k.last_seen = r.last_seen,
    k.first_seen_ns = r.first_seen_ns, k.last_seen_ns = r.last_seen_ns, k.score = r.score
"""

#: EdgeKind value -> the statement writing that kind's typed relationships for ``$keys`` (hop keys).
WRITE_KINDS: dict[str, str] = {
    str(kind): _KIND_TEMPLATE.format(rel_type=rel) for kind, rel in KIND_TYPES.items()
}

#: Account nodes and the aggregated account relationships of the hops ``$keys``.
WRITE_ACCOUNTS = """
UNWIND $keys AS key
MATCH (s)-[r:LATERAL {hop_key: key}]->(d)
WHERE r.account IS NOT NULL
MERGE (a:Account {name: r.account})
MERGE (a)-[t:AUTHENTICATED_TO]->(d)
SET t.first_seen_ns = CASE WHEN t.first_seen_ns IS NULL OR r.first_seen_ns < t.first_seen_ns
                           THEN r.first_seen_ns ELSE t.first_seen_ns END,
    t.last_seen_ns = CASE WHEN t.last_seen_ns IS NULL OR r.last_seen_ns > t.last_seen_ns
                          THEN r.last_seen_ns ELSE t.last_seen_ns END
WITH s, r, a WHERE s:Host
MERGE (s)-[u:USED_ACCOUNT]->(a)
SET u.first_seen_ns = CASE WHEN u.first_seen_ns IS NULL OR r.first_seen_ns < u.first_seen_ns
                           THEN r.first_seen_ns ELSE u.first_seen_ns END,
    u.last_seen_ns = CASE WHEN u.last_seen_ns IS NULL OR r.last_seen_ns > u.last_seen_ns
                          THEN r.last_seen_ns ELSE u.last_seen_ns END
"""

#: One batch of hops (``$rows``, see ``push.hop_rows``): nodes and LATERAL relationships; returns
#: the stored hop key and kinds of each row for :data:`WRITE_KINDS` / :data:`WRITE_ACCOUNTS`.
WRITE_HOPS = """
UNWIND $rows AS row
MERGE (d:Host {name: row.dst})
WITH d, row
CALL (d, row) {
  WITH d, row WHERE row.src IS NOT NULL
  MERGE (s:Host {name: row.src})
  RETURN s
  UNION
  WITH d, row WHERE row.src IS NULL
  MERGE (s:UnknownSource {dst: row.dst})
  RETURN s
}
""" + _MERGE_HOP + """
RETURN r.hop_key AS hop_key, r.kinds AS kinds
"""

#: Host-level facts from the result (compromised score / time), merged as max / min.
WRITE_HOSTS = """
UNWIND $rows AS row
MERGE (h:Host {name: row.name})
SET h.compromised_score = CASE WHEN h.compromised_score IS NULL OR row.score > h.compromised_score
                               THEN row.score ELSE h.compromised_score END,
    h.compromised_first_seen_ns = CASE
        WHEN h.compromised_first_seen_ns IS NULL OR row.first_seen_ns < h.compromised_first_seen_ns
        THEN row.first_seen_ns ELSE h.compromised_first_seen_ns END
SET h.compromised_first_seen = datetime({epochSeconds: h.compromised_first_seen_ns / 1000000000,
                                         nanosecond: h.compromised_first_seen_ns % 1000000000})
"""

START_PUSH = """
MERGE (p:LatgraphPush {push_id: $push_id})
ON CREATE SET p.started_at = datetime(), p.batches_done = 0, p.status = 'new', p.runs = 0
WITH p, p.status AS previous
SET p.batches_done = CASE WHEN previous = 'done' THEN 0 ELSE p.batches_done END,
    p.status = 'running', p.runs = p.runs + 1, p.batches_total = $batches_total,
    p.rows_total = $rows_total, p.batch_size = $batch_size
RETURN p.batches_done AS batches_done, previous
"""

CHECKPOINT = """
MATCH (p:LatgraphPush {push_id: $push_id}) SET p.batches_done = $batches_done, p.updated_at = datetime()
"""

FINISH_PUSH = """
MATCH (p:LatgraphPush {push_id: $push_id})
SET p.status = 'done', p.finished_at = datetime(), p.batches_done = p.batches_total
"""

#: Everything needed to rebuild the hops frame.
READ_HOPS = """
MATCH (s)-[r:LATERAL]->(d:Host)
RETURN r.hop_key AS hop_key, r.hop_id AS hop_id, r.src_host AS src_host, r.src_ip AS src_ip,
       d.name AS dst_host, r.account AS account, r.first_seen_ns AS first_seen_ns,
       r.last_seen_ns AS last_seen_ns, r.kinds AS kinds, r.techniques AS techniques, r.rules AS rules,
       r.evidence AS evidence, r.n_events AS n_events, r.score AS score, r.severity AS severity
ORDER BY first_seen_ns, coalesce(r.src, ''), dst_host, coalesce(account, ''), hop_key
"""

COUNTS = """
CALL () { MATCH (n) RETURN count(n) AS nodes }
CALL () { MATCH ()-[r]->() RETURN count(r) AS rels }
RETURN nodes, rels
"""
