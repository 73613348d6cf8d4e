"""Evidence strength of a hop (computed by correlation; exposed here as a scorer)."""

from __future__ import annotations

import pandas as pd

from graph.config import AnalysisConfig


def score(hops: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """Evidence strength in [0, 1]: ``1 - prod(1 - w)`` over the distinct rules that fired on the
    hop's events, ``w`` = the rule level's weight (graph.rules.base.LEVEL_WEIGHT: informational
    0.1, low 0.25, medium 0.5, high 0.75, critical 0.9).

    **0** = no rule fired; a lone network logon = 0.1; a full PsExec chain (ADMIN$ write, svcctl,
    PSEXESVC install and start) > 0.95. **1** is approached, never reached. Weights follow Sigma's
    levels of the mirrored rules.

    Examples:
        >>> from graph.toy import toy_events
        >>> from graph.rules import apply_rules
        >>> from graph.correlate import correlate
        >>> ev = toy_events("A>B@0s:logon C>D@0s:psexec")
        >>> [round(x, 2) for x in score(correlate(ev, apply_rules(ev), AnalysisConfig()), AnalysisConfig())]
        [0.1, 0.98]
    """
    return hops["strength"].astype("float64").rename("strength")
