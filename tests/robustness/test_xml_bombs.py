"""Issue #14 item 2: a DTD (``<!DOCTYPE``/``<!ENTITY``) is refused wherever it sits, also split across
the reader's 1 MiB block boundary, so no entity is ever expanded (billion laughs, quadratic blowup)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import load_events
from ingest.formats import winxml

EVENT = ("<Event><System><EventID>4624</EventID><TimeCreated SystemTime='2024-03-01T10:00:00Z'/>"
         "<EventRecordID>{rid}</EventRecordID><Channel>Security</Channel><Computer>PC01</Computer></System>"
         "<EventData><Data Name='TargetUserName'>{user}</Data><Data Name='LogonType'>3</Data>"
         "<Data Name='IpAddress'>10.0.0.5</Data></EventData></Event>")
LEVELS = 4   # 10**4 "lol": 30,000 characters, harmless here, enough to show the expansion happened


def _bomb(split: int | None) -> str:
    """A billion-laughs document (4 levels) in which the ``<!DOCTYPE`` and every ``<!ENTITY``
    declaration straddles a 1 MiB block boundary, ``split`` characters of it before the boundary
    (comments pad each declaration there; the first comment mentions <Events> so content sniffing
    takes the file as event XML). ``split=None``: the plain, unsplit bomb."""
    refs = ["&lol" + (str(i - 1) if i > 1 else "") + ";" for i in range(1, LEVELS + 1)]
    decls = ["<!DOCTYPE Events [", '<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{refs[i - 1] * 10}">' for i in range(1, LEVELS + 1)]
    out = "<?xml version='1.0'?><!-- <Events> -->"
    for k, decl in enumerate(decls, 1):
        if split is not None:
            gap = k * winxml.CHUNK - split - len(out)
            out += "<!--" + "x" * (gap - 7) + "-->"
        out += decl
    return out + "]><Events>" + EVENT.format(rid=1, user=f"&lol{LEVELS};") + "</Events>"


@pytest.mark.parametrize("split_at", [None, 1, 2, 5, 8])
def test_a_dtd_is_refused_even_split_across_blocks(tmp_path: Path, split_at: int | None) -> None:
    """Before: the refusal looked at each block alone, so split declarations passed and the entities
    were expanded (the account became 30,000 characters of "lol")."""
    path = tmp_path / "bomb.xml"
    data = _bomb(split_at).encode()
    if split_at is not None:   # every declaration really straddles a block boundary
        for k, word in enumerate([b"<!DOCTYPE", b"<!ENTITY"], 1):
            assert data[:k * winxml.CHUNK].endswith(word[:split_at])
    path.write_bytes(data)
    events, report = load_events([path], workers=1)
    fr = report.files[0]
    assert len(events) == 0 and fr.kept == 0
    assert fr.error is not None and "document type declaration (<!DOCTYPE)" in fr.error
    assert "refused" in fr.error and str(path) in report.format_text()


def test_ordinary_xml_is_unaffected(tmp_path: Path) -> None:
    path = tmp_path / "ok.xml"
    path.write_text("".join(EVENT.format(rid=i, user="bob") for i in range(1, 5000)))
    events, report = load_events([path], workers=1)
    assert len(events) == 4999 and report.problem_count == 0


def test_an_over_long_value_is_cut_and_reported(tmp_path: Path) -> None:
    """What a small entity expansion did before (a 300,000-character account, stored silently) can
    still come straight from a crafted log: such a value is cut to the longest Windows field and is
    a problem naming file, record and column."""
    from ingest.records import MAX_FIELD_CHARS, WARN_LONG_VALUE

    path = tmp_path / "long.xml"
    path.write_text(EVENT.format(rid=7, user="a" * 300_000) + EVENT.format(rid=8, user="bob"))
    events, report = load_events([path], workers=1)
    fr = report.files[0]
    assert len(events) == 2 and events["account"].str.len().max() == MAX_FIELD_CHARS
    assert fr.warnings == {WARN_LONG_VALUE: 1}
    assert f"{path}, record 7: account has 300,000 characters (more than any Windows field holds); " \
           f"cut to {MAX_FIELD_CHARS:,}" in fr.problems
