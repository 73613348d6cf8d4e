"""``latgraph rules``: list the single-event evidence rules (the :data:`graph.rules.RULES` registry)."""

from __future__ import annotations

import json

import click

from graph.rules import RULES


@click.command("rules")
@click.option("--json", "as_json", is_flag=True, help="Print the full declarations (conditions) as JSON.")
def command(as_json: bool) -> None:
    """List the evidence rules: id, level, ATT&CK techniques, title (and the Sigma rule mirrored)."""
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in RULES.values()], indent=1))
        return
    width = max(len(r) for r in RULES)
    for rule in RULES.values():
        click.echo(f"{rule.id:<{width}}  {rule.level.value:<13} {','.join(rule.attack):<28} {rule.title}")
