"""Seeded synthetic enterprise: canonical events of days of benign activity plus one attack, with
its ground truth. Used by ``latgraph simulate``, ``make demo``, the tests and ``bench/``.

The events look like what the readers produce from real logs (same columns, dtypes and field
semantics; see :mod:`ingest.synthetic.templates`), so the analysis cannot tell them apart by shape.
Generation is vectorised (numpy blocks per activity kind): 10M events take seconds, not minutes.

Examples:
    >>> sim = simulate(1, n_workstations=20, n_servers=4, days=2)
    >>> sim.truth.patient_zero in set(sim.events["host"])
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from ingest.synthetic import benign, infra
from ingest.synthetic.attack import AttackResult, attack
from ingest.synthetic.blocks import Blocks
from ingest.synthetic.enterprise import Enterprise, build_enterprise
from ingest.synthetic.templates import Ctx
from ingest.synthetic.truth import GroundTruth, MaliciousHop

__all__ = ["GroundTruth", "MaliciousHop", "Simulation", "simulate"]

#: First simulated day (a Monday), UTC midnight.
START = datetime(2024, 3, 4, tzinfo=UTC)
SOURCE_FORMAT = "synthetic"
#: Default volume of the scalable activities per workstation per day.
_DEFAULT_PER_WS_DAY = {"file": 6.0, "dc": 4.0, "noise": 25.0}
#: Share of the event budget (``target_events``) per scalable activity.
_BUDGET_SHARE = {"file": 0.45, "dc": 0.2, "noise": 0.35}


@dataclass
class Simulation:
    """Generated canonical events and what the analysis should find in them."""

    events: pd.DataFrame
    truth: GroundTruth
    enterprise: Enterprise


def simulate(seed: int, *, n_workstations: int = 60, n_servers: int = 8, days: int = 3,
             stealthy: bool = False, admin_seat: bool = False, target_events: int | None = None,
             scenario: str = "standard") -> Simulation:
    """Generate a seeded enterprise, its benign activity and one lateral-movement attack.

    Args:
        seed: the same seed and arguments give the same events and truth.
        n_workstations: workstations (>= 10); each has one user.
        n_servers: member servers (file, SQL, web, app; >= 3); DCs, the deployment (SCCM01),
            backup (BKP01) and inventory (MON01) servers are added.
        days: days of activity; the attack happens in the second half.
        stealthy: slow spread (hours to a day between hops, fewer hosts, no burst).
        admin_seat: the attacker reaches the IT admin's own workstation, steals the admin account
            there and runs the admin's PsExec from that seat (the routine's source, account and tool).
        target_events: scale the benign volume so the result has about this many events.
        scenario: ``"standard"`` (the attack above) or one of
            :data:`ingest.synthetic.infra.SCENARIOS`: ``deploy-server`` / ``backup-server`` (the
            attacker takes over the deployment / backup server and uses its service account while
            the server's nightly routine goes on), ``admin-first-contacts`` (IT admins reach
            servers the baseline days never saw them reach; normal attack), ``benign-only`` (no
            attack: ``truth.hops`` is empty and ``truth.patient_zero`` is ``""``).

    Returns:
        :class:`Simulation` with a canonical events frame (sorted by ``ts``) and the truth.
    """
    topo_rng = np.random.default_rng([seed, 0])
    ent = build_enterprise(topo_rng, n_workstations=n_workstations, n_servers=n_servers, days=days)
    blocks = Blocks()
    start_ns = int(pd.Timestamp(START).value)
    ctx = Ctx(
        blocks=blocks, ent=ent, rng=np.random.default_rng([seed, 1]), start_ns=start_ns, days=days,
        host_codes=blocks.codes(ent.hosts),
        ip_codes=np.vectorize(blocks.code, otypes=[np.int32])(ent.ip_by_day),
        user_codes=blocks.codes(ent.users),
        machine_codes=blocks.codes([f"{h.lower()}$" for h in ent.hosts]),
    )
    benign.interactive(ctx)
    benign.deployment(ctx)
    if scenario == "backup-server":
        infra.backup_guest_processing(ctx)
    benign.backup(ctx)
    if scenario not in ("standard", *infra.SCENARIOS):
        raise ValueError(f"unknown scenario {scenario!r}; choose standard or one of {infra.SCENARIOS}")
    if scenario == "admin-first-contacts":
        infra.it_admin_first_contacts(ctx)
    else:
        benign.it_admin_psexec(ctx)
    benign.hard_negatives(ctx)
    attack_ctx = Ctx(**{**ctx.__dict__, "rng": np.random.default_rng([seed, 2])})
    if scenario == "benign-only":
        result = AttackResult("", START, [], {})
    elif scenario in ("deploy-server", "backup-server"):
        result = infra.infrastructure_attack(attack_ctx, role=scenario.split("-")[0])
    else:
        result = attack(attack_ctx, stealthy=stealthy, admin_seat=admin_seat)
    counts = _scalable_counts(len(blocks), n_workstations, days, target_events)
    benign.file_sessions(ctx, counts["file"])
    benign.dc_machine_sessions(ctx, counts["dc"])
    benign.noise(ctx, counts["noise"])

    record_base = ctx.rng.integers(1_000, 400_000, size=len(ent.hosts) * 4)
    events = blocks.to_frame(SOURCE_FORMAT, record_base=record_base)
    compromised = {result.patient_zero: result.patient_zero_time} if result.patient_zero else {}
    for hop in result.hops:
        compromised.setdefault(hop.dst, hop.first_seen)
    admins = ent.service_accounts
    truth = GroundTruth(
        seed=seed, stealthy=stealthy, patient_zero=result.patient_zero,
        patient_zero_time=result.patient_zero_time, compromised=compromised, hops=result.hops,
        admin_sources={
            "deployment": {"host": ent.hosts[ent.index("deploy")[0]], "account": admins["deploy"]},
            "backup": {"host": ent.hosts[ent.index("backup")[0]], "account": admins["backup"]},
            "inventory": {"host": ent.hosts[ent.index("monitor")[0]], "account": admins["monitor"]},
            "it_admins": [{"host": ent.hosts[h], "account": a}
                          for a, h in zip(ent.it_admins, ent.it_admin_hosts, strict=True)],
        },
        credentials=result.credentials,
        parameters={"n_workstations": n_workstations, "n_servers": n_servers, "days": days,
                    "admin_seat": admin_seat, "scenario": scenario,
                    "target_events": target_events, "n_events": len(events),
                    "start": START.isoformat().replace("+00:00", "Z"),
                    "uncollected_hosts": [ent.hosts[i] for i in np.flatnonzero(~ent.collected)],
                    "hosts_without_sysmon": int((~ent.has_sysmon).sum())},
    )
    return Simulation(events=events, truth=truth, enterprise=ent)


def _scalable_counts(fixed: int, n_ws: int, days: int, target: int | None) -> dict[str, int]:
    """How many file sessions, DC sessions and noise events to generate."""
    if target is None:
        return {k: int(v * n_ws * days) for k, v in _DEFAULT_PER_WS_DAY.items()}
    remaining = max(0, target - fixed)
    return {k: int(remaining * share / benign.EVENTS_PER[k]) for k, share in _BUDGET_SHARE.items()}
