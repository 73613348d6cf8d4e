"""Columnar accumulator for generated events: blocks of numpy arrays -> one canonical frame.

Generators never build per-event Python objects. Each activity adds one *block* per event template
(all instances of "a 5140 on ADMIN$ after a deployment logon" at once): string columns are int32
codes into one interned vocabulary (``-1`` = missing), ``logon_id`` is an int64 (``-1`` = missing)
rendered as Windows' lower-case hex at the end, integers are int64 with a missing mask.
:meth:`Blocks.to_frame` concatenates, assigns per-file record ids in time order and converts to the
canonical dtypes of :mod:`ingest.schema` through Arrow (no Python strings per row).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ingest.schema import COLUMNS, DTYPES, validate_frame

MISSING = -1
#: Columns held as vocabulary codes (every string column except the computed ones).
_STRING_COLUMNS = tuple(c for c, d in DTYPES.items() if d in ("string", "category")
                        and c not in ("logon_id", "source_file"))
_INT_COLUMNS = tuple(c for c, d in DTYPES.items() if d.lower().startswith("int"))
#: File name of each channel's log, as found in a collection (``WS0042/Security.evtx``).
CHANNEL_FILES: dict[str, str] = {
    "Security": "Security.evtx",
    "System": "System.evtx",
    "Sysmon": "Microsoft-Windows-Sysmon%4Operational.evtx",
}


class Blocks:
    """Accumulates event blocks; strings are interned once into :attr:`vocab`."""

    def __init__(self) -> None:
        self.vocab: list[str] = []
        self._index: dict[str, int] = {}
        self._blocks: list[tuple[int, dict[str, Any]]] = []

    # -- vocabulary -------------------------------------------------------------------------
    def code(self, value: str | None) -> int:
        """Code of one string (``None`` -> missing)."""
        if value is None:
            return MISSING
        found = self._index.get(value)
        if found is None:
            found = self._index[value] = len(self.vocab)
            self.vocab.append(value)
        return found

    def codes(self, values: Iterable[str | None]) -> np.ndarray:
        """Codes of a (small) sequence of strings, e.g. the host names of the enterprise."""
        return np.fromiter((self.code(v) for v in values), dtype=np.int32)

    def text(self, code: int) -> str | None:
        """The string behind a code."""
        return None if code < 0 else self.vocab[code]

    # -- blocks -----------------------------------------------------------------------------
    def add(self, ts: np.ndarray, **cols: Any) -> None:
        """Add ``len(ts)`` events. ``ts`` is int64 ns since the epoch (UTC).

        Each column is a scalar (``str`` / ``int`` / ``None``) broadcast to all rows, or an array:
        int codes for string columns (from :meth:`codes`), int64 for ``logon_id`` and integers.
        Unknown column names raise ``KeyError`` so typos fail loudly.
        """
        n = len(ts)
        if n == 0:
            return
        block: dict[str, Any] = {"ts": np.asarray(ts, dtype=np.int64)}
        for col, value in cols.items():
            if col not in COLUMNS or col in ("ts", "source_file", "record_id"):
                raise KeyError(f"not a generated column: {col}")
            if isinstance(value, str):
                value = self.code(value)
            elif value is None:
                value = MISSING
            elif not np.isscalar(value):
                value = np.asarray(value)
                if len(value) != n:
                    raise ValueError(f"column {col}: {len(value)} values for {n} events")
            block[col] = value
        self._blocks.append((n, block))

    def __len__(self) -> int:
        return sum(n for n, _ in self._blocks)

    def _column(self, col: str, dtype: type) -> np.ndarray:
        parts = []
        for n, block in self._blocks:
            value = block.get(col, MISSING)
            parts.append(np.full(n, value, dtype=dtype) if np.isscalar(value)
                         else value.astype(dtype, copy=False))
        return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

    # -- output -----------------------------------------------------------------------------
    def to_frame(self, source_format: str, record_base: np.ndarray | None = None) -> pd.DataFrame:
        """The canonical events frame, sorted by time, with record ids and source files.

        Args:
            source_format: value of the ``source_format`` column.
            record_base: optional first record id per source file code order (random offsets so
                files do not all start at 1); default 1.
        """
        # Windows FILETIME resolution: 100 ns
        ts = self._column("ts", np.int64) // 100 * 100
        host = self._column("host", np.int32)
        channel = self._column("channel", np.int32)
        # source file = "<HOST>/<channel file>" for each distinct (host, channel)
        pair = host.astype(np.int64) * (len(self.vocab) + 1) + channel
        uniq, file_idx = np.unique(pair, return_inverse=True)
        names = [f"{self.vocab[p // (len(self.vocab) + 1)]}/"
                 f"{CHANNEL_FILES.get(self.vocab[p % (len(self.vocab) + 1)], 'unknown.evtx')}"
                 for p in uniq.tolist()]
        # record ids increase with time inside each file
        order = np.lexsort((ts, file_idx))
        starts = np.r_[0, np.flatnonzero(np.diff(file_idx[order])) + 1]
        group_start = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        base = np.ones(len(uniq), dtype=np.int64) if record_base is None else record_base[:len(uniq)]
        record = np.empty(len(ts), dtype=np.int64)
        record[order] = np.arange(len(order)) - group_start + base[file_idx[order]]
        final = np.argsort(ts, kind="stable")

        data: dict[str, Any] = {}
        ts_index = pd.DatetimeIndex(ts[final].view("datetime64[ns]")).tz_localize("UTC")
        data["ts"] = pd.Series(ts_index, copy=False).reset_index(drop=True)
        vocab = pa.array(self.vocab, type=pa.string())
        for col in COLUMNS:
            if col == "ts":
                continue
            if col == "source_file":
                data[col] = _strings(file_idx[final].astype(np.int32), pa.array(names))
            elif col == "record_id":
                data[col] = pd.arrays.IntegerArray(record[final], np.zeros(len(ts), dtype=bool))
            elif col == "source_format":
                data[col] = pd.Categorical.from_codes(np.zeros(len(ts), dtype=np.int8),
                                                      pd.Index([source_format], dtype="string"))
            elif col == "logon_id":
                data[col] = _hex(self._column(col, np.int64)[final])
            elif col == "channel":
                data[col] = _category(channel[final], self.vocab)
            elif col in _INT_COLUMNS:
                values = self._column(col, np.int64)[final]
                mask = values == MISSING
                dtype = DTYPES[col]
                np_type = np.dtype(dtype.lower())
                if dtype[0] == "i":  # non-nullable (event_id)
                    data[col] = values.astype(np_type)
                else:
                    data[col] = pd.arrays.IntegerArray(np.where(mask, 0, values).astype(np_type), mask)
            elif col in _STRING_COLUMNS:
                data[col] = _strings(self._column(col, np.int32)[final], vocab)
        frame = pd.DataFrame(data, columns=list(COLUMNS))
        return validate_frame(frame)


def _strings(codes: np.ndarray, dictionary: pa.Array) -> pd.arrays.ArrowStringArray:
    """int32 codes (-1 missing) -> pandas ``string`` array without per-row Python objects."""
    indices = pa.array(codes, mask=codes < 0, type=pa.int32())
    return pd.arrays.ArrowStringArray(pa.DictionaryArray.from_arrays(indices, dictionary)
                                      .cast(pa.string()))


def _category(codes: np.ndarray, vocab: Sequence[str]) -> pd.Categorical:
    """Codes -> pandas categorical over the values actually present."""
    used, inverse = np.unique(codes, return_inverse=True)
    # categories typed "string" like ingest.schema.coerce_frame makes them
    return pd.Categorical.from_codes(inverse.astype(np.int32),
                                     pd.Index([vocab[c] for c in used.tolist()], dtype="string"))


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex(values: np.ndarray) -> pd.arrays.ArrowStringArray:
    """Non-negative int64 -> ``0x3e7``-style lower-case hex strings (negative -> missing).

    Vectorised: digits are laid out right-aligned in a fixed-width byte matrix, then the leading
    padding is masked away and the rest becomes an Arrow string buffer.

    Examples:
        >>> list(_hex(np.array([999, 0, -1, 0x1a2b3c4])))
        ['0x3e7', '0x0', <NA>, '0x1a2b3c4']
    """
    mask = values < 0
    v = np.where(mask, 0, values).astype(np.uint64)
    width = 16 if len(v) and int(v.max()) >= 2**32 else 8
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    digits = ((v[:, None] >> shifts[None, :]) & np.uint64(15)).astype(np.intp)
    n_digits = np.maximum(1, width - _leading_zero_nibbles(v, width))
    keep = np.arange(width)[None, :] >= (width - n_digits)[:, None]
    chars = np.concatenate([np.full((len(v), 2), [ord("0"), ord("x")], dtype=np.uint8),
                            _HEX[digits]], axis=1)
    keep = np.concatenate([np.ones((len(v), 2), dtype=bool), keep], axis=1)
    keep[mask] = False
    lengths = keep.sum(axis=1)
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int32)
    buf = pa.py_buffer(chars[keep].tobytes())
    validity = pa.array(~mask).buffers()[1] if mask.any() else None
    arr = pa.StringArray.from_buffers(len(v), pa.py_buffer(offsets.tobytes()), buf, validity,
                                      int(mask.sum()))
    return pd.arrays.ArrowStringArray(arr)


def _leading_zero_nibbles(v: np.ndarray, width: int) -> np.ndarray:
    """Number of leading zero hex digits of each value within ``width`` digits."""
    count = np.zeros(len(v), dtype=np.int64)
    top = 4 * (width - 1)
    for shift in range(top, -4, -4):
        still = count == (top - shift) // 4
        nib = (v >> np.uint64(shift)) & np.uint64(15)
        count += (still & (nib == 0)).astype(np.int64)
    return count
