"""Windows Event XML: ``wevtutil qe <log> /f:xml`` and Event Viewer "Save as XML".

``wevtutil`` writes ``<Event>`` elements one after another with no root element; Event Viewer writes
them inside an ``<Events>`` root (often UTF-16 with a BOM and an XML declaration). Both are read
with an incremental pull parser fed 1 MiB at a time: a missing root is supplied, each ``<Event>`` is
turned into a flat Windows-field record (``System`` + ``EventData/Data[@Name]`` + ``UserData``) and
then cleared, so memory stays flat whatever the file size.

Safety: a document type declaration (``<!DOCTYPE``/``<!ENTITY``) is refused before the block holding
it is parsed, so no entity is ever expanded (Windows never writes one; the defusedxml rule, without
the dependency). Each block is searched together with the end of the previous one, so a declaration
split across a block boundary is refused too.
A parse error ends the file with a problem naming the line; the events before it are kept.
"""

from __future__ import annotations

import codecs
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from ingest.errors import IngestError, SourceLocation
from ingest.formats.base import Format, Source
from ingest.report import SKIP_EVENT_ID, SKIP_MALFORMED, FileReport
from ingest.winevents import KEPT_EVENT_IDS, NEEDED_FIELDS

CHUNK = 1 << 20
_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>", re.S)
_FIRST_TAG_RE = re.compile(r"<(?![?!])([A-Za-z_][\w.:-]*)")
_DTD_RE = re.compile(r"<!(DOCTYPE|ENTITY)", re.I)
#: Characters of the previous block searched again with the next one (longer than ``<!DOCTYPE``).
_OVERLAP = 16


def _decoder_for(head: bytes) -> tuple[codecs.IncrementalDecoder, int]:
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return codecs.getincrementaldecoder("utf-16")(errors="replace"), 0
    if head.startswith(codecs.BOM_UTF8):
        return codecs.getincrementaldecoder("utf-8")(errors="replace"), 3
    if len(head) > 1 and head[0] == ord("<") and head[1] == 0:
        return codecs.getincrementaldecoder("utf-16-le")(errors="replace"), 0
    return codecs.getincrementaldecoder("utf-8")(errors="replace"), 0


def _head_text(head: bytes) -> str:
    decoder, skip = _decoder_for(head)
    return decoder.decode(head[skip:])


def sniff(head: bytes, name: str) -> bool:
    """XML whose first element is ``<Events>`` or ``<Event>`` (any namespace prefix)."""
    text = _head_text(head[:8192])
    if not text.lstrip().startswith("<"):
        return False
    m = _FIRST_TAG_RE.search(text)
    return m is not None and m.group(1).split(":")[-1] in {"Event", "Events"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def flatten(event: ET.Element) -> dict[str, Any]:
    """An ``<Event>`` element -> flat Windows-field record."""
    rec: dict[str, Any] = {}
    for part in event:
        kind = _local(part.tag)
        if kind == "System":
            for el in part:
                name = _local(el.tag)
                if name == "TimeCreated":
                    rec["TimeCreated"] = el.get("SystemTime")
                elif name in {"EventID", "Channel", "Computer", "EventRecordID"}:
                    rec[name] = (el.text or "").strip()
        elif kind == "EventData":
            for el in part:
                name = el.get("Name")
                if name and name in NEEDED_FIELDS:
                    rec[name] = el.text
        elif kind == "UserData":
            for wrapper in part:
                for el in wrapper:
                    name = _local(el.tag)
                    if name in NEEDED_FIELDS:
                        rec[name] = el.text
    return rec


def _event_id(event: ET.Element) -> int | None:
    for part in event:
        if _local(part.tag) == "System":
            for el in part:
                if _local(el.tag) == "EventID":
                    text = (el.text or "").strip()
                    return int(text) if text.isdigit() else None
    return None


def _chunks(fh: Any, source: Source) -> Iterator[str]:
    """Decoded text of the source, 1 MiB at a time, with a root element supplied when missing."""
    head = fh.read(CHUNK)
    decoder, skip = _decoder_for(head)
    text = _DECL_RE.sub("", decoder.decode(head[skip:]), count=1)
    m = _FIRST_TAG_RE.search(text)
    wrapped = m is None or m.group(1).split(":")[-1] != "Events"
    if wrapped:
        yield "<Events>"
    carry, offset = "", 0   # the end of the previous block: a declaration split across blocks is seen
    while text:
        m = _DTD_RE.search(carry + text)
        if m:
            raise IngestError(f"document type declaration (<!{m.group(1).upper()}) at character "
                              f"{offset - len(carry) + m.start():,} refused: latgraph never expands entities "
                              "(Windows event XML has no DTD; this is how XML entity bombs work)",
                              SourceLocation(source.name))
        yield text
        carry, offset = text[-_OVERLAP:], offset + len(text)
        data = fh.read(CHUNK)
        text = decoder.decode(data) if data else ""
    yield decoder.decode(b"", final=True) + ("</Events>" if wrapped else "")


class _Drain:
    """Turns the pull parser's events into records; kept across feeds (depth, root)."""

    def __init__(self, keep: frozenset[int], report: FileReport) -> None:
        self.keep, self.report, self.depth = keep, report, 0
        self.root: ET.Element | None = None

    def records(self, parser: ET.XMLPullParser) -> Iterator[dict[str, Any]]:
        for kind, el in parser.read_events():
            if kind == "start":
                self.depth += 1
                if self.depth == 1:
                    self.root = el
                continue
            self.depth -= 1
            if self.depth != 1 or _local(el.tag) != "Event":
                continue
            self.report.records_read += 1
            eid = _event_id(el)
            if eid is not None and eid not in self.keep:
                self.report.skipped[SKIP_EVENT_ID] += 1
            else:
                yield flatten(el)
            el.clear()
            if self.root is not None:
                self.root.clear()


def iter_records(source: Source, *, event_ids: frozenset[int] | None, report: FileReport,
                 **_: Any) -> Iterator[dict[str, Any]]:
    """Flat records of the kept event ids of one Windows XML source, streamed."""
    parser = ET.XMLPullParser(events=("start", "end"))
    drain = _Drain(KEPT_EVENT_IDS if event_ids is None else event_ids, report)
    with source.open() as fh:
        try:
            for chunk in _chunks(fh, source):
                parser.feed(chunk)
                yield from drain.records(parser)
            parser.close()
        except ET.ParseError as exc:
            yield from drain.records(parser)     # events completed before the break
            report.skip(SKIP_MALFORMED, f"{source.name}: XML broken after {report.records_read} "
                                        f"event(s) ({exc}); rest of the file not read")


FORMAT = Format(
    name="xml",
    description="Windows Event XML: wevtutil qe /f:xml (no root) or Event Viewer 'Save as XML' "
                "(<Events> root, UTF-8/UTF-16), streamed",
    sniff=sniff,
    iter_records=iter_records,
)
