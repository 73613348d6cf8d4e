"""The optional Rust EVTX reader (``tools/evtx-columns``) gives exactly what the pure-Python path gives.

Every EVTX file of the data sets, a whole directory in one run (batches shared across files), an
archive member, small native batches, a truncated file and corrupted records: the same canonical
frame (values, dtypes, row order) and the same report counts with ``LATGRAPH_EVTX_NATIVE=0`` and
``=1``. The tests skip, saying why, when the extension is not built; under ``CI=true`` a machine
that has ``cargo`` (so ``make`` builds it) but lacks the module fails instead, so a broken build
cannot hide behind the fallback.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ingest import load_events
from ingest.batching import KIND_BIG_INT, KIND_INT, ColumnBatch
from ingest.formats import evtx_file
from ingest.report import MAX_EXAMPLES, IngestReport
from tests.conftest import datasets_or_skip


def _native_or_skip() -> None:
    if evtx_file._native is not None:
        return
    cargo = shutil.which("cargo") or (Path.home() / ".cargo" / "bin" / "cargo").is_file()
    if os.environ.get("CI", "").lower() == "true" and cargo:
        pytest.fail("cargo is installed but the latgraph_evtx extension is not: `make venv` failed to "
                    "build tools/evtx-columns (see its output)")
    pytest.skip("the optional EVTX accelerator latgraph_evtx is not installed (needs cargo: "
                "`make venv` builds it from tools/evtx-columns)")


def _counts(report: IngestReport) -> list[tuple[Any, ...]]:
    return [(Path(f.path).name, f.format, f.records_read, f.kept, dict(f.skipped), dict(f.event_ids),
             dict(f.hosts), f.first_ts, f.last_ts, f.error, f.problem_count,
             # the problem texts, when none was left out (the kept examples depend on the order
             # in which the two paths meet the problems)
             sorted(f.problems) if len(f.problems) < MAX_EXAMPLES else None) for f in report.files]


def _both(monkeypatch: pytest.MonkeyPatch, paths: list[Path], **kwargs: Any) -> tuple[Any, Any]:
    """(python frame, report), (native frame, report) of the same input."""
    out = []
    for flag in ("0", "1"):
        monkeypatch.setenv("LATGRAPH_EVTX_NATIVE", flag)
        assert evtx_file.native_available() is (flag == "1")
        out.append(load_events([str(p) for p in paths], workers=1, **kwargs))
    return out[0], out[1]


def _assert_same(monkeypatch: pytest.MonkeyPatch, paths: list[Path], **kwargs: Any) -> IngestReport:
    (py_events, py_report), (rs_events, rs_report) = _both(monkeypatch, paths, **kwargs)
    pd.testing.assert_frame_equal(rs_events, py_events)
    assert _counts(rs_report) == _counts(py_report)
    return rs_report


def _evtx_files() -> list[Path]:
    return sorted(datasets_or_skip().rglob("*.evtx"))


def test_every_data_set_file_gives_the_same_rows_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    _native_or_skip()
    files = _evtx_files()
    assert files
    for path in files:
        report = _assert_same(monkeypatch, [path], resolve=False)
        assert report.files[0].records_read > 0, path


def test_a_whole_directory_in_one_run_and_small_native_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    _native_or_skip()
    files = _evtx_files()
    _assert_same(monkeypatch, files)                    # cross-file batches, IP resolution
    monkeypatch.setattr(evtx_file, "NATIVE_BATCH", 97)   # many native batches per file
    _assert_same(monkeypatch, files, batch_size=1000)    # and batcher flushes inside a file


def test_archive_member_truncated_file_and_corrupt_records(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    _native_or_skip()
    root = datasets_or_skip()
    real = (root / "evtx-attack-samples/LM_5145_Remote_FileCopy.evtx").read_bytes()
    with zipfile.ZipFile(tmp_path / "logs.zip", "w") as zf:
        zf.writestr("host1/Security.evtx", real)
    (tmp_path / "cut.evtx").write_bytes(real[:200_000])
    corrupt = bytearray(real)
    for at in (4096 + 65536 + 9000, 4096 + 2 * 65536 + 30_000):   # garbage inside records of two chunks
        corrupt[at:at + 3000] = os.urandom(3000)
    (tmp_path / "corrupt.evtx").write_bytes(bytes(corrupt))
    (tmp_path / "empty.evtx").write_bytes(b"")
    (tmp_path / "header_only.evtx").write_bytes(real[:4096])
    report = _assert_same(monkeypatch, sorted(tmp_path.iterdir()))
    by_name = {Path(f.path.split("!")[0]).name: f for f in report.files}
    assert by_name["logs.zip"].kept > 0 and by_name["logs.zip"].path.endswith("!host1/Security.evtx")
    # the damaged records break their chunk's framing: counted from the chunk's verified header
    assert by_name["corrupt.evtx"].skipped["unreadable chunk data"] > 0
    assert any("file truncated" in p for p in by_name["cut.evtx"].problems)
    assert by_name["empty.evtx"].error


def test_the_python_path_is_used_when_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATGRAPH_EVTX_NATIVE", "0")
    assert not evtx_file.native_available()
    monkeypatch.setattr(evtx_file, "_native", None)
    monkeypatch.setenv("LATGRAPH_EVTX_NATIVE", "1")
    assert not evtx_file.native_available()   # not installed: the fallback, whatever the variable says


def _part(values: list[Any], name: str = "F") -> tuple[int, dict[str, tuple[bytes, ...]], dict[int, Any]]:
    """A ColumnBatch part laid out as the native reader lays it out (distinct texts, a code per row,
    kinds, int64 values): texts, ints, ints beyond int64, nulls."""
    words: dict[str, int] = {}
    codes, kinds, ints = [], [], []
    for v in values:
        small_int = isinstance(v, int) and -2**63 <= v < 2**63
        kinds.append(KIND_INT if small_int else 0 if v is None else
                     KIND_BIG_INT if isinstance(v, int) else 1)
        ints.append(v if small_int else 0)
        codes.append(-1 if small_int or v is None else words.setdefault(str(v), len(words)))
    data = [w.encode() for w in words]
    offsets = np.cumsum([0, *map(len, data)]).astype(np.int32)
    int_bytes = np.array(ints, dtype=np.int64).tobytes() if KIND_INT in kinds else b""
    buffers = (offsets.tobytes(), b"".join(data), np.array(codes, dtype=np.int32).tobytes(), bytes(kinds),
               int_bytes)
    return len(values), {name: buffers}, {}


def test_column_batch_gives_what_a_list_of_records_gives() -> None:
    a = ["x", None, 4624, "x", 2**64, "", "é\u2603"]
    b = [None, "y", -5]
    batch = ColumnBatch.concat([ColumnBatch([_part(a)]), ColumnBatch([_part(b)])])
    assert len(batch) == len(a) + len(b)
    col = batch.column("F")
    assert col.tolist() == a + b
    assert [type(v) for v in col] == [type(v) for v in a + b]
    assert batch.column("Missing").tolist() == [None] * len(batch)
    view = batch.take(np.array([9, 2, 0]))
    assert view.column("F").tolist() == [-5, 4624, "x"]
    assert view[1:].column("F").tolist() == [4624, "x"]
    joined = ColumnBatch.concat([view, ColumnBatch([_part(["z"])])])   # views join too
    assert joined.column("F").tolist() == [-5, 4624, "x", "z"]


def test_column_batch_patches_rows_the_python_decoder_took() -> None:
    class Rec:
        F = "from python"

    n, cols, _ = _part(["a", None, "c"])
    batch = ColumnBatch([(n, cols, {1: Rec()})])
    assert batch.column("F").tolist() == ["a", "from python", "c"]
    assert batch.column("G").tolist() == [None, None, None]
    assert pa.array(batch.column("F")).to_pylist() == ["a", "from python", "c"]


def _verify(path: Path, keep: list[int]) -> dict[str, Any]:
    """Read ``path`` with template plans on, each planned record also rendered and compared."""
    checked = {i: sorted(c) for i, c in evtx_file.CHANNEL_CHECKED.items() if i in keep}
    reader = evtx_file._native.Reader(str(path), keep, checked, evtx_file.CHANNELS, evtx_file._NATIVE_FIELDS,
                                      50_000, 10_000, True, True)
    out: dict[str, Any] = {"read": 0, "planned": 0, "rows": 0, "mismatches": []}
    while (batch := reader.next_batch()) is not None:
        for key in ("read", "planned", "rows"):
            out[key] += batch[key]
        out["mismatches"] += batch["mismatches"]
    return out


@pytest.mark.parametrize("keep", ["kept ids", "every id"])
def test_records_read_from_template_values_equal_the_rendered_ones(keep: str) -> None:
    """The reader takes most records straight from their template substitution values (no JSON);
    in verify mode it also renders each of them and decodes the JSON: the row (or the drop) must be
    the same for every record of every data-set file, with latgraph's ids and with every id kept
    (so records of all providers and shapes are compared field by field)."""
    _native_or_skip()
    ids = sorted(evtx_file.KEPT_EVENT_IDS) if keep == "kept ids" else list(range(65536))
    read = planned = 0
    for path in _evtx_files():
        got = _verify(path, ids)
        assert got["mismatches"] == [], (path.name, got["mismatches"][:3])
        read, planned = read + got["read"], planned + got["planned"]
    assert read > 9000
    assert planned / read > 0.9, (planned, read)   # the planned path is the one being compared


@pytest.mark.parametrize("seed", range(int(os.environ.get("LATGRAPH_FUZZ_SEEDS", "12"))))
def test_randomly_corrupted_files_give_the_same_rows_and_counts(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path, seed: int) -> None:
    """Bytes flipped inside record data, substitution tables and template definitions (seeded;
    ``LATGRAPH_FUZZ_SEEDS=400`` for a longer run): the template-plan reader never fails where
    rendering does not, and agrees with the Python path, garbage and all."""
    _native_or_skip()
    import random

    rng = random.Random(seed)
    root = datasets_or_skip()
    name = rng.choice(["evtx-attack-samples/LM_5145_Remote_FileCopy.evtx",
                       "omerbenamram-evtx-samples/security.evtx",
                       "omerbenamram-evtx-samples/system.evtx",
                       "velocidex-evtx-testdata/Security.evtx",
                       "deepbluecli/smb-password-guessing-security.evtx"])
    data = bytearray((root / name).read_bytes())
    chunks = (len(data) - 4096) // 65536
    for _ in range(rng.randint(1, 40)):
        at = 4096 + rng.randrange(chunks) * 65536 + rng.randrange(512, 65536)   # past the chunk header
        data[at] = rng.randrange(256)
    path = tmp_path / f"fuzz{seed}.evtx"
    path.write_bytes(bytes(data))
    _assert_same(monkeypatch, [path], resolve=False)
