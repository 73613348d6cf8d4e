"""Windows XML: streamed across chunk boundaries, broken files keep what came before, no DTDs."""

from __future__ import annotations

from pathlib import Path

from ingest import load_events
from ingest.formats import winxml

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "formats"


def test_many_events_across_chunk_boundaries_utf16(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(winxml, "CHUNK", 1000)           # force many chunk boundaries
    text = (FIXTURES / "psexec.eventviewer.xml").read_bytes().decode("utf-16")
    body = text.split("<Events>", 1)[1].rsplit("</Events>", 1)[0]
    path = tmp_path / "many.xml"
    path.write_bytes(("<Events>" + body * 50 + "</Events>").encode("utf-16"))
    events, report = load_events([path], workers=1, resolve=False)
    assert len(events) == 200 and report.problem_count == 0


def test_broken_xml_keeps_the_events_before_the_break(tmp_path: Path) -> None:
    text = (FIXTURES / "psexec.wevtutil.xml").read_text()
    starts = [i for i in range(len(text)) if text.startswith("<Event xmlns", i)]
    cut = starts[2]                                       # garbage inside the third event
    path = tmp_path / "broken.xml"
    path.write_text(text[: cut + 40] + "<<<garbage" + text[cut + 40:])
    events, report = load_events([path], workers=1, resolve=False)
    assert len(events) == 2
    assert report.files[0].skipped["malformed record"] == 1
    assert "XML broken after 2 event(s)" in report.files[0].problems[0]


def test_document_type_declarations_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "lol.xml"
    path.write_text('<!DOCTYPE Events [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                    "<Events><Event><System><EventID>4624</EventID></System></Event></Events>")
    events, report = load_events([path], formats="xml", workers=1)
    assert events.empty
    assert "document type declaration (<!DOCTYPE) at character 0 refused" in report.files[0].error
