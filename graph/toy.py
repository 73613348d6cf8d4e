"""A tiny DSL for tests and doctests: canonical events and hops frames from one line of text.

Grammar (tokens separated by spaces)::

    token := SRC ">" DST "@" TIME [":" KIND] ["/" ACCOUNT] ["=" SCORE]
    TIME  := number ("s" | "m" | "h" | "d")       # offset from 2024-03-01T09:00:00Z
    SRC   := host name, an IPv4 address, or "?" (unknown source: target-only evidence)

KIND (default ``psexec``) picks the events one hop produces:

=========  ===========================================================================
logon      4624 type 3 on DST from SRC
share      logon + 5140 ADMIN$
write      logon + 5140 ADMIN$ + 5145 write of a file on ADMIN$
psexec     logon + 5145 write PSEXESVC.exe on ADMIN$ + svcctl pipe + 7045 PSEXESVC + 4688
smbexec    logon + 7045 BTOBTO (cmd ... & del) on DST
svc        7045 only on DST (random name, image ``%SystemRoot%\\xxxxxxxx.exe``); no logon
discovery  logon + 5145 IPC$ samr / lsarpc / srvsvc (SharpHound shape)
guess      three 4625 failed type-3 logons on DST from SRC
netuse     source side only: 4688 ``net use \\\\DST\\c$`` + 4648 on SRC
session    the account's own session at DST: 4624 type 2 on DST (SRC is ignored; write DST>DST)
=========  ===========================================================================

Examples:
    >>> ev = toy_events("A>B@0s:logon")
    >>> ev[["event_id", "host", "src_host", "account"]].values.tolist()
    [[4624, 'B', 'A', 'admin']]
    >>> toy_hops("A>B@0s B>C@5m=0.5")[["src_host", "dst_host", "score"]].values.tolist()
    [['A', 'B', 0.9], ['B', 'C', 0.5]]
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from graph.model import HOP_COLUMNS
from ingest.schema import Event, to_frame

T0 = datetime(2024, 3, 1, 9, 0, 0, tzinfo=UTC)
_TOKEN = re.compile(
    r"^(?P<src>[^>]+)>(?P<dst>[^@]+)@(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhd])"
    r"(?::(?P<kind>[a-z]+))?(?:/(?P<account>[^=]+))?(?:=(?P<score>[0-9.]+))?$"
)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_token(token: str) -> dict[str, Any]:
    """One DSL token as a dict (src, dst, ts, kind, account, score)."""
    m = _TOKEN.match(token)
    if m is None:
        raise ValueError(f"bad toy token {token!r} (expected SRC>DST@TIME[:KIND][/ACCOUNT][=SCORE])")
    d = m.groupdict()
    return {
        "src": None if d["src"] == "?" else d["src"],
        "dst": d["dst"],
        "ts": T0 + timedelta(seconds=float(d["n"]) * _UNITS[d["unit"]]),
        "kind": d["kind"] or "psexec",
        "account": d["account"] or "admin",
        "score": float(d["score"]) if d["score"] else 0.9,
    }


def _is_ip(name: str | None) -> bool:
    return bool(name) and bool(re.match(r"^\d+(\.\d+){3}$", name or ""))


def toy_events(spec: str) -> pd.DataFrame:
    """Canonical events for a DSL line (see the module docstring)."""
    events: list[Event] = []
    for n, token in enumerate(spec.split()):
        t = parse_token(token)
        events.extend(_hop_events(t, n))
    return to_frame(events)


def _hop_events(t: dict[str, Any], n: int) -> list[Event]:
    src, dst, ts, kind, acct = t["src"], t["dst"], t["ts"], t["kind"], t["account"]
    lid = f"0x{0x10000 + n:x}"
    sec = timedelta(seconds=1)
    src_host = None if _is_ip(src) else src
    src_ip = src if _is_ip(src) else (None if src is None else f"10.0.0.{1 + sum(map(ord, src)) % 250}")

    def ev(eid: int, at: datetime, channel: str = "Security", **kw: Any) -> Event:
        base: dict[str, Any] = {"ts": at, "event_id": eid, "channel": channel, "host": dst,
                                "source_file": "toy", "source_format": "toy",
                                "record_id": n * 100 + eid % 100 + len(kw)}
        base.update(kw)
        return Event(**base)

    remote = {"src_host": src_host, "src_ip": src_ip, "dst_host": dst, "account": acct,
              "logon_id": lid}
    logon = ev(4624, ts, logon_type=3, auth_package="NTLM", logon_process="NtLmSsp",
               key_length=128, **remote)
    admin = "\\\\*\\ADMIN$"
    if kind == "logon":
        return [logon]
    if kind == "share":
        return [logon, ev(5140, ts + sec, share_name=admin, **remote)]
    if kind == "write":
        return [logon, ev(5140, ts + sec, share_name=admin, **remote),
                ev(5145, ts + 2 * sec, share_name=admin, target_name="tool.exe", access_mask=0x2,
                   **remote)]
    if kind == "psexec":
        return [logon,
                ev(5145, ts + sec, share_name=admin, target_name="PSEXESVC.exe", access_mask=0x2,
                   **remote),
                ev(5145, ts + 2 * sec, share_name="\\\\*\\IPC$", target_name="svcctl",
                   access_mask=0x12019F, **remote),
                ev(7045, ts + 3 * sec, channel="System", service_name="PSEXESVC",
                   service_image="%SystemRoot%\\PSEXESVC.exe", account="LocalSystem"),
                ev(4688, ts + 4 * sec, process="C:\\Windows\\PSEXESVC.exe", subject_account=f"{dst}$",
                   logon_id="0x3e7", parent_process="C:\\Windows\\System32\\services.exe")]
    if kind == "smbexec":
        return [logon, ev(7045, ts + sec, channel="System", service_name="BTOBTO",
                          service_image="%COMSPEC% /Q /c echo cd ^> \\\\127.0.0.1\\C$\\__output "
                                        "2^>^&1 > %TEMP%\\execute.bat & del %TEMP%\\execute.bat")]
    if kind == "svc":
        return [ev(7045, ts, channel="System", service_name="KgXItsbKgTJzdzwl",
                   service_image="%SYSTEMROOT%\\duKhLYUX.exe", account="LocalSystem")]
    if kind == "discovery":
        return [logon] + [ev(5145, ts + (i + 1) * sec, share_name="\\\\*\\IPC$", target_name=p,
                             access_mask=0x12019F, **remote)
                          for i, p in enumerate(("samr", "lsarpc", "srvsvc"))]
    if kind == "guess":
        return [ev(4625, ts + i * sec, logon_type=3, status="0xc000006d", **remote) for i in range(3)]
    if kind == "session":
        return [ev(4624, ts, logon_type=2, src_host=dst, src_ip="127.0.0.1", dst_host=dst, account=acct,
                   logon_id=lid, auth_package="Negotiate", logon_process="User32")]
    if kind == "netuse":
        out = {"host": src, "src_host": src, "dst_host": dst}
        return [ev(4688, ts, process="C:\\Windows\\System32\\net.exe", subject_account=acct,
                   command_line=f"net use z: \\\\{dst}\\c$", logon_id=lid, **out),
                ev(4648, ts + sec, account=acct, subject_account=acct, logon_id=lid,
                   process="C:\\Windows\\System32\\net.exe", **out)]
    raise ValueError(f"unknown toy kind {kind!r}")


def toy_hops(spec: str) -> pd.DataFrame:
    """A scored hops frame (:data:`HOP_COLUMNS`), one hop per token, severity from the score."""
    rows = []
    for n, token in enumerate(spec.split()):
        t = parse_token(token)
        sev = "high" if t["score"] >= 0.7 else "medium" if t["score"] >= 0.4 else "low"
        rows.append({
            "hop_id": n, "src_host": t["src"], "src_ip": None, "dst_host": t["dst"],
            "account": t["account"], "first_seen": t["ts"], "last_seen": t["ts"] + timedelta(seconds=4),
            "kinds": ("logon",), "techniques": ("T1021.002",), "rules": (),
            "evidence": ({"event_id": 4624, "source_file": "toy", "record_id": n, "rule":
                          "lg.logon.network", "ts": t["ts"], "host": t["dst"]},),
            "n_events": 1, "score": t["score"], "severity": sev,
        })
    frame = pd.DataFrame(rows, columns=list(HOP_COLUMNS))
    for c in ("src_host", "src_ip", "dst_host", "account", "severity"):
        frame[c] = frame[c].astype("string")
    for c in ("first_seen", "last_seen"):
        frame[c] = pd.to_datetime(frame[c], utc=True)
    return frame
