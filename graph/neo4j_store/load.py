"""A stored case as an :class:`~graph.model.AnalysisResult`, for the UI and ``latgraph neo4j paths``.

Hops come from the store; paths and patient zero are computed in Cypher
(:mod:`graph.neo4j_store.analysis`); the compromised-host table and the networkx graph are derived
from the loaded hops in memory (:func:`graph.paths.compromised_hosts`, :func:`graph.build.build_graph`).
The result has no events, tags or ingest report (the store keeps hops and their evidence references).
"""

from __future__ import annotations

import pandas as pd

from graph.config import AnalysisConfig
from graph.model import HOP_COLUMNS, AnalysisResult
from graph.neo4j_store.analysis import cypher_paths, cypher_patient_zero
from graph.neo4j_store.connection import Neo4jSettings, open_driver, translate_errors
from graph.neo4j_store.findings import read_findings
from graph.neo4j_store.read import load_hops


def load_result(uri: str | Neo4jSettings | None = None, user: str | None = None,
                password: str | None = None, database: str | None = None, *,
                config: AnalysisConfig | None = None, allow_incomplete: bool = False) -> AnalysisResult:
    """The stored case with paths and patient zero computed by Neo4j (the UI's loading hook).

    Args:
        uri: Bolt URI, or complete :class:`Neo4jSettings` (then the other settings are ignored).
        user, password, database: login; ``None`` or ``""`` = environment variable / default.
        config: analysis settings for paths and patient zero (default :class:`AnalysisConfig`).

        allow_incomplete: answer from a store holding an unfinished push (else IncompletePushError).

    Raises:
        Neo4jStoreError: missing extra, unreachable server, refused login or unknown database;
            IncompletePushError (a subclass) when a push did not finish.
    """
    from graph.build import build_graph
    from graph.paths import compromised_hosts
    from ingest.report import IngestReport
    from ingest.schema import empty_frame

    if isinstance(uri, Neo4jSettings):
        settings = uri
    else:
        settings = Neo4jSettings.from_env(uri=uri or None, user=user or None, password=password or None,
                                          database=database or None)
    config = config or AnalysisConfig()
    paths = cypher_paths(settings, config, allow_incomplete=allow_incomplete)
    pz = cypher_patient_zero(settings, config, allow_incomplete=allow_incomplete)
    hops = load_hops(settings)
    findings = load_findings(settings, hops)
    compromised = compromised_hosts(hops[list(HOP_COLUMNS)], config)
    graph = build_graph(hops[list(HOP_COLUMNS)], compromised, pz)
    return AnalysisResult(
        events=empty_frame(), report=IngestReport(), config=config,
        tags=pd.DataFrame(columns=["event_index", "rule_id", "level"]), hops=hops, graph=graph,
        paths=paths, patient_zero=pz, compromised=compromised, findings=findings,
        summary={"source": "neo4j", "uri": settings.uri, "database": settings.database,
                 "hops": len(hops), "paths": len(paths), "findings": len(findings),
                 "patient_zero": pz[0].host if pz else None},
    )


def load_findings(settings: Neo4jSettings, hops: pd.DataFrame) -> pd.DataFrame:
    """The stored findings, their ``hop_ids`` those of ``hops`` (:func:`load_hops` of the same store)."""
    with open_driver(settings) as driver, translate_errors(settings), \
            driver.session(database=settings.database) as session:
        return read_findings(session, hops)


#: The name the UI engineer was given; same function.
load_result_from_neo4j = load_result
