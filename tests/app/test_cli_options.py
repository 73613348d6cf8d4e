"""Shared option handling of analyze/export: allowlists in the forms hops use."""

from __future__ import annotations

from app.commands.options import analysis_config
from graph.config import AnalysisConfig


def test_defaults_are_the_config_defaults() -> None:
    assert analysis_config() == AnalysisConfig()


def test_allowlists_normalised_like_hops() -> None:
    cfg = analysis_config(min_score=0.6, max_gap_h=2, allow_host=(" sccm01.corp.local ", "BKP01"),
                          allow_account=("CORP\\Svc_Backup", "admin"))
    assert cfg.min_score == 0.6
    assert cfg.max_path_gap_s == 7200.0
    assert cfg.allowlist_hosts == frozenset({"SCCM01", "BKP01"})
    assert cfg.allowlist_accounts == frozenset({"svc_backup", "admin"})
