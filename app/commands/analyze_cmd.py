"""``latgraph analyze INPUT...``: run the analysis, print a readable summary, write ``--json``.

Exit status: ``0`` ok; ``1`` error (nothing readable, bad options); ``2`` usage error (click);
``4`` ``--fail-on`` threshold reached (a hop of that severity or worse exists).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import click

from app.commands.options import analysis_config
from app.exports.common import findings_frame
from graph.model import AnalysisResult
from ingest import atomic
from ingest.errors import LatgraphError
from ingest.terminal import json_safe, term_safe

EXIT_FAIL_ON = 4
_ORDER = ("high", "medium", "low", "info")


def _ts(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M:%SZ}" if value is not None else "-"


def format_summary(result: AnalysisResult, *, max_paths: int = 5, max_hops: int = 15,
                   max_findings: int = 10) -> str:
    """The human-readable summary printed by ``latgraph analyze``."""
    s = result.summary
    lines = [f"latgraph: {s.get('events', 0)} events, {s.get('hops', 0)} hops "
             + "(" + ", ".join(f"{n} {k}" for k, n in s.get("hops_by_severity", {}).items()) + "), "
             + f"{s.get('compromised_hosts', 0)} compromised host(s), "
             + f"{s.get('findings', 0)} finding(s) beside the hops"]
    lines.append("")
    if result.patient_zero:
        lines.append("Patient zero (best first):")
        for i, p in enumerate(result.patient_zero[:3], 1):
            lines.append(f"  {i}. {p.host}  score {p.score:.2f}  confidence {p.confidence:.2f}  "
                         f"first seen {_ts(p.first_seen)}")
            lines.append(f"     {p.reason}")
    else:
        lines.append("Patient zero: none (no suspicious hop with a known source)")
    lines.append("")
    if result.paths:
        lines.append("Top paths:")
        for p in result.paths[:max_paths]:
            chain = " -> ".join(p.hosts)
            accts = ",".join(sorted({a for a in p.accounts if a})) or "?"
            lines.append(f"  {p.score:.2f}  {chain}  [{accts}]  {_ts(p.start)} .. {_ts(p.end)}")
        lines.append("")
    groups = getattr(result, "routine_groups", None) or []
    if groups:
        lines.append("Routine continued from a compromised source (one finding each; member hops low, "
                     "on the paths):")
        for g in groups:
            lines.append(f"  {g.severity.upper()}  {g.group_id}  {g.source}: {len(g.hop_ids)} hops as "
                         f"{','.join(g.accounts) or '?'} to {g.destinations} hosts  {_ts(g.first_seen)} .. "
                         f"{_ts(g.last_seen)}")
        lines.append("")
    hops = result.hops
    shown = 0
    for sev in _ORDER[:3]:
        part = hops[hops["severity"].astype(str) == sev].sort_values(["score", "first_seen"],
                                                                     ascending=[False, True])
        if part.empty:
            continue
        lines.append(f"{sev.upper()} hops ({len(part)}):")
        for r in part.head(max(max_hops - shown, 3)).to_dict("records"):
            src = r["src_host"] if isinstance(r["src_host"], str) else (
                r["src_ip"] if isinstance(r["src_ip"], str) else "?")
            acct = r["account"] if isinstance(r["account"], str) else "?"
            kinds = ",".join(r["kinds"])
            lines.append(f"  {r['score']:.2f}  {src} -> {r['dst_host']}  as {acct}  "
                         f"{_ts(r['first_seen'])}  [{kinds}]  {len(r['evidence'])} evidence event(s)")
            shown += 1
        if len(part) > max(max_hops - shown, 3):
            lines.append("  ... (all hops are in --json)")
    lines.extend(_findings_lines(result, max_findings))
    return "\n".join(term_safe(line) for line in lines).rstrip() + "\n"   # host/account names: attacker data


def _findings_lines(result: AnalysisResult, limit: int) -> list[str]:
    """The findings block of the summary: most severe first, one line each with the key field."""
    frame = findings_frame(result)
    if frame.empty:
        return []
    lines = ["", f"FINDINGS beside the hops ({len(frame)}):"]
    for f in frame.head(limit).to_dict("records"):
        key = next((f[c] for c in ("command_line", "service_image", "share_name", "process")
                    if isinstance(f[c], str) and f[c]), "")
        key = key if len(key) <= 100 else key[:97] + "..."
        acct = f["account"] if isinstance(f["account"], str) else "?"
        lines.append(f"  {f['level']:<6} {f['host']}  as {acct}  {f['first_seen']}  "
                     f"x{f['count']}  {f['rule']} ({f['reason']})")
        if key:
            lines.append(f"         {key}")
    if len(frame) > limit:
        lines.append("  ... (all findings are in --json and `latgraph export -f csv-findings`)")
    return lines


def check_inputs(values: tuple[str, ...]) -> tuple[str, ...]:
    """Local inputs must exist; storage URLs (``scheme://``) are for ``--engine spark``."""
    for value in values:
        if "://" not in value and not Path(value).exists():
            raise click.BadParameter(f"Path '{term_safe(value)}' does not exist.", param_hint="'INPUTS...'")
    return values


@click.command("analyze")
@click.argument("inputs", nargs=-1, required=True, callback=lambda _c, _p, v: check_inputs(v))
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the machine-readable result (version 1) to this file ('-' = stdout).")
@click.option("--min-score", type=click.FloatRange(0.0, 1.0), default=None,
              help="Hops scoring at least this form paths, spread and patient zero [default: 0.4].")
@click.option("--max-gap", type=click.FloatRange(min=0.0), default=None,
              help="Largest gap between consecutive hops of a path, in hours [default: 24].")
@click.option("--allow-host", multiple=True, help="Host you vouch for as a source (repeatable).")
@click.option("--allow-account", multiple=True, help="Account you vouch for (repeatable).")
@click.option("--engine", type=click.Choice(["pandas", "spark"]), default="pandas", show_default=True,
              help="Engine of the event-scale stage. With spark, Parquet case files and storage URLs "
                   "(hdfs://, s3a://...) are read by Spark itself, and LANL auth.txt(.gz) is first streamed "
                   "to a temporary case file; only hops reach this machine.")
@click.option("--spark-master", default=None, envvar="LATGRAPH_SPARK_MASTER",
              help="Spark master or Spark Connect URL for --engine spark (local[*], spark://h:7077, yarn, "
                   "sc://h:15002) [default: local[*]].")
@click.option("--format", "fmt", default=None, help="Force the input format (see latgraph formats).")
@click.option("--fail-on", type=click.Choice(["high", "medium"]), default=None,
              help=f"Exit with status {EXIT_FAIL_ON} if a hop of this severity (or worse) is found.")
def command(inputs: tuple[str, ...], json_path: Path | None, min_score: float | None,
            max_gap: float | None, allow_host: tuple[str, ...], allow_account: tuple[str, ...],
            engine: str, spark_master: str | None, fmt: str | None, fail_on: str | None) -> None:
    """Find lateral movement through admin shares in INPUT... (logs, folders, archives, case files).

    \b
    Examples:
      latgraph analyze logs/ --json result.json
      latgraph analyze case.parquet --min-score 0.6 --allow-host SCCM01 --fail-on high
    """
    from app import pipeline

    config = analysis_config(min_score=min_score, max_gap_h=max_gap, allow_host=allow_host,
                             allow_account=allow_account)
    try:
        result = pipeline.run(list(inputs), config=config, formats=fmt, engine=engine,
                              spark_master=spark_master)
    except LatgraphError as exc:
        raise click.ClickException(term_safe(exc)) from exc
    click.echo(result.report.format_text(), err=True)
    if not len(result.events) and result.report.files and len(result.report.failed_files) == len(
            result.report.files):
        raise click.ClickException("no input could be read (see the report above)")
    if json_path is not None:
        # written piece by piece (AnalysisResult.json_chunks): never the whole document in memory
        if str(json_path) == "-":
            for chunk in result.json_chunks():
                click.echo(json_safe(chunk), nl=False)
            click.echo("")
        else:
            try:
                # complete or the old file, never truncated
                atomic.write_chunks(json_path, itertools.chain(result.json_chunks(), ["\n"]))
            except OSError as exc:
                raise click.ClickException(atomic.write_error(json_path, exc)) from exc
            click.echo(f"wrote {term_safe(json_path)}", err=True)
    if str(json_path) != "-":
        click.echo(format_summary(result), nl=False)
    if fail_on is not None:
        worst = set(_ORDER[: _ORDER.index(fail_on) + 1])
        if result.hops["severity"].astype(str).isin(worst).any():
            raise SystemExit(EXIT_FAIL_ON)
