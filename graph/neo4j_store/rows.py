"""Hops frame -> push rows: keys, evidence ids and the plain Python values sent as Cypher parameters.

:class:`RowSource` gives the push order, keys and node names from the frame's columns and builds
the rows of any part of that order (a push builds each batch's rows while earlier ones are written).

A row carries one hop as it will be stored (see docs/neo4j.md, "What is stored"): group and hop
keys, source/destination/account, ``*_ns`` times, kinds, techniques, rules, deduplicated evidence
ids with their parallel evidence JSON strings, counts, score, severity, and a ``signature`` (a
content hash of everything but ``hop_id``) that makes re-pushing the very same hop a no-op.

Evidence ids, evidence JSON and signatures are stored; their text must not change between
versions, or a re-push after an upgrade would no longer recognise what is already stored. The
fast formatting below is therefore checked against the pandas-based reference (tests).
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from graph.evidence_items import shared_columns
from graph.model import HOP_COLUMNS
from graph.neo4j_store.connection import Neo4jStoreError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")
# One encoder each (json.dumps with keyword arguments builds a new encoder per call).
_PLAIN = json.JSONEncoder(ensure_ascii=False)
_SORTED = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


#: Names up to this many UTF-8 bytes are their own node key; Neo4j cannot index a value over about
#: 8 KB (the index key limit), and one attacker-set name must not fail the push.
KEY_MAX_BYTES = 4000
_KEY_PREFIX_CHARS = 200


def node_key(name: str) -> str:
    """The bounded unique key of a host, account or source-less node: the name itself when it is
    at most :data:`KEY_MAX_BYTES` long, else its first 200 characters, ``...#`` and a hash of all of
    it. The full name is stored next to it (``name`` / ``dst``).

    Examples:
        >>> node_key("WS01")
        'WS01'
        >>> key = node_key("A" * 10_000)
        >>> len(key), key[:3], key[200:204]
        (236, 'AAA', '...#')
    """
    if len(name) * 4 <= KEY_MAX_BYTES or len(name.encode("utf-8", "surrogatepass")) <= KEY_MAX_BYTES:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{name[:_KEY_PREFIX_CHARS]}...#{digest}"


def group_key(src_host: Any, src_ip: Any, dst_host: str, account: Any) -> str:
    """Key of the hop group (source host else IP, destination, account) that hops merge within.

    Examples:
        >>> group_key("WS01", None, "DC01", "alice") == group_key("WS01", "10.0.0.5", "DC01", "alice")
        True
        >>> group_key("WS01", None, "DC01", "alice") == group_key("WS01", None, "DC01", "bob")
        False
    """
    source = _text(src_host) if _text(src_host) is not None else f"ip:{_text(src_ip) or ''}"
    return _digest([source, dst_host, _text(account)])


def hop_key(src_host: Any, src_ip: Any, dst_host: str, account: Any, first_seen: Any) -> str:
    """Stable key of a stored hop: its group and the first_seen it was created with."""
    return _hop_key(group_key(src_host, src_ip, dst_host, account), _ns(first_seen))


def _hop_key(group: str, first_ns: int) -> str:
    """``_digest([group, first_ns])`` without the JSON encoder (a hex key and an int: plain text)."""
    return hashlib.sha256(f'["{group}", {first_ns}]'.encode()).hexdigest()[:32]


def evidence_id(evidence: dict[str, Any]) -> str:
    """Stable id of one piece of evidence: event id, source file, record id and time.

    Examples:
        >>> evidence_id({"event_id": 4624, "source_file": "a.evtx", "record_id": 7,
        ...              "ts": pd.Timestamp("2024-05-01 10:00:00.5", tz="UTC")})
        '[4624, "a.evtx", 7, "2024-05-01T10:00:00.500000Z"]'
    """
    return _PLAIN.encode([_int(evidence.get("event_id")), evidence.get("source_file"),
                          _int(evidence.get("record_id")), _iso_ns(evidence.get("ts"))])


def hop_rows(hops: pd.DataFrame) -> list[dict[str, Any]]:
    """Hops frame -> ``$rows`` parameters (plain Python values), by group key, then first time.

    Raises:
        Neo4jStoreError: a hops column is missing or a hop has no destination or times.
    """
    source = RowSource(hops)
    return source.rows(source.order)


def cut_by_group(items: list[T], key: Callable[[T], str], batch_size: int) -> list[list[T]]:
    """``items`` (in group order) cut into batches of about ``batch_size``, never between two items
    with the same ``key`` (batches are then independent: they can be written in any order).

    Examples:
        >>> cut_by_group(list("aabbbc"), str, 2)
        [['a', 'a'], ['b', 'b', 'b'], ['c']]
    """
    batches: list[list[T]] = []
    current: list[T] = []
    for item in items:
        if len(current) >= batch_size and key(item) != key(current[-1]):
            batches.append(current)
            current = []
        current.append(item)
    if current:
        batches.append(current)
    return batches


def check_frame(hops: pd.DataFrame) -> None:
    """Raise :class:`Neo4jStoreError` when the hops frame cannot be pushed: a column is missing, or a
    hop has no destination host or no times."""
    missing = [c for c in HOP_COLUMNS if c != "hop_id" and c not in hops.columns]
    if missing:
        raise Neo4jStoreError(f"hops frame lacks columns {missing}")
    bad = hops["dst_host"].isna() | hops["first_seen"].isna() | hops["last_seen"].isna()
    if bad.any():
        hop_id = hops["hop_id"][bad].iloc[0] if "hop_id" in hops.columns else bad.to_numpy().argmax()
        raise Neo4jStoreError(f"hop {hop_id} has no destination host or no times")


class RowSource:
    """The push rows of a hops frame, in push order (group key, first time, hop key), built on
    demand for any part of that order: a push cuts the order into batches (:meth:`batches`) and
    builds each batch's rows (:meth:`rows`) while earlier batches are being written.

    The order, the group and hop keys and the node names come from the frame's columns without
    building any row.

    Raises:
        Neo4jStoreError: a hops column is missing or a hop has no destination or times.
    """

    def __init__(self, hops: pd.DataFrame) -> None:
        check_frame(hops)
        n = len(hops)
        self.cols = {c: _plain(hops[c]) for c in ("src_host", "src_ip", "dst_host", "account", "severity")}
        self.first_ns, self.last_ns = _ns_list(hops["first_seen"]), _ns_list(hops["last_seen"])
        self.hop_ids = hops["hop_id"].tolist() if "hop_id" in hops.columns else [None] * n
        self.kinds, self.techniques = hops["kinds"].tolist(), hops["techniques"].tolist()
        self.rule_lists = hops["rules"].tolist()
        self.n_events, self.scores = hops["n_events"].tolist(), hops["score"].tolist()
        self.evidence = [() if _opt_seq(e) is None else e for e in hops["evidence"].tolist()]
        self._encoded: dict[Any, str] = {}
        self._lists: dict[Any, tuple[tuple[str, ...], str]] = {}
        # (src_host, src_ip, dst, account) -> (group key, the names' JSON head)
        self._groups: dict[tuple[Any, ...], tuple[str, str]] = {}
        names = list(zip(self.cols["src_host"], self.cols["src_ip"], self.cols["dst_host"],
                         self.cols["account"], strict=True))
        self.group_keys = [self._group(k)[0] for k in names]
        self.hop_keys = [_hop_key(g, f) for g, f in zip(self.group_keys, self.first_ns, strict=True)]
        #: Hop positions in push order: a group's hops next to each other, in time order (each batch
        #: then looks up few groups, and rows of a group meet its stored hops in time order).
        self.order = sorted(range(n), key=lambda i: (self.group_keys[i], self.first_ns[i], self.hop_keys[i]))

    def __len__(self) -> int:
        return len(self.order)

    def batches(self, batch_size: int) -> list[list[int]]:
        """:attr:`order` cut into batches of about ``batch_size`` hops, never between two hops of one
        group (as :func:`~graph.neo4j_store.push.group_batches` cuts rows)."""
        return cut_by_group(self.order, self.group_keys.__getitem__, batch_size)

    def names(self) -> list[tuple[str, str]]:
        """The (kind, name) of every node the hops touch (``host``, ``unknown``: a source-less hop's
        destination, ``account``), sorted."""
        c = self.cols
        wanted = {("host", d) for d in c["dst_host"]}
        sources = (h if h is not None else ip for h, ip in zip(c["src_host"], c["src_ip"], strict=True))
        wanted |= {("host", s) if s is not None else ("unknown", d)
                   for s, d in zip(sources, c["dst_host"], strict=True)}
        wanted |= {("account", a) for a in c["account"] if a is not None}
        return sorted(wanted)

    def _enc(self, value: Any) -> str:
        """JSON of a hashable value (names, kinds tuples), encoded once per distinct value."""
        text = self._encoded.get(value)
        if text is None:
            text = self._encoded[value] = _PLAIN.encode(value)
        return text

    def _group(self, names: tuple[Any, ...]) -> tuple[str, str]:
        known = self._groups.get(names)
        if known is None:
            src_host, src_ip, dst, account = names
            group = group_key(src_host, src_ip, dst, account)
            enc = self._enc
            known = self._groups[names] = (group, f'"{group}", {enc(src_host)}, {enc(src_ip)}, {enc(dst)}, '
                                                  f"{enc(account)}")
        return known

    def _texts_of(self, value: Any) -> tuple[tuple[str, ...], str]:
        """A kinds / techniques / rules cell as a tuple of ``str`` and its JSON (once per distinct value)."""
        key = value if type(value) is tuple else tuple(value)
        known = self._lists.get(key)
        if known is None:
            items = tuple(str(x) for x in key)
            known = self._lists[key] = (items, _PLAIN.encode(items))
        return known

    def rows(self, index: list[int]) -> list[dict[str, Any]]:
        """The rows of the hops at positions ``index`` (in that order)."""
        texts = _evidence_texts_bulk([self.evidence[i] for i in index])
        cols, first_ns, last_ns = self.cols, self.first_ns, self.last_ns
        encode, enc = _PLAIN.encode, self._enc
        rows: list[dict[str, Any]] = []
        for i, pairs in zip(index, texts, strict=True):
            ids = [ident for ident, _ in pairs]
            if len(set(ids)) == len(ids):
                evidence = [text for _, text in pairs]
            else:
                unique: dict[str, str] = {}
                for ident, text in pairs:
                    unique[ident] = text  # the last of equal ids wins, at the first one's place
                ids, evidence = list(unique), list(unique.values())
            if not ids:  # no evidence listed: the hop itself is its (single) evidence
                ids = [_PLAIN.encode(["hop", _iso_from_ns(first_ns[i]), _iso_from_ns(last_ns[i])])]
                evidence = [_SORTED.encode(_evidence_json({}))]
            src_host, src_ip, dst, account = (cols["src_host"][i], cols["src_ip"][i], cols["dst_host"][i],
                                              cols["account"][i])
            group, names_json = self._group((src_host, src_ip, dst, account))
            kinds, kinds_json = self._texts_of(self.kinds[i])
            techniques, techniques_json = self._texts_of(self.techniques[i])
            rules, rules_json = self._texts_of(self.rule_lists[i])
            count, score, severity = int(self.n_events[i]), float(self.scores[i]), str(cols["severity"][i])
            # The signature (v3): the row's fields as a JSON list, then its evidence texts one per line
            # (JSON texts never hold a raw line break, so no two different rows give the same text).
            head = (f'["v3", {names_json}, {first_ns[i]}, {last_ns[i]}, {kinds_json}, {techniques_json}, '
                    f"{rules_json}, {count}, {encode(score)}, {enc(severity)}]")
            digest = hashlib.sha256("\n".join((head, *evidence)).encode("utf-8", "surrogatepass")).hexdigest()
            rows.append({
                "hop_id": _int(self.hop_ids[i]),
                "group_key": group,
                "hop_key": self.hop_keys[i],
                "src": src_host if src_host is not None else src_ip,
                "src_host": src_host,
                "src_ip": src_ip,
                "dst": dst,
                "account": account,
                "first_seen_ns": first_ns[i],
                "last_seen_ns": last_ns[i],
                "kinds": list(kinds),
                "techniques": list(techniques),
                "rules": list(rules),
                "evidence_ids": ids,
                "evidence": evidence,
                "n_events": count,
                "score": score,
                "severity": severity,
                "signature": digest[:32],
            })
        return rows


def case_digest(hops: pd.DataFrame, host_rows: list[dict[str, Any]], findings: pd.DataFrame | None,
                merge_gap_ns: int) -> str:
    """Content hash of everything a push of ``hops`` (with its host facts and findings) would store,
    computed column-wise without building the rows (about 0.2 CPU-s for 50k hops and 228k evidence
    items kept as columns, against about 0.9 s for :func:`hop_rows`). Evidence is hashed as the
    columns :func:`_evidence_core` gives (``case-v2``), the same for the pandas engine's evidence
    columns and for plain dicts with the same values.

    A finished push records it on its checkpoint; a later push whose digest equals that of the
    store's last finished push (and with no unfinished push) has nothing to write: every row's
    signature is already stored. It hashes the raw values (``repr`` of names, tuples and evidence
    fields, the bytes of the numeric columns): equal inputs give equal digests in one version of
    Python and numpy; a digest that differs for equal content only costs the full row-by-row check.

    Examples:
        >>> t0 = pd.Timestamp(0, tz="UTC")
        >>> frame = pd.DataFrame([{"hop_id": 0, "src_host": "A", "src_ip": None, "dst_host": "B",
        ...     "account": "u", "first_seen": t0, "last_seen": t0, "kinds": ("logon",), "techniques": (),
        ...     "rules": ("r",), "evidence": ({"event_id": 4624, "record_id": 1, "source_file": "f",
        ...     "rule": "r", "ts": t0},), "n_events": 1, "score": 0.5, "severity": "medium"}])
        >>> a = case_digest(frame, [], None, 3600)
        >>> a == case_digest(frame.copy(), [], None, 3600), a == case_digest(frame, [], None, 60)
        (True, False)
        >>> frame.at[0, "evidence"] = ({"event_id": 4624, "record_id": 2, "source_file": "f", "rule": "r",
        ...                             "ts": t0},)
        >>> a == case_digest(frame, [], None, 3600)
        False
    """
    missing = [c for c in HOP_COLUMNS if c != "hop_id" and c not in hops.columns]
    if missing:
        raise Neo4jStoreError(f"hops frame lacks columns {missing}")
    h = hashlib.sha256(f"case-v2 {merge_gap_ns} {len(hops)}\n".encode())

    def text(value: Any) -> None:
        h.update(repr(value).encode("utf-8", "surrogatepass"))
        h.update(b"\x00")

    for column in ("hop_id", "n_events", "score"):
        values = hops[column] if column in hops.columns else pd.Series([], dtype="int64")
        h.update(column.encode())
        h.update(np.ascontiguousarray(values.to_numpy()).tobytes())
    for column in ("first_seen", "last_seen"):
        h.update(np.asarray(_ns_list(hops[column]), dtype="int64").tobytes())
    for column in ("src_host", "src_ip", "dst_host", "account", "severity"):
        text(_plain(hops[column]))
    for column in ("kinds", "techniques", "rules"):
        text(hops[column].tolist())
    evidence = [() if _opt_seq(e) is None else e for e in hops["evidence"].tolist()]
    h.update(np.array([len(e) for e in evidence], dtype="int64").tobytes())
    core = _evidence_core(evidence)
    if core is not None:   # the stored fields column-wise (evidence kept as columns: no dict built)
        text(core[:4])
        h.update(core[4].tobytes())
    else:   # unusual values: every item's fields, one at a time
        text([tuple(e.get(f) for f in ("event_id", "record_id", "source_file", "rule", "ts"))
              for group in evidence for e in group])
    text(sorted((r["key"], r["score"], r["first_seen_ns"]) for r in host_rows))
    if findings is not None and len(findings):
        text(findings.to_dict("records"))
    return h.hexdigest()[:32]


def signature(row: dict[str, Any]) -> str:
    """Content hash of a row (everything but ``hop_id`` and the derived keys): re-pushing the very
    same hop is a no-op. :func:`hop_rows` computes the same value inline.

    The text hashed (``v3``) is a JSON list of the row's names, times, kinds, techniques, rules,
    count, score and severity, then its evidence JSON texts one per line (JSON texts never hold a raw
    line break, so no two different rows give the same text). Hops stored by an earlier version
    carry another signature: re-pushing one joins it through the merge rules (which leave its other
    properties as they are) and records the new signature.

    Examples:
        >>> t0 = pd.Timestamp(0, tz="UTC")
        >>> rows = hop_rows(pd.DataFrame([{"hop_id": 0, "src_host": "A", "src_ip": None, "dst_host": "B",
        ...     "account": "u", "first_seen": t0, "last_seen": t0,
        ...     "kinds": ("logon",), "techniques": (), "rules": ("r",), "evidence": (), "n_events": 1,
        ...     "score": 0.5, "severity": "medium"}]))
        >>> signature(rows[0]) == rows[0]["signature"]
        True
    """
    head = _PLAIN.encode(["v3", row["group_key"], row["src_host"], row["src_ip"], row["dst"], row["account"],
                          row["first_seen_ns"], row["last_seen_ns"], row["kinds"], row["techniques"],
                          row["rules"], row["n_events"], row["score"], row["severity"]])
    text = "\n".join((head, *row["evidence"]))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


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


def push_id_of(batch_size: int, merge_gap_ns: int, case: str) -> str:
    """The id of a push (its checkpoint's ``push_id``): the case (its :func:`case_digest`), the batch
    size and the merge gap. A re-run of an interrupted push of the same case finds its checkpoint
    and skips the committed batches; it is known before any row is built.

    Examples:
        >>> push_id_of(2000, 3600, "abc") == push_id_of(2000, 3600, "abc") != push_id_of(1000, 3600, "abc")
        True
    """
    return _digest(["push-v2", batch_size, merge_gap_ns, case])


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
