"""Issue #14 item 4: attacker strings (host, account, zip member and file names, problems) never
reach the terminal raw: control characters are shown as visible escapes and newlines cannot forge
report lines (``ingest/terminal.py``, used by every command and by the ingest report)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import cli
from ingest.case import write_case
from ingest.synthetic import simulate
from ingest.terminal import json_safe, term_lines, term_safe

HOSTILE = "EVIL\x1b]0;owned\x07\x1b[2J\rX\nlatgraph: 0 problem(s)\u202e\x9b"


def _clean(text: str) -> None:
    for bad in ("\x1b", "\x07", "\r", "\u202e", "\x9b"):
        assert bad not in text, repr(bad)
    assert "\nlatgraph: 0 problem(s)" not in text            # no forged line


def test_term_safe_shows_every_control_character() -> None:
    out = term_safe(HOSTILE)
    _clean(out)
    assert "\n" not in out
    assert out.startswith("EVIL\\x1b]0;owned\\x07\\x1b[2J\\rX\\nlatgraph") and out.endswith("\\u202e\\x9b")
    assert term_safe("PC01 é ☃ \\\\host") == "PC01 é ☃ \\\\host"            # ordinary text untouched
    assert term_lines("a\x1b\nb") == "a\\x1b\nb"
    doc = json.dumps({"h": HOSTILE}, ensure_ascii=False)
    assert json.loads(json_safe(doc)) == {"h": HOSTILE}                       # still the same JSON
    _clean(json_safe(doc))


def test_ingest_report_escapes_zip_member_and_file_names(tmp_path: Path) -> None:
    archive = tmp_path / "logs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"{HOSTILE}.json", b"not a log at all\n")
        zf.writestr("ok.xml", b"<Events><Event><System><EventID>4624</EventID></System></Event></Events>")
    result = CliRunner().invoke(cli, ["ingest", str(archive), "-o", str(tmp_path / "c.parquet")])
    assert "EVIL\\x1b]0;owned" in result.output
    _clean(result.output)


@pytest.fixture(scope="module")
def hostile_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated case whose patient zero and attacker account carry terminal escapes."""
    sim = simulate(3, n_workstations=12, n_servers=3, days=1)
    events = sim.events.copy()
    pz, account = sim.truth.patient_zero, sim.truth.hops[0].account if sim.truth.hops else None
    for col in ("host", "src_host", "dst_host"):
        events[col] = events[col].where(events[col] != pz, HOSTILE)
    if account:
        events["account"] = events["account"].where(events["account"] != account, "adm\x1b[8m" + account)
    path = tmp_path_factory.mktemp("hostile") / "case.parquet"
    write_case(events, path)
    return path


def test_analyze_summary_and_json_on_stdout_are_escaped(hostile_case: Path) -> None:
    result = CliRunner().invoke(cli, ["analyze", str(hostile_case)])
    assert result.exit_code == 0, result.output
    assert "EVIL\\x1b" in result.output                # the hostile host is shown, escaped
    _clean(result.output)
    assert "\x1b[8m" not in result.output
    result = CliRunner().invoke(cli, ["analyze", str(hostile_case), "--json", "-"])
    _clean(result.stdout)
    assert json.loads(result.stdout)["patient_zero"][0]["host"] == HOSTILE   # the data itself is intact


def test_log_messages_are_escaped_too() -> None:
    import logging

    from app.cli import SafeFormatter

    record = logging.LogRecord("graph.x", logging.WARNING, __file__, 1, "host %s is odd", (HOSTILE,), None)
    line = SafeFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert line.startswith("WARNING graph.x: host EVIL\\x1b]0;owned")
    _clean(line)
    assert "\n" not in line
