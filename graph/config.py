"""Analysis settings: every tunable number, with what it means and where its default comes from."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AnalysisConfig:
    """Settings of one analysis run. All times in seconds; all scores in [0, 1]."""

    #: 7045 has no LogonId: a service install joins the network logon on the same host within this
    #: window. Sigma's unsupported ``win_remote_service.yml`` correlation uses 30 s.
    service_join_window_s: float = 30.0
    #: Source-side evidence (4648, net use, 445 connection) joins target-side evidence this close.
    source_join_window_s: float = 120.0
    #: Fan-out: distinct destinations per source (and per account) in this sliding window...
    fanout_window_s: float = 300.0
    #: ...above this count is a burst. Splunk ESCU "Windows Administrative Shares Accessed On
    #: Multiple Hosts": dc(Computer) > 30 per 5 min (PEERS.md section 1.7).
    fanout_hosts: int = 30
    #: Time-respecting paths: the largest gap allowed between consecutive hops.
    max_path_gap_s: float = 24 * 3600.0
    #: How many top paths the result keeps.
    top_k_paths: int = 20
    #: Hops scoring at least this are part of paths, spread and patient zero.
    min_score: float = 0.4
    #: Severity cut-offs on the hop score (>= high -> "high", >= medium -> "medium", ...).
    severity_high: float = 0.7
    severity_medium: float = 0.4
    severity_low: float = 0.2
    #: Hosts / accounts the user vouches for (upper-case hosts, lower-case accounts).
    allowlist_hosts: frozenset[str] = field(default_factory=frozenset)
    allowlist_accounts: frozenset[str] = field(default_factory=frozenset)
