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
import pyarrow.compute as pc

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


class Coded:
    """One column factorised once over a whole events frame: ``codes`` (int64, -1 = missing) and
    the distinct values as a ``string`` Series. A string leaf is evaluated on the distinct values and
    read back through the codes, so its cost follows the number of distinct values (hosts, shares,
    command lines), not the number of events; the result is the same as on every row."""

    def __init__(self, column: pd.Series) -> None:
        if isinstance(column.dtype, pd.CategoricalDtype):
            self.codes = np.asarray(column.cat.codes, dtype=np.int64)
            self.values = pd.Series(column.cat.categories.astype("string"), dtype="string")
        else:
            text = column if isinstance(column.dtype, pd.StringDtype) else column.astype("string")
            arrow = getattr(text.array, "_pa_array", None)
            if arrow is not None:   # Arrow-backed strings: Arrow's own dictionary encoding
                enc = pc.dictionary_encode(arrow).combine_chunks()
                self.codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
                self.values = pd.Series(pd.array(enc.dictionary, dtype=text.dtype))
            else:
                codes, uniques = pd.factorize(text)
                self.codes = np.asarray(codes, dtype=np.int64)
                self.values = pd.Series(np.asarray(uniques, dtype=object), dtype="string")
        self._lower: pd.Series | None = None

    def text(self, icase: bool) -> pd.Series:
        """The distinct values (lower-cased for a case-insensitive operator)."""
        if not icase:
            return self.values
        if self._lower is None:
            self._lower = self.values.str.lower()
        return self._lower


class Evaluator:
    """Evaluates conditions on the rows ``pos`` of a frame (all rows when ``pos`` is None), caching
    the result of every sub-condition (rules share fragments such as "human account" and "remote
    source"). String columns are read through :class:`Coded` factorisations, shared between the
    evaluators of one frame through ``coded``; ``extra`` holds derived columns (full length)."""

    def __init__(self, frame: pd.DataFrame, pos: np.ndarray | None = None, *,
                 coded: dict[str, Coded] | None = None, extra: Mapping[str, pd.Series] | None = None) -> None:
        self.frame = frame
        self.pos = pos
        self.n = len(frame) if pos is None else len(pos)
        self._coded = {} if coded is None else coded
        self._extra = dict(extra or {})
        self._memo: dict[str, np.ndarray] = {}
        self._codes: dict[str, np.ndarray] = {}

    def __call__(self, cond: Condition) -> pd.Series:
        """``cond`` as a boolean Series (aligned to the frame, or indexed 0..n-1 with ``pos``)."""
        index = self.frame.index if self.pos is None else pd.RangeIndex(self.n)
        return pd.Series(_eval(cond, self), index=index, dtype=bool)

    def memo(self, cond: Condition) -> np.ndarray | None:
        return self._memo.get(json.dumps(cond, sort_keys=True, default=str))

    def remember(self, cond: Condition, value: np.ndarray) -> np.ndarray:
        self._memo[json.dumps(cond, sort_keys=True, default=str)] = value
        return value

    def _column(self, col: str) -> pd.Series:
        return self._extra[col] if col in self._extra else self.frame[col]

    def raw(self, col: str) -> pd.Series:
        s = self._column(col)
        return s if self.pos is None else s.take(self.pos)

    def is_text(self, col: str) -> bool:
        return isinstance(self._column(col).dtype, pd.StringDtype)

    def coded(self, col: str) -> tuple[np.ndarray, Coded]:
        """The codes of the evaluated rows and the column's :class:`Coded`."""
        if col not in self._coded:
            self._coded[col] = Coded(self._column(col))
        c = self._coded[col]
        if col not in self._codes:
            self._codes[col] = c.codes if self.pos is None else c.codes[self.pos]
        return self._codes[col], c


def compile_pandas(cond: Condition, frame: pd.DataFrame) -> pd.Series:
    """Evaluate ``cond`` on ``frame``: a boolean Series (no missing values) aligned to it."""
    return Evaluator(frame)(cond)


def _eval(cond: Condition, cols: Evaluator) -> np.ndarray:
    hit = cols.memo(cond)
    if hit is not None:
        return hit
    return cols.remember(cond, _eval_uncached(cond, cols))


def _eval_uncached(cond: Condition, cols: Evaluator) -> np.ndarray:
    n = cols.n
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
    if op in ("isnull", "notnull"):
        if cols.is_text(col):
            missing = cols.coded(col)[0] < 0
        else:
            missing = cols.raw(col).isna().to_numpy(dtype=bool)
        return missing if op == "isnull" else ~missing
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
        codes_a, a = cols.coded(col)
        codes_b, b = cols.coded(value)
        # one code space for both columns' distinct (lower-cased) values
        joint, _ = pd.factorize(pd.concat([a.text(icase), b.text(icase)], ignore_index=True))
        # code -1 (missing) reads the appended sentinels, which never equal each other
        ja = np.append(joint[:len(a.values)], -1)[codes_a]
        jb = np.append(joint[len(a.values):], -2)[codes_b]
        both = (codes_a >= 0) & (codes_b >= 0)
        eq = ja == jb
        return eq if base == "eq_col" else both & ~eq
    if base in ("eq", "ne", "in") and not cols.is_text(col) and not icase:
        s = cols.raw(col)
        if base == "in":
            return _filled(s.isin(list(value)))
        return _filled(s.eq(value) if base == "eq" else s.ne(value))
    codes, coded = cols.coded(col)
    hit = _on_values(coded.text(icase and base != "regex"), base, value, icase)
    return np.append(hit, False)[codes]   # code -1 (missing) reads the appended False


def _on_values(s: pd.Series, base: str, value: Any, icase: bool) -> np.ndarray:
    """A string operator on distinct values (``s``: lower-cased for ``icase`` except regex)."""
    values = value if isinstance(value, list) else [value]
    if base == "regex":
        # the pattern keeps its case (``\\D`` != ``\\d``); case-insensitivity is the inline ``(?i)``
        # flag, which RE2 (pyarrow), Python and Java (Spark) all read the same way
        pattern = ("(?i)" if icase else "") + "|".join(f"(?:{v})" for v in values)
        with warnings.catch_warnings():   # "has match groups": we only need the boolean
            warnings.simplefilter("ignore", UserWarning)
            hit = s.str.contains(pattern, regex=True)
        return _filled(hit)
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
    raise ValueError(f"unknown condition operator {base!r}")
