"""``latgraph simulate --seed N --out DIR``: a synthetic enterprise with one attack and its truth.

Writes ``DIR/events/case.parquet`` (canonical events, the input of ``latgraph analyze DIR/events``),
``DIR/truth.json`` (patient zero, compromised hosts, malicious hops, benign admin sources) and,
with ``--format``, the same events in our input formats under ``DIR/formats/<format>/``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from ingest.case import write_case
from ingest.errors import LatgraphError
from ingest.synthetic import simulate

#: Formats ``--format`` offers (``case`` is always written); ``all`` = every one.
OUTPUT_FORMATS: tuple[str, ...] = ("case", "xml", "winlogbeat", "otrf", "mde")


def write_formats(events, out_dir: Path, formats: list[str]) -> list[Path]:  # type: ignore[no-untyped-def]
    """Write ``events`` in each of ``formats`` (not ``case``) with ``ingest.writers.write_events``.

    Raises:
        click.ClickException: when the writers are not available in this build.
    """
    try:
        from ingest.writers import write_events
    except ImportError as exc:  # the writers module is optional for the rest of simulate
        raise click.ClickException(f"--format needs ingest.writers ({exc})") from exc
    written = []
    for fmt in formats:
        target = out_dir / "formats" / fmt
        target.mkdir(parents=True, exist_ok=True)
        written.append(write_events(events, target, fmt))
    return written


@click.command("simulate")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same data).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder (events/case.parquet, truth.json).")
@click.option("--stealthy", is_flag=True, help="Slow spread: hours to a day between hops, no burst.")
@click.option("--events", "target_events", type=click.IntRange(min=1000), default=None,
              help="Scale benign activity to about this many events (e.g. 1000000).")
@click.option("--workstations", type=click.IntRange(min=10), default=80, show_default=True)
@click.option("--servers", type=click.IntRange(min=3), default=10, show_default=True)
@click.option("--days", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--format", "formats", multiple=True,
              type=click.Choice([*OUTPUT_FORMATS, "all"]), default=("case",), show_default=True,
              help="Also write the events in this input format (repeatable; all = every format).")
def command(seed: int, out_dir: Path, stealthy: bool, target_events: int | None, workstations: int,
            servers: int, days: int, formats: tuple[str, ...]) -> None:
    """Generate a seeded enterprise (benign days + one lateral-movement attack) and its ground truth."""
    started = time.perf_counter()
    try:
        sim = simulate(seed, n_workstations=workstations, n_servers=servers, days=days,
                       stealthy=stealthy, target_events=target_events)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    case = write_case(sim.events, out_dir / "events" / "case.parquet")
    sim.truth.write(out_dir / "truth.json")
    wanted = list(OUTPUT_FORMATS[1:]) if "all" in formats else [f for f in formats if f != "case"]
    try:
        extra = write_formats(sim.events, out_dir, wanted) if wanted else []
    except LatgraphError as exc:
        click.echo(f"latgraph simulate: error: {exc}", err=True)
        sys.exit(1)
    truth = sim.truth
    click.echo(f"wrote {len(sim.events)} events to {case} in {time.perf_counter() - started:.1f}s", err=True)
    for path in extra:
        click.echo(f"wrote {path}", err=True)
    click.echo(f"truth: {out_dir / 'truth.json'}: patient zero {truth.patient_zero}, "
               f"{len(truth.hops)} malicious hops, {len(truth.compromised)} compromised hosts"
               f"{' (stealthy)' if stealthy else ''}", err=True)
