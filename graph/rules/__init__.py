"""Single-event evidence rules: the :data:`RULES` registry and :func:`apply_rules`.

Each rule (:class:`~graph.rules.base.Rule`) is metadata plus a declarative condition (see
:mod:`graph.rules.compile`), evaluated vectorised on the rows whose ``event_id`` the rule names.
Multi-event logic (logon -> share -> service chains, fan-out, paths) is not a rule: it lives in
:mod:`graph.correlate`, :mod:`graph.scoring` and :mod:`graph.paths`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from graph.rules import admin_share, kerberos, logon, loopback, process, remote_exec, service_install
from graph.rules.base import BROKERED, LEVEL_WEIGHT, LOCAL, SOURCE, TARGET, Level, Rule
from graph.rules.compile import Coded, Evaluator, columns_of
from graph.rules.derived import DERIVED, derive

__all__ = ["BROKERED", "LEVEL_WEIGHT", "LOCAL", "RULES", "SOURCE", "TAG_COLUMNS", "TARGET", "Level", "Rule",
           "apply_rules", "rule_event_ids"]

#: Every rule by id (explicit imports, no discovery).
RULES: dict[str, Rule] = {
    r.id: r
    for r in (*logon.RULES, *kerberos.RULES, *admin_share.RULES, *service_install.RULES, *process.RULES,
              *remote_exec.RULES, *loopback.RULES)
}

#: Columns of the tags frame.
TAG_COLUMNS = ("event_index", "rule_id", "level")


def rule_event_ids(rules: Iterable[Rule] | None = None) -> frozenset[int]:
    """The union of the event ids the rules need (the ingest pre-filter)."""
    rules = RULES.values() if rules is None else rules
    return frozenset().union(*(r.event_ids for r in rules))


def apply_rules(events: pd.DataFrame, rules: Iterable[Rule] | None = None) -> pd.DataFrame:
    """Evaluate the rules on an events frame.

    Args:
        events: canonical events frame (any index; positions are reported).
        rules: rules to apply (default: all of :data:`RULES`).

    Returns:
        The tags frame: one row per (event, rule) hit with ``event_index`` (the event's
        *position* in ``events``, int64), ``rule_id`` (str) and ``level`` (str), sorted by
        ``event_index`` then rule id.

    Examples:
        >>> from graph.toy import toy_events
        >>> tags = apply_rules(toy_events("A>B@0s:psexec"))
        >>> sorted(set(tags.rule_id))[:3]
        ['lg.logon.network', 'lg.process.psexesvc', 'lg.service.install']
    """
    rules = list(RULES.values() if rules is None else rules)
    eids = events["event_id"].to_numpy()
    # one row subset per distinct event-id set, with the union of the columns its rules read
    need: dict[frozenset[int], set[str]] = {}
    for rule in rules:
        need.setdefault(rule.event_ids, set()).update(columns_of(rule.condition))
    derived = {c: derive(events, c) for c in set().union(*need.values()) & set(DERIVED)}
    # every subset reads the same factorised string columns (one pass over the events per column)
    coded: dict[str, Coded] = {}
    subsets: dict[frozenset[int], tuple[np.ndarray, Evaluator]] = {}
    for ids in need:
        pos = np.flatnonzero(np.isin(eids, list(ids)))
        subsets[ids] = (pos, Evaluator(events, pos, coded=coded, extra=derived))
    positions: list[np.ndarray] = []
    rule_ids: list[np.ndarray] = []
    for rule in rules:
        pos, evaluate = subsets[rule.event_ids]
        if len(pos) == 0:
            continue
        hit = evaluate(rule.condition).to_numpy()
        if hit.any():
            positions.append(pos[hit])
            rule_ids.append(np.full(int(hit.sum()), rule.id, dtype=object))
    if not positions:
        return pd.DataFrame({"event_index": pd.Series([], dtype="int64"),
                             "rule_id": pd.Series([], dtype="string"),
                             "level": pd.Series([], dtype="string")})
    idx = np.concatenate(positions)
    ids = np.concatenate(rule_ids)
    levels = {r.id: str(r.level) for r in rules}
    tags = pd.DataFrame({"event_index": idx.astype("int64"), "rule_id": pd.array(ids, dtype="string")})
    tags["level"] = tags["rule_id"].map(levels).astype("string")
    return tags.sort_values(["event_index", "rule_id"], kind="stable").reset_index(drop=True)

