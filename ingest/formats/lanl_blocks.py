"""Byte blocks of a LANL ``auth.txt`` split into lines (for :mod:`ingest.formats.lanl_columns`).

:func:`blocks` reads the content in blocks of :data:`BLOCK_BYTES` that end after a line end (bounded
memory at any size). :func:`split_fast` splits an ASCII block whose carriage returns all belong to
``\\r\\n``: line ends by numpy, each line's first comma by Arrow (``find_substring``), the time as
digit columns, the rest (everything after the first comma) as a string view into the block, so
nothing is copied per line. Any other block (non-ASCII or invalid UTF-8 bytes, a lone ``\\r``, which
the line reader takes as a line end) goes to :func:`split_slow`, which splits it line by line with
the line reader's own decoding and line rules. Both give the same :class:`Lines`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.formats.base import Source

#: Bytes read per block (about 470,000 LANL lines).
BLOCK_BYTES = 32 << 20
#: Digits of the longest time read (15: about 31.7 million years as seconds; any time past the year
#: 9999 is out of range anyway). A time of all digits longer than this is out of range: its value is
#: :data:`TOO_LATE` (the reader reports the line as malformed, as the line reader does with this same
#: limit: ``lanl_auth.time_in_range``).
MAX_TIME_DIGITS = 15
#: The value given to a time of more than :data:`MAX_TIME_DIGITS` digits (past any date).
TOO_LATE = np.iinfo(np.int64).max


@dataclass
class Lines:
    """The non-blank lines of one block: number, time (valid: all digits) and rest (string views)."""

    no: np.ndarray
    valid: np.ndarray
    t: np.ndarray
    rests: pa.Array
    count: int          # lines in the block, blank ones included



def blocks(source: Source) -> Iterator[bytearray]:
    """The content in blocks that end after a ``\\n`` (or after a ``\\r`` not followed by ``\\n``);
    the last block ends where the content does. Each block is read straight into its own buffer
    after the previous block's unfinished line (no copy of the block)."""
    tail = b""
    with source.open() as fh:
        while True:
            buf = bytearray(len(tail) + BLOCK_BYTES)
            buf[:len(tail)] = tail
            view, size = memoryview(buf), len(tail)
            while size < len(buf):   # (a decompressed stream may give less than asked)
                got = fh.readinto(view[size:])
                if not got:
                    break
                size += got
            view.release()
            del buf[size:]
            if size == len(tail):
                break
            cut = buf.rfind(b"\n") + 1
            if cut == 0:   # no \n: a lone \r ends a line too (never the last byte: \n may follow)
                cut = buf.rfind(b"\r", 0, len(buf) - 1) + 1
            tail = bytes(buf[cut:])
            if cut:
                del buf[cut:]
                yield buf
    if tail:
        yield bytearray(tail)


def split_fast(buf: bytearray, no0: int) -> Lines | None:
    """Split an ASCII block with only ``\\r\\n`` carriage returns (None: take the line path): line
    ends and first commas found by numpy and Arrow, the rests as string views into the block."""
    if not buf.isascii() or (b"\r" in buf and buf.count(b"\r") != buf.count(b"\r\n")):
        return None
    a = np.frombuffer(buf, dtype=np.uint8)
    ends = np.flatnonzero(a == 10) + 1
    if not len(ends) or ends[-1] != len(buf):
        ends = np.append(ends, len(buf))
    count = len(ends)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1]
    newline = a[ends - 1] == 10
    size = ends - starts - newline.astype(np.int64)
    size -= ((size > 0) & newline & (a[np.maximum(ends - 2, 0)] == 13)).astype(np.int64)
    offsets = np.append(starts, ends[-1]).astype(np.int64)
    lines = pa.Array.from_buffers(pa.large_string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(buf)])
    comma = pc.find_substring(lines, ",").to_numpy(zero_copy_only=False).astype(np.int64)
    number = np.arange(no0 + 1, no0 + 1 + count, dtype=np.int64)
    filled = size > 0
    if not filled.all():
        starts, size, comma, number = starts[filled], size[filled], comma[filled], number[filled]
    has = (comma >= 0) & (comma < size)
    width = np.where(has, comma, size)                 # the time: the line up to its first comma
    rest_at = starts + np.where(has, comma + 1, size)
    rest_len = starts + size - rest_at
    valid, times = _digits(a, starts, width)
    return Lines(number, valid, times, _views(a, buf, rest_at, rest_len), count)


def _digits(a: np.ndarray, starts: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(all digits, value)`` of the times ``a[starts:starts + width]`` (numpy over a digit matrix)."""
    n = len(starts)
    wide = np.flatnonzero(width > MAX_TIME_DIGITS)
    # rare: a long time is out of range (TOO_LATE) if it is all digits, else just not a time
    late = [i for i in wide if bytes(a[starts[i]:starts[i] + width[i]]).isdigit()]
    valid = (width > 0) & (width <= MAX_TIME_DIGITS)
    times = np.zeros(n, dtype=np.int64)
    last = len(a) - 1
    for k in range(int(min(width.max(), MAX_TIME_DIGITS)) if n else 0):   # one digit column at a time
        inside = width > k
        d = a[np.minimum(starts + k, last)] - np.uint8(48)
        valid &= (d <= 9) | ~inside
        times = np.where(inside, times * 10 + d, times)
    times[~valid] = 0
    if late:
        valid[late] = True
        times[late] = TOO_LATE
    return valid, times


def _views(a: np.ndarray, buf: bytearray, at: np.ndarray, length: np.ndarray) -> pa.Array:
    """A string-view array of ``buf[at:at + length]`` (no copy of the texts: Arrow views are 16
    bytes, the length then 12 inline bytes, or 4 prefix bytes, buffer 0 and the offset)."""
    n = len(at)
    views = np.zeros((n, 4), dtype=np.int32)
    views[:, 0] = length
    last = len(a) - 1
    b = [a[np.minimum(at + k, last)].astype(np.uint32) for k in range(4)]
    views[:, 1] = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)).view(np.int32)
    views[:, 3] = at
    short = np.flatnonzero(length <= 12)
    if len(short):
        cols = np.arange(12)
        inline = a[np.minimum(at[short, None] + cols[None, :], last)].copy()
        inline[cols[None, :] >= length[short, None]] = 0
        views[short, 1:] = inline.view(np.int32).reshape(len(short), 3)
    return pa.Array.from_buffers(pa.string_view(), n, [None, pa.py_buffer(views), pa.py_buffer(buf)])


def _finish(number: np.ndarray, t: pa.Array, rest: pa.Array, count: int) -> Lines:
    valid = pc.ascii_is_decimal(t).to_numpy(zero_copy_only=False)
    late = valid & (pc.binary_length(t).to_numpy(zero_copy_only=False) > MAX_TIME_DIGITS)
    times = pc.cast(pc.if_else(pa.array(valid & ~late), t, "0"), pa.int64()).to_numpy(zero_copy_only=False)
    if late.any():
        times = times.copy()
        times[late] = TOO_LATE
    return Lines(number, valid, times, rest.cast(pa.string_view()), count)


def split_slow(buf: bytearray, no0: int) -> Lines:
    """Split a block line by line as the line reader does (its decoding and line ends)."""
    numbers: list[int] = []
    times: list[str] = []
    rests: list[str] = []
    count = 0
    for count, line in enumerate(io.StringIO(buf.decode("utf-8", errors="replace"), newline=""), 1):
        line = line.rstrip("\r\n")
        if not line:
            continue
        t, _, rest = line.partition(",")
        if t.isdigit():
            int(t)   # the line reader's int(): a digit it cannot read ("²") stops the file the same way
            if not t.isascii():   # another script's digits: Python reads them, Arrow does not
                t = str(int(t))
        numbers.append(no0 + count)
        times.append(t)
        rests.append(rest)
    return _finish(np.array(numbers, dtype=np.int64), pa.array(times, pa.large_string()),
                   pa.array(rests, pa.large_string()), count)


__all__ = ["BLOCK_BYTES", "MAX_TIME_DIGITS", "Lines", "blocks", "split_fast", "split_slow"]
