"""The simulated enterprise: hosts with roles and IPs (DHCP churn), users, admins, service accounts.

Pure data built from a seeded ``numpy.random.Generator``; no events here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DOMAIN = "CORP"
#: Server roles, in the order servers are allotted (a round-robin over the remaining servers).
SERVER_ROLES: tuple[str, ...] = ("file", "sql", "web", "file", "app", "sql", "web", "app")
_FIRST = ("anna", "ben", "carla", "dario", "emma", "felix", "greta", "hugo", "ines", "jonas",
          "kira", "leon", "mia", "nils", "olga", "paul", "rosa", "sven", "tara", "umar", "vera",
          "wim", "xena", "yann", "zoe")
_LAST = ("meyer", "smith", "garcia", "novak", "rossi", "kim", "berg", "silva", "fischer", "moreau",
         "weber", "brown", "kowal", "lind", "costa", "ito", "haas", "young", "otto", "park")


@dataclass
class Enterprise:
    """Hosts, accounts and addressing of one simulated domain.

    Host arrays are aligned: ``hosts[i]`` has ``roles[i]``, ``has_sysmon[i]``...; workstation IPs
    change per day (``ip_by_day[day, i]``), servers keep theirs.
    """

    hosts: list[str]
    roles: list[str]                 # workstation | dc | file | sql | web | app | deploy | backup | monitor
    has_sysmon: np.ndarray           # bool per host
    collected: np.ndarray            # bool per host: are the host's own logs part of the case?
    ip_by_day: np.ndarray            # object array [day, host] of IP strings
    users: list[str]                 # one per workstation (owner of workstations[i])
    workstation_user: np.ndarray     # host index -> user index (-1 for servers)
    it_admins: list[str]             # admin accounts (adm_<user>) of the IT staff
    it_admin_hosts: list[int]        # their workstations (host index)
    domain_admin: str
    service_accounts: dict[str, str] = field(default_factory=dict)  # role -> account

    def index(self, role: str) -> np.ndarray:
        """Host indices with a role."""
        return np.flatnonzero(np.asarray(self.roles) == role)

    @property
    def servers(self) -> np.ndarray:
        """Indices of member servers (file, sql, web, app)."""
        return np.flatnonzero(np.isin(self.roles, ("file", "sql", "web", "app")))

    @property
    def workstations(self) -> np.ndarray:
        """Indices of workstations."""
        return self.index("workstation")


def build_enterprise(rng: np.random.Generator, *, n_workstations: int, n_servers: int,
                     days: int) -> Enterprise:
    """A domain with ``n_workstations`` workstations, ``n_servers`` member servers, 2 DCs and the
    infrastructure servers (software deployment, backup, monitoring/inventory).

    Args:
        rng: the seeded generator (all randomness comes from it).
        n_workstations: at least 10.
        n_servers: member servers (file/sql/web/app), at least 3.
        days: days of activity; workstation IPs are drawn per day.
    """
    if n_workstations < 10 or n_servers < 3 or days < 1:
        raise ValueError("need at least 10 workstations, 3 servers and 1 day")
    ws = [f"WS{i:04d}" for i in range(1, n_workstations + 1)]
    counts: dict[str, int] = {}
    servers: list[tuple[str, str]] = []
    for i in range(n_servers):
        role = SERVER_ROLES[i % len(SERVER_ROLES)]
        counts[role] = counts.get(role, 0) + 1
        prefix = {"file": "FS", "sql": "SQL", "web": "WEB", "app": "APP"}[role]
        servers.append((f"{prefix}{counts[role]:02d}", role))
    infra = [("DC01", "dc"), ("DC02", "dc"), ("SCCM01", "deploy"), ("BKP01", "backup"),
             ("MON01", "monitor")]
    hosts = ws + [h for h, _ in servers] + [h for h, _ in infra]
    roles = ["workstation"] * len(ws) + [r for _, r in servers] + [r for _, r in infra]
    n = len(hosts)
    is_ws = np.asarray(roles) == "workstation"

    # Sysmon on most hosts; a few hosts' logs were never collected (target-only view of hops
    # leaving them). Infrastructure and DCs are always collected.
    has_sysmon = rng.random(n) < 0.75
    collected = np.ones(n, dtype=bool)
    collected[np.flatnonzero(is_ws)[rng.random(n_workstations) < 0.12]] = False

    ip_by_day = _addresses(rng, roles, days)
    users = _names(rng, n_workstations)
    workstation_user = np.full(n, -1)
    workstation_user[:n_workstations] = np.arange(n_workstations)
    n_admins = max(2, n_workstations // 150)
    admin_users = rng.choice(n_workstations, size=n_admins, replace=False)
    it_admins = [f"adm_{users[u]}" for u in admin_users]
    return Enterprise(
        hosts=hosts, roles=roles, has_sysmon=has_sysmon, collected=collected, ip_by_day=ip_by_day,
        users=users, workstation_user=workstation_user, it_admins=it_admins,
        it_admin_hosts=[int(u) for u in admin_users], domain_admin=f"da_{users[admin_users[0]]}",
        service_accounts={"deploy": "svc_sccm", "backup": "svc_backup", "monitor": "svc_inventory",
                          "sql": "svc_sql"},
    )


def _addresses(rng: np.random.Generator, roles: list[str], days: int) -> np.ndarray:
    """Per-day IPs: servers static in 10.10.x, workstations from a DHCP pool in 10.20.x.

    Each night ~8% of workstations get a new lease from the free pool, which holds the addresses
    the others just released: an IP can belong to another host the next day (DHCP churn).
    """
    n = len(roles)
    ws = np.flatnonzero(np.asarray(roles) == "workstation")
    static = [i for i in range(n) if roles[i] != "workstation"]
    out = np.empty((days, n), dtype=object)
    for k, i in enumerate(static):
        out[:, i] = f"10.10.{k // 200}.{10 + k % 200}"
    pool = [f"10.20.{k // 250}.{1 + k % 250}" for k in range(int(len(ws) * 1.3) + 10)]
    order = rng.permutation(len(pool))
    lease = order[:len(ws)].copy()
    free = list(order[len(ws):])
    for day in range(days):
        if day:
            movers = np.flatnonzero(rng.random(len(ws)) < 0.08)
            released = lease[movers].tolist()
            free.extend(released)
            picks = rng.choice(len(free), size=len(movers), replace=False)
            taken = [free[p] for p in picks]
            for p in sorted(picks.tolist(), reverse=True):
                free.pop(p)
            lease[movers] = taken
        out[day, ws] = [pool[j] for j in lease]
    return out


def _names(rng: np.random.Generator, k: int) -> list[str]:
    """``k`` distinct lower-case user names like ``anna.meyer`` (numbered when exhausted)."""
    combos = [f"{f}.{last}" for f in _FIRST for last in _LAST]
    picks = rng.permutation(len(combos))
    return [combos[picks[i % len(combos)]] + ("" if i < len(combos) else str(i // len(combos)))
            for i in range(k)]
