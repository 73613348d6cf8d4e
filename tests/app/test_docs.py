"""Documentation tests (sqlite-utils / datasette ``test_docs.py`` style): every CLI command and
option has help text, every registry entry is described, and README.md / docs/ mention them.

These fail when someone adds a command, exporter or rule without documenting it; the assertion
message lists what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest

from app.cli import cli
from app.exports import EXPORTERS
from tests.conftest import REPO


def _walk(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    """(full name, command) of every command under ``group``, subcommands included."""
    for name, command in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        yield full, command
        if isinstance(command, click.Group):
            yield from _walk(command, prefix=full + " ")


COMMANDS = dict(_walk(cli))


def test_cli_has_commands() -> None:
    assert "export" in COMMANDS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str) -> None:
    command = COMMANDS[name]
    assert (command.help or command.short_help or "").strip(), f"`latgraph {name}` has no help text"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_has_help(name: str) -> None:
    command = COMMANDS[name]
    missing = [p.opts[0] for p in command.params
               if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip()
               and "--help" not in p.opts]
    assert not missing, f"`latgraph {name}` options without help: {missing}"


def test_every_exporter_has_a_description_and_is_documented() -> None:
    doc = (REPO / "docs" / "exports.md").read_text(encoding="utf-8")
    undocumented = [n for n in EXPORTERS if f"`{n}`" not in doc]
    assert all(e.description.strip() for e in EXPORTERS.values())
    assert not undocumented, f"docs/exports.md does not mention export formats {undocumented}"


def test_export_options_are_documented() -> None:
    doc = (REPO / "docs" / "exports.md").read_text(encoding="utf-8")
    options = [o for p in COMMANDS["export"].params if isinstance(p, click.Option) for o in p.opts
               if o.startswith("--") and o != "--help"]
    missing = [o for o in options if o not in doc]
    assert not missing, f"docs/exports.md does not document `latgraph export` options {missing}"


def test_every_rule_has_title_level_and_attack_tags() -> None:
    rules_module = pytest.importorskip("graph.rules", reason="graph.rules (RULES registry) not written yet")
    rules = getattr(rules_module, "RULES", None)
    if rules is None:
        pytest.skip("graph.rules has no RULES registry yet")
    assert rules, "RULES is empty"
    problems = []
    for rule_id, rule in rules.items():
        if getattr(rule, "id", rule_id) != rule_id:
            problems.append(f"{rule_id}: registered under another id than rule.id {rule.id!r}")
        if not str(getattr(rule, "title", "") or "").strip():
            problems.append(f"{rule_id}: no title")
        level = str(getattr(rule, "level", "") or "")
        if level.lower() not in {"informational", "info", "low", "medium", "high", "critical"}:
            problems.append(f"{rule_id}: level {level!r} is not a Sigma level")
        tags = tuple(getattr(rule, "attack", None) or getattr(rule, "tags", None) or ())
        if not tags or not all(re.fullmatch(r"(attack\.)?t\d{4}(\.\d{3})?", str(t).lower()) for t in tags):
            problems.append(f"{rule_id}: ATT&CK tags {tags!r} missing or not like 't1021.002'")
        if not isinstance(getattr(rule, "sigma", None), str):
            problems.append(f"{rule_id}: no `sigma` field (the SigmaHQ rule it mirrors, or '')")
    assert not problems, "\n".join(problems)


def test_readme_mentions_every_top_level_command() -> None:
    readme = REPO / "README.md"
    assert readme.is_file(), "README.md is missing"
    text = readme.read_text(encoding="utf-8")
    missing = [name for name in sorted(cli.commands) if not re.search(rf"latgraph {re.escape(name)}\b", text)]
    assert not missing, f"README.md does not show `latgraph <command>` for: {', '.join(missing)}"


def test_every_canonical_column_is_in_the_ingest_schema_table() -> None:
    from ingest.schema import COLUMNS

    doc = (REPO / "docs" / "ingest.md").read_text(encoding="utf-8")
    table = doc.split("## The canonical event", 1)[-1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    named = {name for line in rows for name in re.findall(r"`([a-z_]+)`", line.split("|")[1])}
    missing = [c for c in COLUMNS if c not in named]
    assert not missing, f"docs/ingest.md's canonical event table does not list columns {missing}"


def test_every_evidence_field_is_documented_in_the_json_section() -> None:
    from graph.fields import EVIDENCE_FIELDS

    doc = (REPO / "docs" / "analysis.md").read_text(encoding="utf-8")
    para = doc.split("**Evidence fields**", 1)[-1].split("\n\n", 1)[0]
    missing = [f for f in EVIDENCE_FIELDS if f"`{f}`" not in para]
    assert not missing, f"docs/analysis.md's evidence fields paragraph does not name {missing}"
