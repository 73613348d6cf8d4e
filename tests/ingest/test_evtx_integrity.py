"""EVTX checksums and chunk layout (``ingest/formats/evtx_check.py``): nothing lost or altered silently.

Each test damages a real log the way the adversarial run of issue #14 did (a flipped byte in a
record value, a zeroed chunk, a lying free-space offset, a header that under-counts its chunks and a
cut, a broken record frame, garbage over a chunk, a damaged file header) and checks that the damage
is a problem naming the file and the chunk, that every record that can be trusted is kept, and that
both EVTX paths (pure Python and the Rust reader) agree (``test_evtx_native._assert_same``).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from ingest import load_events
from ingest.formats import evtx_check, evtx_file
from ingest.formats.evtx_check import SKIP_CORRUPT_CHUNK, WARN_HEADER, WARN_UNVERIFIED, check_file
from ingest.report import IngestReport
from tests.conftest import datasets_or_skip

CLEAN = "evtx-attack-samples/LM_5145_Remote_FileCopy.evtx"   # 10 chunks, cleanly closed
DIRTY = "omerbenamram-evtx-samples/system.evtx"              # header says 3 chunks, holds 15


def _real(name: str = CLEAN) -> bytearray:
    return bytearray((datasets_or_skip() / name).read_bytes())


def _chunk(i: int) -> int:
    return 4096 + i * 65536


def _records(data: bytes, i: int) -> list[tuple[int, int]]:
    """(offset in file, size) of the records of chunk ``i``."""
    base, out, off = _chunk(i), [], 512
    free = struct.unpack_from("<I", data, base + 48)[0]
    while off < free:
        size = struct.unpack_from("<I", data, base + off + 4)[0]
        out.append((base + off, size))
        off += size
    return out


def _fix_chunk_header_crc(data: bytearray, i: int) -> None:
    base = _chunk(i)
    crc = zlib.crc32(bytes(data[base + 128:base + 512]), zlib.crc32(bytes(data[base:base + 120])))
    data[base + 124:base + 128] = struct.pack("<I", crc)


def _fix_file_header_crc(data: bytearray) -> None:
    data[124:128] = struct.pack("<I", zlib.crc32(bytes(data[:120])))


def _ingest(tmp_path: Path, data: bytes, name: str = "damaged.evtx") -> tuple[int, IngestReport]:
    path = tmp_path / name
    path.write_bytes(data)
    events, report = load_events([path], workers=1, resolve=False)
    return len(events), report


def _baseline(tmp_path: Path, name: str = CLEAN) -> tuple[int, IngestReport]:
    return _ingest(tmp_path, bytes(_real(name)), "original.evtx")


def _both_paths_agree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if evtx_file._native is None:
        return
    from tests.ingest.test_evtx_native import _assert_same

    _assert_same(monkeypatch, sorted(tmp_path.glob("damaged*.evtx")), resolve=False)


def test_every_data_set_file_verifies() -> None:
    """No false alarm: every real EVTX file's checksums and layout check out (the two logs that were
    not closed cleanly only get a note about their stale header)."""
    for path in sorted(datasets_or_skip().rglob("*.evtx")):
        check = check_file(str(path), path.name)
        assert check is not None and not check.warnings and not check.lost, (path, check)
        assert not check.needs_copy, (path, check)


def test_a_changed_record_value_is_a_problem_naming_file_and_chunk(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    kept, base = _baseline(tmp_path)
    data = _real()
    at, size = _records(data, 2)[5]
    target = bytes(data[at:at + size]).find("Administrator".encode("utf-16-le"))
    assert target > 0
    data[at + target + 6] ^= 0x48            # 'i' -> '!': 'Adm!nistrator', framing untouched
    n, report = _ingest(tmp_path, bytes(data))
    fr = report.files[0]
    assert fr.warnings == {WARN_UNVERIFIED: 1}
    assert any("damaged.evtx: chunk 2 (offset 0x21000): checksum mismatch (records)" in p
               and "not verified" in p for p in fr.problems), fr.problems
    assert n == kept and fr.records_read == base.records_read     # framed records kept
    assert report.problem_count == 1
    _both_paths_agree(monkeypatch, tmp_path)


def test_the_cli_exits_3_on_a_checksum_problem(tmp_path: Path) -> None:
    data = _real()
    data[_records(data, 1)[3][0] + 60] ^= 0xFF
    (tmp_path / "bad.evtx").write_bytes(bytes(data))
    out = str(tmp_path / "c.parquet")
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path / "bad.evtx"), "-o", out])
    assert result.exit_code == 3, result.output
    assert "chunk 1 (offset 0x11000)" in result.output


def test_a_zeroed_chunk_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, base = _baseline(tmp_path)
    data = _real()
    lost = len(_records(data, 3))
    data[_chunk(3):_chunk(4)] = bytes(65536)
    _, report = _ingest(tmp_path, bytes(data))
    fr = report.files[0]
    assert fr.records_read == base.records_read - lost
    assert fr.warnings == {WARN_HEADER: 1}
    assert any("chunk 3 (offset 0x31000) is all zeros" in p for p in fr.problems), fr.problems
    _both_paths_agree(monkeypatch, tmp_path)


@pytest.mark.parametrize("fix_crc", [False, True])
def test_a_lying_free_space_offset_loses_no_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   fix_crc: bool) -> None:
    """Free space moved to just after the first record (with or without a matching header checksum):
    the parser alone would stop there; the framed records are all read, and it is a problem."""
    kept, base = _baseline(tmp_path)
    data = _real()
    first = _records(data, 4)[0]
    data[_chunk(4) + 48:_chunk(4) + 52] = struct.pack("<I", first[0] - _chunk(4) + first[1])
    if fix_crc:
        _fix_chunk_header_crc(data, 4)
    n, report = _ingest(tmp_path, bytes(data))
    fr = report.files[0]
    assert (n, fr.records_read) == (kept, base.records_read)
    assert fr.warnings == {WARN_UNVERIFIED: 1}
    assert any("chunk 4 (offset 0x41000)" in p for p in fr.problems)
    _both_paths_agree(monkeypatch, tmp_path)


def test_an_under_counting_header_and_a_cut_inside_a_chunk(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The real sample whose header says 3 chunks and holds 15, cut inside chunk 9: chunks 0-8 and the
    complete records of chunk 9 are read, the cut is a problem (it was silent: the header's count
    says nothing is missing)."""
    data = _real(DIRTY)
    recs = _records(data, 9)
    cut = recs[len(recs) // 2][0] + 10            # inside a record
    _, full_report = _ingest(tmp_path, bytes(data[:_chunk(9)]), "whole_chunks.evtx")
    _, report = _ingest(tmp_path, bytes(data[:cut]))
    fr = report.files[0]
    assert fr.records_read == full_report.records_read + len(recs)     # the chunk's verified header counts
    assert fr.kept + fr.skipped["event id not kept"] == full_report.records_read + len(recs) // 2
    assert fr.skipped[SKIP_CORRUPT_CHUNK] == len(recs) - len(recs) // 2
    assert any("chunk 9 (offset 0x91000): the file ends inside this chunk" in p for p in fr.problems)
    assert fr.warnings == {WARN_UNVERIFIED: 1}
    assert any("declares 3 chunk(s) but the file holds 10" in note for note in fr.notes)
    (tmp_path / "whole_chunks.evtx").unlink()
    _both_paths_agree(monkeypatch, tmp_path)


def test_a_clean_header_that_under_counts_is_a_problem(tmp_path: Path) -> None:
    kept, base = _baseline(tmp_path)
    data = _real()
    data[42:44] = struct.pack("<H", 3)
    _fix_file_header_crc(data)
    n, report = _ingest(tmp_path, bytes(data))
    fr = report.files[0]
    assert (n, fr.records_read) == (kept, base.records_read)
    assert any("declares 3 chunk(s) but the file holds 10" in p for p in fr.problems)
    assert fr.warnings == {WARN_HEADER: 1}


def test_a_broken_record_frame_keeps_the_records_before_it_and_counts_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, base = _baseline(tmp_path)
    data = _real()
    recs = _records(data, 2)
    data[recs[10][0]:recs[10][0] + 4] = b"XXXX"   # the 11th record's magic
    _, report = _ingest(tmp_path, bytes(data))
    fr = report.files[0]
    assert fr.skipped[SKIP_CORRUPT_CHUNK] == len(recs) - 10     # the verified header says how many
    assert fr.records_read == base.records_read
    assert fr.records_read == fr.kept + sum(fr.skipped.values())
    assert any("chunk 2 (offset 0x21000)" in p and "could not be framed" in p for p in fr.problems)
    _both_paths_agree(monkeypatch, tmp_path)


def test_garbage_over_a_chunk_and_a_damaged_file_header(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    data = _real()
    lost = len(_records(data, 5))
    data[_chunk(5):_chunk(6)] = random.Random(5).randbytes(65536)
    data[70] ^= 1                                 # an unused byte of the file header
    _, base = _baseline(tmp_path)
    _, report = _ingest(tmp_path, bytes(data))
    fr = report.files[0]
    assert any("file header checksum mismatch" in p for p in fr.problems)
    assert any("chunk 5 (offset 0x51000) has no chunk signature" in p for p in fr.problems)
    assert fr.records_read == base.records_read - lost + 1 and fr.skipped[SKIP_CORRUPT_CHUNK] == 1
    _both_paths_agree(monkeypatch, tmp_path)


def test_strict_stops_at_a_checksum_problem(tmp_path: Path) -> None:
    from ingest.errors import IngestError

    data = _real()
    data[_records(data, 1)[3][0] + 60] ^= 0xFF
    (tmp_path / "bad.evtx").write_bytes(bytes(data))
    with pytest.raises(IngestError, match="chunk 1"):
        load_events([tmp_path / "bad.evtx"], workers=1, strict=True)


def test_the_rust_crc32_equals_zlib() -> None:
    if evtx_file._native is None or not hasattr(evtx_file._native, "crc32"):
        pytest.skip("the optional EVTX accelerator latgraph_evtx (with crc32) is not installed")
    import os

    blob = os.urandom(100_000)
    assert evtx_check.default_crc() is evtx_file._native.crc32
    for a, b in ((0, 0), (0, 1), (3, 65539), (0, 100_000)):
        assert evtx_file._native.crc32(memoryview(blob)[a:b]) == zlib.crc32(blob[a:b])
        assert evtx_file._native.crc32(blob[a:b], 12345) == zlib.crc32(blob[a:b], 12345)


def test_a_re_checksummed_header_that_ends_the_chunk_early_is_caught(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """An edit that moves the chunk's last-record id to a middle record and re-computes the header
    checksum: the parser would stop there silently; the header no longer fits its records."""
    kept, base = _baseline(tmp_path)
    data = _real()
    recs = _records(data, 3)
    middle_id = struct.unpack_from("<Q", data, recs[20][0] + 8)[0]
    data[_chunk(3) + 32:_chunk(3) + 40] = struct.pack("<Q", middle_id)
    _fix_chunk_header_crc(data, 3)
    n, report = _ingest(tmp_path, bytes(data))
    fr = report.files[0]
    assert (n, fr.records_read) == (kept, base.records_read)
    assert any("chunk 3 (offset 0x31000): chunk header inconsistent with its records although its "
               "checksums match" in p for p in fr.problems), fr.problems
    _both_paths_agree(monkeypatch, tmp_path)


def test_a_chunk_flagged_without_checksums_is_not_trusted(tmp_path: Path) -> None:
    data = _real()
    flags = struct.unpack_from("<I", data, _chunk(1) + 120)[0]
    data[_chunk(1) + 120:_chunk(1) + 124] = struct.pack("<I", flags | evtx_check.NO_CRC32)
    _, report = _ingest(tmp_path, bytes(data))
    problems = report.files[0].problems
    assert any("chunk 1 (offset 0x11000): the chunk carries no checksums" in p for p in problems)
