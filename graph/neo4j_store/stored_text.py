"""The stored text of hops: evidence ids, evidence JSON and times, and the plain values of hops columns.

Evidence ids and evidence JSON are stored; their text must not change between versions, or a
re-push after an upgrade would no longer recognise what is already stored. The fast formatting
below (column-wise over many evidence items, :func:`_evidence_texts_bulk`; one item at a time,
:func:`_evidence_texts`; times, :func:`_iso_ns`) is therefore checked against the pandas-based
reference (tests). :mod:`graph.neo4j_store.rows` builds the push rows from these texts.
"""

from __future__ import annotations

import hashlib
import json
import operator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from graph.evidence_items import shared_columns

__all__ = ["evidence_id", "evidence_items", "evidence_text"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# One encoder each (json.dumps with keyword arguments builds a new encoder per call).
_PLAIN = json.JSONEncoder(ensure_ascii=False)
_SORTED = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def evidence_id(evidence: dict[str, Any]) -> str:
    """Stable id of one piece of evidence: event id, source file, record id and time.

    Examples:
        >>> evidence_id({"event_id": 4624, "source_file": "a.evtx", "record_id": 7,
        ...              "ts": pd.Timestamp("2024-05-01 10:00:00.5", tz="UTC")})
        '[4624, "a.evtx", 7, "2024-05-01T10:00:00.500000Z"]'
    """
    return _PLAIN.encode([_int(evidence.get("event_id")), evidence.get("source_file"),
                          _int(evidence.get("record_id")), _iso_ns(evidence.get("ts"))])


def evidence_text(items: list[str]) -> str:
    """The stored ``evidence`` property: one JSON array of a hop's evidence objects (each item is the
    canonical JSON text of one evidence, as :func:`hop_rows` made it).

    Examples:
        >>> evidence_text(['{"event_id": 1}', '{"event_id": 2}'])
        '[{"event_id": 1}, {"event_id": 2}]'
    """
    return "[" + ", ".join(items) + "]"


def evidence_items(stored: Any) -> tuple[list[str], list[str]]:
    """(evidence ids, evidence item texts) of a stored ``evidence`` property: the JSON array string of
    this version, or the list of item texts an earlier version stored.

    Examples:
        >>> evidence_items('[{"event_id": 4624, "record_id": 7, "rule": "r", "source_file": "a.evtx",'
        ...                ' "ts": "2024-05-01T10:00:00Z"}]')[0]
        ['[4624, "a.evtx", 7, "2024-05-01T10:00:00Z"]']
    """
    if stored is None:
        return [], []
    if isinstance(stored, str):
        parsed = json.loads(stored)
        items = [_SORTED.encode(item) for item in parsed]
    else:
        items = list(stored)
        parsed = [json.loads(item) for item in items]
    ids = [_PLAIN.encode([p.get("event_id"), p.get("source_file"), p.get("record_id"), p.get("ts")])
           for p in parsed]
    return ids, items


def _plain(column: pd.Series) -> list[Any]:
    """A text column as a list of ``str`` / ``None`` (missing values as None)."""
    values = column.astype(object).where(column.notna(), None).tolist()
    return [v if v is None or type(v) is str else str(v) for v in values]


def _ns_list(column: pd.Series) -> list[int]:
    """A time column (datetime64, tz-aware or naive = UTC) as int nanoseconds since the epoch."""
    times = pd.to_datetime(column, utc=True)
    return times.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[ns]").astype("int64").tolist()


def _evidence_core(groups: list[Any]) -> tuple[list[Any], list[Any], list[Any], list[Any], np.ndarray] | None:
    """The fields the stored evidence holds, column-wise over every evidence of every hop (event
    ids, record ids, source files, rules, times as int ns since the epoch), or None when some item
    has an unusual value (numpy integers, non-string names, naive or missing times).

    Evidence kept as columns (:class:`graph.evidence_items.EvidenceItems` of one column set, what the
    pandas engine gives) is read from the columns without building a dict per item; a tuple of dicts
    with the same values gives the same columns.
    """
    shared = shared_columns(groups)
    if shared is not None:
        cols, index = shared
        return cols.core(index)
    flat = [e for g in groups for e in g]
    fields = ("ts", "event_id", "record_id", "source_file", "rule")
    try:   # the common case: every evidence dict has every field (one C-level pass)
        columns = list(zip(*map(operator.itemgetter(*fields), flat), strict=True)) if flat else [()] * 5
    except (KeyError, TypeError):
        return None
    stamps, eids, rids, files, rules = (list(c) for c in columns)
    if not all(map(_regular, stamps, eids, rids, files, rules)):
        return None
    ts = pd.to_datetime(stamps, utc=True).as_unit("ns").asi8 if stamps else np.zeros(0, dtype=np.int64)
    return eids, rids, files, rules, np.asarray(ts, dtype=np.int64)


def _regular(t: Any, a: Any, b: Any, f: Any, r: Any) -> bool:
    """An evidence item whose values the column-wise formatting handles (else the reference one)."""
    return ((type(t) is pd.Timestamp or (isinstance(t, datetime) and t.tzinfo is not None))
            and type(a) in _PLAIN_INT and type(b) in _PLAIN_INT
            and type(f) in _PLAIN_STR and type(r) in _PLAIN_STR)


_PLAIN_INT = (int, type(None))
_PLAIN_STR = (str, type(None))


def _evidence_texts_bulk(groups: list[Any]) -> list[list[tuple[str, str]]]:
    """(evidence id, evidence JSON) of every evidence of every hop (:func:`_evidence_texts`, whose
    text it reproduces), built column-wise (:func:`_evidence_core`): times formatted in one
    vectorised pass, names JSON-encoded once each, the texts assembled in one comprehension;
    evidence with unusual values goes through :func:`_evidence_texts` one at a time."""
    core = _evidence_core(groups)
    if core is not None:
        texts: list[tuple[str, str] | None] = _assemble(*core[:4], _iso_many(core[4]))
    else:
        flat = [e for g in groups for e in g]
        fields = ("ts", "event_id", "record_id", "source_file", "rule")
        stamps, eids, rids, files, rules = ([e.get(f) for e in flat] for f in fields)
        regular = list(map(_regular, stamps, eids, rids, files, rules))
        idx = [i for i, ok in enumerate(regular) if ok]
        texts = [None] * len(flat)
        if idx:
            values = pd.to_datetime([stamps[i] for i in idx], utc=True).as_unit("ns")
            done = _assemble([eids[i] for i in idx], [rids[i] for i in idx], [files[i] for i in idx],
                             [rules[i] for i in idx], _iso_many(values.asi8))
            for i, pair in zip(idx, done, strict=True):
                texts[i] = pair
        cache: dict[Any, str] = {}
        for i, ok in enumerate(regular):
            if not ok:
                texts[i] = _evidence_texts(flat[i], cache)
    out: list[list[tuple[str, str]]] = []
    k = 0
    for g in groups:
        n = len(g)
        out.append(texts[k:k + n])  # type: ignore[arg-type]
        k += n
    return out


def _assemble(eids: list[Any], rids: list[Any], files: list[Any], rules: list[Any],
              stamps: list[str]) -> list[tuple[str, str] | None]:
    """(evidence id, evidence JSON) texts of regular items from their columns (times already text)."""
    encode = _PLAIN.encode
    names = {v: encode(v) for v in {*files, *rules}}
    out: list[tuple[str, str] | None] = []
    append = out.append
    for eid, rid, file, rule, ts in zip(eids, rids, files, rules, stamps, strict=True):
        e = "null" if eid is None else str(eid)
        r = "null" if rid is None else str(rid)
        f = names[file]
        append((f'[{e}, {f}, {r}, "{ts}"]',
                f'{{"event_id": {e}, "record_id": {r}, "rule": {names[rule]}, "source_file": {f}, '
                f'"ts": "{ts}"}}'))
    return out


def _iso_many(ns: Any) -> list[str]:
    """:func:`_iso_from_ns` of many int-nanosecond values (numpy, vectorised).

    Examples:
        >>> _iso_many(np.array([0, 1_500_000_000_250_000_000, 1_500_000_000_000_000_007]))
        ['1970-01-01T00:00:00Z', '2017-07-14T02:40:00.250000Z', '2017-07-14T02:40:00.000000007Z']
    """
    ns = np.asarray(ns, dtype="int64")
    secs = np.datetime_as_string(ns.view("datetime64[ns]"), unit="s").tolist()
    fracs = (ns % 1_000_000_000).tolist()
    return [f"{t}Z" if not f else f"{t}.{f // 1000:06d}Z" if not f % 1000 else f"{t}.{f:09d}Z"
            for t, f in zip(secs, fracs, strict=True)]


def _evidence_texts(evidence: Any, names: dict[Any, str], ts: str | None = None) -> tuple[str, str]:
    """(evidence id, evidence JSON) of one evidence mapping: the text ``json.dumps`` gives (ids with
    ``ensure_ascii=False``, JSON also with ``sort_keys=True``), assembled from encoded parts.

    ``names`` caches the JSON of file and rule names (they repeat across evidence); ``ts`` is the
    time's text when the caller formatted it already.
    """
    get = evidence.get
    if ts is None:
        ts = _iso_ns(get("ts"))
    event_id, record_id, source_file, rule = (_int(get("event_id")), _int(get("record_id")),
                                              get("source_file"), get("rule"))
    if not (source_file is None or type(source_file) is str):  # odd values: the reference encoder
        ident = _PLAIN.encode([event_id, source_file, record_id, ts])
        text = _SORTED.encode({"event_id": event_id, "source_file": _text(source_file),
                               "record_id": record_id, "rule": _text(rule), "ts": ts})
        return ident, text
    file_json = names.get(source_file) or names.setdefault(source_file, _PLAIN.encode(source_file))
    rule_text = _text(rule)
    rule_json = names.get(rule_text) or names.setdefault(rule_text, _PLAIN.encode(rule_text))
    eid = "null" if event_id is None else str(event_id)
    rid = "null" if record_id is None else str(record_id)
    ts_json = "null" if ts is None else f'"{ts}"'
    return (f"[{eid}, {file_json}, {rid}, {ts_json}]",
            f'{{"event_id": {eid}, "record_id": {rid}, "rule": {rule_json}, "source_file": {file_json}, '
            f'"ts": {ts_json}}}')


def _evidence_json(evidence: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": _int(evidence.get("event_id")), "source_file": _text(evidence.get("source_file")),
            "record_id": _int(evidence.get("record_id")), "rule": _text(evidence.get("rule")),
            "ts": _iso_ns(evidence.get("ts"))}


def _digest(parts: Any) -> str:
    """A short stable hash of JSON-able parts."""
    return hashlib.sha256(_SORTED.encode(parts).encode()).hexdigest()[:32]


def _opt(value: Any) -> Any:
    if value is None:
        return None
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):
        return value


def _opt_seq(value: Any) -> Any:
    """A sequence cell (tuple, list, numpy array) or None when missing."""
    if value is None or isinstance(value, float):
        return None
    return value


def _text(value: Any) -> str | None:
    if type(value) is str:  # the common case, without the NA checks
        return value
    value = _opt(value)
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    if type(value) is int:
        return value
    value = _opt(value)
    return None if value is None else int(value)


def _ns(value: Any) -> int:
    """A time as int nanoseconds since the epoch (UTC)."""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value)


def _iso_ns(value: Any) -> str | None:
    """A time as ISO 8601 UTC with nanoseconds (``pd.Timestamp.isoformat`` digits), or None.

    Examples:
        >>> _iso_ns(pd.Timestamp("2024-05-01 10:00:00.000000123", tz="UTC"))
        '2024-05-01T10:00:00.000000123Z'
        >>> _iso_ns(pd.Timestamp("2024-05-01 12:00:00+02:00")), _iso_ns(pd.NaT)
        ('2024-05-01T10:00:00Z', None)
    """
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return _iso_from_ns(value.value)
    if isinstance(value, datetime):  # what the analysis puts in evidence: microseconds, no ns
        if value.tzinfo is not None and value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        text = value.isoformat()[:19]
        return f"{text}.{value.microsecond:06d}Z" if value.microsecond else text + "Z"
    return _iso_reference(value)


def _iso_from_ns(ns: int) -> str:
    """``_iso_reference`` of a UTC nanosecond count, without building a Timestamp."""
    micros, nanos = divmod(ns, 1000)
    dt = _EPOCH + timedelta(microseconds=micros)
    text = dt.isoformat()[:19]
    if nanos:
        return f"{text}.{dt.microsecond:06d}{nanos:03d}Z"
    if dt.microsecond:
        return f"{text}.{dt.microsecond:06d}Z"
    return text + "Z"


def _iso_reference(value: Any) -> str | None:
    """The pandas-based formatting (the stored format's definition)."""
    if _opt(value) is None:
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.isoformat().replace("+00:00", "Z")
