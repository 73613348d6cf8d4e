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
LAUGHS = ('<!DOCTYPE Events [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
                    for i in range(1, 10))
          + "]>")


def _bomb(split_at: int | None) -> bytes:
    """A document whose DTD starts ``split_at`` characters before the 1 MiB block boundary (a prolog
    comment pads it there; the comment mentions <Events> so content sniffing takes it as event XML)."""
    head = "<?xml version='1.0'?><!-- <Events> exported "
    pad = (winxml.CHUNK - len(head) - 4 - (split_at or 0)) if split_at is not None else 100
    body = head + "x" * pad + " -->" + LAUGHS
    return (body + "<Events>" + EVENT.format(rid=1, user="&lol9;") + "</Events>").encode()


@pytest.mark.parametrize("split_at", [None, 1, 2, 5, 8, 9])
def test_a_dtd_is_refused_even_split_across_blocks(tmp_path: Path, split_at: int | None) -> None:
    path = tmp_path / "bomb.xml"
    data = _bomb(split_at)
    if split_at is not None:   # the declaration really straddles the block boundary
        assert data[:winxml.CHUNK].endswith(b"<!DOCTYPE"[:split_at])
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
