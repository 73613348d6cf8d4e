"""``latgraph export``: analyse inputs (or load a saved ``--json`` result) and write one export
format, or all of them.

Thin: parse options, run :func:`app.pipeline.run` (same analysis options as ``latgraph analyze``)
or :func:`app.exports.saved.load_result`, call an entry of :data:`app.exports.EXPORTERS`, write
bytes. ``--list-formats`` lists the export registry (``latgraph formats`` lists the *input*
formats and belongs to ingest).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from app.commands.options import analysis_config
from app.exports import EXPORTERS, SCOPES
from ingest import atomic
from ingest.errors import LatgraphError
from ingest.terminal import term_safe

ALL = "all"


def _list_formats() -> None:
    width = max(len(n) for n in EXPORTERS)
    for name, exp in EXPORTERS.items():
        click.echo(f"{name:<{width}}  {exp.suffix:<9} {exp.description}")


def _write(data: bytes, target: str) -> None:
    if target == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        atomic.write_bytes(target, data)   # complete or the old file, never truncated
    except OSError as exc:
        raise click.ClickException(atomic.write_error(target, exc)) from exc


@click.command("export")
@click.argument("inputs", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("-f", "--format", "fmt", type=click.Choice([*EXPORTERS, ALL]),
              help=f"Export format (see --list-formats); '{ALL}' writes every format into the -o folder.")
@click.option("-o", "--output", default="-", show_default=True,
              help="Output file ('-' = stdout); a folder with --format all.")
@click.option("--scope", type=click.Choice(SCOPES), default="suspicious", show_default=True,
              help="suspicious: hops scoring at least --min-score (and paths made of them); all: every hop.")
@click.option("--min-score", type=click.FloatRange(0.0, 1.0), default=None,
              help="Score cut of suspicious hops; also the cut paths and patient zero use "
                   "[default: 0.4, or the saved result's].")
@click.option("--max-gap", type=click.FloatRange(min=0.0), default=None,
              help="Largest gap between consecutive hops of a path, in hours [default: 24].")
@click.option("--allow-host", multiple=True, help="Host you vouch for as a source (repeatable).")
@click.option("--allow-account", multiple=True, help="Account you vouch for (repeatable).")
@click.option("--engine", type=click.Choice(["pandas", "spark"]), default="pandas", show_default=True,
              help="Engine of the event-scale stage.")
@click.option("--input-format", default=None, help="Force the input format (see latgraph formats).")
@click.option("--from-result", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Export a saved `latgraph analyze --json` result instead of analysing INPUT "
                   "(no event details: service names, command lines... are empty).")
@click.option("--list-formats", is_flag=True, help="List the export formats and exit.")
def command(inputs: tuple[Path, ...], fmt: str | None, output: str, scope: str, min_score: float | None,
            max_gap: float | None, allow_host: tuple[str, ...], allow_account: tuple[str, ...], engine: str,
            input_format: str | None, from_result: Path | None, list_formats: bool) -> None:
    """Analyse INPUT... (logs, folders, archives, case files) and export the result.

    \b
    Examples:
      latgraph export logs/ -f html -o report.html
      latgraph export logs/*.evtx -f csv -o hops.csv --min-score 0.7
      latgraph export case.parquet -f all -o out/
      latgraph export --from-result result.json -f opengraph -o bloodhound.json
    """
    if list_formats:
        _list_formats()
        return
    if not inputs and from_result is None:
        raise click.UsageError("give at least one INPUT, or --from-result (or --list-formats)")
    if inputs and from_result is not None:
        raise click.UsageError("give INPUT... or --from-result, not both")
    if fmt is None:
        raise click.UsageError(f"choose --format: {', '.join([*EXPORTERS, ALL])}")
    if fmt == ALL and output == "-":
        raise click.UsageError("--format all writes several files: give a folder with -o")
    try:
        if from_result is not None:
            from app.exports.saved import load_result

            result = load_result(from_result)
            if min_score is not None:
                result.config = dataclasses.replace(result.config, min_score=min_score)
        else:
            from app import pipeline  # the analysis stack loads only when there is work to do

            config = analysis_config(min_score=min_score, max_gap_h=max_gap, allow_host=allow_host,
                                     allow_account=allow_account)
            result = pipeline.run(list(inputs), config=config, formats=input_format, engine=engine)
            click.echo(result.report.format_text(), err=True)
            files = result.report.files
            if not len(result.events) and files and len(result.report.failed_files) == len(files):
                raise click.ClickException("no input could be read (see the report above)")
    except LatgraphError as exc:
        raise click.ClickException(term_safe(exc)) from exc
    names = list(EXPORTERS) if fmt == ALL else [fmt]
    for name in names:
        exporter = EXPORTERS[name]
        data = exporter(result, scope=scope)
        target = str(Path(output) / exporter.filename()) if fmt == ALL else output
        _write(data, target)
        if target != "-":
            click.echo(f"wrote {name} ({len(data):,} bytes) to {term_safe(target)}", err=True)
