"""Coverage-matrix cases: one tool's hop in a small benign enterprise, seen through one telemetry
profile (what a real case collected: only Security logs, only the target host, only Defender...).

:func:`tool_case` builds one cell: a seeded enterprise (a dozen workstations, a few servers, two
DCs), its benign days (:mod:`ingest.synthetic.benign`, with DC-side Kerberos/NTLM records derived
from its logons), an IT admin's routine use of the same tool where admins really use it, and one
attacker hop (:mod:`ingest.synthetic.tools`) from a user's workstation to a server with a stolen
domain-admin account. :func:`keep` is the profile filter, applied to every record, benign or not.

Examples:
    >>> case = tool_case("psexec", "security", seed=1)
    >>> set(case.events["channel"].astype(str)) == {"Security"}
    True
    >>> case.evidence
    True
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd

from ingest import winevents as we
from ingest.formats.mde_table import to_windows
from ingest.records import normalize_records
from ingest.report import IngestReport
from ingest.schema import empty_frame, validate_frame
from ingest.synthetic import benign
from ingest.synthetic.blocks import Blocks
from ingest.synthetic.enterprise import Enterprise, build_enterprise
from ingest.synthetic.footprints import (
    DNS_DOMAIN,
    SECOND,
    SECURITY,
    Hop,
    Recorder,
    fqdn,
    iso,
    kerberos_tgt,
    logon,
)
from ingest.synthetic.templates import DAY, HOUR, Ctx
from ingest.synthetic.tools import TOOLS
from ingest.synthetic.truth import GroundTruth, MaliciousHop

#: First simulated day (a Monday), UTC midnight.
START = datetime(2024, 3, 4, tzinfo=UTC)


@dataclass(frozen=True)
class Profile:
    """What a case collected: channels (canonical names; ``None`` = every Windows channel) and hosts."""

    key: str
    label: str
    channels: frozenset[str] | None
    hosts: str                      # "all" | "target" | "source" | "dc"


#: The telemetry profiles (matrix columns), in column order.
PROFILES: dict[str, Profile] = {p.key: p for p in (
    Profile("full", "full", None, "all"),
    Profile("security", "Security", frozenset({"Security"}), "all"),
    Profile("system", "System", frozenset({"System"}), "all"),
    Profile("sysmon", "Sysmon", frozenset({"Sysmon"}), "all"),
    Profile("target", "target", None, "target"),
    Profile("source", "source", None, "source"),
    Profile("dc", "DC", None, "dc"),
    Profile("defender", "Defender", frozenset({"MDE"}), "all"),
)}


def canonical_channel(name: str) -> str:
    """Windows channel name -> canonical (``Microsoft-Windows-Sysmon/Operational`` -> ``Sysmon``)."""
    return we.CHANNELS.get(name.lower(), name)


def keep(profile: Profile, host: str, channel: str, hosts: set[str]) -> bool:
    """Does ``profile`` collect an event of canonical ``channel`` logged on ``host``?

    ``hosts`` is the set of host names the profile's host scope allows (everything for ``all``).
    Defender rows are only in the Defender profile; every other profile holds Windows logs only.
    """
    if profile.channels is None:
        if channel == "MDE":
            return False
    elif channel not in profile.channels:
        return False
    return profile.hosts == "all" or host in hosts


@dataclass
class ToolCase:
    """One coverage-matrix cell: the events a profile holds, the truth, and what the attack left."""

    tool: str
    profile: str
    events: pd.DataFrame                  # canonical frame (benign + admin use + attack), profile-filtered
    truth: GroundTruth
    hop: MaliciousHop
    evidence: bool                        # does the profile hold any attack record about the target?
    attack_records: list[dict[str, Any]] = field(default_factory=list)   # raw, profile-filtered
    windows: list[dict[str, Any]] = field(default_factory=list)          # every raw Windows record kept
    mde: list[dict[str, Any]] = field(default_factory=list)              # every Defender row kept
    background: pd.DataFrame | None = None    # the benign canonical rows kept (not in ``windows``)
    report: IngestReport = field(default_factory=IngestReport)


def tool_case(tool: str, profile: str, seed: int = 1, *, n_workstations: int = 12, n_servers: int = 4,
              days: int = 2) -> ToolCase:
    """Build the (``tool``, ``profile``) cell (see module docstring); same seed, same case."""
    if tool not in TOOLS:
        raise ValueError(f"unknown tool {tool!r}; known: {', '.join(TOOLS)}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    spec, prof = TOOLS[tool], PROFILES[profile]
    ent, bg, dcs, background, attack, hop = _emit(tool, seed, n_workstations, n_servers, days)
    scope = {"all": set(ent.hosts), "target": {hop.dst}, "source": {hop.src}, "dc": set(dcs)}[prof.hosts]

    def kept_windows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in records if keep(prof, _short(r["Computer"]), canonical_channel(r["Channel"]),
                                           scope)]

    def kept_mde(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in rows if keep(prof, _short(r["DeviceName"]), "MDE", scope)]

    att_win, att_mde = kept_windows(attack.windows), kept_mde(attack.mde)
    windows = sorted(kept_windows(background.windows) + att_win, key=lambda r: r["TimeCreated"])
    mde_rows = sorted(kept_mde(background.mde) + att_mde, key=lambda r: r["Timestamp"])
    bg_rows = bg[[keep(prof, h, c, scope) for h, c in zip(bg["host"].astype(str), bg["channel"].astype(str),
                                                          strict=True)]]
    if profile == "defender":       # the benign logs as Defender would have recorded them
        mde_rows = sorted(mde_rows + _as_mde(bg, scope, prof), key=lambda r: r["Timestamp"])
        bg_rows = bg.iloc[:0]
    report = IngestReport()
    _number(windows)
    frames = [bg_rows.reset_index(drop=True), _normalise(windows, "tools.xml", "xml", report),
              _normalise([w for w in (to_windows(r) for r in mde_rows) if w is not None], "tools.mde.jsonl",
                         "mde", report)]
    events = _concat(frames)
    attack_records = att_win + att_mde
    mhop = MaliciousHop(hop.src, hop.dst, hop.account, _dt(hop.t), tool, hop.src_ip,
                        prof.hosts in ("all", "source"))
    truth = GroundTruth(
        seed=seed, stealthy=False, patient_zero=hop.src, patient_zero_time=_dt(hop.t),
        compromised={hop.src: _dt(hop.t), hop.dst: _dt(hop.t)}, hops=[mhop],
        admin_sources={"deployment": {"host": ent.hosts[ent.index("deploy")[0]], "account": "svc_sccm"},
                       "backup": {"host": ent.hosts[ent.index("backup")[0]], "account": "svc_backup"},
                       "inventory": {"host": ent.hosts[ent.index("monitor")[0]], "account": "svc_inventory"},
                       "it_admins": [{"host": ent.hosts[h], "account": a}
                                     for a, h in zip(ent.it_admins, ent.it_admin_hosts, strict=True)]},
        parameters={"tool": tool, "profile": profile, "dst_ip": hop.dst_ip, "n_workstations": n_workstations,
                    "n_servers": n_servers, "days": days, "n_events": len(events),
                    "admin_use": spec.admin_use},
    )
    return ToolCase(tool, profile, events, truth, mhop, _names_target(attack_records, hop), attack_records,
                    windows, mde_rows, bg_rows.reset_index(drop=True), report)


def cell_evidence(tool: str, profile: str, seed: int = 1, *, n_workstations: int = 12, n_servers: int = 4,
                  days: int = 2) -> bool:
    """Does the (``tool``, ``profile``) cell hold any attack record logged on the target or naming it?
    The same answer as ``tool_case(...).evidence``, without normalising the events."""
    ent, _, dcs, _, attack, hop = _emit(tool, seed, n_workstations, n_servers, days)
    prof = PROFILES[profile]
    scope = {"all": set(ent.hosts), "target": {hop.dst}, "source": {hop.src}, "dc": set(dcs)}[prof.hosts]
    kept = [r for r in attack.windows if keep(prof, _short(r["Computer"]), canonical_channel(r["Channel"]),
                                              scope)]
    kept += [r for r in attack.mde if keep(prof, _short(r["DeviceName"]), "MDE", scope)]
    return _names_target(kept, hop)


def _emit(tool: str, seed: int, n_ws: int, n_srv: int, days: int
          ) -> tuple[Enterprise, pd.DataFrame, list[str], Recorder, Recorder, Hop]:
    """Every record of a cell before the profile filter: (enterprise, benign canonical events, DCs,
    benign raw records (DC side + the admin's use of the tool), the attack's records, the hop)."""
    spec = TOOLS[tool]
    ent, start_ns, bg, dc_records = _background(seed, n_ws, n_srv, days)
    rng = np.random.default_rng([seed, 3, list(TOOLS).index(tool)])
    dcs = [ent.hosts[i] for i in ent.index("dc")]

    def ip(host: int, t: int) -> str:
        return str(ent.ip_by_day[min(days - 1, max(0, (t - start_ns) // DAY)), host])

    # benign background (canonical), its DC-side authentication, the admin's routine use of the tool
    background = Recorder()
    background.windows = [dict(r) for r in dc_records]
    if spec.admin_use:
        admin, seat = ent.it_admins[0], int(ent.it_admin_hosts[0])
        managed = rng.choice(ent.servers, size=2, replace=False)
        for day in range(days):
            for _ in range(3):
                t = start_ns + day * DAY + int(rng.integers(8 * HOUR, 17 * HOUR))
                dst = int(rng.choice(managed))
                spec.emit(background, Hop(ent.hosts[seat], ip(seat, t), ent.hosts[dst], ip(dst, t),
                                          str(rng.choice(dcs)), admin, t, rng))
    # the domain admin's own work (directory administration from the IT admin's workstation): the
    # stolen account has a history, as in a real estate
    da_rng = np.random.default_rng([seed, 5])
    seat = int(ent.it_admin_hosts[0])
    for day in range(days):
        for k in range(int(da_rng.integers(2, 5))):     # the first one when the working day starts
            t = start_ns + day * DAY + int(da_rng.integers(8 * HOUR, 9 * HOUR if k == 0 else 17 * HOUR))
            dc = int(ent.index("dc")[int(da_rng.integers(0, len(dcs)))])
            own = Hop(ent.hosts[seat], ip(seat, t), ent.hosts[dc], ip(dc, t), ent.hosts[dc],
                      ent.domain_admin, t,
                      da_rng)
            kerberos_tgt(background, own, t - SECOND)
            logon(background, own, t, auth="Kerberos", workstation=own.src, duration=10 * 60 * SECOND)
    # the attack: a user's workstation -> a server, with the stolen domain-admin account
    seat_ids = set(ent.it_admin_hosts)
    src = int(rng.choice([w for w in ent.workstations.tolist() if w not in seat_ids]))
    dst = int(rng.choice(ent.servers))
    t = start_ns + (days - 1) * DAY + int(rng.integers(10 * HOUR, 15 * HOUR))
    hop = Hop(ent.hosts[src], ip(src, t), ent.hosts[dst], ip(dst, t), str(rng.choice(dcs)),
              ent.domain_admin, t, rng, operator=str(ent.users[int(ent.workstation_user[src])]))
    attack = Recorder()
    spec.emit(attack, hop)

    return ent, bg, dcs, background, attack, hop


def write_tool_case(case: ToolCase, out_dir: Path) -> dict[str, Path]:
    """Write a cell: ``events/case.parquet`` (what latgraph reads today), ``truth.json`` and every
    record the profile holds in its raw form (``raw/windows.xml`` with every event id, the benign
    background included; ``raw/defender.jsonl``), so newer readers can re-read the whole cell."""
    from ingest.case import write_case
    from ingest.writers import windows_record

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"case": write_case(case.events, out_dir / "events" / "case.parquet"),
             "truth": out_dir / "truth.json"}
    case.truth.write(paths["truth"])
    raw = out_dir / "raw"
    raw.mkdir(exist_ok=True)
    background = case.background if case.background is not None else empty_frame()
    records = case.windows + [windows_record(row) for row in background.astype(object)
                              .where(background.notna(), None).to_dict("records")]
    if records:
        for rec in records:
            if "." not in rec["Computer"]:
                rec["Computer"] = fqdn(rec["Computer"])
        records.sort(key=lambda r: r["TimeCreated"])
        paths["windows"] = raw / "windows.xml"
        with open(paths["windows"], "w", encoding="utf-8") as fh:
            fh.write('<?xml version="1.0" encoding="utf-8"?>\n<Events>\n')
            fh.writelines(_xml(r) + "\n" for r in records)
            fh.write("</Events>\n")
    if case.mde:
        paths["defender"] = raw / "defender.jsonl"
        with open(paths["defender"], "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps({**r, "AdditionalFields": json.dumps(r["AdditionalFields"])}
                                     if isinstance(r.get("AdditionalFields"), dict) else r) + "\n"
                          for r in case.mde)
    return paths


# ---- helpers ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _background(seed: int, n_ws: int, n_srv: int, days: int
                ) -> tuple[Enterprise, int, pd.DataFrame, tuple[dict[str, Any], ...]]:
    """The benign part of every cell of one seed (cached; callers copy what they change): the
    enterprise, the start time, the canonical benign events and their DC-side records."""
    ent, ctx = _enterprise(seed, n_ws, n_srv, days)
    bg = ctx.blocks.to_frame("synthetic")
    dc = Recorder()
    _dc_background(dc, bg, ent, np.random.default_rng([seed, 4]))
    return ent, ctx.start_ns, bg, tuple(dc.windows)


def _enterprise(seed: int, n_ws: int, n_srv: int, days: int) -> tuple[Enterprise, Ctx]:
    """A small enterprise whose every host logs everything (the profile decides what is collected),
    with its benign days except the IT admins' PsExec routine (replaced by the cell's tool)."""
    ent = build_enterprise(np.random.default_rng([seed, 0]), n_workstations=n_ws, n_servers=n_srv, days=days)
    ent.collected[:] = True
    ent.has_sysmon[:] = True
    blocks = Blocks()
    ctx = Ctx(blocks=blocks, ent=ent, rng=np.random.default_rng([seed, 1]),
              start_ns=int(pd.Timestamp(START).value), days=days, host_codes=blocks.codes(ent.hosts),
              ip_codes=np.vectorize(blocks.code, otypes=[np.int32])(ent.ip_by_day),
              user_codes=blocks.codes(ent.users),
              machine_codes=blocks.codes([f"{h.lower()}$" for h in ent.hosts]))
    benign.interactive(ctx)
    benign.deployment(ctx)
    benign.backup(ctx)
    benign.hard_negatives(ctx)
    benign.file_sessions(ctx, 4 * n_ws * days)
    benign.dc_machine_sessions(ctx, 3 * n_ws * days)
    benign.noise(ctx, 10 * n_ws * days)
    return ent, ctx


def _dc_background(r: Recorder, bg: pd.DataFrame, ent: Enterprise, rng: np.random.Generator) -> None:
    """The DC side of the benign logons: 4768 and a 4769 for the workstation itself for each
    interactive logon, 4769 (``DST$``) for each Kerberos network logon, 4776 for each NTLM logon
    with a domain account."""
    dcs = [ent.hosts[i] for i in ent.index("dc")]
    logons = bg[(bg["event_id"] == 4624) & (bg["channel"].astype(str) == "Security")]
    host_ip = {h: str(ent.ip_by_day[0, i]) for i, h in enumerate(ent.hosts)}
    for row in logons.itertuples(index=False):
        t = int(pd.Timestamp(row.ts).value)
        dc = str(dcs[int(rng.integers(0, len(dcs)))])
        realm = DNS_DOMAIN.upper()
        if row.logon_type == 2:     # a TGT, then a ticket for the workstation itself (host/WS0001)
            ip = f"::ffff:{host_ip[str(row.host)]}"
            r.win(t - 30_000_000, dc, SECURITY, 4768, TargetUserName=row.account, TargetDomainName=realm,
                  ServiceName="krbtgt", IpAddress=ip, IpPort="0", Status="0x0", TicketEncryptionType="0x12",
                  PreAuthType="2")
            r.win(t - 20_000_000, dc, SECURITY, 4769, TargetUserName=f"{row.account}@{realm}",
                  TargetDomainName=realm, ServiceName=f"{row.host}$", IpAddress=ip, IpPort="0", Status="0x0",
                  TicketOptions="0x40810000", TicketEncryptionType="0x12")
        elif row.logon_type == 3 and pd.notna(row.src_ip) and str(row.src_host) != str(row.host):
            if str(row.auth_package) == "Kerberos":
                r.win(t - 6_000_000, dc, SECURITY, 4769, TargetUserName=f"{row.account}@{realm}",
                      TargetDomainName=realm, ServiceName=f"{row.host}$", IpAddress=f"::ffff:{row.src_ip}",
                      IpPort="0", Status="0x0", TicketOptions="0x40810000", TicketEncryptionType="0x12")
            elif str(row.account_domain) == "CORP":
                r.win(t - 4_000_000, dc, SECURITY, 4776, PackageName="MICROSOFT_AUTHENTICATION_PACKAGE_V1_0",
                      TargetUserName=row.account, Workstation=str(row.src_host), Status="0x0")


def _as_mde(bg: pd.DataFrame, scope: set[str], prof: Profile) -> list[dict[str, Any]]:
    """Benign canonical rows Defender also records, as advanced-hunting rows (ingest.writers.mde_row)."""
    from ingest.writers import mde_row

    rows = []
    sel = bg[bg["event_id"].isin([4624, 4625, 1, 3, 11, 17, 7045])]
    for rec in sel.astype(object).where(sel.notna(), None).to_dict("records"):
        if prof.hosts != "all" and rec["host"] not in scope:
            continue
        row = mde_row(rec)
        if row is not None:
            row["DeviceName"] = fqdn(row["DeviceName"]).lower()
            rows.append(row)
    return rows


def _number(records: list[dict[str, Any]]) -> None:
    """EventRecordID: increasing per (computer, channel), as in each host's log file."""
    counters: dict[tuple[str, str], int] = {}
    for r in records:
        key = (r["Computer"], r["Channel"])
        counters[key] = counters.get(key, 1000) + 1
        r["EventRecordID"] = counters[key]


def _normalise(records: list[dict[str, Any]], name: str, fmt: str, report: IngestReport) -> pd.DataFrame:
    """Raw records -> canonical rows through the readers' normaliser (unread event ids are counted)."""
    fr = report.add(name, fmt)
    fr.records_read = len(records)
    return normalize_records(records, source_file=name, source_format=fmt,
                             report=fr) if records else empty_frame()


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return empty_frame()
    cats = {c: sorted(set().union(*(f[c].cat.categories for f in frames))) for c in ("channel",
                                                                                     "source_format")}
    frames = [f.assign(**{c: f[c].cat.set_categories(v) for c, v in cats.items()}) for f in frames]
    out = pd.concat(frames, ignore_index=True)
    return validate_frame(out.sort_values("ts", kind="stable").reset_index(drop=True))


def _names_target(records: list[dict[str, Any]], hop: Hop) -> bool:
    """Is any record logged on the target, or naming it (host name, ``DST$``, its IP)?"""
    needles = (hop.dst.lower(), hop.dst_ip)
    for r in records:
        host = r.get("Computer") or r.get("DeviceName") or ""
        if _short(host) == hop.dst:
            return True
        for k, v in r.items():
            if k in ("Computer", "DeviceName") or not isinstance(v, str):
                continue
            text = v.lower()
            if any(n in text for n in needles):
                return True
    return False


def _short(host: str) -> str:
    return host.split(".", 1)[0].upper()


def _xml(rec: dict[str, Any]) -> str:
    ns = "http://schemas.microsoft.com/win/2004/08/events/event"
    system = (f"<System><EventID>{rec['EventID']}</EventID>"
              f"<TimeCreated SystemTime={quoteattr(rec['TimeCreated'])}/>"
              f"<EventRecordID>{rec.get('EventRecordID', '')}</EventRecordID>"
              f"<Channel>{escape(str(rec['Channel']))}</Channel><Computer>{escape(str(rec['Computer']))}</Computer>"
              "</System>")
    data = "".join(f"<Data Name={quoteattr(k)}>{escape(str(v))}</Data>" for k, v in rec.items()
                   if k not in we.SYSTEM_FIELDS)
    return f"<Event xmlns='{ns}'>{system}<EventData>{data}</EventData></Event>"


def _dt(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


__all__ = ["PROFILES", "Profile", "ToolCase", "cell_evidence", "iso", "keep", "tool_case", "write_tool_case"]
