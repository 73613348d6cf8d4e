"""The vectorised LANL ``auth.txt`` reader: byte blocks -> collapsed rows as column blocks.

:func:`iter_columns` gives the rows :func:`ingest.formats.lanl_auth.iter_records_lines` (the line
reader, kept as the reference) gives, in the same order and with the same report, but as
:class:`~ingest.batching.ColumnBatch` blocks: no Python object per line or per row.

1. **Blocks** (:mod:`ingest.formats.lanl_blocks`). The content is read in blocks cut after a line
   end (bounded memory at any size); an ASCII block is split by numpy and Arrow (line ends, first
   commas, times as digit columns, rests as string views into the block), any other block line by
   line with the line reader's own decoding and line rules. Both give, per non-blank line: its
   number, its time (when all digits) and its rest (everything after the first comma).
2. **Keys.** The distinct rests of the block (and of the open window carried from the previous
   block) are split into their eight fields; event id, kept or not, collapsible or not and the
   record fields are computed once per distinct field value, with the line reader's expressions.
3. **Collapse.** Windows are the runs of consecutive lines with a valid time in one UTC hour; a
   window is also cut where the line reader would flush at :data:`~ingest.formats.lanl_auth.MAX_RUNS`
   distinct lines. Lines of one window and one rest are grouped (numpy): their first line (``Repeats``
   = the run less one, at least 1) and last line (``Repeats`` = 1) are rows; lines that are never
   collapsed are rows as they are. The last window of a block stays open (its first/last line and
   count per rest) until a later line closes it.
4. **Order.** Rows are yielded when the line reader would yield them (a window's rows when the next
   window starts) and malformed lines are reported in between, so even the order of the report's
   examples is the same. Blocks hold :data:`PART_ROWS` rows (``ingest.BATCH_SIZE``: a normalised
   batch is one block); rows short of a block wait for the next input block, never past a report.

A time of all digits that no date can hold (past the year 9999, or more than 15 digits) makes its
line malformed (``lanl_auth.OUT_OF_RANGE``), as in the line reader: counted and named, the file goes
on (before 2026-12-03 both readers stopped the file with an ``OverflowError``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ingest.batching import KIND_INT, TIMES, ColumnBatch
from ingest.formats.base import Source
from ingest.formats.lanl_blocks import Lines, blocks, split_fast, split_slow
from ingest.report import SKIP_EVENT_ID, SKIP_MALFORMED, FileReport

#: Rows per yielded column block: ``ingest.BATCH_SIZE``, so that a normalised batch is one block
#: (rows short of a block wait for the next input block unless a malformed line is reported first).
PART_ROWS = 50_000
#: Key status: fields not eight, orientation unknown, not kept, kept and collapsible, kept single.
_BAD, _ORIENT, _NOT_KEPT, _RUN, _SINGLE = 0, 1, 2, 3, 4
_TEXT_FIELDS = ("Computer", "TargetUserName", "TargetDomainName", "SubjectUserName", "WorkstationName",
                "LogonType", "AuthenticationPackageName", "Status", "ServiceName")


@dataclass
class _Open:
    """The open segment (window since its last flush): runs and single lines not yet written out."""

    keys: pa.Array
    first_no: np.ndarray
    first_t: np.ndarray
    last_no: np.ndarray
    last_t: np.ndarray
    count: np.ndarray
    run: np.ndarray
    window: int = -1
    #: rows of closed segments not yet yielded (fewer than PART_ROWS): rest text, line, time, Repeats
    pending: tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray] | None = None

    @staticmethod
    def empty(window: int = -1) -> _Open:
        z = np.zeros(0, dtype=np.int64)
        return _Open(pa.array([], pa.large_string()), z, z, z, z, z, np.zeros(0, dtype=bool), window)


@dataclass
class _Keys:
    """Per distinct rest: status, event id and, for the well-formed ones (``good`` index), the record
    fields as ``(distinct texts, code per good rest or -1)``."""

    status: np.ndarray
    eid: np.ndarray
    good: np.ndarray
    orient: Callable[[int], str]
    fields: dict[str, tuple[pa.Array, np.ndarray]]


def _succeeded(r: str) -> bool:
    return r.lower().startswith("succ")


def _human(u: str) -> bool:
    """The line reader's test: the destination user is not a machine, system or unknown account."""
    from ingest.formats.lanl_auth import NON_ACCOUNTS

    low = u.partition("@")[0].strip().lower()
    return low not in NON_ACCOUNTS and not low.endswith("$")


def _not_ntlm(a: str) -> bool:
    return a.strip().lower() != "ntlm"


def _known(p: str) -> bool:
    return p.strip() not in ("", "?")


#: Per-value results of the tests above, kept across blocks (emptied past MEMO_SIZE entries each).
_MEMO: dict[Callable[[str], bool], dict[str, bool]] = {}
MEMO_SIZE = 1 << 20


def _per_value(arr: pa.Array, func: Callable[[str], bool]) -> np.ndarray:
    """``func`` of each value of ``arr`` (a string array): once per distinct value and block, looked
    up first among the values of earlier blocks."""
    memo = _MEMO.get(func)
    if memo is None or len(memo) > MEMO_SIZE:
        memo = _MEMO[func] = {}
    enc = pc.dictionary_encode(arr)
    out = []
    for v in enc.dictionary.to_pylist():
        got = memo.get(v)
        if got is None:
            got = memo[v] = func(v)
        out.append(got)
    return np.array([*out, False], dtype=bool)[enc.indices.to_numpy(zero_copy_only=False)]


def _dict(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    enc = pc.dictionary_encode(arr)
    return enc.dictionary, enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _keys(rests: pa.Array, keep: frozenset[int]) -> _Keys:
    """Status and record fields of each distinct rest (the line reader's ``_parse``, per value)."""
    from ingest.formats.lanl_auth import EVENT_IDS

    n = len(rests)
    lists = pc.split_pattern(rests, ",")
    offs = lists.offsets.to_numpy().astype(np.int64)
    good = np.flatnonzero(np.diff(offs) == 8)
    flat = lists.values
    src_user, dst_user, src_pc, dst_pc, auth, logon_type, orient, result = (
        flat.take(pa.array(offs[good] + j)) for j in range(8))
    status = np.full(n, _BAD, dtype=np.int8)
    eid = np.zeros(n, dtype=np.int64)
    ok = _per_value(result, _succeeded)
    o_dict, o_idx = _dict(orient)
    o_words = o_dict.to_pylist()
    by_ok = {flag: np.array([EVENT_IDS.get((o.lower(), flag), -1) for o in o_words] + [-1], dtype=np.int64)
             for flag in (True, False)}
    e = np.where(ok, by_ok[True][o_idx], by_ok[False][o_idx])
    kept = np.isin(e, np.fromiter(keep, dtype=np.int64, count=len(keep)))
    collapsible = ((_per_value(dst_user, _human) | _per_value(auth, _not_ntlm))
                   & _per_value(src_pc, _known) & _per_value(dst_pc, _known))
    status[good] = np.where(e < 0, _ORIENT, np.where(~kept, _NOT_KEPT, np.where(collapsible, _RUN, _SINGLE)))
    eid[good] = e
    fields: dict[str, tuple[pa.Array, np.ndarray]] = {}
    pc_dict, pc_idx = _dict(dst_pc)
    u_dict, u_idx = _dict(dst_user)
    s_dict, s_idx = _dict(src_user)
    r_dict, r_idx = _dict(result)
    fields["Computer"] = pc_dict, pc_idx
    u_words = u_dict.to_pylist()
    fields["TargetUserName"] = pa.array([u.partition("@")[0] for u in u_words], pa.large_string()), u_idx
    fields["TargetDomainName"] = pa.array([u.partition("@")[2] for u in u_words], pa.large_string()), u_idx
    s_words = [u.partition("@")[0] for u in s_dict.to_pylist()]
    fields["SubjectUserName"] = pa.array(s_words, pa.large_string()), s_idx
    fields["WorkstationName"] = _dict(src_pc)
    fields["LogonType"] = _dict(logon_type)
    fields["AuthenticationPackageName"] = _dict(auth)
    fields["Status"] = r_dict, np.where(ok, -1, r_idx)
    fields["ServiceName"] = (pa.array([p + "$" for p in pc_dict.to_pylist()], pa.large_string()),
                             np.where(e == 4769, pc_idx, -1))
    where = np.full(n, -1, dtype=np.int64)
    where[good] = np.arange(len(good))
    return _Keys(status, eid, where, lambda k: orient[int(where[k])].as_py(), fields)


def _text_buffers(values: pa.Array, codes: np.ndarray) -> tuple[bytes, ...]:
    """A text field of a part: ``(offsets, data, codes, kinds, ints)`` (codes -1 = no value)."""
    arr = values.cast(pa.string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    lo, hi = int(offsets[0]), int(offsets[-1])
    return ((offsets - lo).astype(np.int32).tobytes(), data.to_pybytes()[lo:hi] if data is not None else b"",
            codes.astype(np.int32).tobytes(), (codes >= 0).astype(np.uint8).tobytes(), b"")


def _int_buffers(values: np.ndarray, present: np.ndarray | None = None) -> tuple[bytes, ...]:
    n = len(values)
    kinds = np.full(n, KIND_INT, dtype=np.uint8) if present is None \
        else np.where(present, KIND_INT, 0).astype(np.uint8)
    return (np.zeros(1, dtype=np.int32).tobytes(), b"", np.full(n, -1, dtype=np.int32).tobytes(),
            kinds.tobytes(), values.astype(np.int64).tobytes())


class _Times:
    """LANL seconds -> native nanoseconds (``TIMES``), or the line reader's ISO text beyond them."""

    def __init__(self, t0: datetime) -> None:
        self.t0 = t0
        try:
            self.ns0 = int(pd.Timestamp(t0).value)
            self.max_t = (2**63 - 1 - self.ns0) // 10**9
        except (OverflowError, ValueError):
            self.ns0, self.max_t = 0, -1
        from ingest.formats.lanl_auth import last_second

        self.last_t = last_second(t0)   # later times are malformed lines (lanl_auth.time_in_range)

    def iso(self, t: int) -> str:
        from datetime import timedelta

        return (self.t0 + timedelta(seconds=int(t))).isoformat()


def _part(no: np.ndarray, t: np.ndarray, key: np.ndarray, rep: np.ndarray, keys: _Keys,
          times: _Times) -> ColumnBatch:
    """Rows (line number, time, rest code, ``Repeats`` or -1) as one column block."""
    n = len(no)
    used, pos = np.unique(keys.good[key], return_inverse=True)
    cols: dict[str, tuple[bytes, ...]] = {}
    for name in _TEXT_FIELDS:
        values, idx = keys.fields[name]
        per_key = idx[used]
        have = per_key >= 0
        distinct, inverse = np.unique(per_key[have], return_inverse=True)
        code = np.full(len(used), -1, dtype=np.int64)
        code[have] = inverse
        cols[name] = _text_buffers(values.take(pa.array(distinct)), code[pos])
    cols["Channel"] = _text_buffers(pa.array(["LANL"], pa.large_string()), np.zeros(n, dtype=np.int64))
    cols["EventID"] = _int_buffers(keys.eid[key])
    cols["EventRecordID"] = _int_buffers(no)
    cols["Repeats"] = _int_buffers(np.maximum(rep, 0), rep >= 0)
    native = t <= times.max_t
    cols[TIMES] = ((times.ns0 + np.where(native, t, 0) * 10**9).astype(np.int64).tobytes(),
                   native.astype(np.uint8).tobytes())
    late = np.flatnonzero(~native)
    if len(late):   # past 2262: the line reader's text
        text = pa.array([times.iso(int(t[i])) for i in late], pa.large_string())
        code = np.full(n, -1, dtype=np.int64)
        code[late] = np.arange(len(late))
    else:
        text, code = pa.array([], pa.large_string()), np.full(n, -1, dtype=np.int64)
    cols["TimeCreated"] = _text_buffers(text, code)
    return ColumnBatch([(n, cols, {})])


def _first_last(group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group codes (``pd.factorize``, first-appearance order) -> first and last position of each
    group and its code per position."""
    codes, uniques = pd.factorize(group)
    first = np.full(len(uniques), len(group), dtype=np.int64)
    last = np.zeros(len(uniques), dtype=np.int64)
    at = np.arange(len(group), dtype=np.int64)
    np.minimum.at(first, codes, at)
    np.maximum.at(last, codes, at)
    return first, last, codes


def _cuts(keys: np.ndarray, known: np.ndarray, max_runs: int) -> list[int]:
    """Positions in ``keys`` (the run lines of one window, in order) where the line reader flushes
    because :data:`MAX_RUNS` distinct rests are held; ``known``: rests already held at the start."""
    out: list[int] = []
    pos, held = 0, known
    while pos < len(keys):
        codes, uniques = pd.factorize(keys[pos:])
        running = np.maximum.accumulate(codes)
        new_at = np.flatnonzero(np.r_[True, running[1:] > running[:-1]])   # first appearances
        fresh = new_at[~np.isin(uniques, held)]
        room = max(max_runs - len(held), 0) if not out else max(max_runs, 1)
        if len(fresh) <= room:
            break
        cut = pos + int(fresh[room])
        out.append(cut)
        pos, held = cut, np.zeros(0, dtype=keys.dtype)
    return out


def iter_columns(source: Source, *, event_ids: frozenset[int] | None, report: FileReport,
                 collapse: bool | None = None, **_: Any) -> Iterator[ColumnBatch]:
    """The rows of an ``auth.txt`` source as column blocks (see the module docstring); the same
    rows, order, ``Repeats`` and report as :func:`ingest.formats.lanl_auth.iter_records_lines`."""
    from ingest.formats import lanl_auth as la
    from ingest.winevents import KEPT_EVENT_IDS

    if collapse is None:
        collapse = os.environ.get("LATGRAPH_LANL_COLLAPSE", "1") != "0"
    keep = KEPT_EVENT_IDS if event_ids is None else event_ids
    times = _Times(la.epoch())
    state = _Open.empty()
    no0 = 0
    for buf in blocks(source):
        lines = split_fast(buf, no0) or split_slow(buf, no0)
        no0 += lines.count
        state = yield from _window_rows(lines, state, source, report, keep, collapse, times, final=False)
    empty = Lines(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64),
                   pa.array([], pa.string_view()), 0)
    yield from _window_rows(empty, state, source, report, keep, collapse, times, final=True)


def _window_rows(lines: Lines, state: _Open, source: Source, report: FileReport, keep: frozenset[int],
                 collapse: bool, times: _Times, *, final: bool) -> Iterator[ColumnBatch]:
    """Collapse one block's lines onto the open segment; yield the rows of the segments it closes
    (reporting malformed lines in between, in line order); return the new open segment."""
    from ingest.formats import lanl_auth as la

    report.records_read += len(lines.no)
    empty = np.zeros(0, dtype=np.int64)
    p_keys, p_no, p_t, p_rep = state.pending or (pa.array([], pa.large_string()), empty, empty, empty)
    n_lines = len(lines.no)
    enc = pc.dictionary_encode(pa.concat_arrays([lines.rests, state.keys.cast(pa.string_view()),
                                                 p_keys.cast(pa.string_view())]))
    rests = enc.dictionary.cast(pa.large_string())
    remap = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    line_key = remap[:n_lines]
    open_key = remap[n_lines:n_lines + len(state.keys)]
    p_key = remap[n_lines + len(state.keys):]
    keys = _keys(rests, keep)
    st = keys.status[line_key]
    late = lines.valid & (lines.t > times.last_t)   # all digits, but past the year 9999
    valid = lines.valid & ~late
    not_kept = int(np.count_nonzero(valid & (st == _NOT_KEPT)))
    if not_kept:   # (a count of 0 is no entry, as in the line reader's report)
        report.skipped[SKIP_EVENT_ID] += not_kept
    bad = np.flatnonzero(~valid | (st <= _ORIENT))
    runs = valid & ((st == _NOT_KEPT) | (st == _RUN)) if collapse else np.zeros(len(st), dtype=bool)
    single = valid & ((st == _SINGLE) | ((st == _RUN) & (not collapse)))
    # segments over the lines with a valid time: a new hour, or the line reader's MAX_RUNS flush
    vi = np.flatnonzero(valid)
    hour = lines.t[vi] // la.COLLAPSE_S
    start = hour != np.r_[state.window, hour[:-1]] if len(vi) else np.zeros(0, dtype=bool)
    window = np.cumsum(start)
    eligible = runs[vi]
    per_window = np.bincount(window[eligible], minlength=int(window[-1]) + 1 if len(vi) else 1)
    held = int(np.count_nonzero(state.run))
    if len(per_window):
        per_window[0] += held
    for w in np.flatnonzero(per_window > la.MAX_RUNS):
        at = np.flatnonzero((window == w) & eligible)
        known = np.unique(open_key[state.run]) if w == 0 else np.zeros(0, dtype=np.int64)
        for cut in _cuts(line_key[vi[at]], known, la.MAX_RUNS):
            start[at[cut]] = True
    seg = np.cumsum(start)
    last_seg = int(seg[-1]) if len(seg) else 0
    trigger = lines.no[vi[start]]          # trigger[k]: the line that closes segment k
    # elements: the open segment's runs and singles, then this block's run and single lines
    take = vi[eligible | single[vi]]
    e_seg = np.r_[np.zeros(len(open_key), dtype=np.int64), seg[eligible | single[vi]]]
    e_key = np.r_[open_key, line_key[take]]
    e_fno = np.r_[state.first_no, lines.no[take]]
    e_ft = np.r_[state.first_t, lines.t[take]]
    e_lno = np.r_[state.last_no, lines.no[take]]
    e_lt = np.r_[state.last_t, lines.t[take]]
    e_cnt = np.r_[state.count, np.ones(len(take), dtype=np.int64)]
    e_run = np.r_[state.run, runs[take]]
    r = np.flatnonzero(e_run)
    first, last, codes = _first_last(e_seg[r] * (len(rests) + 1) + e_key[r])
    cnt = np.bincount(codes, weights=e_cnt[r]).astype(np.int64)
    g_seg, g_key = e_seg[r][first], e_key[r][first]
    g_fno, g_ft, g_lno, g_lt = e_fno[r][first], e_ft[r][first], e_lno[r][last], e_lt[r][last]
    s = np.flatnonzero(~e_run)
    closed_g = (g_seg < last_seg) | final
    closed_s = (e_seg[s] < last_seg) | final
    out_g = closed_g & (keys.status[g_key] == _RUN)
    two = out_g & (cnt > 1)
    row_no = np.r_[g_fno[out_g], g_lno[two], e_fno[s][closed_s]]
    row_t = np.r_[g_ft[out_g], g_lt[two], e_ft[s][closed_s]]
    row_key = np.r_[g_key[out_g], g_key[two], e_key[s][closed_s]]
    row_rep = np.r_[np.maximum(cnt[out_g] - 1, 1), np.ones(np.count_nonzero(two), dtype=np.int64),
                    np.full(np.count_nonzero(closed_s), -1, dtype=np.int64)]
    row_seg = np.r_[g_seg[out_g], g_seg[two], e_seg[s][closed_s]]
    order = np.argsort(row_no, kind="stable")
    row_no, row_t, row_key, row_rep, row_seg = (x[order] for x in (row_no, row_t, row_key, row_rep, row_seg))
    # a segment's rows come out at its closing line, before that line (if malformed) is reported
    due = np.where(row_seg < len(trigger), trigger[np.minimum(row_seg, max(len(trigger) - 1, 0))]
                   if len(trigger) else 0, np.iinfo(np.int64).max)
    if len(p_no):   # rows held back from the previous block come first, before any report
        row_no, row_t, row_key, row_rep = (np.r_[p, x] for p, x in ((p_no, row_no), (p_t, row_t),
                                                                  (p_key, row_key), (p_rep, row_rep)))
        due = np.r_[np.full(len(p_no), -1, dtype=np.int64), due]
    done = 0
    for b in bad:
        upto = int(np.searchsorted(due, lines.no[b], side="right"))
        yield from _emit(row_no, row_t, row_key, row_rep, done, upto, keys, times)
        done = max(done, upto)
        why = (la.OUT_OF_RANGE if late[b] else "expected 9 fields" if not valid[b] or st[b] == _BAD
               else f"unknown orientation {keys.orient(int(line_key[b]))!r}")
        report.skip(SKIP_MALFORMED, f"{source.name}, line {int(lines.no[b])}: {why}")
    full = len(row_no) if final else done + (len(row_no) - done) // PART_ROWS * PART_ROWS
    yield from _emit(row_no, row_t, row_key, row_rep, done, full, keys, times)
    if final:
        return _Open.empty()
    pending = (rests.take(pa.array(row_key[full:], type=pa.int64())), row_no[full:], row_t[full:],
               row_rep[full:])
    keep_g = ~closed_g
    keep_s = s[~closed_s]
    open_keys = np.r_[g_key[keep_g], e_key[keep_s]]
    return _Open(rests.take(pa.array(open_keys, type=pa.int64())), np.r_[g_fno[keep_g], e_fno[keep_s]],
                 np.r_[g_ft[keep_g], e_ft[keep_s]], np.r_[g_lno[keep_g], e_lno[keep_s]],
                 np.r_[g_lt[keep_g], e_lt[keep_s]], np.r_[cnt[keep_g], e_cnt[keep_s]],
                 np.r_[np.ones(np.count_nonzero(keep_g), dtype=bool), np.zeros(len(keep_s), dtype=bool)],
                 int(hour[-1]) if len(vi) else state.window, pending)


def _emit(no: np.ndarray, t: np.ndarray, key: np.ndarray, rep: np.ndarray, lo: int, hi: int,
          keys: _Keys, times: _Times) -> Iterator[ColumnBatch]:
    """Rows ``lo:hi`` as column blocks of at most :data:`PART_ROWS` rows."""
    for a in range(lo, hi, PART_ROWS):
        b = min(a + PART_ROWS, hi)
        yield _part(no[a:b], t[a:b], key[a:b], rep[a:b], keys, times)


__all__ = ["PART_ROWS", "iter_columns"]
