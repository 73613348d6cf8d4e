"""The hop score: evidence strength x novelty, discounted for habits, capped where unproven."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.config import AnalysisConfig
from graph.model import Severity

#: Hops with no lateral evidence (logon, explicit credentials, discovery pipes only) never
#: score above medium: they show access, not remote execution or file staging.
NON_LATERAL_CAP = 0.55


def score(hops: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """Final hop score in [0, 1] from the feature columns (``strength``, ``rarity``, ``fanout``,
    ``habit``, ``lateral``, ``local_only``) and the config.

    ``score = strength * (0.5 + 0.5 * novelty) * (1 - habit * (1 - habit_keep))`` with
    ``novelty = max(rarity, fanout)`` for hops with lateral evidence and ``rarity`` otherwise,
    then caps: no lateral evidence -> :data:`NON_LATERAL_CAP`; no known source ->
    ``target_only_cap``; no known source and only local-marker evidence (getsystem) ->
    ``local_only_cap``; member of a routine group (routine continued from a compromised source,
    :mod:`graph.scoring.routine`) -> ``routine_group_cap``; source host or account allowlisted ->
    ``allowlist_cap``.

    **1** = strong, independent evidence of remote execution on a first-seen pair; **0** = no
    evidence. A fully known but habitual routine keeps ``habit_keep`` of its score.
    """
    if hops.empty:
        return pd.Series([], dtype="float64")
    lateral = hops["lateral"].astype(bool).to_numpy()
    novelty = np.where(lateral, np.maximum(hops["rarity"], hops["fanout"]), hops["rarity"])
    s = hops["strength"].to_numpy(dtype=float) * (0.5 + 0.5 * novelty)
    s = s * (1.0 - hops["habit"].to_numpy(dtype=float) * (1.0 - config.habit_keep))
    s = np.where(lateral, s, np.minimum(s, NON_LATERAL_CAP))
    no_src = (hops["src_host"].isna() & hops["src_ip"].isna()).to_numpy()
    s = np.where(no_src, np.minimum(s, config.target_only_cap), s)
    s = np.where(hops["local_only"].astype(bool).to_numpy(), np.minimum(s, config.local_only_cap), s)
    if "routine_group" in hops:
        grouped = hops["routine_group"].notna().to_numpy(dtype=bool)
        s = np.where(grouped, np.minimum(s, config.routine_group_cap), s)
    allowed = (hops["src_host"].isin(list(config.allowlist_hosts)).fillna(False).to_numpy(dtype=bool)
               | hops["account"].isin(list(config.allowlist_accounts)).fillna(False).to_numpy(dtype=bool))
    s = np.where(allowed, np.minimum(s, config.allowlist_cap), s)
    return pd.Series(np.clip(s, 0.0, 1.0), index=hops.index, name="score")


def severity(scores: pd.Series, config: AnalysisConfig) -> pd.Series:
    """Severity from the score and the config cut-offs (>= severity_high -> high, ...)."""
    s = scores.to_numpy(dtype=float)
    out = np.select([s >= config.severity_high, s >= config.severity_medium, s >= config.severity_low],
                    [Severity.HIGH.value, Severity.MEDIUM.value, Severity.LOW.value],
                    Severity.INFO.value)
    return pd.Series(out, index=scores.index, dtype="string", name="severity")


def reasons(hops: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """One sentence per hop saying why it has its score: evidence, novelty, habit / group / caps.

    Built from the feature columns only (no event access), so every engine gives the same text.
    """
    if hops.empty:
        return pd.Series([], dtype="string", name="reason")
    out = []
    has = set(hops.columns)
    for r in hops.to_dict("records"):
        parts = [f"evidence {float(r['strength']):.2f} ({len(r['rules'])} rule(s))"]
        if float(r["rarity"]) >= 1.0:
            parts.append("first-seen pair")
        else:
            parts.append(f"pair seen on {round(1.0 / max(float(r['rarity']), 1e-9))} days")
        if r["lateral"] and float(r["fanout"]) > 0.2:
            parts.append(f"fan-out {int(max(r['fanout_src'], r['fanout_account']))} hosts/"
                         f"{int(config.fanout_window_s)}s")
        group = r.get("routine_group") if "routine_group" in has else None
        if group is not None and not pd.isna(group):
            parts.append(f"routine of the source continued after its compromise ({group}): "
                         f"same account, tool, hours and destination pool as before; capped "
                         f"{config.routine_group_cap:.2f}, the group is one finding")
        elif bool(r.get("admin_first_contact", False)) and float(r["habit"]) > 0:
            parts.append("first contact of a known administrator: usual seat, account, tool and "
                         "hours, new server of a class it administers (counts as its routine)")
        elif float(r["habit"]) >= 1.0:
            parts.append("habitual routine (source, account, tool, hour) from a clean source")
        elif float(r["habit"]) > 0:
            parts.append("habitual routine, novel destination")
        if not r["lateral"]:
            parts.append(f"no lateral evidence (capped {NON_LATERAL_CAP:.2f})")
        if pd.isna(r["src_host"]) and pd.isna(r["src_ip"]):
            parts.append(f"source unknown (capped {config.target_only_cap:.2f})")
        out.append("; ".join(parts))
    return pd.Series(out, index=hops.index, dtype="string", name="reason")
