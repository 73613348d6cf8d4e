"""The hop score: evidence strength x novelty, discounted for habits, capped where unproven."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.config import AnalysisConfig
from graph.model import Severity
from graph.scoring import auth

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
    s = auth.lift(hops, s, config)      # authentication-only hops: graph signals (graph.scoring.auth)
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


def _network_only(hops: pd.DataFrame) -> np.ndarray:
    """For hops seen only as the source's own outbound connections (every rule of kind network):
    which connection rule(s) made them, by title; "" for the other hops."""
    from graph.rules import RULES

    def one(rules: tuple[str, ...], kinds: tuple[str, ...]) -> str:
        if tuple(kinds) != ("network",):
            return ""
        titles = [RULES[r].title for r in rules if r in RULES and str(RULES[r].kind) == "network"]
        return ("; seen only as the source's outbound connection: " + "; ".join(titles)) if titles else ""

    return np.array([one(r, k) for r, k in zip(hops["rules"].tolist(), hops["kinds"].tolist(), strict=True)],
                    dtype=object)


def reasons(hops: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """One sentence per hop saying why it has its score: evidence, novelty, habit / group / caps.

    Built from the feature columns only (no event access, vectorised), so every engine gives the
    same text.
    """
    if hops.empty:
        return pd.Series([], dtype="string", name="reason")
    # hops with the same inputs have the same sentence: built once per distinct combination
    key = hops[[c for c in _REASON_INPUTS if c in hops]].copy(deep=False)
    key["_no_src"] = (hops["src_host"].isna() & hops["src_ip"].isna()).to_numpy()
    key = key.drop(columns=["src_host", "src_ip"])
    codes = key.groupby(list(key.columns), dropna=False, sort=False).ngroup().to_numpy()
    _, first = np.unique(codes, return_index=True)
    text = _reasons(hops.iloc[first], config).to_numpy(dtype=object)
    return pd.Series(text[codes], index=hops.index, dtype="string", name="reason")


#: The hop columns :func:`reasons` reads.
_REASON_INPUTS = ("rules", "kinds", "strength", "rarity", "lateral", "fanout", "fanout_src", "fanout_account",
                  "habit", "routine_group", "known_admin", "src_host", "src_ip", "auth_signals", "auth")


def _reasons(hops: pd.DataFrame, config: AnalysisConfig) -> pd.Series:
    """:func:`reasons` of every row of ``hops``."""
    idx = hops.index
    n_rules = hops["rules"].map(len).astype(str)
    text = ("evidence " + hops["strength"].astype(float).map("{:.2f}".format) + " (" + n_rules + " rule(s))")
    rarity = hops["rarity"].astype(float)
    days = (1.0 / rarity.clip(lower=1e-9)).round().astype("int64").astype(str)
    text = text + np.where(rarity >= 1.0, "; first-seen pair", "; pair seen on " + days + " days")
    lateral = hops["lateral"].astype(bool).to_numpy()
    fan = hops["fanout"].astype(float).to_numpy()
    n = np.maximum(hops["fanout_src"].to_numpy(), hops["fanout_account"].to_numpy()).astype(str)
    window = f" hosts/{int(config.fanout_window_s)}s"
    text = text + np.where(lateral & (fan > 0.2), "; fan-out " + pd.Series(n, index=idx) + window, "")
    habit = hops["habit"].astype(float).to_numpy()
    group = (hops["routine_group"] if "routine_group" in hops
             else pd.Series(pd.NA, index=idx, dtype="string")).astype("string")
    first = (hops["known_admin"].astype(bool).to_numpy() if "known_admin" in hops
             else np.zeros(len(hops), dtype=bool))
    grouped = group.notna().to_numpy()
    group_text = ("; routine of the source continued after its compromise (" + group.fillna("")
                  + "): same account, tool, hours and destination pool as before; capped "
                  + f"{config.routine_group_cap:.2f}, the group is one finding")
    text = text + np.select(
        [grouped, first & (habit > 0), habit >= 1.0, habit > 0],
        [group_text.to_numpy(dtype=object),
         "; known administrator: usual seat, account, tool and hours, a server of a class it "
         "administers (a first contact counts as its routine too)",
         "; habitual routine (source, account, tool, hour) from a clean source",
         "; habitual routine, novel destination"], "")
    text = text + _network_only(hops)
    text = text + np.where(lateral, "", f"; no lateral evidence (capped {NON_LATERAL_CAP:.2f})")
    no_src = (hops["src_host"].isna() & hops["src_ip"].isna()).to_numpy()
    text = text + np.where(no_src, f"; source unknown (capped {config.target_only_cap:.2f})", "")
    if "auth_signals" in hops:      # authentication-graph signals (graph.scoring.auth), each named
        sig = hops["auth_signals"].map(lambda t: ", ".join(s for s in t if s != auth.LOGGED_MARK))
        logged = hops["auth_signals"].map(lambda t: auth.LOGGED_MARK in t).to_numpy(dtype=bool)
        score = hops["auth"].astype(float).map("{:.2f}".format)
        auth_text = "; authentication graph " + score + " (" + sig + ")"
        auth_text = auth_text + np.where(
            logged, "; the destination logs more than authentication and shows no action after this "
            f"logon (authentication graph capped {config.auth_logged_cap:.2f})", "")
        text = text + np.where(sig.ne("").to_numpy(dtype=bool), auth_text.to_numpy(dtype=object), "")
    return pd.Series(text, index=idx, dtype="string", name="reason")
