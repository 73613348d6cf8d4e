"""latgraph graph: canonical events -> evidence -> lateral hops -> graph, scores, paths, patient zero.

No file, network or UI I/O here (except the optional Neo4j store). Imports only ``ingest.schema``
and ``ingest.errors`` from below; never ``app``.
"""
