"""Every Cypher statement latgraph sends, as constants. Data only ever travels as parameters.

Every statement text is a constant, so the server plans each once and reuses the plan. Typed
relationships get their type from a ``$(...)`` dynamic type whose value comes from the fixed
:data:`KIND_TYPES` whitelist (``EdgeKind`` -> relationship type) in Python, never from data.

Graph shape (see docs/neo4j.md):

* ``(:Host {name})`` (a hop's source node is ``src_host``, else ``src_ip``, as in
  :mod:`graph.paths`), ``(:Account {name})``; hops with no known source start at
  ``(:UnknownSource {dst})`` so they are stored but never take part in host paths.
* ``(src)-[:LATERAL {hop_key, group_key, ...all hop properties}]->(dst)``: one relationship per
  hop. ``group_key`` = (source, destination, account); an incoming hop joins a stored hop of the
  same group whose time range comes within ``hop_gap_s`` of it (as re-analysing all the logs
  together would group them), else it is created with ``hop_key`` = (group, first_seen).
* ``(src)-[:<KIND> {hop_key}]->(dst)``: one typed relationship per evidence kind of the hop
  (``ADMIN_SHARE``, ``SERVICE_INSTALL``, ...), for Bloom-style filtering; its hop is the LATERAL
  relationship with the same ``hop_key``.
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

#: Constraints and indexes. The node constraints come first: a push into an empty store creates the
#: relationship ones (:data:`RELATIONSHIP_SCHEMA`) after its last batch (one index build instead of
#: an index update per written relationship).
SCHEMA: tuple[str, ...] = (
    "CREATE CONSTRAINT latgraph_host_key IF NOT EXISTS FOR (h:Host) REQUIRE h.key IS UNIQUE",
    "CREATE CONSTRAINT latgraph_account_key IF NOT EXISTS FOR (a:Account) REQUIRE a.key IS UNIQUE",
    "CREATE CONSTRAINT latgraph_unknown_source_key IF NOT EXISTS"
    " FOR (u:UnknownSource) REQUIRE u.key IS UNIQUE",
    "CREATE CONSTRAINT latgraph_push_id IF NOT EXISTS FOR (p:LatgraphPush) REQUIRE p.push_id IS UNIQUE",
    "CREATE CONSTRAINT latgraph_finding_key IF NOT EXISTS FOR (f:Finding) REQUIRE f.key IS UNIQUE",
    "CREATE CONSTRAINT latgraph_lateral_hop_key IF NOT EXISTS"
    " FOR ()-[r:LATERAL]-() REQUIRE r.hop_key IS UNIQUE",
    "CREATE INDEX latgraph_lateral_first_seen IF NOT EXISTS FOR ()-[r:LATERAL]-() ON (r.first_seen_ns)",
    "CREATE INDEX latgraph_lateral_group IF NOT EXISTS FOR ()-[r:LATERAL]-() ON (r.group_key)",
)
#: Constraints and indexes of earlier versions on names (unbounded values: a name over Neo4j's
#: index key limit, about 8 KB, failed the push). Dropped once the nodes have their ``key``.
OLD_SCHEMA: tuple[str, ...] = ("latgraph_host_name", "latgraph_account_name", "latgraph_unknown_source",
                               "latgraph_lateral_account")
#: Nodes stored before ``key`` existed (``$label`` is one of the fixed labels, never data).
NODES_WITHOUT_KEY = {
    "Host": "MATCH (n:Host) WHERE n.key IS NULL RETURN elementId(n) AS id, n.name AS name",
    "Account": "MATCH (n:Account) WHERE n.key IS NULL RETURN elementId(n) AS id, n.name AS name",
    "UnknownSource": "MATCH (n:UnknownSource) WHERE n.key IS NULL RETURN elementId(n) AS id, n.dst AS name",
}
SET_KEYS = "UNWIND $rows AS row MATCH (n) WHERE elementId(n) = row.id SET n.key = row.key"
#: The relationship constraints and indexes of :data:`SCHEMA`.
RELATIONSHIP_SCHEMA: tuple[str, ...] = tuple(st for st in SCHEMA if "()-[r:" in st)

#: Does the store hold any hop? (answered from the count store, no scan)
HAS_HOPS = "MATCH ()-[r:LATERAL]->() RETURN count(r) > 0 AS has_hops"


def _datetime(ns: str) -> str:
    """Cypher for the UTC datetime (ns precision) of an int-nanoseconds expression (fixed text).

    ``datetime.fromepoch`` gives the same value as ``datetime({epochSeconds: .., nanosecond: ..})``
    at about a third of the server's CPU (no map to build and check per call; measured on 300k
    values: 0.1 against 0.3 CPU-s warm, 0.45 against 2.1 on a freshly started server).
    """
    return f"datetime.fromepoch({ns} / 1000000000, {ns} % 1000000000)"


#: The stored hops of the groups ``$groups``: what :class:`graph.neo4j_store.merge.Planner` needs
#: to decide between create, join and no-op (one index seek per group). One record holding a list
#: of ``[group_key, hop_key, first_seen_ns, last_seen_ns, signatures, rel_id]`` (the driver decodes
#: one large list far faster than one record per hop: measured, a re-push of 49,770 hops spent about
#: a third of its client CPU turning records into dicts).
LOOKUP_GROUPS = """
UNWIND $groups AS g
MATCH ()-[e:LATERAL {group_key: g}]->()
RETURN collect([g, e.hop_key, e.first_seen_ns, e.last_seen_ns, e.signatures, elementId(e)]) AS hops
"""
#: The fields of each :data:`LOOKUP_GROUPS` list, in order.
LOOKUP_FIELDS = ("group_key", "hop_key", "first_seen_ns", "last_seen_ns", "signatures", "rel_id")

#: Every property of the stored hops ``$keys`` (hop keys) that a row is about to join.
LOAD_HOPS = """
UNWIND $rows AS row
MATCH ()-[e:LATERAL]->() WHERE elementId(e) = row.rel_id
RETURN row.hop_key AS hop_key, properties(e) AS props
"""

#: The nodes a batch needs and that the push has not met yet: hosts (``$hosts``), source-less starts
#: (``$unknown``: destination names) and accounts (``$accounts``), each ``{key, name}`` (``key`` =
#: :func:`graph.neo4j_store.rows.node_key`, the bounded unique key; ``name`` the full name), with
#: their element ids (the writes below address nodes and relationships by element id: no index
#: lookup per row).
WRITE_NODES = """
CALL () {
  UNWIND $hosts AS x MERGE (n:Host {key: x.key}) SET n.name = x.name
  RETURN 'host' AS kind, x.name AS name, elementId(n) AS id
  UNION ALL
  UNWIND $unknown AS x MERGE (n:UnknownSource {key: x.key}) SET n.dst = x.name
  RETURN 'unknown' AS kind, x.name AS name, elementId(n) AS id
  UNION ALL
  UNWIND $accounts AS x MERGE (n:Account {key: x.key}) SET n.name = x.name
  RETURN 'account' AS kind, x.name AS name, elementId(n) AS id
}
RETURN kind, name, id
"""

#: New hops (``$rows``: ``{s, d, types, props}``: source and destination element ids, the hop's
#: relationship types (from :data:`KIND_TYPES`, never from data) and its properties as
#: ``merge.to_store`` made them): one ``CREATE`` of the LATERAL relationship and of one typed
#: relationship (``{hop_key}``) per kind.
CREATE_HOPS = f"""
UNWIND $rows AS row
MATCH (s) WHERE elementId(s) = row.s
MATCH (d) WHERE elementId(d) = row.d
WITH row, s, d, row.props AS p
CREATE (s)-[r:LATERAL]->(d)
SET r = p, r.first_seen = {_datetime("p.first_seen_ns")}, r.last_seen = {_datetime("p.last_seen_ns")}
FOREACH (t IN row.types | CREATE (s)-[:$(t) {{hop_key: p.hop_key}}]->(d))
"""

#: Stored hops that rows joined (``$rows``: ``{rel_id, types, props}`` with the merged properties):
#: the LATERAL relationship takes the new values (null ones are removed) and gets a typed
#: relationship for each kind it lacked.
UPDATE_HOPS = f"""
UNWIND $rows AS row
MATCH (s)-[r:LATERAL]->(d) WHERE elementId(r) = row.rel_id
SET r += row.props, r.first_seen = {_datetime("row.props.first_seen_ns")},
    r.last_seen = {_datetime("row.props.last_seen_ns")}
FOREACH (t IN row.types | MERGE (s)-[:$(t) {{hop_key: r.hop_key}}]->(d))
RETURN r.hop_key AS hop_key, elementId(r) AS rel_id
"""

#: The aggregated account relationships: ``$auth`` = ``{a, d, first, last}`` per (account,
#: destination), ``$used`` = ``{s, a, first, last}`` per (source host, account), nodes by element
#: id; first/last times (ns) merge as min/max.
WRITE_ACCOUNTS = """
CALL () {
  UNWIND $auth AS p
  MATCH (a) WHERE elementId(a) = p.a
  MATCH (d) WHERE elementId(d) = p.d
  MERGE (a)-[t:AUTHENTICATED_TO]->(d)
  SET t.first_seen_ns = CASE WHEN t.first_seen_ns IS NULL OR p.first < t.first_seen_ns
                             THEN p.first ELSE t.first_seen_ns END,
      t.last_seen_ns = CASE WHEN t.last_seen_ns IS NULL OR p.last > t.last_seen_ns
                            THEN p.last ELSE t.last_seen_ns END
}
CALL () {
  UNWIND $used AS p
  MATCH (s) WHERE elementId(s) = p.s
  MATCH (a) WHERE elementId(a) = p.a
  MERGE (s)-[u:USED_ACCOUNT]->(a)
  SET u.first_seen_ns = CASE WHEN u.first_seen_ns IS NULL OR p.first < u.first_seen_ns
                             THEN p.first ELSE u.first_seen_ns END,
      u.last_seen_ns = CASE WHEN u.last_seen_ns IS NULL OR p.last > u.last_seen_ns
                            THEN p.last ELSE u.last_seen_ns END
}
"""

#: Host-level facts from the result (compromised score / time), merged as max / min.
WRITE_HOSTS = f"""
UNWIND $rows AS row
MERGE (h:Host {{key: row.key}})
ON CREATE SET h.name = row.name
SET h.compromised_score = CASE WHEN h.compromised_score IS NULL OR row.score > h.compromised_score
                               THEN row.score ELSE h.compromised_score END,
    h.compromised_first_seen_ns = CASE
        WHEN h.compromised_first_seen_ns IS NULL OR row.first_seen_ns < h.compromised_first_seen_ns
        THEN row.first_seen_ns ELSE h.compromised_first_seen_ns END
SET h.compromised_first_seen = {_datetime("h.compromised_first_seen_ns")}
"""

#: The stored content signatures of the findings ``$keys``.
LOOKUP_FINDINGS = """
UNWIND $keys AS k
MATCH (f:Finding {key: k})
RETURN f.key AS key, f.signature AS signature
"""

#: Findings (``$rows``: ``{host_key, props}``) linked to their host (created when it has no hop).
WRITE_FINDINGS = f"""
UNWIND $rows AS row
MERGE (h:Host {{key: row.host_key}})
ON CREATE SET h.name = row.props.host
MERGE (f:Finding {{key: row.props.key}})
SET f += row.props, f.first_seen = {_datetime("row.props.first_seen_ns")},
    f.last_seen = {_datetime("row.props.last_seen_ns")}
MERGE (h)-[:HAS_FINDING]->(f)
"""

#: Every stored finding with its host.
READ_FINDINGS = """
MATCH (h:Host)-[:HAS_FINDING]->(f:Finding)
RETURN h.name AS host, properties(f) AS p
"""

START_PUSH = """
MERGE (p:LatgraphPush {push_id: $push_id})
ON CREATE SET p.started_at = datetime(), p.batches_done = 0, p.status = 'new', p.runs = 0
WITH p, p.status AS previous
SET p.batches_done = CASE WHEN previous = 'done' THEN 0 ELSE p.batches_done END,
    p.done = CASE WHEN previous = 'done' THEN [] ELSE coalesce(p.done, []) END,
    p.status = 'running', p.runs = p.runs + 1, p.batches_total = $batches_total,
    p.rows_total = $rows_total, p.batch_size = $batch_size
RETURN p.done AS done, previous
"""

#: One batch committed (in its own transaction). Batches may commit in any order (concurrent
#: writers): the committed batch numbers are a list; the first ``SET`` takes the node's write lock
#: before the list is read, so two writers never lose each other's entry.
CHECKPOINT = """
MATCH (p:LatgraphPush {push_id: $push_id})
SET p.updated_at = datetime()
WITH p, coalesce(p.done, []) + $batch AS done
SET p.done = done, p.batches_done = size(done)
"""

#: The push finished: every batch, the account relationships, host facts, findings and indexes are
#: written. ``case_digest`` (:func:`graph.neo4j_store.rows.case_digest`) lets an unchanged re-push
#: skip all work (:data:`LAST_PUSH`).
FINISH_PUSH = """
MATCH (p:LatgraphPush {push_id: $push_id})
SET p.status = 'done', p.finished_at = datetime(), p.batches_done = p.batches_total,
    p.case_digest = $case_digest
"""

#: The store's last finished push (its case digest) and how many pushes are unfinished: a push whose
#: case digest is that of the last finished one, with no push unfinished, has nothing to write.
LAST_PUSH = """
CALL () {
  OPTIONAL MATCH (p:LatgraphPush) WHERE p.status = 'done'
  RETURN p ORDER BY p.finished_at DESC LIMIT 1
}
RETURN p.push_id AS push_id, p.case_digest AS case_digest, p.batches_total AS batches_total,
       COUNT { MATCH (q:LatgraphPush) WHERE q.status IS NULL OR q.status <> 'done' } AS unfinished,
       COUNT { MATCH (q:LatgraphPush) WHERE q.status = 'imported' } AS imported
"""


#: Bulk imports (``graph.neo4j_store.bulk``) not finished yet (their checkpoint says ``imported``).
IMPORTED_PUSHES = ("MATCH (p:LatgraphPush {status: 'imported'}) "
                   "RETURN p.push_id AS push_id, p.empty_lists AS empty_lists")
#: The importer stores an empty list as no property; the Bolt push stores ``[]``. Run once, right
#: after an import into a brand-new database (every hop and finding there is an imported one).
EMPTY_LIST_FIXES: tuple[str, ...] = (
    "MATCH ()-[r:LATERAL]->() WHERE r.kinds IS NULL OR r.techniques IS NULL OR r.rules IS NULL "
    "SET r.kinds = coalesce(r.kinds, []), r.techniques = coalesce(r.techniques, []), "
    "r.rules = coalesce(r.rules, [])",
    "MATCH (f:Finding) WHERE f.attack IS NULL OR f.rules IS NULL OR f.hop_keys IS NULL "
    "SET f.attack = coalesce(f.attack, []), f.rules = coalesce(f.rules, []), "
    "f.hop_keys = coalesce(f.hop_keys, [])",
)
FINISH_IMPORT = """
MATCH (p:LatgraphPush {push_id: $push_id})
SET p.status = 'done', p.finished_at = datetime(), p.updated_at = datetime()
"""

#: Pushes that started and did not finish (interrupted, failed, or still running).
INCOMPLETE_PUSHES = """
MATCH (p:LatgraphPush) WHERE p.status IS NULL OR p.status <> 'done'
RETURN p.push_id AS push_id, p.status AS status, p.batches_done AS batches_done,
       p.batches_total AS batches_total, toString(p.started_at) AS started_at,
       toString(coalesce(p.updated_at, p.started_at)) AS updated_at
ORDER BY started_at, push_id
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
