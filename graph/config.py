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

    # ---- correlation (graph.correlate) -------------------------------------------------------
    #: A process start / file / pipe event without a logon id joins the latest remote logon or
    #: share access on the same host this close before it (PsExec starts PSEXESVC.exe ~1 s after
    #: the logon; wmiexec's cmd.exe within seconds). Chosen as 2x the service window.
    exec_join_window_s: float = 60.0
    #: A row still without a source joins an anchor on the same host up to this much *later*: the
    #: channels of one host are stamped by different components (Sysmon's callback time vs the
    #: Security audit), and Sysmon's service / process rows of a PsExec-style action show up
    #: about a second before the 4624 (OTRF empire_psexec: 1.1 s). 0 turns it off.
    clock_skew_s: float = 2.0
    #: A logon-id join only reaches back this far (logon ids are reused after reboots).
    session_max_s: float = 24 * 3600.0
    #: Evidence of one (source, destination, account) more than this apart starts a new hop
    #: (an "episode"); must be >= fanout_window_s so a destination counts once per window.
    hop_gap_s: float = 3600.0
    #: IP -> host hints apply only on the UTC day they were seen (DHCP churn, reused lab IPs).
    #: False = one name per IP over the whole case (the most frequent). Off by default until the
    #: Spark engine mirrors it (engine parity); on generated enterprises with DHCP churn about 3%
    #: of hop sources differ between the two settings.
    ip_hints_by_day: bool = False
    #: Evidence dicts kept per hop (strongest first, then earliest); ``n_events`` has the total.
    #: Also the cap on evidence items per finding.
    max_evidence_per_hop: int = 50
    #: Findings (graph.findings): rule hits of one (host, account, rule) this close together are one
    #: finding with a count (an hour, as ``hop_gap_s``: a test run or an admin task, not a flood).
    finding_window_s: float = 3600.0

    # ---- scoring (graph.scoring) -------------------------------------------------------------
    #: Fan-out relative to the source's own baseline: a window count this many times the source's
    #: median windowed count on its other active days scores 1 (LATMA-style burst)...
    fanout_burst_factor: float = 3.0
    #: ...and only counts of at least this many destinations can be a burst at all.
    fanout_burst_min: int = 5
    #: Habitual administration: a (source, account, tool signature) active on at least this many
    #: distinct days of the data is a routine (deployment/backup servers and IT admins run daily;
    #: 2 so that a 2-3 day case can show a habit at all)...
    habit_min_days: int = 2
    #: ...a hop matches it at a usual hour: the pair was active within this many hours of the same
    #: hour of day on >= 2 days (business-hours admin work drifts: an early start at 07:00 for an
    #: admin who usually works 10:00-16:00 is still the routine)...
    habit_hour_slack_h: int = 3
    #: ...a routine reaching at least this many destinations per active day on average is broad
    #: (deployment): new destinations are its habit too...
    habit_broad_hosts: float = 5.0
    #: ...so is a routine that made first contacts with new destinations on at least this many
    #: distinct days (an admin working through a server pool); 3 so that two days of an attacker
    #: repeating one tool from one foothold never qualify...
    habit_expand_days: int = 3
    #: ...and a fully matching hop keeps this fraction of its score (a half match, i.e. a novel
    #: destination, keeps 1 - (1 - habit_keep) / 2).
    habit_keep: float = 0.35
    #: Environments (graph.scoring.environment): a connected component of the hop host graph is
    #: split in time where it has no hop for longer than this; baselines never cross environments.
    environment_gap_s: float = 7 * 24 * 3600.0
    #: Routine continued from a compromised source (graph.scoring.routine): member hops are capped
    #: at this score (low, each one alone is not an alert)...
    routine_group_cap: float = 0.3
    #: ...and the group, one finding, scores this (medium).
    routine_group_score: float = 0.5
    #: A known administrator's first contact (graph.scoring.admin) needs a baseline of at least
    #: this many lateral hops of the (seat, account, tool) before the hop's day.
    admin_baseline_hops: int = 3
    #: Hops with no known source (7045-only logs) are capped here: target-side evidence alone
    #: cannot prove the action came over the network (medium at most).
    target_only_cap: float = 0.6
    #: ...and capped here when all their lateral evidence carries a local marker (getsystem).
    local_only_cap: float = 0.3
    #: Allowlisted hosts/accounts keep their hops, capped at this score (info).
    allowlist_cap: float = 0.1

    # ---- authentication-graph signals (graph.scoring.auth) -------------------------------------
    #: A source, destination or account is judged against its own history only once it has been
    #: active this long (a day: short recordings and new machines have no baseline)...
    auth_baseline_s: float = 24 * 3600.0
    #: ...a logon continues from a host another logon reached at most this long before (Hopper's
    #: time-respecting login chains; a working day)...
    auth_chain_s: float = 12 * 3600.0
    #: ...first contacts from one source, at least ``auth_burst_min`` within this window, are a burst
    #: (helpdesk and admins make one or two first contacts an hour; a spreading intruder more)...
    auth_burst_window_s: float = 3600.0
    auth_burst_min: int = 3
    #: Accounts reaching at least this many destinations per active day on average (inventory,
    #: backup, deployment) are sweeps: their logons bring no user credential for a switch.
    auth_sweep_hosts: float = 20.0
    #: Hubs: destinations reached by at least this share of all accounts (and this many): domain
    #: controllers, mail servers; a first contact with a hub is routine.
    auth_hub_share: float = 0.1
    auth_hub_accounts: int = 20
    #: ...and an authentication-only hop is capped here, or at ``auth_high_cap`` when it has both a
    #: causal signal (credential switch or chain) and a first-seen signal (docs/analysis.md).
    auth_medium_cap: float = 0.69
    auth_high_cap: float = 0.85
    #: ...and at this (below medium) when the destination logs more than authentication (its own
    #: share / pipe / file / service / process events): the logon was followed by no action there.
    auth_logged_cap: float = 0.39

    # ---- paths (graph.paths) -----------------------------------------------------------------
    #: Longest path (in hops) the search follows.
    max_path_len: int = 12
    #: Upper bound on path-search steps (keeps a dense graph bounded; hit = truncated, logged).
    max_path_expansions: int = 200_000
