"""``latgraph formats``: list the input formats latgraph reads (the ``FORMATS`` registry)."""

from __future__ import annotations

import click

from ingest.formats import FORMATS


@click.command("formats")
def command() -> None:
    """List the readable input formats (use a name with `latgraph ingest --format`)."""
    width = max(len(name) for name in FORMATS)
    for fmt in FORMATS.values():
        click.echo(f"{fmt.name:<{width}}  {fmt.description}")
    click.echo(f"{'case':<{width}}  latgraph case file (Parquet written by `latgraph ingest -o`), "
               "recognised automatically")
