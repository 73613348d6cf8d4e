"""Patient zero: ranked candidates for the host where the lateral movement started.

Definition (deterministic; the Neo4j store reproduces it in Cypher):

* Suspicious hops and the continuation rule are those of :mod:`graph.paths`
  (``score >= min_score``, known source; ``h2`` continues ``h1`` iff ``h2.src == h1.dst`` and
  ``0 <= h2.first_seen - h1.first_seen <= max_path_gap_s``).
* **Compromised set C**: every destination and every known source of a suspicious hop
  (unknown-source hops count for their destination).
* **Candidates**: the known sources ``S`` of suspicious hops. ``t0(S)`` = the first_seen of S's
  earliest suspicious outgoing hop. ``S`` is **eligible** iff no hop from a known source with a
  score of at least ``entry = min(min_score, severity_medium)`` (or a routine-group member) enters
  ``S`` with ``first_seen < t0(S)`` ("no way in before that"). The way in does not depend on a
  raised ``min_score``: a high hop into S shown on every page is a way in at any threshold, so
  the reason never says "nothing enters" while the result shows a medium+ hop entering.
  Ineligible sources are not listed.
* **Reach(S)**: the hosts other than ``S`` reachable from ``S`` by a chain of suspicious hops
  whose first hop leaves ``S`` (any of S's suspicious outgoing hops) and where each next hop
  continues the previous one (host repetition is harmless here: it is a set).
* **coverage(S)** = ``|Reach(S)| / |C - {S}|``: the share of the other compromised hosts that S's
  time-respecting spread explains (1 = all of them); ``m(S)`` = mean score of S's suspicious
  outgoing hops.
* **score(S)** = ``coverage(S) * m(S)``: spread explained, weighted by how suspicious S's own
  moves are (an admin whose medium hop happens to precede the attack explains less than the
  source of high-scoring hops).
* **confidence(S)** = ``score(S) / k(S)``, ``k`` = the number of eligible candidates with the
  same score (ties share confidence).
* **Ranking**: score desc, then ``t0`` asc, then host name asc. Bound: when more than
  :data:`MAX_EVALUATED` sources are eligible, only the earliest ones (by ``t0``, then name) are
  evaluated (logged).
"""

from __future__ import annotations

import bisect
import logging
from typing import Any

import pandas as pd

from graph.config import AnalysisConfig
from graph.model import PatientZero
from graph.paths import path_hops, suspicious_hops
from graph.rules import RULES

#: How many candidates are reported.
MAX_CANDIDATES = 10
#: At most this many eligible sources (the earliest by t0) are evaluated (reach is O(hops) each).
MAX_EVALUATED = 500

log = logging.getLogger(__name__)


def reach(sus: pd.DataFrame, source: str, max_gap_s: float) -> set[str]:
    """Hosts reachable from ``source`` by continuation chains of the (time-sorted) suspicious hops.

    One pass in time order: a hop u->v at time t is usable when it leaves ``source`` or when some
    usable hop into u started in ``[t - max_gap_s, t]``.

    Examples:
        >>> from graph.toy import toy_hops
        >>> from graph.paths import path_hops, suspicious_hops
        >>> sorted(reach(suspicious_hops(toy_hops("A>B@0s B>C@1h X>A@2h"), 0.4), "A", 86400))
        ['B', 'C']
    """
    gap = pd.Timedelta(seconds=max_gap_s)
    arrivals: dict[str, list[pd.Timestamp]] = {}
    reached: set[str] = set()
    for src, dst, t in zip(sus["src"], sus["dst"], sus["first_seen"], strict=True):
        usable = src == source
        if not usable and src in arrivals:
            times = arrivals[src]
            usable = bisect.bisect_right(times, t) > bisect.bisect_left(times, t - gap)
        if usable:
            bisect.insort(arrivals.setdefault(dst, []), t)
            if dst != source:
                reached.add(dst)
    return reached


def patient_zero(hops: pd.DataFrame, config: AnalysisConfig | None = None) -> list[PatientZero]:
    """Ranked patient-zero candidates (module docstring), best first, at most :data:`MAX_CANDIDATES`.

    Examples:
        >>> from graph.toy import toy_hops
        >>> pz = patient_zero(toy_hops("A>B@0s B>C@1h C>D@2h X>Y@3h"))
        >>> [(p.host, round(p.score, 2)) for p in pz]   # B, C have a way in before their hops
        [('A', 0.54), ('X', 0.18)]
        >>> print(pz[0].reason)  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
        A is the source of a suspicious hop at 2024-03-01T09:00:00Z: A -> B as admin, ...; its
        time-respecting paths reach 3 of 5 other compromised host(s) (B, C, D).
    """
    config = config or AnalysisConfig()
    sus = suspicious_hops(hops, config.min_score)
    if sus.empty:
        return []
    all_sus = hops[path_hops(hops, config.min_score)]
    compromised = set(all_sus["dst_host"].astype(str)) | set(sus["src"])
    first_out = sus.groupby("src")["first_seen"].min()
    way_in = suspicious_hops(hops, entry_score(config))
    first_in = way_in.groupby("dst")["first_seen"].min()
    eligible = [(t0, s) for s, t0 in first_out.items() if not (s in first_in.index and first_in[s] < t0)]
    eligible.sort()
    if len(eligible) > MAX_EVALUATED:
        log.warning("patient zero: %d eligible sources, evaluating the %d earliest",
                    len(eligible), MAX_EVALUATED)
        eligible = eligible[:MAX_EVALUATED]
    out_rows = {k: g for k, g in sus.groupby("src", sort=False)}
    times = sus["first_seen"]
    cands: list[dict[str, Any]] = []
    for t0, s in eligible:
        later = sus.iloc[int(times.searchsorted(t0, side="left")):]   # chains start at t0 or later
        reached = reach(later, s, config.max_path_gap_s) & compromised
        others = compromised - {s}
        coverage = len(reached) / len(others) if others else 0.0
        out = out_rows[s]
        mean_out = float(out["score"].mean())
        cands.append({"host": s, "t0": t0, "score": coverage * mean_out, "reached": reached,
                      "others": others, "mean_out": mean_out, "first": out.iloc[0].to_dict()})
    cands.sort(key=lambda c: (-c["score"], c["t0"], c["host"]))
    ties: dict[float, int] = {}
    for c in cands:
        ties[c["score"]] = ties.get(c["score"], 0) + 1
    result = []
    for c in cands[:MAX_CANDIDATES]:
        conf = c["score"] / ties[c["score"]]
        result.append(PatientZero(
            host=c["host"], score=c["score"], confidence=conf, first_seen=c["t0"].to_pydatetime(warn=False),
            reason=_reason(c, hops, config),
            hop_ids=tuple(int(h) for h in sus.loc[sus["src"] == c["host"], "hop_id"]),
        ))
    return result


def entry_score(config: AnalysisConfig) -> float:
    """The score a hop into a candidate needs to count as its way in: ``min(min_score, severity_medium)``."""
    return min(float(config.min_score), float(config.severity_medium))


def _earlier_note(host: str, t0: pd.Timestamp, hops: pd.DataFrame | None) -> str:
    """The strongest hop into ``host`` before ``t0`` that is not a way in (low score or no known
    source), named so the reason agrees with every hop the result shows."""
    if hops is None or hops.empty:
        return ""
    into = hops[(hops["dst_host"].astype(str) == host) & (hops["first_seen"] < t0)]
    if into.empty:
        return ""
    best = into.sort_values(["score", "first_seen"], ascending=[False, True]).iloc[0]
    src = best["src_host"] if not pd.isna(best["src_host"]) else best["src_ip"]
    who = "unknown source" if pd.isna(src) else str(src)
    return (f" (the strongest earlier hop into {host}: {who} -> {host} at "
            f"{best['first_seen']:%Y-%m-%dT%H:%M:%SZ}, score {float(best['score']):.2f} "
            f"{best['severity']}{', source unknown' if pd.isna(src) else ''})")


def _reason(c: dict[str, Any], hops: pd.DataFrame | None = None, config: AnalysisConfig | None = None) -> str:
    first = c["first"]
    evidence = list(first["evidence"])
    # cite the strongest piece of evidence (highest rule weight, then earliest)
    ev = min(evidence, key=lambda e: -RULES[e["rule"]].weight if e.get("rule") in RULES else 0.0,
             default=None)
    cite = ""
    if ev is not None:
        rid = "" if ev.get("record_id") is None else f" record {ev['record_id']}"
        cite = f" (event {ev['event_id']}{rid} in {ev['source_file']}, rule {ev.get('rule')})"
    acct = "" if pd.isna(first["account"]) else f" as {first['account']}"
    entry = entry_score(config or AnalysisConfig())
    reached = sorted(c["reached"])
    shown = ", ".join(reached[:6]) + (", ..." if len(reached) > 6 else "")
    return (
        f"{c['host']} is the source of a suspicious hop at {c['t0']:%Y-%m-%dT%H:%M:%SZ}: "
        f"{c['host']} -> {first['dst']}{acct}, score {first['score']:.2f}{cite}; no hop scoring at "
        f"least {entry:.2f} from a known source enters {c['host']} before that"
        f"{_earlier_note(c['host'], c['t0'], hops)}; its time-respecting paths reach {len(c['reached'])} of "
        f"{len(c['others'])} other compromised host(s)" + (f" ({shown})." if reached else ".")
    )
