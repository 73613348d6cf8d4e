"""``latgraph ingest PATH... -o case.parquet``: read logs into a case file and print the ingest report.

Exit status (for scripts):

* ``0``: events were ingested and no problems were found;
* ``1``: nothing was ingested (no events kept, every file failed) or a fatal error (``--strict``);
* ``3``: events were ingested but some files or records had problems (see the report).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from ingest import atomic, load_events
from ingest.case import write_case
from ingest.errors import LatgraphError
from ingest.formats import FORMATS
from ingest.formats.base import (
    DEFAULT_MAX_EXPANDED,
    DEFAULT_MAX_RATIO,
    ENV_MAX_EXPANDED,
    ENV_MAX_RATIO,
    RATIO_FLOOR,
    parse_size,
)
from ingest.stream_case import ingest_to_case
from ingest.terminal import term_safe

EXIT_OK, EXIT_NOTHING, EXIT_PROBLEMS = 0, 1, 3


def _write_failed(path: Path | str, exc: OSError) -> None:
    click.echo(f"latgraph ingest: error: {atomic.write_error(path, exc)}", err=True)
    sys.exit(EXIT_NOTHING)


def _progress_bar(total: int):  # type: ignore[no-untyped-def]
    """A tqdm bar on stderr for runs over more than one file, else ``None``."""
    if total < 2:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="file", file=sys.stderr, leave=False, disable=not sys.stderr.isatty())


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Case file to write (Parquet).")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default=None,
              help="Skip content detection and read every file as this format.")
@click.option("--strict", is_flag=True, help="Stop at the first bad file or record (named in the error).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the ingest report as JSON.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes for multi-file runs (default: all cores from 64 MB of input, else one).")
@click.option("--no-resolve", is_flag=True, help="Do not fill source/destination hosts from IP evidence.")
@click.option("--stream", is_flag=True,
              help="Bounded memory for inputs larger than RAM: write batches as they are read (one process; "
                   "rows in input order, addresses still resolved over the whole case).")
@click.option("--max-expanded", default=None, metavar="SIZE",
              help=f"Largest expansion of one .zip member or .gz, e.g. 200G (0 = no limit) "
                   f"[env {ENV_MAX_EXPANDED}; default {DEFAULT_MAX_EXPANDED >> 30}G].")
@click.option("--max-ratio", type=click.FloatRange(min=0), default=None,
              help=f"Largest expansion ratio of one .zip member or .gz once past {RATIO_FLOOR >> 20} MB "
                   f"(0 = no limit) [env {ENV_MAX_RATIO}; default {DEFAULT_MAX_RATIO:g}].")
def command(paths: tuple[Path, ...], output: Path, fmt: str | None, strict: bool, report_path: Path | None,
            workers: int | None, no_resolve: bool, stream: bool, max_expanded: str | None,
            max_ratio: float | None) -> None:
    """Read EVTX / XML / Winlogbeat / OTRF / Defender / LANL logs into a canonical case file.

    PATHS may be files, directories (recursed), .gz/.zip archives or earlier case files.
    Exit status: 0 ok, 1 nothing ingested or fatal, 3 ingested with problems.
    """
    from ingest import _input_files

    # the readers (also in worker processes) take the archive limits from the environment
    if max_expanded is not None:
        try:
            parse_size(max_expanded)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--max-expanded") from exc
        os.environ[ENV_MAX_EXPANDED] = max_expanded
    if max_ratio is not None:
        os.environ[ENV_MAX_RATIO] = repr(max_ratio)
    bar = _progress_bar(len(_input_files(paths)))

    def progress(done: int, total: int, path: str) -> None:
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(term_safe(Path(path).name[-40:]))

    try:
        if stream:
            written, report = ingest_to_case(paths, output, formats=fmt, strict=strict,
                                             resolve=not no_resolve, on_progress=progress)
        else:
            events, report = load_events(paths, formats=fmt, strict=strict, workers=workers,
                                         on_progress=progress, resolve=not no_resolve)
            written = len(events)
    except LatgraphError as exc:
        click.echo(f"latgraph ingest: error: {term_safe(exc)}", err=True)
        sys.exit(EXIT_NOTHING)
    except OSError as exc:   # e.g. a full disk while --stream writes: the old case file is kept
        if not stream:
            raise
        _write_failed(output, exc)
    finally:
        if bar is not None:
            bar.close()
    click.echo(report.format_text(), err=True)
    if report_path is not None:
        try:
            atomic.write_text(report_path, json.dumps(report.to_dict(), indent=2))
        except OSError as exc:
            _write_failed(report_path, exc)
    if not written:
        click.echo("latgraph ingest: no events ingested; case file not written", err=True)
        sys.exit(EXIT_NOTHING)
    if not stream:
        try:
            write_case(events, output)
        except OSError as exc:
            _write_failed(output, exc)
    if any(f.format == "lanl" for f in report.files) and report.kept != written:
        click.echo(f"wrote {written} rows for {report.kept} events to {term_safe(output)} (repeated LANL "
                   "authentications are rows with a count: column repeats)", err=True)
    else:
        click.echo(f"wrote {written} events to {term_safe(output)}", err=True)
    sys.exit(EXIT_PROBLEMS if report.problem_count else EXIT_OK)
