"""``latgraph export``: analyse inputs and write one export format (or all of them).

Thin: parse options, run :func:`app.pipeline.run`, call an entry of :data:`app.exports.EXPORTERS`,
write bytes. ``--list-formats`` lists the export registry (``latgraph formats`` lists the *input*
formats and belongs to ingest).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from app.exports import EXPORTERS, SCOPES
from graph.config import AnalysisConfig
from ingest.errors import LatgraphError

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
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


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
                   "[default: config min_score, 0.4].")
@click.option("--list-formats", is_flag=True, help="List the export formats and exit.")
def command(inputs: tuple[Path, ...], fmt: str | None, output: str, scope: str,
            min_score: float | None, list_formats: bool) -> None:
    """Analyse INPUT... (log files, folders or a case file) and export the result.

    \b
    Examples:
      latgraph export logs/ -f html -o report.html
      latgraph export logs/*.evtx -f csv -o hops.csv --min-score 0.7
      latgraph export case.json -f all -o out/
    """
    if list_formats:
        _list_formats()
        return
    if not inputs:
        raise click.UsageError("give at least one INPUT (or --list-formats)")
    if fmt is None:
        raise click.UsageError(f"choose --format: {', '.join([*EXPORTERS, ALL])}")
    if fmt == ALL and output == "-":
        raise click.UsageError("--format all writes several files: give a folder with -o")
    from app import pipeline  # the analysis stack loads only when there is work to do

    config = AnalysisConfig()
    if min_score is not None:
        config = dataclasses.replace(config, min_score=min_score)
    try:
        result = pipeline.run(list(inputs), config=config)
    except LatgraphError as exc:
        raise click.ClickException(str(exc)) from exc
    report = getattr(result, "report", None)
    if report is not None:
        click.echo(report.format_text(), err=True)
    names = list(EXPORTERS) if fmt == ALL else [fmt]
    for name in names:
        exporter = EXPORTERS[name]
        data = exporter(result, scope=scope)
        target = str(Path(output) / exporter.filename()) if fmt == ALL else output
        _write(data, target)
        if target != "-":
            click.echo(f"wrote {name} ({len(data):,} bytes) to {target}", err=True)
