"""Hop scores: the :data:`SCORERS` registry.

Feature scorers run in the event stage (they need the whole hop table, not the events):
``rarity``, ``fanout``, ``habit`` (``strength`` comes from correlation). The final ``score``
(:func:`graph.scoring.combine.score`) runs in the hop stage. Every scorer is a pure function
``(hops, config) -> Series`` aligned to ``hops``, in [0, 1]; its docstring says what 0 and 1 mean.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from graph.config import AnalysisConfig
from graph.scoring import combine, evidence, fanout, habit, rarity

Scorer = Callable[[pd.DataFrame, AnalysisConfig], pd.Series]

#: name -> (scorer, one-line description). Order = the order the event stage adds the columns.
SCORERS: dict[str, tuple[Scorer, str]] = {
    "strength": (evidence.score, "Evidence strength: noisy-or of the distinct rule weights on the hop"),
    "rarity": (rarity.score, "First-seen source->destination / account->destination pairs"),
    "fanout": (fanout.score, "Distinct destinations per source/account in the sliding window"),
    "habit": (habit.score, "Match with a habitual (source, account, tool, hour) routine from a clean source"),
}

#: Feature columns the scorers add to the hops frame (after graph.correlate.EVIDENCE_FEATURES).
SCORE_FEATURES: tuple[str, ...] = ("rarity", "fanout", "fanout_src", "fanout_account", "habit")


def add_features(hops: pd.DataFrame, config: AnalysisConfig) -> pd.DataFrame:
    """The hops frame with :data:`SCORE_FEATURES` added (event stage, hop-scale cost)."""
    hops = hops.copy()
    hops["rarity"] = rarity.score(hops, config)
    hops["fanout"] = fanout.score(hops, config)
    c = fanout.counts(hops, config)
    hops["fanout_src"] = c["fanout_src"].astype("int64")
    hops["fanout_account"] = c["fanout_account"].astype("int64")
    hops["habit"] = habit.score(hops, config)
    hops["habit"] = habit.unless_compromised(hops, config)
    return hops


def finalize(hops: pd.DataFrame, config: AnalysisConfig) -> pd.DataFrame:
    """Hop stage: the final ``score`` and ``severity`` columns from the features."""
    hops = hops.copy()
    hops["score"] = combine.score(hops, config)
    hops["severity"] = combine.severity(hops["score"], config)
    return hops
