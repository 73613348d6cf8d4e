"""Hops frame -> push rows: keys, evidence ids and the plain Python values sent as Cypher parameters.

:class:`RowSource` gives the push order, keys and node names from the frame's columns and builds
the rows of any part of that order (a push builds each batch's rows while earlier ones are written).

A row carries one hop as it will be stored (see docs/neo4j.md, "What is stored"): group and hop
keys, source/destination/account, ``*_ns`` times, kinds, techniques, rules, deduplicated evidence
ids with their parallel evidence JSON strings, counts, score, severity, and a ``signature`` (a
content hash of everything but ``hop_id``) that makes re-pushing the very same hop a no-op.

Evidence ids, evidence JSON and signatures are stored; their text must not change between
versions, or a re-push after an upgrade would no longer recognise what is already stored. The
evidence and time texts come from :mod:`graph.neo4j_store.stored_text` (checked there against the
pandas-based reference); :func:`evidence_id`, :func:`evidence_text` and :func:`evidence_items` are
re-exported from it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from graph.model import HOP_COLUMNS
from graph.neo4j_store.connection import Neo4jStoreError
from graph.neo4j_store.stored_text import (
    _PLAIN,
    _SORTED,
    _digest,
    _evidence_core,
    _evidence_json,
    _evidence_texts_bulk,
    _int,
    _iso_from_ns,
    _ns,
    _ns_list,
    _opt_seq,
    _plain,
    _text,
    evidence_id,
    evidence_items,
    evidence_text,
)

__all__ = ["KEY_MAX_BYTES", "RowSource", "case_digest", "check_frame", "cut_by_group", "evidence_id",
           "evidence_items", "evidence_text", "group_key", "hop_key", "hop_rows", "node_key", "push_id_of",
           "signature"]

T = TypeVar("T")


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


def push_id_of(batch_size: int, merge_gap_ns: int, case: str) -> str:
    """The id of a push (its checkpoint's ``push_id``): the case (its :func:`case_digest`), the batch
    size and the merge gap. A re-run of an interrupted push of the same case finds its checkpoint
    and skips the committed batches; it is known before any row is built.

    Examples:
        >>> push_id_of(2000, 3600, "abc") == push_id_of(2000, 3600, "abc") != push_id_of(1000, 3600, "abc")
        True
    """
    return _digest(["push-v2", batch_size, merge_gap_ns, case])
