"""The rule condition language (data) and its pandas compiler.

A rule's condition is plain, JSON-serialisable data so that a second engine (Spark) compiles the
*same* declaration to its own expressions. Grammar::

    cond  := {"all": [cond, ...]} | {"any": [cond, ...]} | {"not": cond} | leaf
    leaf  := {"col": COLUMN, "op": OP, "value": VALUE}

Operators (``value`` may be a list for the string operators: the leaf is true if ANY item matches):

===============  ======================================================================
op               true when
===============  ======================================================================
eq / ne          column == value / column != value
in               column is one of ``value`` (a list)
gt/ge/lt/le      numeric comparison
startswith       column starts with (any of) value
endswith         column ends with (any of) value
contains         column contains (any of) value (plain substring, not regex)
regex            column matches the regular expression (``re.search`` semantics)
mask_any         ``column & value != 0`` (bitwise, integer columns: 5145 AccessMask)
isnull/notnull   column is missing / present (``value`` ignored)
eq_col/ne_col    column == / != the column named by ``value`` (both present)
===============  ======================================================================

Case-insensitive variants carry an ``i`` prefix: ``ieq``, ``ine``, ``iin``, ``istartswith``,
``iendswith``, ``icontains``, ``iregex``, ``ieq_col``, ``ine_col``; they compare lower-cased text
(the value is lower-cased by the compiler).

Regular expressions must be RE2-compatible (pyarrow; Spark's Java regex accepts the same subset):
no look-around or back-references, and whitespace written as a space/tab class rather than the
``s``/``S`` escapes (pandas evaluates those with Python's ``re``, row by row, 20x slower).

Missing values: every leaf except ``isnull`` is **false** on a missing value (SQL-like
``coalesce(expr, false)``), and ``not`` negates that boolean, so ``{"not": {"col": "x", "op":
"eq", "value": 1}}`` is true when ``x`` is missing. Spark: wrap each leaf in
``F.coalesce(expr, F.lit(False))``.

Examples:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"share_name": pd.array([r"\\\\*\\ADMIN$", None, r"\\\\*\\IPC$"],
    ...                                           dtype="string")})
    >>> compile_pandas(leaf("share_name", "iendswith", "admin$"), df).tolist()
    [True, False, False]
    >>> compile_pandas(not_(leaf("share_name", "iendswith", "admin$")), df).tolist()
    [False, True, True]
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

Condition = Mapping[str, Any]

STRING_OPS = frozenset({"eq", "ne", "in", "startswith", "endswith", "contains", "regex"})
OTHER_OPS = frozenset({"gt", "ge", "lt", "le", "mask_any", "isnull", "notnull", "eq_col", "ne_col"})
#: Every operator the language has (case-insensitive variants of the string and column operators).
OPS: frozenset[str] = STRING_OPS | OTHER_OPS | {"i" + op for op in STRING_OPS} | {"ieq_col", "ine_col"}


def leaf(col: str, op: str, value: Any = None) -> dict[str, Any]:
    """A leaf condition ``{"col", "op", "value"}`` (validated)."""
    if op not in OPS:
        raise ValueError(f"unknown condition operator {op!r}")
    return {"col": col, "op": op, "value": list(value) if isinstance(value, (tuple, set, frozenset))
            else value}


def all_(*conds: Condition) -> dict[str, Any]:
    """All sub-conditions hold."""
    return {"all": list(conds)}


def any_(*conds: Condition) -> dict[str, Any]:
    """At least one sub-condition holds."""
    return {"any": list(conds)}


def not_(cond: Condition) -> dict[str, Any]:
    """The sub-condition does not hold (missing values count as 'does not hold')."""
    return {"not": cond}


def columns_of(cond: Condition) -> set[str]:
    """The event columns a condition reads."""
    if "all" in cond or "any" in cond:
        return set().union(*(columns_of(c) for c in cond.get("all", cond.get("any", []))))
    if "not" in cond:
        return columns_of(cond["not"])
    cols = {cond["col"]}
    if cond["op"].endswith("_col"):
        cols.add(cond["value"])
    return cols


class Evaluator:
    """Evaluates conditions on one frame, caching lower-cased columns and the result of every
    sub-condition (rules share fragments such as "human account" and "remote source")."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._lower: dict[str, pd.Series] = {}
        self._memo: dict[str, np.ndarray] = {}

    def __call__(self, cond: Condition) -> pd.Series:
        """``cond`` as a boolean Series aligned to the frame."""
        return pd.Series(_eval(cond, self), index=self.frame.index, dtype=bool)

    def memo(self, cond: Condition) -> np.ndarray | None:
        return self._memo.get(json.dumps(cond, sort_keys=True, default=str))

    def remember(self, cond: Condition, value: np.ndarray) -> np.ndarray:
        self._memo[json.dumps(cond, sort_keys=True, default=str)] = value
        return value

    def raw(self, col: str) -> pd.Series:
        return self.frame[col]

    def text(self, col: str, icase: bool) -> pd.Series:
        s = self.frame[col]
        if not isinstance(s.dtype, pd.StringDtype):
            s = s.astype("string")
        if not icase:
            return s
        if col not in self._lower:
            self._lower[col] = s.str.lower()
        return self._lower[col]


def compile_pandas(cond: Condition, frame: pd.DataFrame) -> pd.Series:
    """Evaluate ``cond`` on ``frame``: a boolean Series (no missing values) aligned to it."""
    return Evaluator(frame)(cond)


def _eval(cond: Condition, cols: Evaluator) -> np.ndarray:
    hit = cols.memo(cond)
    if hit is not None:
        return hit
    return cols.remember(cond, _eval_uncached(cond, cols))


def _eval_uncached(cond: Condition, cols: Evaluator) -> np.ndarray:
    n = len(cols.frame)
    if "all" in cond:
        out = np.ones(n, dtype=bool)
        for sub in cond["all"]:
            out &= _eval(sub, cols)
        return out
    if "any" in cond:
        out = np.zeros(n, dtype=bool)
        for sub in cond["any"]:
            out |= _eval(sub, cols)
        return out
    if "not" in cond:
        return ~_eval(cond["not"], cols)
    return _leaf(cond, cols)


def _filled(result: pd.Series) -> np.ndarray:
    return result.fillna(False).to_numpy(dtype=bool)


def _leaf(cond: Condition, cols: Evaluator) -> np.ndarray:
    col, op, value = cond["col"], cond["op"], cond.get("value")
    if op == "isnull":
        return cols.raw(col).isna().to_numpy(dtype=bool)
    if op == "notnull":
        return cols.raw(col).notna().to_numpy(dtype=bool)
    if op in ("gt", "ge", "lt", "le"):
        s = pd.to_numeric(cols.raw(col), errors="coerce")
        return _filled({"gt": s.gt, "ge": s.ge, "lt": s.lt, "le": s.le}[op](value))
    if op == "mask_any":
        s = cols.raw(col)
        present = s.notna().to_numpy(dtype=bool)
        vals = s.fillna(0).to_numpy(dtype="int64")
        return present & ((vals & int(value)) != 0)
    icase = op.startswith("i") and op != "in"
    base = op[1:] if icase else op
    if base in ("eq_col", "ne_col"):
        a, b = cols.text(col, icase), cols.text(value, icase)
        both = (a.notna() & b.notna()).to_numpy(dtype=bool)
        eq = _filled(a == b)
        return both & (eq if base == "eq_col" else ~eq)
    s = cols.raw(col)
    if base in ("eq", "ne", "in") and not isinstance(s.dtype, pd.StringDtype) and not icase:
        if base == "in":
            return _filled(s.isin(list(value)))
        return _filled(s.eq(value) if base == "eq" else s.ne(value))
    values = value if isinstance(value, list) else [value]
    if base == "regex":
        # the pattern keeps its case (``\\D`` != ``\\d``); case-insensitivity is the inline ``(?i)``
        # flag, which RE2 (pyarrow), Python and Java (Spark) all read the same way
        pattern = ("(?i)" if icase else "") + "|".join(f"(?:{v})" for v in values)
        with warnings.catch_warnings():   # "has match groups": we only need the boolean
            warnings.simplefilter("ignore", UserWarning)
            hit = cols.text(col, False).str.contains(pattern, regex=True)
        return _filled(hit)
    s = cols.text(col, icase)
    values = [str(v).lower() if icase else str(v) for v in values]
    if base == "eq":
        return _filled(s == values[0])
    if base == "ne":
        return _filled(s != values[0])
    if base == "in":
        return _filled(s.isin(values))
    method = {"startswith": s.str.startswith, "endswith": s.str.endswith}.get(base)
    if method is not None:
        return _filled(method(tuple(values)))
    if base == "contains":
        out = np.zeros(len(s), dtype=bool)
        for v in values:
            out |= _filled(s.str.contains(v, regex=False))
        return out
    raise ValueError(f"unknown condition operator {op!r}")
