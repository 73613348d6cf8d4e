"""Archives and directories: .gz and .zip members are read transparently, directories recursed."""

from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path

from ingest import load_events
from tests.conftest import datasets_or_skip

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "formats"
SAMPLE = "evtx-attack-samples/LM_renamed_psexecsvc_5145.evtx"     # 22 x 5145


def test_gz_zip_and_directories_mixed(tmp_path: Path) -> None:
    evtx = datasets_or_skip() / SAMPLE
    (tmp_path / "a" / "b").mkdir(parents=True)
    with open(evtx, "rb") as src, gzip.open(tmp_path / "a" / "log.evtx.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    with zipfile.ZipFile(tmp_path / "a" / "b" / "bundle.zip", "w") as zf:
        zf.write(evtx, "host1/Security.evtx")
        zf.write(FIXTURES / "psexec.winlogbeat7.ndjson", "siem/export.ndjson")
        zf.writestr("siem/empty.json", "")
    gz_ndjson = tmp_path / "export.ndjson.gz"
    gz_ndjson.write_bytes(gzip.compress((FIXTURES / "psexec.winlogbeat7.ndjson").read_bytes()))
    events, report = load_events([tmp_path], workers=2)
    names = {Path(f.path.split("!")[0]).name + ("!" + f.path.split("!")[1] if "!" in f.path else ""): f
             for f in report.files}
    assert names["log.evtx.gz"].kept == 22 and names["log.evtx.gz"].format == "evtx"
    assert names["bundle.zip!host1/Security.evtx"].kept == 22
    assert names["bundle.zip!siem/export.ndjson"].kept == 4
    assert names["export.ndjson.gz"].kept == 4
    assert "empty" in names["bundle.zip!siem/empty.json"].error
    assert len(events) == 52
    evtx_rows = events.loc[events["source_format"] == "evtx", "source_file"]
    assert evtx_rows.str.contains("!host1/Security.evtx").any()
