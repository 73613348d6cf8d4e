"""The Neo4j store (optional ``neo4j`` extra): push results, read them back, query spread in Cypher.

The driver is imported only when a connection is made; without the extra every entry point raises
:class:`Neo4jStoreError` naming ``pip install 'latgraph[neo4j]'``.
"""

from __future__ import annotations

from graph.neo4j_store.analysis import cypher_paths, cypher_patient_zero
from graph.neo4j_store.connection import ENV_VARS, Neo4jSettings, Neo4jStoreError, open_driver
from graph.neo4j_store.load import load_result, load_result_from_neo4j
from graph.neo4j_store.push import PushReport, push
from graph.neo4j_store.read import IncompletePushError, incomplete_pushes, load_hops
from graph.neo4j_store.rows import evidence_id, group_key, hop_key, hop_rows

__all__ = ["ENV_VARS", "IncompletePushError", "Neo4jSettings", "Neo4jStoreError", "PushReport",
           "cypher_paths", "cypher_patient_zero", "evidence_id", "group_key", "hop_key", "hop_rows",
           "incomplete_pushes", "load_hops",
           "load_result", "load_result_from_neo4j", "open_driver", "push"]
