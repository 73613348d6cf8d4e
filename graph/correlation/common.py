"""Shared pieces of the correlation (:mod:`graph.correlate`): the rule table, host-name cleaning.

Used by the placement (:func:`graph.correlate.evidence_rows`), the session join
(:mod:`graph.correlation.sessions`), the IP hints (:mod:`graph.correlation.ip_hints`) and the hops
(:mod:`graph.correlation.hops`); the Spark engine reads them through :mod:`graph.correlate`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.rules import RULES

_IPV4 = r"^\d{1,3}(\.\d{1,3}){3}$"


def _rule_table() -> pd.DataFrame:
    rows = [{"rule_id": r.id, "weight": r.weight, "kind": str(r.kind), "side": r.side,
             "lateral": r.lateral, "local_marker": r.local_marker, "context_only": r.context_only,
             "loopback": r.loopback}
            for r in RULES.values()]
    return pd.DataFrame(rows)


def short_host(s: pd.Series) -> pd.Series:
    """Upper-case short host names (``pc01.corp`` -> ``PC01``); IP addresses stay as they are."""
    s = s.astype("string").str.strip()
    is_ip = s.str.match(_IPV4).fillna(False) | s.str.contains(":", regex=False).fillna(False)
    short = s.str.replace(r"\..*$", "", regex=True).str.upper()
    out = s.where(is_ip, short)
    return out.mask(out.isin(["", "-"]))


def _b(s: pd.Series) -> np.ndarray:
    """A (possibly Arrow-backed, nullable) boolean Series as numpy bool, missing = False."""
    return s.fillna(False).to_numpy(dtype=bool)
