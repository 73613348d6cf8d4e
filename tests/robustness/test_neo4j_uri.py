"""Issue #14 item 10: ``--uri http://...`` and malformed URIs are clear usage errors, no traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from app.cli import cli


@pytest.mark.parametrize(("uri", "says"), [
    ("http://db:7474", "unsupported scheme 'http'"),
    ("https://db", "unsupported scheme 'https'"),
    ("db:7687", "no scheme"),
    ("bolt://", "no host"),
    ("bolt://db:99999", "Port out of range"),
    ("bolt://db:abc", "malformed URI"),
    ("bolt://[::1", "malformed URI"),
    ("neo4j://db:7687/x?y=1", "only scheme://host[:port]"),
    ("bolt://db\x1b[2J:7687", "malformed URI"),
])
@pytest.mark.parametrize("command", [["paths"], ["query", "spread-from", "--host", "A"]])
def test_bad_uris_are_usage_errors(uri: str, says: str, command: list[str]) -> None:
    result = CliRunner().invoke(cli, ["neo4j", *command, "--uri", uri])
    assert result.exit_code == 2, result.output
    assert "Invalid value for --uri" in result.output and says in result.output
    assert "Traceback" not in result.output and "\x1b" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_the_environment_variable_is_checked_too(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("LATGRAPH_NEO4J_URI", "http://db:7474")
    result = CliRunner().invoke(cli, ["neo4j", "push", str(tmp_path)])
    assert result.exit_code == 2 and "unsupported scheme 'http'" in result.output
