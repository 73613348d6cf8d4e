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
from graph.scoring import admin, auth, combine, environment, evidence, fanout, habit, rarity, routine

Scorer = Callable[[pd.DataFrame, AnalysisConfig], pd.Series]

#: name -> (scorer, one-line description). Order = the order the event stage adds the columns.
SCORERS: dict[str, tuple[Scorer, str]] = {
    "strength": (evidence.score, "Evidence strength: noisy-or of the distinct rule weights on the hop"),
    "rarity": (rarity.score, "First-seen source->destination / account->destination pairs"),
    "fanout": (fanout.score, "Distinct destinations per source/account in the sliding window"),
    "habit": (habit.score, "Match with a habitual (source, account, tool, hour) routine from a clean source"),
    "auth": (auth.score,
             "Authentication-graph anomaly of logon-only hops (first-seen, foreign credential, switch, "
             "chain, burst, NTLM)"),
}

#: Feature columns the scorers add to the hops frame (after graph.correlate.EVIDENCE_FEATURES):
#: ``environment`` (graph.scoring.environment), the scores, ``known_admin``
#: (graph.scoring.admin), ``routine_group`` (graph.scoring.routine) and the authentication-graph
#: ``auth`` score with its ``auth_signals`` (graph.scoring.auth).
SCORE_FEATURES: tuple[str, ...] = ("environment", "rarity", "fanout", "fanout_src", "fanout_account", "habit",
                                   "known_admin", "routine_group", "auth", "auth_signals")


def add_features(hops: pd.DataFrame, config: AnalysisConfig, present: pd.DataFrame | None = None
                 ) -> pd.DataFrame:
    """The hops frame with :data:`SCORE_FEATURES` added (event stage, hop-scale cost); ``present`` =
    users' own sessions on hosts (:func:`graph.scoring.auth.presence`) for the authentication signals.

    Every baseline is computed per environment (:mod:`graph.scoring.environment`): host and
    account names are scoped to their environment while the features are computed.
    """
    hops = hops.copy(deep=False)   # copy-on-write: a column set here is copied then
    env = environment.environments(hops, config)
    h, cfg = environment.scoped(hops, env, config)
    hops["environment"] = env.astype("int64")
    hops["rarity"] = rarity.score(h, cfg)
    hops["fanout"] = fanout.score(h, cfg)
    c = fanout.counts(h, cfg)
    hops["fanout_src"] = c["fanout_src"].astype("int64")
    hops["fanout_account"] = c["fanout_account"].astype("int64")
    h = h.assign(rarity=hops["rarity"], fanout=hops["fanout"])
    first = admin.known_admin(h, cfg) if len(h) else pd.Series(False, index=h.index)
    base = habit.score(h, cfg).where(~first.to_numpy(dtype=bool), 1.0)
    hab, group = routine.assess(h, base, cfg)
    hops["habit"] = hab.astype("float64")
    hops["known_admin"] = first.astype(bool)
    hops["routine_group"] = group.astype("string")
    a = auth.features(hops, config, present)
    hops["auth"] = a["auth"].astype("float64")
    hops["auth_signals"] = a["auth_signals"]
    return hops


def finalize(hops: pd.DataFrame, config: AnalysisConfig) -> pd.DataFrame:
    """Hop stage: the final ``score``, ``severity`` and ``reason`` columns from the features."""
    hops = hops.copy(deep=False)   # copy-on-write: a column set here is copied then
    hops["score"] = combine.score(hops, config)
    hops["severity"] = combine.severity(hops["score"], config)
    hops["reason"] = combine.reasons(hops, config)
    return hops
