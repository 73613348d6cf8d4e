"""The engine seam: an event-scale stage (pluggable engines) and a hop-scale stage (pandas).

* **Event stage** -- cost grows with the number of events: rules, correlation into hops,
  aggregation, rarity, fan-out and habit features. ``ENGINES[name](events, config)`` returns an
  :class:`EventStage`: the hops frame (:data:`HOP_FEATURE_COLUMNS`, ``score`` 0 and severity
  "info" until the hop stage) and, when the engine can afford it, the tags frame.
* **Hop stage** -- cost grows with the number of hops only: final score and severity, graph,
  paths, compromised hosts, patient zero (:func:`hop_stage`); the same for every engine.

The Spark engine registers as ``"spark"`` (imported lazily from ``graph.spark``) and must return
a hops frame identical to the pandas one (same columns, dtypes, values, ``hop_id`` order).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import NamedTuple

import networkx as nx
import pandas as pd

from graph import scoring
from graph.build import build_graph
from graph.config import AnalysisConfig
from graph.correlate import EVIDENCE_FEATURES, aggregate_hops, correlate_rows, empty_hops
from graph.findings import empty_findings, find
from graph.model import HOP_COLUMNS, Path, PatientZero, RoutineGroup
from graph.paths import compromised_hosts, top_paths
from graph.patient_zero import patient_zero
from graph.rules import SOURCE, apply_rules
from ingest.errors import ConfigError

#: Columns of the event stage's hops frame: the contract columns, then the features.
HOP_FEATURE_COLUMNS: tuple[str, ...] = (*HOP_COLUMNS, *EVIDENCE_FEATURES, *scoring.SCORE_FEATURES)


class EventStage(NamedTuple):
    """Output of the event stage."""

    hops: pd.DataFrame            # HOP_FEATURE_COLUMNS
    tags: pd.DataFrame | None     # event_index, rule_id, level (None if the engine skips it)
    findings: pd.DataFrame | None = None   # graph.findings.FINDING_COLUMNS (None: not computed)


class HopStage(NamedTuple):
    """Output of the hop stage."""

    hops: pd.DataFrame
    graph: nx.MultiDiGraph
    paths: list[Path]
    patient_zero: list[PatientZero]
    compromised: pd.DataFrame
    routine_groups: list[RoutineGroup] = []   # noqa: RUF012 (NamedTuple default, never mutated)


def pandas_event_stage(events: pd.DataFrame, config: AnalysisConfig) -> EventStage:
    """The pandas event stage: ``apply_rules`` -> ``correlate`` -> ``scoring.add_features``.

    Examples:
        >>> from graph.toy import toy_events
        >>> out = pandas_event_stage(toy_events("A>B@0s"), AnalysisConfig())
        >>> tuple(out.hops.columns) == HOP_FEATURE_COLUMNS, len(out.hops)
        (True, 1)
    """
    events = events.reset_index(drop=True)
    tags = apply_rules(events)
    if tags.empty:
        hops, found = empty_hops(), empty_findings()
    else:
        ev, rows = correlate_rows(events, tags, config)
        # findings report evidence rows outside every hop, and source-side rows of hops towards a host
        # without logs: only those are kept while they are computed (the same findings; on an
        # authentication-only case nearly every evidence row is a hop row, so ev goes at once)
        ev = ev[~ev["event_index"].isin(rows["event_index"]).to_numpy(dtype=bool)
                | ev["side"].eq(SOURCE).to_numpy(dtype=bool)]
        found = find(events, ev, rows, tags, config)
        del ev   # per-event frames are let go as soon as read (peak memory on large cases)
        hops = aggregate_hops(rows, tags, config, events)
        del rows
    hops = scoring.add_features(hops, config, scoring.auth.presence(events))
    return EventStage(hops[list(HOP_FEATURE_COLUMNS)], tags, found)


def findings_of(events: pd.DataFrame, tags: pd.DataFrame, config: AnalysisConfig, *,
                pairs: pd.DataFrame | None = None, logged: set[str] | None = None) -> pd.DataFrame:
    """The findings of an events frame whose tags another engine computed: the pandas correlation
    of the tagged events on the driver, so every engine reports the same findings (the hops it
    relies on are identical by the engine contract).

    ``events`` may hold only the tagged events (``tags.event_index`` = positions in it) when the
    case-wide context comes along: ``pairs`` (:func:`graph.correlate.hint_pairs` of every event)
    and ``logged`` (:func:`graph.findings.logged_hosts` of every event's host); the correlation
    reads nothing else from the other events, so the findings are the same.
    """
    if tags.empty:
        return empty_findings()
    events = events.reset_index(drop=True)
    ev, rows = correlate_rows(events, tags, config, pairs=pairs)
    return find(events, ev, rows, tags, config, logged=logged)


def _spark_event_stage(events: pd.DataFrame, config: AnalysisConfig) -> EventStage:
    module = importlib.import_module("graph.spark")   # lazy: pyspark is an optional extra
    return module.event_stage(events, config)


EventEngine = Callable[[pd.DataFrame, AnalysisConfig], EventStage]

#: Event-stage engines by name.
ENGINES: dict[str, EventEngine] = {
    "pandas": pandas_event_stage,
    "spark": _spark_event_stage,
}


def event_stage(events: pd.DataFrame, config: AnalysisConfig, engine: str = "pandas") -> EventStage:
    """Run the event stage with the named engine.

    Raises:
        ConfigError: unknown engine name.
    """
    try:
        run = ENGINES[engine]
    except KeyError:
        raise ConfigError(f"unknown engine {engine!r}; choose one of {sorted(ENGINES)}") from None
    return run(events, config)


def hop_stage(hops: pd.DataFrame, config: AnalysisConfig) -> HopStage:
    """Final scores and severities, compromised hosts, paths, patient zero, graph (hops only).

    Examples:
        >>> from graph.toy import toy_events
        >>> cfg = AnalysisConfig()
        >>> out = hop_stage(pandas_event_stage(toy_events("A>B@0s B>C@1h"), cfg).hops, cfg)
        >>> out.patient_zero[0].host, [p.hosts for p in out.paths]
        ('A', [('A', 'B', 'C')])
    """
    hops = scoring.finalize(hops, config)
    compromised = compromised_hosts(hops, config)
    paths = top_paths(hops, config)
    pz = patient_zero(hops, config)
    graph = build_graph(hops, compromised, pz)
    return HopStage(hops, graph, paths, pz, compromised, scoring.routine.groups(hops, config))
