"""Atomic output files: written to a unique temporary file in the target's folder, then renamed.

Every file latgraph writes (case files, ``--report``, ``analyze --json``, exports, ``--stream``
cases) goes through :func:`atomic_path`: a reader (or a second latgraph run writing the same path)
sees either the old file or a complete new one, never a mix or a truncated file; when the write fails
(a full disk, a size limit) the old file is left as it was and the temporary file is removed. The
temporary name is unique per run (:func:`tempfile.mkstemp` in the same folder, so the rename is
atomic: same file system). A target that exists and is not a regular file (``/dev/stdout``, a FIFO)
is written directly.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any


def _mode_for(target: Path) -> int:
    """The permission bits the new file gets: the old file's, else what ``open()`` would give."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, suffix: str = ".tmp") -> Iterator[Path]:
    """A fresh temporary path next to ``target``; renamed onto ``target`` when the block succeeds.

    Examples:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> with atomic_path(out) as tmp:
        ...     _ = tmp.write_text("done")
        >>> out.read_text()
        'done'
    """
    out = Path(target)
    if out.exists() and not out.is_file():   # a device or FIFO: nothing to replace atomically
        yield out
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=suffix, dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _mode_for(out))
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_error(path: str | os.PathLike[str], exc: OSError) -> str:
    """The message for an output that could not be written (full disk, size limit, permissions)."""
    from ingest.terminal import term_safe

    why = exc.strerror or str(exc)
    kept = " (the existing file was left unchanged)" if Path(path).exists() else ""
    return f"cannot write {term_safe(path)}: {term_safe(why)}{kept}"


def _sync(fh: IO[Any]) -> None:
    """Flush ``fh`` and, for a regular file (not ``/dev/stdout`` or a pipe), force it to disk."""
    fh.flush()
    if stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
        os.fsync(fh.fileno())


def write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically (see :func:`atomic_path`)."""
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        _sync(fh)


def write_text(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    write_bytes(target, text.encode("utf-8"))


def write_chunks(target: str | os.PathLike[str], chunks: Iterable[str]) -> None:
    """Write the text pieces ``chunks`` (UTF-8, in order) to ``target`` atomically: a large document
    is written as it is produced, never held whole (a failed write still leaves the old file)."""
    with atomic_path(target) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        for chunk in chunks:
            fh.write(chunk)
        _sync(fh)
