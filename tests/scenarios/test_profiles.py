"""Real attack recordings cut down to one telemetry profile still show the hop's destination:
a service created only through the registry (Sysmon 12/13) and a target holding only process
creation (services.exe starting the stager), the shapes issue #11 saw missed."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from app.pipeline import analyze_from_events
from ingest import load_events
from ingest.report import IngestReport
from tests.conftest import datasets_or_skip

pytestmark = pytest.mark.samples

EMPIRE = ["otrf-security-datasets/empire_psexec_dcerpc_tcp_svcctl.zip",
          "otrf-security-datasets/empire_smbexec_dcerpc_smb_svcctl.zip"]
PROFILES: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "registry only (Sysmon 12/13)": lambda e: e["event_id"].isin([12, 13]),
    "process creation only (Sysmon 1 / 4688)": lambda e: e["event_id"].isin([1, 4688]),
}


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("path", EMPIRE)
def test_one_profile_of_a_real_attack_still_shows_the_destination(path: str, profile: str) -> None:
    events, _ = load_events([datasets_or_skip() / path])
    cut = events[PROFILES[profile](events)].reset_index(drop=True)
    assert len(cut), f"{path}: no event of the profile {profile}"
    hops = analyze_from_events(cut, IngestReport()).hops
    medium = hops[hops["severity"].isin(["medium", "high"])]
    assert "WORKSTATION6" in set(medium["dst_host"]), hops[["src_host", "dst_host", "severity"]]
