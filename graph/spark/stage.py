"""The Spark event stage: events -> rules -> correlation -> aggregated hops, identical to pandas.

Split of the work:

* **On Spark** (cost grows with events): reading the events; the rules, as the pandas engine's
  own :func:`graph.rules.apply_rules` in Spark tasks on Arrow batches
  (:func:`graph.spark.rules.tag_rows`); the case-wide IP/name pair counts
  (:func:`graph.spark.casewide.hint_pairs`) and the users' presence
  (:func:`graph.spark.casewide.presence`), aggregated before they are collected.
* **Correlation** (cost grows with the *tagged* events, a few percent of a case): up to
  :data:`MAX_DRIVER_ROWS` tagged events, on the driver with the pandas engine's own
  :func:`graph.correlate.correlate_rows` and :func:`graph.correlate.aggregate_hops`; above it on
  Spark (evidence placement, session joins, IP hints: :mod:`graph.spark.correlate`; hop episodes and
  the aggregation into one row per hop: :func:`graph.spark.hops.aggregate`), only the hops collected.
* **On the driver** (cost grows with hops): numbering hops (``hop_id``), the noisy-or evidence
  strength and techniques from the hop's rule set (Spark correlation path), and the feature
  scorers (:func:`graph.scoring.add_features`) -- the same pandas functions the pandas engine
  calls, on the collected hops frame.

The aggregation of the Spark correlation path lives in :mod:`graph.spark.hops`, the case-wide
aggregates on Spark in :mod:`graph.spark.casewide`; this module runs the steps and re-exports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute

from graph import correlate as pc
from graph import scoring
from graph.config import AnalysisConfig
from graph.engine import HOP_FEATURE_COLUMNS, EventStage, findings_of
from graph.rules import RULES
from graph.spark import correlate as sc
from graph.spark.casewide import hint_pairs, hint_pairs_of, hosts_of, presence, presence_of
from graph.spark.hops import aggregate, finish_hops
from graph.spark.io import arrow_to_pandas, events_to_spark
from graph.spark.packing import RowGroupScan, tagged_arrow, unpacked
from graph.spark.rules import tag_rows, tags_of
from graph.spark.scan import RowGroups, plan_row_groups, scan_row_groups

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "MAX_DRIVER_ROWS",
    "MAX_FINDING_ROWS",
    "Correlated",
    "StorageStage",
    "aggregate",
    "event_stage",
    "event_stage_from_storage",
    "finish_hops",
    "hint_pairs",
    "presence",
    "spark_hops",
    "storage_event_stage",
    "storage_row_groups",
]


#: The most tagged events the driver correlates itself (the pandas correlation on the tagged
#: events only); above it the correlation runs as a Spark plan (:mod:`graph.spark.correlate`).
MAX_DRIVER_ROWS = 5_000_000


class Correlated(NamedTuple):
    """The pandas correlation of the tagged events, on the driver (see :func:`_spark_hops`)."""

    tagged: pd.DataFrame    # the tagged events (canonical frame; tags' event_index = positions in it)
    tags: pd.DataFrame      # event_index, rule_id, level
    ev: pd.DataFrame        # graph.correlate.evidence_rows
    rows: pd.DataFrame      # graph.correlate.hop_rows


def spark_hops(events: DataFrame, config: AnalysisConfig, *,
               on_step: Callable[[str], None] | None = None,
               max_driver_rows: int | None = None) -> tuple[pd.DataFrame, DataFrame]:
    """:func:`_spark_hops` without the tagged rows."""
    hops, tags, _, _ = _spark_hops(events, config, on_step=on_step, max_driver_rows=max_driver_rows)
    return hops, tags


def _spark_hops(events: DataFrame, config: AnalysisConfig, *,
                on_step: Callable[[str], None] | None = None,
                max_driver_rows: int | None = None, scan: RowGroupScan | None = None,
                ) -> tuple[pd.DataFrame, DataFrame, DataFrame, Correlated | None]:
    """Run the Spark side on an events frame that has ``event_index``; collect the hops.

    The rules run in Spark tasks over every event (:func:`graph.spark.rules.tag_rows`). The
    correlation then reads only the tagged events (a few percent of a case: 9% of the generated
    enterprise) and, case-wide, the IP/name pair counts (:func:`hint_pairs`, one row per distinct
    pair). Up to ``max_driver_rows`` tagged events, both are collected and the driver runs the
    pandas engine's own correlation and aggregation on them (:func:`graph.correlate.correlate_rows`,
    :func:`graph.correlate.aggregate_hops`): the same code, so the same hops by construction.
    Above it, the correlation runs as Spark plans (:mod:`graph.spark.correlate`, :func:`aggregate`)
    and only the hops are collected.

    Args:
        events: the Spark events frame.
        config: analysis settings.
        on_step: called with a step's name when it ends (``rules``, ``collect``, ``placement``,
            ``episodes``, ``aggregate``, ``finish``, ``presence``, ``features``; the driver path has
            no ``episodes`` / ``finish``); ``bench/engines.py`` reads the CPU and wall time there.
        max_driver_rows: the most tagged events correlated on the driver (0: always on Spark;
            None: :data:`MAX_DRIVER_ROWS`, read at call time).
        scan: the tagged rows and case-wide aggregates of ``events`` read by pyarrow in Spark
            tasks (:func:`graph.spark.scan.scan_row_groups`), used instead of running the rules,
            :func:`hint_pairs` and :func:`presence` on Spark's rows.

    Returns:
        ``(hops, tags, hit, correlated)``: the finished hops frame (with scoring features), the
        Spark tags (materialised on the Spark correlation path), the materialised tagged events
        (``event_index`` and
        :data:`graph.spark.correlate.SOURCE_COLUMNS`) and, on the driver path, the driver's
        correlation (:class:`Correlated`, else None).
    """
    done = on_step or (lambda name: None)
    if max_driver_rows is None:
        max_driver_rows = MAX_DRIVER_ROWS
    if scan is None:
        hit = tag_rows(events, keep=sc.SOURCE_COLUMNS).localCheckpoint(eager=True)
        n_hit = hit.count()
    else:
        hit, n_hit = unpacked(scan), scan.n_tagged     # lazy: the driver path collects the packed rows
    tags = tags_of(hit)     # lazy: the driver path reads the tags off the collected bit masks
    done("rules")
    local: Correlated | None = None
    if max_driver_rows > 0 and n_hit <= max_driver_rows:
        tagged, tag_frame = _tagged_frames(tagged_arrow(scan)) if scan is not None else _collect_tagged(hit)
        pairs = hint_pairs(events, config) if scan is None else hint_pairs_of(scan.aggregates)
        done("collect")
        if tag_frame.empty:
            hops = pc.empty_hops()
        else:
            ev, rows = pc.correlate_rows(tagged, tag_frame, config, pairs=pairs)
            done("placement")
            hops = pc.aggregate_hops(rows, tag_frame, config, tagged)
            local = Correlated(tagged, tag_frame, ev, rows)
        done("aggregate")
    else:
        if scan is not None:
            hit = hit.localCheckpoint(eager=True)
            tags = tags_of(hit)
        tags = tags.localCheckpoint(eager=True)
        ev = sc.evidence_rows(events, tags, config, tagged=hit)
        done("placement")
        rows = sc.hop_rows(ev, config).localCheckpoint(eager=True)
        done("episodes")
        agg = aggregate(rows, tags, config)
        raw = arrow_to_pandas(agg.toArrow(), ns_columns=("first_seen", "last_seen"))
        done("aggregate")
        hops = finish_hops(raw, config)
        done("finish")
    seen = presence(events) if scan is None else presence_of(scan.aggregates)
    done("presence")
    hops = scoring.add_features(hops, config, seen)[list(HOP_FEATURE_COLUMNS)]
    done("features")
    return hops, tags, hit, local


def _masks(hit: DataFrame | pa.Table) -> list[str]:
    """The rule bit mask columns of a tagged-rows frame (:func:`graph.spark.rules.tag_rows`)."""
    names = hit.columns if not isinstance(hit, pa.Table) else hit.column_names
    return [c for c in names if c.startswith("_m") and c[2:].isdigit()]


def _collect_tagged(hit: DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`_tagged_frames` of the tagged rows collected from Spark."""
    return _tagged_frames(hit.select("event_index", *_masks(hit), *sc.SOURCE_COLUMNS).toArrow())


def _tagged_frames(table: pa.Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tagged events as a canonical pandas frame (input order) and their tags, with
    ``event_index`` renumbered to positions in that frame (the order is kept, so ties break
    as in the pandas engine). The tags are read off the rule bit masks
    (:func:`graph.spark.rules.tag_rows`), as :func:`graph.spark.rules.tags_of` does on Spark.

    Args:
        table: the tagged rows: ``event_index``, the bit masks and
            :data:`graph.spark.correlate.SOURCE_COLUMNS`.
    """
    from graph.spark.rules import MASK_BITS
    from ingest.schema import COLUMNS, DTYPES, coerce_frame

    masks = _masks(table)
    table = table.select(["event_index", *masks, *sc.SOURCE_COLUMNS])
    table = table.take(pa.compute.sort_indices(table["event_index"]))   # input order, sorted here: no shuffle
    bits = [table.column(m).to_numpy(zero_copy_only=False).astype(np.int64) for m in masks]
    tagged = arrow_to_pandas(table.drop_columns(["event_index", *masks]), ns_columns=("ts",))
    for col in COLUMNS:     # columns the correlation never reads: missing
        if col not in tagged.columns:
            tagged[col] = pd.Series(pd.NA, index=tagged.index,
                                    dtype="string" if DTYPES[col] == "category" else DTYPES[col])
    tagged = coerce_frame(tagged)
    rule_list = list(RULES.values())
    at, rule_at = [], []
    for k, mask in enumerate(bits):
        for j in range(min(MASK_BITS, len(rule_list) - k * MASK_BITS)):
            rows = np.flatnonzero(mask & (1 << j))
            at.append(rows)
            rule_at.append(np.full(len(rows), k * MASK_BITS + j))
    pos = np.concatenate(at) if at else np.zeros(0, np.int64)
    which = np.concatenate(rule_at) if rule_at else np.zeros(0, np.int64)
    tag_frame = pd.DataFrame({
        "event_index": pos.astype("int64"),
        "rule_id": pd.array([rule_list[i].id for i in which], dtype="string"),
        "level": pd.array([str(rule_list[i].level) for i in which], dtype="string"),
    }).sort_values(["event_index", "rule_id"], kind="stable").reset_index(drop=True)
    return tagged, tag_frame


def event_stage(events: pd.DataFrame, config: AnalysisConfig, *, spark: SparkSession | None = None,
                master: str | None = None) -> EventStage:
    """The ``"spark"`` engine of :data:`graph.engine.ENGINES` for a pandas events frame.

    The frame goes to Spark through Arrow with its positions as ``event_index`` (so the tags
    frame uses the same positions as the pandas engine's).

    Args:
        events: canonical events frame.
        config: analysis settings.
        spark: a session to use (default: :func:`graph.spark.session.spark_session` for ``master``).
        master: Spark master / Spark Connect URL when no session is given (default ``local[*]`` or
            ``$LATGRAPH_SPARK_MASTER``).
    """
    from graph.spark.session import spark_session

    session = spark or spark_session(master)
    events = events.reset_index(drop=True)
    frame = events_to_spark(session, events, with_index=True)
    hops, tags = spark_hops(frame, config)
    tag_frame = arrow_to_pandas(tags.orderBy("event_index", "rule_id").toArrow())
    tags.unpersist()
    tag_frame = pd.DataFrame({
        "event_index": tag_frame["event_index"].astype("int64"),
        "rule_id": tag_frame["rule_id"].astype("string"),
        "level": tag_frame["level"].astype("string"),
    })
    return EventStage(hops, tag_frame, findings_of(events, tag_frame, config))


def event_stage_from_storage(spark: SparkSession, paths: str | list[str], config: AnalysisConfig, *,
                             fmt: str | None = None, on_step: Callable[[str], None] | None = None,
                             max_driver_rows: int | None = None) -> pd.DataFrame:
    """The hops of :func:`storage_event_stage` (no findings: nothing but the hops reaches the driver).

    Returns:
        The hops frame with features (:data:`graph.engine.HOP_FEATURE_COLUMNS`); feed it to
        :func:`graph.engine.hop_stage`.
    """
    return storage_event_stage(spark, paths, config, fmt=fmt, on_step=on_step, findings=False,
                               max_driver_rows=max_driver_rows).hops


#: The most tagged events :func:`storage_event_stage` collects to the driver for the findings.
MAX_FINDING_ROWS = 5_000_000


class StorageStage(NamedTuple):
    """:func:`storage_event_stage`'s result: the event stage (``tags`` is None: the events stay on
    the cluster) and, when the findings were not computed, why (else None)."""

    stage: EventStage
    findings_skipped: str | None

    @property
    def hops(self) -> pd.DataFrame:
        """The hops frame with features."""
        return self.stage.hops


def storage_event_stage(spark: SparkSession, paths: str | list[str], config: AnalysisConfig, *,
                        fmt: str | None = None, on_step: Callable[[str], None] | None = None,
                        findings: bool = True, max_finding_rows: int = MAX_FINDING_ROWS,
                        max_driver_rows: int | None = None) -> StorageStage:
    """The Spark event stage straight from canonical events on (cluster) storage, with findings.

    The hops come back to the driver as in :func:`event_stage`; ``event_index`` is the input order
    (``monotonically_increasing_id``: increasing, not dense), used to break ties only. For the
    findings the driver collects only what :func:`graph.engine.findings_of` reads: the *tagged*
    events (the columns the correlation reads, :data:`graph.spark.correlate.SOURCE_COLUMNS`) and
    their tags, the case's IP/name pair counts (:func:`hint_pairs`, one row per distinct pair and
    day) and the names of the hosts that logged anything. The pandas correlation of those is the
    pandas engine's (the same hops, so the same findings and hop ids). More than
    ``max_finding_rows`` tagged events are not collected: no findings then, and ``findings_skipped``
    says so.

    Args:
        spark: the session.
        paths: event files or folders (:func:`graph.spark.io.read_events`).
        config: analysis settings.
        fmt: ``parquet`` or ``json`` (guessed from the path when None).
        on_step: per-step callback (see :func:`spark_hops`; ``findings`` is the last step).
        findings: compute the findings (False: hops only).
        max_finding_rows: the bound on the tagged events collected for the findings.
        max_driver_rows: the most tagged events correlated on the driver (see :func:`_spark_hops`;
            the findings then come from that same correlation).
    """
    from pyspark.sql import functions as F

    from graph.spark.io import read_events

    frame = read_events(spark, paths, fmt=fmt)
    groups = storage_row_groups(frame, paths, fmt)
    scan = None if groups is None else scan_row_groups(
        spark, groups, {f.name: f.dataType for f in frame.schema.fields}, keep=sc.SOURCE_COLUMNS,
        hint_days=config.ip_hints_by_day)
    frame = frame.withColumn("event_index", F.monotonically_increasing_id())
    hops, tags, hit, local = _spark_hops(frame, config, on_step=on_step, scan=scan,
                                         max_driver_rows=min(MAX_DRIVER_ROWS if max_driver_rows is None
                                                             else max_driver_rows, max_finding_rows))
    skipped: str | None = None
    found = None
    if findings:
        n_hit = len(local.tagged) if local is not None else hit.count()
        if n_hit > max_finding_rows:
            skipped = (f"{n_hit:,} tagged events, more than the {max_finding_rows:,} collected to the driver "
                       "for findings")
        elif local is not None:
            from graph.findings import find, logged_hosts

            logged = logged_hosts(_hosts(frame, scan))
            found = find(local.tagged, local.ev, local.rows, local.tags, config, logged=logged)
        else:
            found = _storage_findings(frame, hit, tags, config, scan)
        if on_step:
            on_step("findings")
    tags.unpersist()
    return StorageStage(EventStage(hops, None, found), skipped)


def storage_row_groups(frame: DataFrame, paths: str | list[str], fmt: str | None) -> list[RowGroups] | None:
    """The row groups the rules read with pyarrow for a storage read (:mod:`graph.spark.scan`), or
    None for Spark's own rows: JSON input, or Parquet files pyarrow cannot open or convert here."""
    from graph.spark.io import _guess_format

    first = paths if isinstance(paths, str) else (list(paths) or [""])[0]
    if (fmt or _guess_format(first)) != "parquet":
        return None
    try:
        files = frame.inputFiles()
    except Exception:   # a session that cannot list them (some Connect servers): Spark's own rows
        return None
    return plan_row_groups(files)


def _hosts(frame: DataFrame, scan: RowGroupScan | None) -> list[str | None]:
    """The distinct ``host`` values of a storage run's events."""
    if scan is not None:
        return hosts_of(scan.aggregates)
    return [r[0] for r in frame.select("host").distinct().collect()]


def _storage_findings(frame: DataFrame, hit: DataFrame, tags: DataFrame,
                      config: AnalysisConfig, scan: RowGroupScan | None = None) -> pd.DataFrame:
    """The findings of a storage run (see :func:`storage_event_stage`) on the driver."""
    from graph.findings import logged_hosts

    tagged, tag_frame = _collect_tagged(hit)
    logged = logged_hosts(_hosts(frame, scan))
    pairs = hint_pairs(frame, config) if scan is None else hint_pairs_of(scan.aggregates)
    return findings_of(tagged, tag_frame, config, pairs=pairs, logged=logged)
