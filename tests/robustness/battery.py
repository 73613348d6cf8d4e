"""The adversarial battery of issue #14 as seeded generators (used by ``test_battery.py`` and
``bench/fuzz.py``).

Each case takes a seed and a work folder, builds one hostile input from a real log or a generated
one, ingests it and checks the invariants every reader must keep, returning a short outcome:

* **EVTX damage** (random bytes, zeroed or garbage chunks, lying free-space offsets and record
  ranges, cuts, header damage, on real logs): nothing is lost or altered silently. Either the run
  reports a problem, or its rows are exactly the rows of the undamaged file. And the report adds
  up: ``records_read == kept + skipped``;
* **hostile text** (control characters, ESC sequences, bidi overrides, newlines in host/account/file
  names): the printed report has no raw control character;
* **crafted timestamps** (too many fraction digits, ``-1``, out-of-range years, junk): exactly the
  unreadable ones are dropped, each counted with its record;
* **XML DTDs** at a random offset (also across the 1 MiB block boundary): refused, nothing expanded.
"""

from __future__ import annotations

import json
import random
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ingest import load_events
from ingest.formats import winxml
from ingest.formats.evtx_file import SKIP_TRUNCATED
from ingest.report import SKIP_NO_TIME, IngestReport
from ingest.terminal import UNSAFE

#: Real EVTX files the EVTX cases damage (relative to the data-set folder).
EVTX_FILES = ("evtx-attack-samples/LM_5145_Remote_FileCopy.evtx", "omerbenamram-evtx-samples/security.evtx",
              "omerbenamram-evtx-samples/system.evtx", "velocidex-evtx-testdata/Security.evtx",
              "deepbluecli/smb-password-guessing-security.evtx")
_ORIGINALS: dict[str, pd.DataFrame] = {}
CHUNK, HEADER = 65536, 4096


def _rows(events: pd.DataFrame) -> pd.DataFrame:
    """The rows without provenance, in a stable order (for comparing a damaged file's rows)."""
    cols = [c for c in events.columns if c != "source_file"]
    return events[cols].sort_values(["ts", "record_id"], kind="stable").reset_index(drop=True)


def _balanced(report: IngestReport) -> bool:
    """Every record read is kept or skipped for a reason ("file truncated" counts the file, not records)."""
    return all(f.records_read == f.kept + sum(f.skipped.values()) - f.skipped[SKIP_TRUNCATED]
               for f in report.files if not f.error)


def evtx_case(seed: int, work: Path, datasets: Path) -> str:
    """One damaged real EVTX file; raises AssertionError when an invariant breaks."""
    rng = random.Random(seed)
    name = rng.choice(EVTX_FILES)
    data = bytearray((datasets / name).read_bytes())
    chunks = (len(data) - HEADER) // CHUNK
    if name not in _ORIGINALS:
        original = work / f"original-{len(_ORIGINALS)}.evtx"
        original.write_bytes(bytes(data))
        _ORIGINALS[name] = _rows(load_events([original], workers=1, resolve=False)[0])
    kind = rng.choice(["bytes", "zero_chunk", "garbage_chunk", "free_space", "last_record", "cut",
                       "file_header", "record_frame", "moved_last"])
    i = rng.randrange(chunks)
    base = HEADER + i * CHUNK
    if kind == "bytes":
        for _ in range(rng.randint(1, 40)):
            data[HEADER + rng.randrange(len(data) - HEADER)] = rng.randrange(256)
    elif kind == "zero_chunk":
        data[base:base + CHUNK] = bytes(CHUNK)
    elif kind == "garbage_chunk":
        data[base:base + CHUNK] = rng.randbytes(CHUNK)
    elif kind in ("free_space", "last_record"):
        at, value = (48, struct.pack("<I", rng.randrange(512, CHUNK))) if kind == "free_space" else \
            (32, struct.pack("<Q", rng.randrange(1 << 16)))
        data[base + at:base + at + len(value)] = value
        if rng.random() < 0.5:   # an attacker who also fixes the header checksum
            crc = zlib.crc32(bytes(data[base + 128:base + 512]), zlib.crc32(bytes(data[base:base + 120])))
            data[base + 124:base + 128] = struct.pack("<I", crc)
    elif kind == "moved_last":   # the last-record id moved to a middle record, header checksum re-computed
        at = data.find(b"**\x00\x00", base + 512 + rng.randrange(CHUNK // 2), base + CHUNK)
        if at > 0:
            data[base + 32:base + 40] = data[at + 8:at + 16]
            crc = zlib.crc32(bytes(data[base + 128:base + 512]), zlib.crc32(bytes(data[base:base + 120])))
            data[base + 124:base + 128] = struct.pack("<I", crc)
    elif kind == "cut":
        del data[rng.randrange(HEADER, len(data)):]
    elif kind == "file_header":
        data[rng.randrange(8, 128)] = rng.randrange(256)
    else:   # overwrite the first bytes of a record somewhere in the chunk
        at = data.find(b"**\x00\x00", base + 512 + rng.randrange(CHUNK - 1024), base + CHUNK)
        if at > 0:
            data[at:at + 8] = rng.randbytes(8)
    path = work / f"damaged-{seed}.evtx"
    path.write_bytes(bytes(data))
    events, report = load_events([path], workers=1, resolve=False)
    assert _balanced(report), (seed, kind, report.files[0])
    if report.problem_count == 0:
        got = _rows(events)
        assert got.equals(_ORIGINALS[name]), f"seed {seed} ({kind} on {name}): rows changed with no problem"
        return f"evtx {kind}: identical rows, no problem"
    return f"evtx {kind}: problem reported"


HOSTILE_BITS = ["\x1b[2J", "\x1b]0;pwned\x07", "\r", "\nlatgraph: 0 problem(s)\n", "\u202e", "\x9b31m",
                "\x00", "\x7f", "\u2028", "\t"]


def _hostile(rng: random.Random, base: str) -> str:
    return base + "".join(rng.choice(HOSTILE_BITS) for _ in range(rng.randint(1, 4))) + base


def _line(rid: int, ts: object, host: str = "PC01", user: str = "alice") -> str:
    return json.dumps({"@timestamp": ts, "winlog": {
        "channel": "Security", "event_id": 4624, "computer_name": host, "record_id": rid,
        "event_data": {"TargetUserName": user, "LogonType": "3", "IpAddress": "10.0.0.9",
                       "WorkstationName": "WS9"}}})


def hostile_text_case(seed: int, work: Path, datasets: Path | None = None) -> str:
    """Hostile host, account and file names: the printed report carries no raw control character."""
    rng = random.Random(seed)
    name = "".join(c for c in _hostile(rng, "logs") if c not in "/\x00") + ".ndjson"
    path = work / name
    lines = [_line(i, "2024-03-01T10:00:00Z", _hostile(rng, "HOST"), _hostile(rng, "user"))
             for i in range(20)]
    lines.insert(5, "{broken" + _hostile(rng, "x"))
    path.write_text("\n".join(lines) + "\n")
    _, report = load_events([path], workers=1)
    text = report.format_text()
    assert not UNSAFE.search(text.replace("\n", "")), (seed, text)
    assert len(text.splitlines()) == len(report.format_text().split("\n"))
    return "hostile text: escaped"


def timestamp_case(seed: int, work: Path, datasets: Path | None = None) -> str:
    """Crafted timestamps among good ones: exactly the unreadable ones are dropped."""
    rng = random.Random(seed)
    bad_values: list[object] = [-1, "-1", "99999-01-01T00:00:00Z", "2024-13-45T99:99:99Z", "junk", "", 1e300,
                                "2024-03-01T10:00:00." + "9" * rng.randint(10, 40) + "Z"]
    n = rng.randint(200, 2000)
    lines, bad = [], set()
    for i in range(n):
        if rng.random() < 0.02:
            value = rng.choice(bad_values)
            lines.append(_line(i, value))
            if not (isinstance(value, str) and value.startswith("2024-03-01T10:00:00.")):
                bad.add(i)
        else:
            lines.append(_line(i, f"2024-03-01T10:{i % 60:02d}:00Z"))
    path = work / f"times-{seed}.ndjson"
    path.write_text("\n".join(lines) + "\n")
    events, report = load_events([path], workers=1, batch_size=rng.choice([50_000, 97, 1000]))
    fr = report.files[0]
    assert fr.error is None and fr.skipped[SKIP_NO_TIME] == len(bad), (seed, fr)
    assert set(events["record_id"]) == set(range(n)) - bad
    return "timestamps: only the bad ones dropped"


def xml_dtd_case(seed: int, work: Path, datasets: Path | None = None) -> str:
    """A DTD at a random place around the first block boundary: refused, nothing expanded."""
    rng = random.Random(seed)
    split = rng.randint(0, 20)
    head = "<?xml version='1.0'?><!-- <Events> "
    dtd = '<!DOCTYPE Events [<!ENTITY a "' + "x" * 50 + '"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    body = head + "p" * (winxml.CHUNK - len(head) - 4 - split) + " -->" + dtd
    body += ("<Events><Event><System><EventID>4624</EventID><TimeCreated SystemTime='2024-03-01T10:00:00Z'/>"
             "<Channel>Security</Channel><Computer>PC01</Computer></System><EventData>"
             "<Data Name='TargetUserName'>&b;</Data></EventData></Event></Events>")
    path = work / f"dtd-{seed}.xml"
    path.write_text(body)
    events, report = load_events([path], workers=1)
    assert len(events) == 0 and "document type declaration" in (report.files[0].error or ""), seed
    return "xml dtd: refused"


CASES: dict[str, Callable[[int, Path, Path], str]] = {
    "evtx": evtx_case, "hostile_text": hostile_text_case, "timestamps": timestamp_case,
    "xml_dtd": xml_dtd_case,
}
