"""Shared reader plumbing: :class:`Source` (file / .gz / zip member), :class:`Format`, line reading."""

from __future__ import annotations

import gzip
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from ingest.errors import ConfigError, IngestError, SourceLocation
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
        """Open the (decompressed) content for binary reading; compressed content is read under the
        archive limits (:func:`archive_limits`): past them it raises :class:`ArchiveLimitError`."""
        packed = 0
        if self.member is not None:
            zf = zipfile.ZipFile(self.path)
            info = zf.getinfo(self.member)
            packed = min(info.compress_size, os.path.getsize(self.path))
            if not self.gz:   # zipfile reads no more than the declared size: refuse a bomb up front
                check_expansion(self.name, info.file_size, packed, archive_limits(), declared=True)
            raw: IO[bytes] = zf.open(info)
        else:
            raw = open(self.path, "rb")  # noqa: SIM115 - returned to the caller
            if self.gz:
                packed = os.path.getsize(self.path)
        if self.gz:
            raw = gzip.GzipFile(fileobj=raw)
        if self.member is None and not self.gz:
            return raw
        return io.BufferedReader(_Bounded(raw, self.name, packed, archive_limits()), 1 << 16)  # type: ignore[return-value]

    def head(self, size: int = HEAD_BYTES) -> bytes:
        """The first ``size`` bytes of the content (b"" if unreadable)."""
        with self.open() as fh:
            return fh.read(size)


#: Default limits on what one archive member or ``.gz`` may expand to (every real data set is far
#: below them: the data sets' archives expand 5-28x): more than this many bytes ...
DEFAULT_MAX_EXPANDED = 64 << 30
#: ... or, once past :data:`RATIO_FLOOR` bytes, more than this many times its compressed size.
DEFAULT_MAX_RATIO = 100.0
RATIO_FLOOR = 256 << 20
#: Environment variables that override the defaults (``latgraph ingest --max-expanded/--max-ratio`` set them).
ENV_MAX_EXPANDED, ENV_MAX_RATIO = "LATGRAPH_MAX_EXPANDED", "LATGRAPH_MAX_RATIO"
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class ArchiveLimitError(IngestError):
    """An archive member or ``.gz`` expands beyond the configured limits (a possible archive bomb)."""


def parse_size(text: str) -> int:
    """``"64G"``, ``"500m"``, ``"1048576"`` -> bytes (``0`` = no limit).

    Examples:
        >>> parse_size("64G"), parse_size("1.5k"), parse_size("0")
        (68719476736, 1536, 0)
    """
    t = text.strip().lower().removesuffix("b").removesuffix("i")
    unit = t[-1] if t and t[-1] in _UNITS else ""
    try:
        value = float(t[: len(t) - len(unit)])
    except ValueError:
        raise ValueError(f"not a size: {text!r} (use e.g. 500M, 64G or a number of bytes)") from None
    if value < 0:
        raise ValueError(f"not a size: {text!r} (negative)")
    return int(value * _UNITS[unit])


@dataclass(frozen=True)
class ArchiveLimits:
    """Largest expansion of one archive member or ``.gz`` content (0 = no limit)."""

    max_expanded: int = DEFAULT_MAX_EXPANDED
    max_ratio: float = DEFAULT_MAX_RATIO


def archive_limits() -> ArchiveLimits:
    """The limits in force: :data:`ENV_MAX_EXPANDED` / :data:`ENV_MAX_RATIO`, else the defaults."""
    size, ratio = os.environ.get(ENV_MAX_EXPANDED, "").strip(), os.environ.get(ENV_MAX_RATIO, "").strip()
    try:
        return ArchiveLimits(parse_size(size) if size else DEFAULT_MAX_EXPANDED,
                             float(ratio) if ratio else DEFAULT_MAX_RATIO)
    except ValueError as exc:
        raise ConfigError(f"{ENV_MAX_EXPANDED}/{ENV_MAX_RATIO}: {exc}") from exc


def _mb(n: float) -> str:
    return f"{n / (1 << 20):,.0f} MB" if n >= 1 << 20 else f"{n:,.0f} bytes"


def check_expansion(name: str, size: int, packed: int, limits: ArchiveLimits, *,
                    declared: bool = False) -> None:
    """Raise :class:`ArchiveLimitError` naming ``name`` when ``size`` expanded bytes (read so far, or
    declared by a zip member's header) from ``packed`` compressed bytes pass the limits."""
    what = "declares" if declared else "expands to"
    why = None
    if limits.max_expanded and size > limits.max_expanded:
        why = f"{what} more than --max-expanded {_mb(limits.max_expanded)}"
    elif limits.max_ratio and size > RATIO_FLOOR and size > limits.max_ratio * max(packed, 1):
        why = (f"{what} more than {limits.max_ratio:g} times its compressed size ({_mb(size)} from "
               f"{_mb(packed)}; --max-ratio)")
    if why:
        rest = "it is not read" if declared else "the rest of it is not read"
        raise ArchiveLimitError(
            f"{why}: refused as a possible archive bomb; {rest}. If the archive is genuine, raise the limit "
            f"(latgraph ingest --max-expanded SIZE / --max-ratio N, or {ENV_MAX_EXPANDED} / {ENV_MAX_RATIO}; "
            "0 = no limit) and use --stream for inputs larger than memory", SourceLocation(name))


class _Bounded(io.RawIOBase):
    """A decompressed stream that stops with :class:`ArchiveLimitError` past the archive limits."""

    def __init__(self, raw: IO[bytes], name: str, packed: int, limits: ArchiveLimits) -> None:
        self._raw, self._name, self._packed, self._limits, self._seen = raw, name, max(packed, 1), limits, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._seen += n
        check_expansion(self._name, self._seen, self._packed, self._limits)
        return n

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


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
