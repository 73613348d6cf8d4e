"""LANL auth.txt -> canonical rows, and the real redteam.txt labels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ingest import load_events
from ingest.formats.lanl_auth import read_redteam
from tests.conftest import datasets_or_skip

AUTH = Path(__file__).resolve().parents[1] / "data" / "lanl" / "auth_sample.txt"


def test_auth_rows_map_to_logon_events() -> None:
    events, report = load_events([AUTH], workers=1, resolve=False)
    fr = report.files[0]
    assert fr.format == "lanl" and fr.records_read == 9
    assert fr.skipped["malformed record"] == 1 and fr.skipped["event id not kept"] == 0
    assert list(events["event_id"]) == [4624, 4624, 4625, 4634, 4624, 4769, 4624, 4624]
    assert set(events["channel"].astype(str)) == {"LANL"}
    net = events.iloc[1]
    assert (net["host"], net["dst_host"], net["src_host"], net["account"], net["account_domain"]) == (
        "C1003", "C1003", "C17693", "u748", "DOM1")
    assert (net["logon_type"], net["auth_package"], net["record_id"]) == (3, "NTLM", 2)
    assert net["ts"] == pd.Timestamp("1970-01-01T00:00:02Z")
    assert events.iloc[0]["src_host"] == "C625" and events.iloc[0]["logon_type"] == 4     # local batch logon
    assert events.iloc[4]["account"] == "c1003$"                                          # machine account
    tgs = events.iloc[5]        # TGS: U66 at C17693 asked for a ticket to a service on C586
    assert (tgs["host"], tgs["src_host"], tgs["dst_host"], tgs["account"], tgs["service_name"]) == (
        "C586", "C17693", "C586", "u66", "C586$")
    assert events.iloc[6]["account"] == "anonymous logon"
    rdp = events.iloc[7]        # LANL names the RDP client explicitly (no Windows WorkstationName caveat)
    assert (rdp["logon_type"], rdp["src_host"], rdp["dst_host"]) == (10, "C3", "C4")
    assert pd.isna(events.iloc[3]["auth_package"])                                         # "?" = unknown


def test_epoch_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATGRAPH_LANL_EPOCH", "2015-01-01T00:00:00Z")
    events, _ = load_events([AUTH], workers=1)
    assert events["ts"].min() == pd.Timestamp("2015-01-01T00:00:01Z")


@pytest.mark.samples
def test_real_redteam_labels() -> None:
    labels = read_redteam(datasets_or_skip() / "lanl" / "redteam.txt.gz")
    assert len(labels) == 749
    assert set(labels["src_host"]) == {"C17693", "C18025", "C19932", "C22409"}
    first = labels.iloc[0]
    assert (first["time"], first["account"], first["account_domain"], first["dst_host"]) == (
        150885, "u620", "DOM1", "C1003")
    assert labels["ts"].is_monotonic_increasing


@pytest.mark.samples
def test_redteam_file_is_recognised_as_labels_not_a_problem() -> None:
    events, report = load_events([datasets_or_skip() / "lanl" / "redteam.txt.gz"], workers=1)
    assert events.empty and report.problem_count == 0
    assert report.files[0].format == "lanl-redteam" and report.files[0].records_read == 749
