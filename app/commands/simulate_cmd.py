"""``latgraph simulate --seed N --out DIR``: a synthetic enterprise with one attack and its truth.

Writes ``DIR/events/case.parquet`` (canonical events, the input of ``latgraph analyze DIR/events``),
``DIR/truth.json`` (patient zero, compromised hosts, malicious hops, benign admin sources) and,
with ``--format``, the same events in our input formats as ``DIR/formats/events.<format>.<ext>``
(written by :func:`ingest.writers.write_events`; EVTX is binary and not written).

With ``--tool NAME [--profile NAME]`` it writes one coverage-matrix cell instead
(:func:`ingest.synthetic.matrix.tool_case`): a small enterprise, one hop made with that tool, seen
through that telemetry profile, plus the raw records the profile holds (``DIR/raw/``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import pandas as pd

from ingest.case import write_case
from ingest.errors import LatgraphError
from ingest.synthetic import simulate
from ingest.synthetic.infra import SCENARIOS
from ingest.synthetic.matrix import PROFILES
from ingest.synthetic.tools import TOOLS

#: ``--format`` values that switch to the authentication-only enterprise (auth_enterprise).
AUTH_FORMATS = ("lanl", "dc-only")
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
@click.option("--tool", type=click.Choice(list(TOOLS)), default=None,
              help="Write one coverage-matrix cell: a small enterprise and one hop made with this tool.")
@click.option("--profile", type=click.Choice(list(PROFILES)), default=None,
              help="With --tool: the telemetry profile (the channels / hosts collected); default full.")
@click.option("--scenario", type=click.Choice(["standard", *SCENARIOS]), default="standard",
              show_default=True,
              help="deploy-server / backup-server: the attacker takes over that server and uses its service "
                   "account while its nightly routine goes on; admin-first-contacts: IT admins reach new "
                   "servers after a short baseline; benign-only: no attack.")
@click.option("--format", "formats", multiple=True,
              type=click.Choice([*OUTPUT_FORMATS, "all", *AUTH_FORMATS]), default=("case",),
              show_default=True,
              help="Also write the events in this input format (repeatable; all = every format). "
                   "lanl / dc-only: an authentication-only enterprise instead (LANL auth.txt + redteam.txt, "
                   "or a domain controller's 4768/4769/4776 log only).")
@click.option("--hosts", type=click.IntRange(min=50), default=1000, show_default=True,
              help="With --format lanl / dc-only: hosts in the domain.")
@click.pass_context
def command(ctx: click.Context, seed: int, out_dir: Path, stealthy: bool, admin_seat: bool,
            target_events: int | None, workstations: int, servers: int, days: int, tool: str | None,
            profile: str | None, formats: tuple[str, ...], hosts: int = 1000,
            scenario: str = "standard") -> None:
    """Generate a seeded enterprise (benign days + one lateral-movement attack) and its ground truth."""
    started = time.perf_counter()
    auth = [f for f in formats if f in AUTH_FORMATS]
    if auth:
        if len(auth) != len(formats) or tool is not None or admin_seat:
            raise click.UsageError("--format lanl / dc-only cannot be combined with other formats, --tool or "
                                   "--admin-seat")
        days_given = ctx.get_parameter_source("days") == click.core.ParameterSource.COMMANDLINE
        _auth_enterprise(seed, out_dir, auth, hosts=hosts, days=days if days_given else 7, stealthy=stealthy,
                         target_events=target_events, started=started)
        return
    wanted = [f for f in OUTPUT_FORMATS if f != "case" and (f in formats or "all" in formats)]
    if tool is not None:
        if stealthy or admin_seat or target_events is not None or scenario != "standard":
            raise click.UsageError("--tool cannot be combined with --stealthy, --admin-seat or --events "
                                   "(nor with --scenario)")
        given = {k: v for k, v in (("n_workstations", workstations), ("n_servers", servers), ("days", days))
                 if ctx.get_parameter_source({"n_workstations": "workstations", "n_servers": "servers"}
                                             .get(k, k)) == click.core.ParameterSource.COMMANDLINE}
        _tool_cell(seed, out_dir, tool, profile or "full", given, wanted, started)
        return
    if profile is not None:
        raise click.UsageError("--profile needs --tool")
    try:
        sim = simulate(seed, n_workstations=workstations, n_servers=servers, days=days,
                       stealthy=stealthy, admin_seat=admin_seat, target_events=target_events,
                       scenario=scenario)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    case = write_case(sim.events, out_dir / "events" / "case.parquet")
    sim.truth.write(out_dir / "truth.json")
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


def _auth_enterprise(seed: int, out_dir: Path, formats: list[str], *, hosts: int, days: int, stealthy: bool,
                     target_events: int | None, started: float) -> None:
    """``--format lanl`` / ``dc-only``: an authentication-only enterprise (auth_enterprise)."""
    from ingest.synthetic.auth_enterprise import dc_events, simulate_auth, write_lanl, write_lanl_lines

    try:
        sim = simulate_auth(seed, n_hosts=hosts, days=max(days, 4), stealthy=stealthy)
        if target_events is not None and len(sim.rows) < target_events and formats == ["lanl"]:
            # repeated authentications, streamed to auth.txt (bounded memory at any --events)
            out_dir.mkdir(parents=True, exist_ok=True)
            auth_path, red, lines = write_lanl_lines(sim, out_dir, target_events, seed=seed)
            click.echo(f"wrote {lines} lines to {auth_path} and {len(sim.truth.hops)} to {red}", err=True)
            formats = []
        elif target_events is not None and len(sim.rows) < target_events:   # repeated authentications
            sim = simulate_auth(seed, n_hosts=hosts, days=max(days, 4), stealthy=stealthy,
                                repeat=target_events / len(sim.rows))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    if "lanl" in formats:
        auth_path, red = write_lanl(sim, out_dir)
        click.echo(f"wrote {len(sim.rows)} lines to {auth_path} and {len(sim.truth.hops)} to {red}", err=True)
    if "dc-only" in formats:
        from ingest.writers import write_events

        events = dc_events(sim)
        case = write_case(events, out_dir / "events" / "case.parquet")
        xml = out_dir / "formats" / "dc-security.xml"
        rows = write_events(events, xml, "xml")
        click.echo(f"wrote {len(events)} DC events to {case} and {rows} to {xml}", err=True)
    truth = sim.truth
    (out_dir / "truth.json").write_text(json.dumps({
        "patient_zero": truth.patient_zero, "patient_zero_time_s": truth.patient_zero_time,
        "stealthy": truth.stealthy, "hosts": truth.n_hosts, "days": truth.days,
        "hops": [{"time_s": t, "account": a.lower(), "src": s, "dst": d}
                 for t, a, s, d in sorted(truth.hops)],
        "compromised": truth.compromised}, indent=2))
    click.echo(f"truth: {out_dir / 'truth.json'}: patient zero {truth.patient_zero}, "
               f"{len(truth.hops)} malicious logons, {len(truth.compromised)} compromised hosts in "
               f"{time.perf_counter() - started:.1f}s; "
               "LANL times are seconds from the start: analyse with LATGRAPH_LANL_EPOCH=2024-03-04T00:00:00Z "
               "to match the DC-only timestamps", err=True)


def _tool_cell(seed: int, out_dir: Path, tool: str, profile: str, size: dict[str, int], formats: list[str],
               started: float) -> None:
    """``--tool``: write one coverage-matrix cell (events, truth, raw records, optional formats)."""
    from ingest.synthetic.matrix import tool_case, write_tool_case

    try:
        case = tool_case(tool, profile, seed, **size)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    paths = write_tool_case(case, out_dir)
    try:
        extra = write_formats(case.events, out_dir, formats) if formats else []
    except LatgraphError as exc:
        click.echo(f"latgraph simulate: error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"wrote {len(case.events)} events to {paths['case']} in {time.perf_counter() - started:.1f}s",
               err=True)
    for key in ("windows", "defender"):
        if key in paths:
            click.echo(f"raw records the profile holds: {paths[key]}", err=True)
    for path, rows in extra:
        click.echo(f"wrote {rows} events to {path}", err=True)
    hop = case.hop
    held = "holds evidence of the hop" if case.evidence else "holds NO evidence of the hop"
    click.echo(f"truth: {paths['truth']}: {TOOLS[tool].label} {hop.src} -> {hop.dst} as {hop.account}; "
               f"profile {profile} {held}", err=True)
