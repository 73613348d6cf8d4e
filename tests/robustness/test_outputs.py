"""Issue #14 items 7, 8 and 9: outputs are atomic, a full disk is a clear error that keeps the old
file, and device paths (FIFO, /dev/zero) are refused instead of hanging or filling memory.

The CLI runs in a subprocess here: a full disk is simulated with a small ``RLIMIT_FSIZE`` (writes
past it fail with EFBIG, SIGXFSZ ignored), and a FIFO regression would hang, so every run has a timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ingest.case import read_case, write_case
from ingest.synthetic import simulate
from ingest.writers import write_events

REPO = Path(__file__).resolve().parents[2]
RUNNER = ("import resource, signal, sys\n"
          "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
          "limit = int(sys.argv[1])\n"
          "if limit: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
          "sys.argv = ['latgraph', *sys.argv[2:]]\n"
          "from app.cli import cli\n"
          "cli()\n")


def latgraph(*args: object, fsize: int = 0, timeout: float = 180) -> subprocess.Popen[str]:
    """Start ``latgraph ARGS`` (optionally with a file-size limit in bytes) in a subprocess."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               PYTHONDONTWRITEBYTECODE="1")
    return subprocess.Popen([sys.executable, "-c", RUNNER, str(fsize), *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run(*args: object, fsize: int = 0, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    proc = latgraph(*args, fsize=fsize)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two different simulated cases as Winlogbeat files, and a small old case."""
    root = tmp_path_factory.mktemp("outputs")
    out = {}
    for seed in (1, 2):
        sim = simulate(seed, n_workstations=12, n_servers=3, days=1)
        out[f"logs{seed}"] = root / f"logs{seed}.ndjson"
        write_events(sim.events, out[f"logs{seed}"], "winlogbeat")
        if seed == 1:
            out["old"] = root / "old.parquet"
            write_case(sim.events.head(50), out["old"])
    return out


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix in {".part", ".tmp"})


@pytest.mark.parametrize("stream", [False, True])
def test_a_full_disk_is_a_clear_error_and_keeps_the_old_case(inputs: dict[str, Path], tmp_path: Path,
                                                              stream: bool) -> None:
    target = tmp_path / "case.parquet"
    target.write_bytes(inputs["old"].read_bytes())
    before = target.read_bytes()
    result = run("ingest", inputs["logs1"], "-o", target, *(["--stream"] if stream else []),
                 fsize=len(before) + 4096)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"latgraph ingest: error: cannot write {target}: " in result.stderr
    assert "File too large" in result.stderr and "(the existing file was left unchanged)" in result.stderr
    assert target.read_bytes() == before                     # the old case is intact
    assert _leftovers(tmp_path) == []                        # no temporary file left behind


def test_analyze_json_and_export_never_leave_a_truncated_file(inputs: dict[str, Path],
                                                              tmp_path: Path) -> None:
    old = b'{"old": true}\n'
    for args, target in ((["analyze", inputs["old"], "--json"], tmp_path / "result.json"),
                         (["export", inputs["old"], "-f", "html", "-o"], tmp_path / "report.html")):
        target.write_bytes(old)
        result = run(*args, target, fsize=4096)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr and f"cannot write {target}: File too large" in result.stderr
        assert target.read_bytes() == old
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("stream", [False, True])
def test_two_concurrent_ingests_to_one_output_leave_one_complete_case(inputs: dict[str, Path], tmp_path: Path,
                                                                       stream: bool) -> None:
    target = tmp_path / "case.parquet"
    flag = ["--stream"] if stream else []
    procs = [latgraph("ingest", inputs[f"logs{s}"], "-o", target, "--report", tmp_path / "report.json", *flag)
             for s in (1, 2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    got = read_case(target)
    singles = []
    for s in (1, 2):
        one = tmp_path / f"single{s}.parquet"
        assert run("ingest", inputs[f"logs{s}"], "-o", one, *flag).returncode == 0
        singles.append(read_case(one))
    assert any(len(got) == len(single) and got.equals(single) for single in singles)
    assert _leftovers(tmp_path) == []


def test_fifo_and_device_paths_are_refused_naming_the_file(inputs: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "evidence"
    folder.mkdir()
    fifo = folder / "pipe.evtx"
    os.mkfifo(fifo)
    (folder / "logs.ndjson").write_bytes(inputs["logs1"].read_bytes())
    (folder / "gone.evtx").symlink_to(tmp_path / "deleted.evtx")
    target = tmp_path / "case.parquet"
    result = run("ingest", fifo, "/dev/zero", folder, "-o", target, "--report", tmp_path / "r.json",
                 timeout=120)
    assert result.returncode == 3, result.stderr              # the good file is ingested, 2 refusals
    assert f"ERROR {fifo}: a FIFO (named pipe), not a regular file: refused" in result.stderr
    assert "ERROR /dev/zero: a character device, not a regular file: refused" in result.stderr
    assert result.stderr.count("a FIFO (named pipe)") == 2     # as an argument and inside the folder
    assert f"ERROR {folder / 'gone.evtx'}: no such file or directory" in result.stderr   # a dangling link
    assert len(read_case(target)) > 0


def test_outputs_keep_the_usual_permissions(inputs: dict[str, Path], tmp_path: Path) -> None:
    """Atomic writes go through mkstemp (mode 0600): the final file gets the mode open() would give."""
    target = tmp_path / "case.parquet"
    write_case(read_case(inputs["old"]), target)
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    target.chmod(0o640)
    write_case(read_case(inputs["old"]), target)
    assert target.stat().st_mode & 0o777 == 0o640               # an existing file keeps its mode
    assert isinstance(read_case(target), pd.DataFrame)


def test_a_report_to_a_pipe_is_written_directly(inputs: dict[str, Path], tmp_path: Path) -> None:
    """A target that is not a regular file (``--report /dev/stdout`` into a pipe) cannot be replaced
    atomically: it is written as it is."""
    import json

    result = run("ingest", inputs["logs2"], "-o", tmp_path / "case.parquet", "--report", "/dev/stdout")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["kept"] > 0
