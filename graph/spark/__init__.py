"""The Spark engine: the event-scale stage (rules, correlation into hops, aggregation) on Apache
Spark, returning the same hops frame as the pandas engine (``ENGINES["spark"]`` in
:mod:`graph.engine`).

Nothing here imports pyspark at import time; :func:`graph.spark.session.spark_session` raises a
clear error when the ``spark`` extra or Java is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from graph.config import AnalysisConfig
    from graph.engine import EventStage

__all__ = ["event_stage"]


def event_stage(events: pd.DataFrame, config: AnalysisConfig) -> EventStage:
    """The ``"spark"`` event-stage engine (see :func:`graph.spark.stage.event_stage`)."""
    from graph.spark.stage import event_stage as run

    return run(events, config)
