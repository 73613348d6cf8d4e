"""Uploads and load progress: the upload size limit, safe names for uploaded files, saving them in
the session's private temp folder, and the progress displays of a load.

Pages use these through :mod:`app.ui.state`, which re-exports them.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import streamlit as st

from app.ui import background
from app.ui.session import UPLOAD_DIR


def max_upload_mb() -> int:
    """The upload size limit in MB (``server.maxUploadSize``, set by ``latgraph ui --max-upload-mb``)."""
    return int(st.get_option("server.maxUploadSize"))


def sanitize_filename(name: str) -> str:
    """A safe base name for an uploaded file: no directories, no ``..``, no control characters.

    Raises:
        ValueError: when nothing usable is left.

    Examples:
        >>> sanitize_filename("../../etc/passwd")
        'passwd'
        >>> sanitize_filename("C:\\\\logs\\\\Security.evtx")
        'Security.evtx'
    """
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).strip()
    if base in ("", ".", "..") or base.startswith(".."):
        raise ValueError(f"unusable upload file name {name!r}")
    return base[:200]


def save_uploads(files: Iterable[Any]) -> list[Path]:
    """Write uploaded files into this session's private temp folder; return their paths."""
    folder = Path(st.session_state.get(UPLOAD_DIR) or tempfile.mkdtemp(prefix="latgraph-upload-"))
    st.session_state[UPLOAD_DIR] = str(folder)
    out: list[Path] = []
    for f in files:
        target = (folder / sanitize_filename(f.name)).resolve()
        if target.parent != folder.resolve():
            raise ValueError(f"upload {f.name!r} would leave the upload folder")
        target.write_bytes(f.getvalue())
        out.append(target)
    return out


#: Loading stages and their share of the progress bar (defined with the background job).
STAGES = background.STAGES


class StagedProgress(background.Progress):
    """A progress display naming the stage, its number and the overall percentage, on ``bar``.

    ``stage(name)`` is the pipeline's ``on_stage``; ``files(done, total, path)`` its
    ``on_progress`` (per-file progress inside the reading stage). Percentages move at stage
    boundaries and per file, never on a timer.
    """

    def __init__(self, bar: Any) -> None:
        super().__init__()
        self.bar = bar

    def _show(self) -> None:
        self.bar.progress(*self.snapshot())


def progress_callback(bar: Any) -> Callable[..., None]:
    """An ``on_progress`` callback driving a ``st.progress`` bar.

    Accepts ``(fraction)``, ``(done, total)`` or ``(done, total, message)`` and keyword forms, so
    it works with whatever the ingest layer reports.
    """
    def update(*args: Any, **kwargs: Any) -> None:
        nums = [a for a in args if isinstance(a, int | float) and not isinstance(a, bool)]
        rest = [a for a in args if a not in nums]
        text = Path(str(rest[0])).name if rest else str(kwargs.get("message") or kwargs.get("path") or "")
        done = kwargs.get("done", nums[0] if nums else None)
        total = kwargs.get("total", nums[1] if len(nums) > 1 else None)
        if done is None:
            return
        frac = float(done) / float(total) if total else float(done)
        bar.progress(min(1.0, max(0.0, frac)), text=f"Reading logs... {text}".strip())
    return update
