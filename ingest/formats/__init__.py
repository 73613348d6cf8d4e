"""Container formats: the :data:`FORMATS` registry, content sniffing and transparent archives.

A *source* is one readable stream: a plain file, the decompressed content of a ``.gz``, or one
member of a ``.zip`` (named ``archive.zip!member``). :func:`expand_paths` turns the user's paths
(files, directories recursed, archives) into sources; :func:`detect_format` picks the reader by the
first bytes of the content (never by file name alone); ``--format`` skips detection.

Every reader is ``iter_records(source, *, event_ids, report) -> Iterator[dict]`` yielding flat dicts
of Windows field names (see :mod:`ingest.winevents`; the EVTX reader yields the same as attribute
records, :data:`~ingest.formats.evtx_file.EvtxRecord`, for speed; the native EVTX reader and the LANL
reader yield :class:`~ingest.batching.ColumnBatch` blocks); it counts what it reads and skips in
``report`` (a :class:`~ingest.report.FileReport`) and never raises for one bad record.
"""

from __future__ import annotations

import gzip
import os
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path

from ingest.errors import IngestError, SourceLocation, UnknownFormatError
from ingest.formats import evtx_file, lanl_auth, mde_table, otrf_json, winlogbeat_json, winxml
from ingest.formats.base import CASE_MAGIC, HEAD_BYTES, Format, Source, text_lines

#: Readers by name, tried by :func:`detect_format` in this order (sniffers are specific enough that
#: the order only matters for JSON: Winlogbeat and Defender before the looser OTRF check).
FORMATS: dict[str, Format] = {
    "evtx": evtx_file.FORMAT,
    "xml": winxml.FORMAT,
    "winlogbeat": winlogbeat_json.FORMAT,
    "mde": mde_table.FORMAT,
    "otrf": otrf_json.FORMAT,
    "lanl": lanl_auth.FORMAT,
    "lanl-redteam": lanl_auth.REDTEAM_FORMAT,
}
assert all(name == fmt.name for name, fmt in FORMATS.items())


def detect_format(source: Source | str | os.PathLike[str]) -> Format:
    """The format whose sniffer accepts the first bytes of ``source``.

    Raises:
        UnknownFormatError: naming the file and the known formats.
        IngestError: when the file cannot be opened.
    """
    src = source if isinstance(source, Source) else _single_source(Path(source))
    try:
        head = src.head()
    except (OSError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
        raise IngestError(f"cannot read: {exc}", SourceLocation(src.name)) from exc
    for fmt in FORMATS.values():
        if fmt.sniff(head, src.name):
            return fmt
    kind = "empty file" if not head.strip() else "content not recognised"
    raise UnknownFormatError(f"{kind}; known formats: {', '.join(FORMATS)}", SourceLocation(src.name))


def is_case_file(source: Source) -> bool:
    """True for a Parquet file (a case written by :func:`ingest.case.write_case`)."""
    return source.is_plain_file and source.head(4) == CASE_MAGIC


def _single_source(path: Path) -> Source:
    return Source(str(path), gz=path.suffix.lower() == ".gz")


def expand_paths(paths: Iterable[str | os.PathLike[str]]) -> list[Source]:
    """Files, directories (recursed, sorted) and archives -> sources.

    A ``.zip`` gives one source per member (nested directories included, ``__MACOSX`` skipped); a
    ``.gz`` gives its decompressed content. Missing paths raise :class:`IngestError`.
    """
    out: list[Source] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.is_file() and not f.name.startswith("."))
        elif path.exists():
            files = [path]
        else:
            raise IngestError("no such file or directory", SourceLocation(str(path)))
        for f in files:
            out.extend(_sources_of(f))
    return out


def not_regular(path: str | os.PathLike[str]) -> str | None:
    """What ``path`` is when it exists but is not a regular file (``"a FIFO (named pipe)"``, ...)."""
    try:
        mode = os.stat(path).st_mode   # never blocks, not even on a FIFO
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode)
            else "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")


def _sources_of(path: Path) -> list[Source]:
    kind = not_regular(path)
    if kind:   # reading would block forever (FIFO) or never end (/dev/zero)
        raise IngestError(f"{kind}, not a regular file: refused (copy the data to a file first)",
                          SourceLocation(str(path)))
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                members = [i.filename for i in zf.infolist()
                           if not i.is_dir() and "__MACOSX" not in i.filename]
        except (zipfile.BadZipFile, OSError):
            return [Source(str(path))]
        return [Source(str(path), m, gz=m.lower().endswith(".gz")) for m in members]
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return [Source(str(path), gz=magic == b"\x1f\x8b")]


__all__ = [
    "CASE_MAGIC",
    "FORMATS",
    "HEAD_BYTES",
    "Format",
    "Source",
    "detect_format",
    "expand_paths",
    "is_case_file",
    "text_lines",
]
