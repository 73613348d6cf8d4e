"""Option handling shared by several commands (``analyze``, ``export``)."""

from __future__ import annotations

import dataclasses

from graph.config import AnalysisConfig


def analysis_config(*, min_score: float | None = None, max_gap_h: float | None = None,
                    allow_host: tuple[str, ...] = (), allow_account: tuple[str, ...] = ()) -> AnalysisConfig:
    """The AnalysisConfig of the command-line options.

    Allowlisted hosts become upper-case short names (``sccm01.corp.local`` -> ``SCCM01``) and
    accounts lower-case without domain (``CORP\\svc_backup`` -> ``svc_backup``), the forms hops use.

    Examples:
        >>> cfg = analysis_config(max_gap_h=2, allow_host=("sccm01.corp",), allow_account=("CORP\\\\Svc",))
        >>> cfg.max_path_gap_s, sorted(cfg.allowlist_hosts), sorted(cfg.allowlist_accounts)
        (7200.0, ['SCCM01'], ['svc'])
    """
    changes: dict[str, object] = {}
    if min_score is not None:
        changes["min_score"] = min_score
    if max_gap_h is not None:
        changes["max_path_gap_s"] = max_gap_h * 3600.0
    if allow_host:
        changes["allowlist_hosts"] = frozenset(h.strip().split(".")[0].upper() for h in allow_host)
    if allow_account:
        changes["allowlist_accounts"] = frozenset(a.strip().split("\\")[-1].lower() for a in allow_account)
    return dataclasses.replace(AnalysisConfig(), **changes)
