"""State helpers that need no Streamlit session: upload names, progress callback, the ui command."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from app.cli import cli
from app.commands.ui_cmd import ENTRY, streamlit_argv
from app.ui.state import progress_callback, sanitize_filename


@pytest.mark.parametrize("name, expected", [
    ("Security.evtx", "Security.evtx"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\Windows\\win.ini", "win.ini"),
    ("/abs/path/x.json", "x.json"),
    ("a\x00b.xml", "ab.xml"),
])
def test_sanitize_filename(name, expected):
    assert sanitize_filename(name) == expected


@pytest.mark.parametrize("name", ["..", "../", "", "dir/..", "...evtx"])
def test_sanitize_filename_rejects(name):
    with pytest.raises(ValueError):
        sanitize_filename(name)


class Bar:
    def __init__(self):
        self.calls = []

    def progress(self, value, text=""):
        self.calls.append((value, text))


def test_progress_callback_forms(tmp_path):
    bar = Bar()
    cb = progress_callback(bar)
    cb(1, 4, tmp_path / "a.evtx")
    cb(0.5)
    cb(done=3, total=3)
    assert [v for v, _ in bar.calls] == [0.25, 0.5, 1.0]
    assert "a.evtx" in bar.calls[0][1] and str(tmp_path) not in bar.calls[0][1]


def test_streamlit_argv_passes_inputs_and_limits(tmp_path):
    argv = streamlit_argv((str(tmp_path),), host="127.0.0.1", port=8599, max_upload_mb=77, headless=True)
    assert argv[1] == "-c" and "streamlit.web.cli" in argv[2] and "app.ui.preload" in argv[2]
    assert argv[3] == "run" and argv[4] == str(ENTRY)
    assert argv[argv.index("--server.maxUploadSize") + 1] == "77"
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[-2:] == ["--", str(tmp_path.resolve())]


def test_ui_command_is_registered_and_documented():
    out = CliRunner().invoke(cli, ["ui", "--help"])
    assert out.exit_code == 0
    assert "--max-upload-mb" in out.output and "--host" in out.output


def test_ui_command_rejects_missing_input(tmp_path):
    out = CliRunner().invoke(cli, ["ui", str(tmp_path / "missing.evtx")])
    assert out.exit_code == 2 and "does not exist" in out.output


def test_preload_imports_the_ui_modules():
    import sys

    from app.ui.preload import MODULES, preload

    preload()
    assert all(name in sys.modules for name in MODULES)
