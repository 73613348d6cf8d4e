"""Shared reader plumbing: :class:`Source` (file / .gz / zip member), :class:`Format`, line reading."""

from __future__ import annotations

import gzip
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from ingest.report import SKIP_EVENT_ID, SKIP_MALFORMED, FileReport

#: Bytes read from the start of a source to detect its format.
HEAD_BYTES = 64 * 1024
#: Parquet magic: a latgraph case file (see :mod:`ingest.case`).
CASE_MAGIC = b"PAR1"


@dataclass(frozen=True)
class Source:
    """One readable stream: a file, a ``.gz`` content or a ``.zip`` member."""

    path: str                     # the file on disk
    member: str | None = None     # zip member name
    gz: bool = False              # gzip-compressed (the file itself or the member)

    @property
    def name(self) -> str:
        """Display name used in reports and ``source_file``: ``a.zip!b.json`` for members."""
        return f"{self.path}!{self.member}" if self.member else self.path

    @property
    def is_plain_file(self) -> bool:
        """True when the content is the file on disk (readers may then use the path directly)."""
        return self.member is None and not self.gz

    def open(self) -> IO[bytes]:
        """Open the (decompressed) content for binary reading."""
        if self.member is not None:
            raw: IO[bytes] = zipfile.ZipFile(self.path).open(self.member)  # noqa: SIM115
        else:
            raw = open(self.path, "rb")  # noqa: SIM115 - returned to the caller
        return gzip.GzipFile(fileobj=raw) if self.gz else raw

    def head(self, size: int = HEAD_BYTES) -> bytes:
        """The first ``size`` bytes of the content (b"" if unreadable)."""
        with self.open() as fh:
            return fh.read(size)


@dataclass(frozen=True)
class Format:
    """A registered container format."""

    name: str
    description: str
    sniff: Callable[[bytes, str], bool]                     # (first bytes, source name) -> mine?
    iter_records: Callable[..., Iterator[dict[str, Any]]]


def text_lines(source: Source, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """(line number from 1, line without newline) of a text source; undecodable bytes replaced."""
    with source.open() as fh:
        text = io.TextIOWrapper(fh, encoding=encoding, errors="replace", newline="")
        for no, line in enumerate(text, 1):
            yield no, line.rstrip("\r\n")




#: Largest JSON *document* (not JSON lines) read whole; JSON lines are streamed at any size.
MAX_JSON_DOCUMENT = 512 * 1024 * 1024


def iter_json_objects(source: Source, report: FileReport, *, id_re: re.Pattern[str] | None = None,
                      keep: frozenset[int] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) of a JSON-lines source, or of a JSON array / Elastic hits document.

    Lines whose event id (found by ``id_re``, first group that matched) is not in ``keep`` are counted
    as not kept without being decoded. Broken lines are counted as malformed, with their line number.
    """
    import orjson

    first = source.head(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if first.startswith(b"["):
        yield from _json_document(source, report)
        return
    for no, line in text_lines(source):
        if not line.strip():
            continue
        report.records_read += 1
        if id_re is not None and keep is not None:
            m = id_re.search(line)
            if m is not None:
                eid = next(g for g in m.groups() if g is not None)
                if int(eid) not in keep:
                    report.skipped[SKIP_EVENT_ID] += 1
                    continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            if no == 1 and line.lstrip().startswith("{") and not line.rstrip().endswith("}"):
                report.records_read -= 1      # a pretty-printed single document, not JSON lines
                yield from _json_document(source, report)
                return
            report.skip(SKIP_MALFORMED, f"{source.name}, line {no}: broken JSON ({exc})")
            continue
        if not isinstance(obj, dict):
            report.skip(SKIP_MALFORMED, f"{source.name}, line {no}: not a JSON object")
            continue
        yield no, obj


def _json_document(source: Source, report: FileReport) -> Iterator[tuple[int, dict[str, Any]]]:
    import orjson

    with source.open() as fh:
        data = fh.read(MAX_JSON_DOCUMENT + 1)
    if len(data) > MAX_JSON_DOCUMENT:
        raise ValueError(f"JSON document larger than {MAX_JSON_DOCUMENT} bytes: export it as JSON lines")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        report.records_read += 1
        report.skip(SKIP_MALFORMED, f"{source.name}: broken JSON document ({exc})")
        return
    if isinstance(doc, dict):
        hits = doc.get("hits")
        doc = hits.get("hits", []) if isinstance(hits, dict) else [doc]
    for no, obj in enumerate(doc if isinstance(doc, list) else [], 1):
        report.records_read += 1
        if isinstance(obj, dict) and isinstance(obj.get("_source"), dict):
            obj = obj["_source"]
        if isinstance(obj, dict):
            yield no, obj
        else:
            report.skip(SKIP_MALFORMED, f"{source.name}, item {no}: not a JSON object")


def json_keys_in_head(head: bytes) -> str:
    """The head decoded as text (for key sniffing), or "" when it does not look like JSON."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:HEAD_BYTES]
    if not text.startswith((b"{", b"[")):
        return ""
    return text.decode("utf-8", errors="replace")
