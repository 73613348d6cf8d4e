"""EVTX integrity: file header and chunk checksums, zeroed and lying chunks, chunks past the header's count.

The ``evtx`` crate (behind pyevtx-rs and behind the optional Rust reader) does not check checksums
by default, skips an all-zero chunk without a word, stops a chunk at its (possibly lying)
free-space offset and reads a file to its end whatever chunk count the header declares. So a damaged
file could lose records, or change their values, with no problem reported. :func:`check_file` runs
before either reader and decides, chunk by chunk, what can be trusted:

* **verified chunk** (``ElfChnk`` magic, header CRC32 over bytes 0-120 and 128-512, records CRC32
  over 512..free-space offset, both as stored in the chunk header): read as it is;
* **checksum mismatch**: the values of that chunk's records cannot be verified, and with a bad
  header checksum neither can its free-space offset or record range. The records are walked from
  offset 512 by their own framing: record magic ``**\\0\\0``, a size that stays inside the chunk and
  equals the copy of the size at the record's end, and consecutive record ids. The records of that
  unbroken chain are kept (their framing checks out; their values are not verified, and the report
  says so), the chunk's header is rewritten in a private copy so the parser reads exactly that chain
  (a lying free-space offset or last-record id loses nothing), and whatever follows a broken frame
  is not read and is reported;
* **all-zero chunk** before the last chunk (or inside the header's count): reported (records wiped);
* **no chunk magic** (garbage): reported, not read;
* **chunks beyond the header's chunk count** that carry the magic are read and the under-count
  reported; a file that ends inside a chunk has that partial chunk's framed records kept.

A file that verifies completely is read in place (the common case: every real data-set file);
otherwise the readers get a repaired copy (:func:`write_repaired`), both the pure-Python and the
Rust path alike, so they keep and count exactly the same records. Checksums use the Rust reader's
``crc32`` (crc32fast) when it is installed, ``zlib.crc32`` otherwise: same values.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

FILE_MAGIC, CHUNK_MAGIC, RECORD_MAGIC = b"ElfFile\x00", b"ElfChnk\x00", b"**\x00\x00"
HEADER_BLOCK, CHUNK_SIZE, CHUNK_HEADER = 4096, 65536, 512
#: Chunk flag: the chunk carries no checksums (the ``evtx`` crate's ``NO_CRC32``).
NO_CRC32 = 0x4
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")
_RECORD_HEADER = struct.Struct("<4sIQQ")   # magic, size, record id, FILETIME
_ZERO_CHUNK = bytes(CHUNK_SIZE)

#: Report reasons (``FileReport.warnings`` for records kept with a doubt, ``skipped`` for lost ones).
WARN_UNVERIFIED = "records kept from a chunk whose checksum failed"
WARN_HEADER = "EVTX file header damaged or under-counting"
SKIP_CORRUPT_CHUNK = "unreadable chunk data"

Crc = Callable[..., int]


@dataclass
class ChunkFix:
    """A chunk to rewrite in the repaired copy: read exactly ``records`` framed records."""

    index: int
    free_space: int
    last_record_id: int


@dataclass
class FileCheck:
    """What :func:`check_file` found in one file."""

    chunks: int = 0                                   # chunk slots in the file (partial one included)
    warnings: list[tuple[str, str]] = field(default_factory=list)   # (reason, message)
    lost: list[tuple[int, str]] = field(default_factory=list)       # (records, message)
    notes: list[str] = field(default_factory=list)                  # informational
    fixes: list[ChunkFix] = field(default_factory=list)
    drop: list[int] = field(default_factory=list)    # chunk slots zeroed in the repaired copy
    header_count: int = 0                             # chunks the header declares
    read_count: int = 0                               # chunks the repaired header declares

    @property
    def needs_copy(self) -> bool:
        """True when the readers must read a repaired copy instead of the file itself."""
        return bool(self.fixes or self.drop)


def default_crc() -> Crc:
    """The Rust reader's crc32 when installed (faster), else :func:`zlib.crc32` (same values)."""
    try:
        from latgraph_evtx import crc32  # type: ignore[attr-defined]
    except ImportError:
        return zlib.crc32
    return crc32


def _walk(chunk: memoryview, limit: int) -> tuple[int, int, int | None, int | None]:
    """The unbroken chain of framed records from offset 512: (records, end offset, first id, last id)."""
    off, n, first, prev = CHUNK_HEADER, 0, None, None
    while off + 28 <= limit:
        magic, size, rid, _ = _RECORD_HEADER.unpack_from(chunk, off)
        if magic != RECORD_MAGIC or size < 28 or off + size > limit:
            break
        if _U32.unpack_from(chunk, off + size - 4)[0] != size:
            break
        if prev is not None and rid != prev + 1:
            break
        first = rid if first is None else first
        prev, n, off = rid, n + 1, off + size
    return n, off, first, prev


def _consistent(chunk: memoryview, free: int) -> bool:
    """The chunk header's first record id is the record at offset 512, and its last record (id and
    offset) ends exactly at the free-space offset (true of every chunk of the real data sets)."""
    if free == CHUNK_HEADER:   # a chunk without records yet
        return True
    first_id, last_id = _U64.unpack_from(chunk, 24)[0], _U64.unpack_from(chunk, 32)[0]
    last_at = _U32.unpack_from(chunk, 44)[0]
    if not CHUNK_HEADER <= last_at <= CHUNK_SIZE - 28:
        return False
    magic, _, rid, _ = _RECORD_HEADER.unpack_from(chunk, CHUNK_HEADER)
    magic_l, size_l, rid_l, _ = _RECORD_HEADER.unpack_from(chunk, last_at)
    return (magic == magic_l == RECORD_MAGIC and rid == first_id and rid_l == last_id
            and last_at + size_l == free)


def _at(name: str, index: int) -> str:
    return f"{name}: chunk {index} (offset {HEADER_BLOCK + index * CHUNK_SIZE:#x})"


def check_file(path: str, name: str, crc: Crc | None = None) -> FileCheck | None:
    """Verify the EVTX file at ``path`` (``name`` is used in messages); ``None`` when it has no
    complete file header (the caller reports that)."""
    crc = crc or default_crc()
    out = FileCheck()
    size = os.path.getsize(path)
    if size < HEADER_BLOCK:
        return None
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        data = memoryview(mm)
        try:
            if bytes(data[:8]) != FILE_MAGIC:
                return None
            _check(data, size, name, crc, out)
        finally:
            data.release()
    return out


def _check(data: memoryview, size: int, name: str, crc: Crc, out: FileCheck) -> None:
    out.header_count = declared = int.from_bytes(data[42:44], "little")
    stored = _U32.unpack_from(data, 124)[0]
    computed = crc(data[:120])
    if stored != computed:
        out.warnings.append((WARN_HEADER, f"{name}: file header checksum mismatch (stored {stored:#010x}, "
                                          f"computed {computed:#010x}); every chunk in the file is examined"))
    full, tail = divmod(size - HEADER_BLOCK, CHUNK_SIZE)
    slots = full + (1 if tail >= CHUNK_HEADER else 0)
    out.chunks = slots
    kinds: list[str] = []
    for i in range(slots):
        start = HEADER_BLOCK + i * CHUNK_SIZE
        chunk = data[start:start + CHUNK_SIZE]
        if bytes(chunk[:8]) == CHUNK_MAGIC:
            kinds.append("chunk")
        elif bytes(chunk) == _ZERO_CHUNK[:len(chunk)]:   # compared in C
            kinds.append("zero")
        else:
            kinds.append("garbage")
    last = max((i for i, k in enumerate(kinds) if k == "chunk"), default=-1)
    for i, kind in enumerate(kinds):
        if kind == "zero" and (i < declared or i < last):
            out.warnings.append((WARN_HEADER, f"{_at(name, i)} is all zeros although "
                                 + ("the header declares " f"{declared} chunk(s)" if i < declared
                                    else "a later chunk follows") + ": records there, if any, are lost"))
        elif kind == "garbage":
            out.drop.append(i)
            out.lost.append((1, f"{_at(name, i)} has no chunk signature (ElfChnk); not read"))
        elif kind == "chunk":
            start = HEADER_BLOCK + i * CHUNK_SIZE
            _check_chunk(data[start:start + CHUNK_SIZE], i, name, crc, out)
    out.read_count = last + 1
    if last + 1 > declared:
        text = (f"{name}: the header declares {declared} chunk(s) but the file holds {last + 1}; "
                "all of them are read")
        if _U32.unpack_from(data, 120)[0] & 1:   # a dirty (not cleanly closed) log: a stale header is normal
            out.notes.append(text + " (the log was not closed cleanly, so its header is stale)")
        else:
            out.warnings.append((WARN_HEADER, text))


def _check_chunk(chunk: memoryview, i: int, name: str, crc: Crc, out: FileCheck) -> None:
    n = len(chunk)
    flags = _U32.unpack_from(chunk, 120)[0]
    stored_h, stored_d = _U32.unpack_from(chunk, 124)[0], _U32.unpack_from(chunk, 52)[0]
    free = _U32.unpack_from(chunk, 48)[0]
    complete = n == CHUNK_SIZE
    if flags & NO_CRC32:   # nothing to verify: treated like a checksum mismatch (never seen in real logs)
        header_ok = data_ok = False
        what = "the chunk carries no checksums (flag NO_CRC32)"
    else:
        header_ok = stored_h == crc(chunk[128:512], crc(chunk[:120]))
        data_ok = (complete and CHUNK_HEADER <= free <= CHUNK_SIZE
                   and stored_d == crc(chunk[CHUNK_HEADER:free]))
        what = ("checksum mismatch (chunk header and records)" if not header_ok and not data_ok
                else "checksum mismatch (chunk header)" if not header_ok else "checksum mismatch (records)")
    if header_ok and data_ok:
        if _consistent(chunk, free):
            return
        # checksums that match a header whose record range does not fit its records: re-computed
        # after an edit (the parser would stop at a moved last-record id or free-space offset)
        header_ok = False
        what = "chunk header inconsistent with its records although its checksums match"
    records, end, first, last = _walk(chunk, n)
    if not complete:
        what = f"the file ends inside this chunk ({n} of {CHUNK_SIZE} bytes)"
    where = _at(name, i)
    if records:
        out.warnings.append((WARN_UNVERIFIED, f"{where}: {what}; {records} record(s) (ids {first}-{last}) "
                             "kept because their framing checks out, but their values are not verified"
                             + ("" if header_ok else "; whatever follows them in the chunk cannot be "
                                "framed")))
        out.fixes.append(ChunkFix(i, end, last or 0))
    else:
        out.drop.append(i)
    expected_last = _U64.unpack_from(chunk, 32)[0]
    if header_ok and last is not None and expected_last > last:
        out.lost.append((expected_last - last, f"{where}: {what}; records {last + 1}-{expected_last} could "
                                               "not be framed (damaged) and are not read"))
    elif header_ok and last is None:
        count = max(expected_last - _U64.unpack_from(chunk, 24)[0] + 1, 1)
        out.lost.append((count, f"{where}: {what}; no record could be framed, its {count} record(s) are "
                                "not read"))
    elif last is None:   # nothing framed and no trusted header to say how much is lost
        out.lost.append((1, f"{where}: {what}; no record could be framed, the chunk is not read"))


def write_repaired(path: str, check: FileCheck, target: str) -> None:
    """Write the copy the readers get: damaged chunks rewritten to their framed records, unreadable
    ones zeroed (the parser skips zero chunks), a partial last chunk padded, the chunk count set."""
    with open(path, "rb") as src, open(target, "wb") as dst:
        header = bytearray(src.read(HEADER_BLOCK))
        header[42:44] = min(check.read_count, 0xFFFF).to_bytes(2, "little")
        header[124:128] = _U32.pack(zlib.crc32(header[:120]))
        dst.write(header)
        fixes = {f.index: f for f in check.fixes}
        drop = set(check.drop)
        for i in range(check.read_count):
            chunk = bytearray(src.read(CHUNK_SIZE).ljust(CHUNK_SIZE, b"\x00"))
            if i in drop:
                chunk = bytearray(CHUNK_SIZE)
            elif i in fixes:
                fix = fixes[i]
                chunk[48:52] = _U32.pack(fix.free_space)
                chunk[32:40] = _U64.pack(fix.last_record_id)
                chunk[fix.free_space:] = bytes(CHUNK_SIZE - fix.free_space)   # nothing unframed is read
            dst.write(chunk)
