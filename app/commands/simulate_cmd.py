"""``latgraph simulate --seed N --out DIR``: a synthetic enterprise with one attack and its truth.

Writes ``DIR/events/case.parquet`` (canonical events, the input of ``latgraph analyze DIR/events``),
``DIR/truth.json`` (patient zero, compromised hosts, malicious hops, benign admin sources) and,
with ``--format``, the same events in our input formats as ``DIR/formats/events.<format>.<ext>``
(written by :func:`ingest.writers.write_events`; EVTX is binary and not written).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import pandas as pd

from ingest.case import write_case
from ingest.errors import LatgraphError
from ingest.synthetic import simulate

#: Formats ``--format`` offers -> file suffix (``case`` is always written); ``all`` = every one.
OUTPUT_FORMATS: dict[str, str] = {
    "case": "parquet", "xml": "xml", "winlogbeat": "jsonl", "otrf": "jsonl", "mde": "jsonl",
    "mde-csv": "csv",
}


def write_formats(events: pd.DataFrame, out_dir: Path, formats: list[str]) -> list[tuple[Path, int]]:
    """Write ``events`` in each of ``formats`` (not ``case``); return (path, rows written) pairs.

    Formats that cannot express every event (MDE) write the rows they can (see ingest.writers).
    """
    from ingest.writers import write_events

    written = []
    for fmt in formats:
        path = out_dir / "formats" / f"events.{fmt}.{OUTPUT_FORMATS[fmt]}"
        written.append((path, write_events(events, path, fmt)))
    return written


@click.command("simulate")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same data).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder (events/case.parquet, truth.json).")
@click.option("--stealthy", is_flag=True, help="Slow spread: hours to a day between hops, no burst.")
@click.option("--admin-seat", is_flag=True,
              help="The attacker steals the IT admin account on the admin's own workstation and uses the "
                   "admin's PsExec from there (the hardest case for habit discounting).")
@click.option("--events", "target_events", type=click.IntRange(min=1000), default=None,
              help="Scale benign activity to about this many events (e.g. 1000000).")
@click.option("--workstations", type=click.IntRange(min=10), default=80, show_default=True,
              help="Number of workstations in the enterprise.")
@click.option("--servers", type=click.IntRange(min=3), default=10, show_default=True,
              help="Number of servers (file, SQL, web, app) besides DCs, deployment and backup.")
@click.option("--days", type=click.IntRange(min=1), default=4, show_default=True,
              help="Days of benign activity; the attack happens inside them.")
@click.option("--format", "formats", multiple=True,
              type=click.Choice([*OUTPUT_FORMATS, "all"]), default=("case",), show_default=True,
              help="Also write the events in this input format (repeatable; all = every format).")
def command(seed: int, out_dir: Path, stealthy: bool, admin_seat: bool, target_events: int | None,
            workstations: int, servers: int, days: int, formats: tuple[str, ...]) -> None:
    """Generate a seeded enterprise (benign days + one lateral-movement attack) and its ground truth."""
    started = time.perf_counter()
    try:
        sim = simulate(seed, n_workstations=workstations, n_servers=servers, days=days,
                       stealthy=stealthy, admin_seat=admin_seat, target_events=target_events)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    case = write_case(sim.events, out_dir / "events" / "case.parquet")
    sim.truth.write(out_dir / "truth.json")
    wanted = [f for f in OUTPUT_FORMATS if f != "case" and (f in formats or "all" in formats)]
    try:
        extra = write_formats(sim.events, out_dir, wanted) if wanted else []
    except LatgraphError as exc:
        click.echo(f"latgraph simulate: error: {exc}", err=True)
        sys.exit(1)
    truth = sim.truth
    click.echo(f"wrote {len(sim.events)} events to {case} in {time.perf_counter() - started:.1f}s", err=True)
    for path, rows in extra:
        click.echo(f"wrote {rows} events to {path}", err=True)
    click.echo(f"truth: {out_dir / 'truth.json'}: patient zero {truth.patient_zero}, "
               f"{len(truth.hops)} malicious hops, {len(truth.compromised)} compromised hosts"
               f"{' (stealthy)' if stealthy else ''}{' (admin seat)' if admin_seat else ''}", err=True)
