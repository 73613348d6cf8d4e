"""``latgraph neo4j push|paths|query``: store a case in Neo4j and query spread there with Cypher.

Connection options fall back to ``LATGRAPH_NEO4J_URI`` / ``_USER`` / ``_PASSWORD`` / ``_DATABASE``.
Exit status: ``0`` ok; ``1`` error (server unreachable, login refused, missing extra, unreadable
input); ``2`` usage error.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from graph.config import AnalysisConfig
from ingest.errors import LatgraphError
from ingest.terminal import json_safe, term_safe


def connection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--uri --user --password --database`` (environment variables as defaults)."""
    func = click.option("--database", default=None,
                        help="Database [env LATGRAPH_NEO4J_DATABASE; neo4j].")(func)
    func = click.option("--password", default=None,
                        help="Password [env LATGRAPH_NEO4J_PASSWORD; none = no authentication].")(func)
    func = click.option("--user", default=None, help="User [env LATGRAPH_NEO4J_USER; neo4j].")(func)
    func = click.option("--uri", default=None,
                        help="Bolt URI [env LATGRAPH_NEO4J_URI; bolt://127.0.0.1:7687].")(func)
    return func


#: URI schemes the Neo4j driver speaks (``+s``: TLS with a verified certificate, ``+ssc``: self-signed).
URI_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


def check_uri(uri: str) -> str:
    """``uri`` when it is a Bolt/Neo4j URI with a host and a valid port, else a usage error saying why.

    Examples:
        >>> check_uri("bolt://127.0.0.1:7687")
        'bolt://127.0.0.1:7687'
        >>> check_uri("http://db:7474")
        Traceback (most recent call last):
        click.exceptions.BadParameter: unsupported scheme 'http' in 'http://db:7474': use one of bolt://, \
bolt+s://, bolt+ssc://, neo4j://, neo4j+s://, neo4j+ssc:// (e.g. bolt://127.0.0.1:7687)
    """
    from urllib.parse import urlsplit

    hint = "(e.g. bolt://127.0.0.1:7687)"
    shown = term_safe(uri)
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise click.BadParameter(f"malformed URI {shown!r}: {term_safe(exc)} {hint}",
                                 param_hint="--uri") from exc
    if "://" not in uri or parts.scheme.lower() not in URI_SCHEMES:
        schemes = ", ".join(f"{s}://" for s in URI_SCHEMES)
        what = (f"unsupported scheme {term_safe(parts.scheme)!r}" if parts.scheme and "://" in uri
                else "no scheme")
        raise click.BadParameter(f"{what} in {shown!r}: use one of {schemes} {hint}", param_hint="--uri")
    if not parts.hostname:
        raise click.BadParameter(f"no host in {shown!r} {hint}", param_hint="--uri")
    if port == 0 or (parts.path not in ("", "/")) or parts.query or parts.fragment:
        raise click.BadParameter(f"malformed URI {shown!r}: only scheme://host[:port] is allowed {hint}",
                                 param_hint="--uri")
    return uri


def _settings(uri: str | None, user: str | None, password: str | None, database: str | None) -> Any:
    from graph.neo4j_store import Neo4jSettings

    settings = Neo4jSettings.from_env(uri=uri, user=user, password=password, database=database)
    check_uri(settings.uri)
    return settings


def _config(min_score: float | None, max_gap: float | None) -> AnalysisConfig:
    changes: dict[str, object] = {}
    if min_score is not None:
        changes["min_score"] = min_score
    if max_gap is not None:
        changes["max_path_gap_s"] = max_gap * 3600.0
    return dataclasses.replace(AnalysisConfig(), **changes)


analysis_options = [
    click.option("--min-score", type=click.FloatRange(0.0, 1.0), default=None,
                 help="Hops scoring at least this form paths and patient zero [default: 0.4]."),
    click.option("--max-gap", type=click.FloatRange(min=0.0), default=None,
                 help="Largest gap between consecutive hops of a path, in hours [default: 24]."),
]


def _with_analysis_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(analysis_options):
        func = option(func)
    return func


@click.group("neo4j")
def command() -> None:
    """Store cases in Neo4j and query lateral movement there (needs: pip install 'latgraph[neo4j]')."""


@command.command("push")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@connection_options
@_with_analysis_options
@click.option("--batch-size", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Hops per transaction.")
@click.option("--writers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Batches written at the same time (one transaction each).")
@click.option("--format", "fmt", default=None, help="Force the input format (see latgraph formats).")
@click.option("--recheck", is_flag=True,
              help="Check every hop against the store even when the case is the one the store's last "
                   "finished push wrote (by default that re-push writes nothing).")
@click.option("--bulk-import", "neo4j_home", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Write a brand-new database with the server's bulk importer instead (the Neo4j home "
                   "NEO4J_HOME; the server stopped or never started on that database).")
@click.option("--neo4j-admin", "neo4j_admin", default=None,
              help="The neo4j-admin command for --bulk-import [NEO4J_HOME/bin/neo4j-admin, else PATH].")
def push_command(inputs: tuple[Path, ...], uri: str | None, user: str | None, password: str | None,
                 database: str | None, min_score: float | None, max_gap: float | None, batch_size: int,
                 writers: int, fmt: str | None, recheck: bool, neo4j_home: Path | None,
                 neo4j_admin: str | None) -> None:
    """Analyse INPUT... and merge the hops into Neo4j (idempotent, incremental, resumable).

    \b
    Examples:
      latgraph neo4j push logs/ --uri bolt://neo4j.case:7687 --password ...
      LATGRAPH_NEO4J_PASSWORD=... latgraph neo4j push new-logs/   # merges into the stored case
      latgraph neo4j push logs/ --bulk-import /var/lib/neo4j --database case42   # a new database, offline
    """
    from app import pipeline
    from graph.neo4j_store import push

    settings = _settings(uri, user, password, database)
    try:
        result = pipeline.run(list(inputs), config=_config(min_score, max_gap), formats=fmt)
        click.echo(result.report.format_text(), err=True)
        if neo4j_home is not None:
            from graph.neo4j_store.bulk import bulk_import

            bulk = bulk_import(result, neo4j_home, database=settings.database, batch_size=batch_size,
                               admin=shlex.split(neo4j_admin) if neo4j_admin else None)
            click.echo(term_safe(
                f"imported {bulk.hops} hop(s) ({bulk.relationships} relationships, {bulk.nodes} nodes) into "
                f"database {settings.database} of {neo4j_home} in {bulk.seconds:.1f} s "
                f"(push {bulk.push_id}); start the server: the first latgraph neo4j push / paths / query "
                "builds the indexes"))
            return
        with click.progressbar(length=1, label="pushing", file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = total
                bar.update(done - bar.pos)
            report = push(result, settings, batch_size=batch_size, writers=writers, on_progress=progress,
                          recheck=recheck)
    except LatgraphError as exc:
        raise click.ClickException(term_safe(exc)) from exc
    resumed = f", resumed after {report.batches_skipped} committed batch(es)" if report.resumed else ""
    if report.repeated:
        resumed = ": unchanged, the store's last finished push was this very case (nothing written)"
    click.echo(term_safe(f"pushed {report.hops} hop(s) in {report.batches} batch(es) to {settings.uri} "
               f"database {settings.database} in {report.seconds:.1f} s{resumed} (push {report.push_id})"))


allow_incomplete_option = click.option(
    "--allow-incomplete", is_flag=True,
    help="Answer even when a push into the store did not finish (partial answers, with a warning).")


def _warn_incomplete(settings: Any, allow_incomplete: bool) -> None:
    """Refuse (exit 1) or warn on stderr when the store holds an unfinished push."""
    from graph.neo4j_store import open_driver
    from graph.neo4j_store.connection import translate_errors
    from graph.neo4j_store.read import check_complete

    with open_driver(settings) as driver, translate_errors(settings), \
            driver.session(database=settings.database) as session:
        warning = check_complete(session, allow_incomplete)
    if warning:
        click.echo(term_safe(f"warning: {warning}"), err=True)


@command.command("paths")
@connection_options
@_with_analysis_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON (paths and patient zero) instead of text.")
@allow_incomplete_option
def paths_command(uri: str | None, user: str | None, password: str | None, database: str | None,
                  min_score: float | None, max_gap: float | None, as_json: bool,
                  allow_incomplete: bool) -> None:
    """Time-respecting paths and patient-zero ranking computed by Neo4j over the stored case.

    Refuses (exit 1) when a push into the store did not finish, unless --allow-incomplete.
    """
    from graph.neo4j_store import cypher_paths, cypher_patient_zero

    settings = _settings(uri, user, password, database)
    config = _config(min_score, max_gap)
    try:
        _warn_incomplete(settings, allow_incomplete)
        paths = cypher_paths(settings, config, allow_incomplete=True)
        pz = cypher_patient_zero(settings, config, allow_incomplete=True)
    except LatgraphError as exc:
        raise click.ClickException(term_safe(exc)) from exc
    if as_json:
        doc = {"patient_zero": [p.to_dict() for p in pz], "paths": [p.to_dict() for p in paths]}
        click.echo(json_safe(json.dumps(doc, indent=1, ensure_ascii=False)))
        return
    click.echo("Patient zero candidates:")
    for rank, p in enumerate(pz, 1):
        click.echo(term_safe(f"  {rank}. {p.host}  score {p.score:.2f}  confidence {p.confidence:.2f}  "
                   f"first {p.first_seen:%Y-%m-%dT%H:%M:%SZ}"))
    click.echo("Top paths:")
    for p in paths:
        accounts = ", ".join(a or "?" for a in p.accounts)
        click.echo(term_safe(f"  {p.score:.3f}  {' -> '.join(p.hosts)}  ({accounts})  "
                   f"{p.start:%Y-%m-%dT%H:%M:%SZ} .. {p.end:%Y-%m-%dT%H:%M:%SZ}"))
    if not paths and not pz:
        click.echo("  (none: no stored hop scores at least the minimum)")


#: The ready analyst queries of docs/neo4j.md, by name; ``$host`` / ``$src`` / ``$dst`` are parameters.
READY_QUERIES: dict[str, str] = {
    "spread-from": """
MATCH (a:Host {name: $host})-[first:LATERAL]->(:Host)
WHERE first.score >= $min_score
MATCH p = (a)-[first]->()-[rest:LATERAL*0..7]->(z:Host)
WITH p, [first] + rest AS hops
WHERE all(h IN hops WHERE h.score >= $min_score)
  AND all(i IN range(1, size(hops) - 1)
          WHERE hops[i - 1].first_seen_ns <= hops[i].first_seen_ns <= hops[i - 1].first_seen_ns + $gap_ns)
WITH last(nodes(p)) AS z, min(last(hops).first_seen) AS reached_at, min(size(hops)) AS hops_away
RETURN z.name AS host, reached_at, hops_away ORDER BY reached_at, host
""",
    "reached-by": """
MATCH (z:Host {name: $host})<-[last:LATERAL]-(:Host)
WHERE last.score >= $min_score
MATCH p = (a:Host)-[rest:LATERAL*0..7]->()-[last]->(z)
WITH p, rest + [last] AS hops, a
WHERE all(h IN hops WHERE h.score >= $min_score)
  AND all(i IN range(1, size(hops) - 1)
          WHERE hops[i - 1].first_seen_ns <= hops[i].first_seen_ns <= hops[i - 1].first_seen_ns + $gap_ns)
WITH a, min(hops[0].first_seen) AS left_at, min(size(hops)) AS hops_away
WHERE a.name <> $host
RETURN a.name AS host, left_at, hops_away ORDER BY left_at, host
""",
    "between": """
MATCH p = (a:Host {name: $src})-[hops:LATERAL*1..8]->(z:Host {name: $dst})
WHERE all(h IN hops WHERE h.score >= $min_score)
  AND all(i IN range(1, size(hops) - 1)
          WHERE hops[i - 1].first_seen_ns <= hops[i].first_seen_ns <= hops[i - 1].first_seen_ns + $gap_ns)
RETURN [n IN nodes(p) | n.name] AS hosts, [h IN hops | h.account] AS accounts,
       [h IN hops | h.first_seen] AS times, [h IN hops | h.score] AS scores
ORDER BY times[0], size(hops) LIMIT 25
""",
}


@command.command("query")
@click.argument("name", type=click.Choice(sorted(READY_QUERIES)))
@click.option("--host", default=None, help="The host for spread-from / reached-by.")
@click.option("--src", default=None, help="First host for between.")
@click.option("--dst", default=None, help="Last host for between.")
@connection_options
@_with_analysis_options
@allow_incomplete_option
def query_command(name: str, host: str | None, src: str | None, dst: str | None, uri: str | None,
                  user: str | None, password: str | None, database: str | None, min_score: float | None,
                  max_gap: float | None, allow_incomplete: bool) -> None:
    """Run a ready analyst query (spread-from, reached-by, between); prints JSON lines.

    \b
    Examples:
      latgraph neo4j query spread-from --host WS0019
      latgraph neo4j query between --src WS0019 --dst DC01
    """
    from graph.neo4j_store import open_driver
    from graph.neo4j_store.connection import translate_errors

    needed = {"spread-from": ("host",), "reached-by": ("host",), "between": ("src", "dst")}[name]
    given = {"host": host, "src": src, "dst": dst}
    missing = [f"--{k}" for k in needed if given[k] is None]
    if missing:
        raise click.UsageError(f"{name} needs {' and '.join(missing)}")
    config = _config(min_score, max_gap)
    params = {k: given[k] for k in needed}
    params.update(min_score=config.min_score, gap_ns=int(config.max_path_gap_s * 1e9))
    settings = _settings(uri, user, password, database)
    try:
        _warn_incomplete(settings, allow_incomplete)
        with open_driver(settings) as driver, translate_errors(settings), \
                driver.session(database=settings.database) as session:
            for record in session.run(READY_QUERIES[name], params):
                click.echo(json_safe(json.dumps(record.data(), default=str, ensure_ascii=False)))
    except LatgraphError as exc:
        raise click.ClickException(term_safe(exc)) from exc
