"""Real data (../shared/datasets, LABELS.json): every admin-share attack sample yields a medium+ hop
at the labelled destination (and labelled source / service where the label names them); no hard
negative or benign file yields a high hop. Companion files are also analysed together.

Names are normalised the way the analysis reports them (``PC01.example.corp`` -> ``PC01``).
Label values with a bracketed note that they come from *another* file ("from companion file") are
checked on the companion run, not on the file alone.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest

from app.pipeline import run
from graph.model import AnalysisResult
from tests.conftest import datasets_or_skip, load_labels

pytestmark = pytest.mark.samples

LABELS = load_labels()
ATTACKS = [f for f in LABELS if f.get("expected_t1021_002") is True]
NEGATIVES = [f for f in LABELS if f.get("expected_t1021_002") is False]
COMPANIONS = [
    ("evtx-attack-samples/LM_Remote_Service01_5145_svcctl.evtx",
     "evtx-attack-samples/LM_Remote_Service02_7045.evtx"),
    ("deepbluecli/metasploit-psexec-native-target-security.evtx",
     "deepbluecli/metasploit-psexec-native-target-system.evtx"),
]


def norm_host(value: str) -> str:
    """``PC01.example.corp (10.0.2.18)`` -> ``PC01``; an IP stays an IP."""
    v = re.sub(r"\s*\(.*$", "", value).strip()
    if re.match(r"^\d+(\.\d+){3}$", v):
        return v
    return v.split("\\")[-1].split(".")[0].upper()


def from_companion(value: str) -> bool:
    return "companion" in value.lower()


@cache
def analyse(*paths: str) -> AnalysisResult:
    root = datasets_or_skip()
    return run([root / p for p in paths])


def medium_plus(result: AnalysisResult) -> list[dict[str, Any]]:
    h = result.hops
    return h[h["severity"].isin(["medium", "high"])].to_dict("records")


def check_label(entry: dict[str, Any], result: AnalysisResult, *, alone: bool) -> None:
    lm = entry["ground_truth"].get("lateral_movement") or {}
    hops = medium_plus(result)
    dsts = {norm_host(d) for d in lm.get("destination_hosts", [])}
    at_dst = [h for h in hops if h["dst_host"] in dsts]
    assert at_dst, f"{entry['path']}: no medium/high hop at {sorted(dsts)}; hops: " + str(
        [(h["src_host"], h["dst_host"], h["severity"]) for h in hops])
    want_src = {norm_host(v) for v in lm.get("source_ips", []) + lm.get("source_hosts", [])
                if not (alone and from_companion(v))}
    if want_src:
        got = {str(h[c]) for h in at_dst for c in ("src_host", "src_ip") if isinstance(h[c], str)}
        assert got & want_src, f"{entry['path']}: sources {sorted(got)} miss the labelled {sorted(want_src)}"
    services = {re.sub(r"\s*\(.*$", "", s).strip().lower() for s in lm.get("services_installed", [])
                if not (alone and from_companion(s)) and "inferred" not in s and "local" not in s}
    if services:
        got = {s for h in at_dst for s in h["services"]}
        assert got & services, f"{entry['path']}: services {sorted(got)} miss the labelled {sorted(services)}"


@pytest.mark.parametrize("entry", ATTACKS, ids=[f["path"] for f in ATTACKS])
def test_attack_file_yields_medium_plus_hop(entry: dict[str, Any]) -> None:
    check_label(entry, analyse(entry["path"]), alone=True)


@pytest.mark.parametrize("pair", COMPANIONS, ids=[p[0].split("/")[-1] for p in COMPANIONS])
def test_companion_files_together(pair: tuple[str, str]) -> None:
    result = analyse(*pair)
    for entry in (f for f in LABELS if f["path"] in pair):
        check_label(entry, result, alone=False)


def test_companion_remote_service_joins_svcctl_and_7045_into_one_hop() -> None:
    h = analyse(*COMPANIONS[0]).hops
    hop = h[h["services"].map(lambda s: "remotesvc" in s)]
    assert len(hop) == 1 and hop.iloc[0]["src_ip"] == "10.0.2.17"
    assert {"ipc_pipe", "service_install"} <= set(hop.iloc[0]["kinds"])
    assert hop.iloc[0]["account"] == "administrator"


@pytest.mark.parametrize("entry", NEGATIVES, ids=[f["path"] for f in NEGATIVES])
def test_negative_file_has_no_high_hop(entry: dict[str, Any]) -> None:
    result = analyse(entry["path"])
    high = result.hops[result.hops["severity"] == "high"]
    assert high.empty, f"{entry['path']}: high hops {high[['src_host', 'dst_host']].values.tolist()}"


def test_sharphound_fanout_stays_below_medium() -> None:
    path = "evtx-to-mitre-attack/ID5140-5145-Bloodhound-SharpHound_enumeration_via_SMB.evtx"
    result = analyse(path)
    assert len(result.hops) >= 10   # the fan-out is seen...
    assert set(result.hops["severity"]) <= {"info", "low"}   # ...and not called lateral movement


def test_patient_zero_of_empire_psexec_is_the_labelled_source() -> None:
    result = analyse("otrf-security-datasets/empire_psexec_dcerpc_tcp_svcctl.zip")
    assert result.patient_zero and result.patient_zero[0].host == "WORKSTATION5"
    assert "WORKSTATION6" in result.patient_zero[0].reason

