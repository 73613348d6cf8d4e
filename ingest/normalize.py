"""Raw Windows-field records -> canonical event frames, with Windows' real semantics.

Two layers:

* small pure scalar normalisers (:func:`normalize_host`, :func:`normalize_ip`,
  :func:`normalize_account`, :func:`normalize_share`, :func:`normalize_logon_id`,
  :func:`parse_int`): total (never raise, junk -> ``None``) and idempotent (``f(f(x)) == f(x)``);
* :func:`normalize_records`: a batch of raw dicts -> a canonical frame, vectorised per column. The
  scalar normalisers run once per *distinct* value of a column (:func:`map_unique`), never per row.

Conventions (see :mod:`ingest.schema`): hosts are upper-case short names; an IP is never a host
name. Loopback sources (``127.0.0.0/8``, ``::1``, ``::ffff:127.0.0.1``) and a logon with neither an
IP nor a workstation name (``-``/empty) are *local*: ``src_host = host``; a loopback ``src_ip`` is
kept as the normalised loopback address for evidence, ``-``/empty becomes ``None``. Machine
accounts keep their ``$`` (``pc01$``); ``SYSTEM``/``LocalSystem``/``NT AUTHORITY\\SYSTEM`` all become
``system``; ``ANONYMOUS LOGON`` becomes ``anonymous logon``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ingest import winevents as we
from ingest.report import SKIP_EVENT_ID, SKIP_NO_EVENT_ID, SKIP_NO_TIME, FileReport
from ingest.schema import COLUMNS, coerce_frame, empty_frame

_EMPTY = frozenset({"", "-", "--", "n/a", "null", "none", "nan"})


def _text(value: Any) -> str | None:
    """A stripped string, or ``None`` for missing/placeholder values."""
    if value is None or (isinstance(value, float) and value != value):  # NaN
        return None
    if value is pd.NA:
        return None
    text = str(value).strip().strip("\x00").strip()
    return None if text.lower() in _EMPTY else text


def normalize_ip(value: Any) -> str | None:
    """A canonical IP string (``::ffff:10.0.0.5`` -> ``10.0.0.5``), or ``None`` if not an IP.

    Examples:
        >>> normalize_ip("::ffff:10.0.0.5"), normalize_ip("-"), normalize_ip("fe80::1%12")
        ('10.0.0.5', None, 'fe80::1')
    """
    text = _text(value)
    if text is None:
        return None
    text = text.strip("[]").split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def is_loopback(ip: str | None) -> bool:
    """True for ``127.0.0.0/8``, ``::1`` (after :func:`normalize_ip`)."""
    if ip is None:
        return False
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def normalize_host(value: Any) -> str | None:
    """One upper-case short name per host: FQDN, NetBIOS, ``DOMAIN\\HOST$``, ``\\\\HOST`` -> ``HOST``.

    IP addresses, ``localhost`` and placeholders give ``None`` (an IP is not a name).

    Examples:
        >>> normalize_host("pc01.example.corp"), normalize_host("EXAMPLE\\\\PC01$")
        ('PC01', 'PC01')
        >>> normalize_host("10.1.2.3") is None
        True
    """
    text = _text(value)
    if text is None:
        return None
    text = text.lstrip("\\/")
    if "\\" in text:
        text = text.rsplit("\\", 1)[1]
    text = text.strip().rstrip("$").rstrip(".")
    if not text or normalize_ip(text) is not None:
        return None
    short = text.split(".", 1)[0].strip().upper()
    if not short or short in {"LOCALHOST", "-"} or any(c in short for c in " /\"<>|\t\r\n"):
        return None
    return short


def normalize_account(value: Any) -> str | None:
    """Account name: lower-case, no domain, ``$`` kept; the SYSTEM aliases become ``system``.

    Examples:
        >>> normalize_account("CORP\\\\Admin"), normalize_account("PC01$@corp.local")
        ('admin', 'pc01$')
        >>> normalize_account("LocalSystem")
        'system'
    """
    text = _text(value)
    if text is None:
        return None
    if "\\" in text:
        text = text.rsplit("\\", 1)[1]
    if "@" in text:
        text = text.split("@", 1)[0]
    text = text.strip().lower()
    if not text or text in _EMPTY:
        return None
    return "system" if text in we.SYSTEM_ACCOUNTS else text


def account_domain_of(value: Any) -> str | None:
    """The domain part of ``DOMAIN\\user`` or ``user@domain`` (upper-case), else ``None``."""
    text = _text(value)
    if text is None:
        return None
    if "\\" in text:
        return normalize_domain(text.split("\\", 1)[0])
    if "@" in text:
        return normalize_domain(text.split("@", 1)[1])
    return None


def normalize_domain(value: Any) -> str | None:
    """Upper-case domain (``corp.local`` stays dotted: DNS and NetBIOS domains are both seen)."""
    text = _text(value)
    return text.upper() if text else None


def normalize_share(value: Any) -> str | None:
    """Share names as Windows logs them in 5140/5145: ``\\\\*\\ADMIN$`` (upper-case share part).

    Examples:
        >>> print(normalize_share("admin$"), normalize_share("\\\\\\\\FS01\\\\c$"))
        \\\\*\\ADMIN$ \\\\*\\C$
    """
    text = _text(value)
    if text is None:
        return None
    parts = [p for p in text.replace("/", "\\").split("\\") if p]
    if not parts:
        return None
    share = parts[-1] if len(parts) <= 2 else parts[1]
    return "\\\\*\\" + share.upper()


def parse_int(value: Any) -> int | None:
    """An int from ``3``, ``"3"``, ``"0x2"``, ``"%%1833"``-free text; ``None`` for junk."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    text = _text(value)
    if text is None:
        return None
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(float(text))
    except (ValueError, OverflowError):
        return None


def bounded_int(lo: int, hi: int) -> Callable[[Any], int | None]:
    """A :func:`parse_int` that gives ``None`` outside ``[lo, hi]`` (column dtypes are fixed-width)."""
    def parse(value: Any) -> int | None:
        number = parse_int(value)
        return number if number is not None and lo <= number <= hi else None
    return parse


parse_event_id = bounded_int(0, 65535)
parse_port = bounded_int(0, 65535)
parse_record_id = bounded_int(0, 2**63 - 1)
parse_key_length = bounded_int(0, 32767)
parse_mask = bounded_int(0, 2**63 - 1)


def normalize_logon_id(value: Any) -> str | None:
    """Logon ids as lower-case hex without leading zeros: ``0x00003E7`` / ``999`` -> ``0x3e7``."""
    if isinstance(value, str) and value.strip().lower().startswith("0x"):
        number = parse_int(value)
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        number = int(value)
    elif isinstance(value, (float, np.floating)) and float(value).is_integer():
        number = int(value)      # a numeric column that pandas widened to float because of gaps
    else:
        text = _text(value)
        number = int(text) if text is not None and text.isascii() and text.isdigit() else None
    return None if number is None or number < 0 else hex(number)


def normalize_logon_type(value: Any) -> int | None:
    """``3`` / ``"3"`` / ``"Network"`` (MDE, LANL) -> 3."""
    number = parse_int(value)
    if number is not None:
        return number if 0 <= number <= 127 else None
    text = _text(value)
    return None if text is None else we.LOGON_TYPE_BY_NAME.get(text.lower())


def normalize_text(value: Any) -> str | None:
    """Stripped text; placeholders (``-``, empty) -> ``None``."""
    return _text(value)


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Timestamps -> UTC (naive values are taken as UTC); ISO 8601 fast path, other layouts
    (``Aug 2, 2021 1:11:39 PM``) parsed one by one; epoch numbers (LANL) are passed as datetimes."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    text = map_unique(values, normalize_text).astype("string")
    ts = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    retry = ts.isna() & text.notna()
    if retry.any():
        ts[retry] = pd.to_datetime(text[retry], utc=True, format="mixed", errors="coerce")
    return ts


def map_unique(series: pd.Series, func: Callable[[Any], Any]) -> pd.Series:
    """Apply a scalar normaliser once per distinct value (hosts, accounts repeat a lot)."""
    values = series.to_numpy(dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=series.index, dtype=object)


def _bool_text(series: pd.Series) -> pd.Series:
    return series.astype("string").str.strip().str.lower().isin(["true", "1", "yes"])


def normalize_records(records: Sequence[dict[str, Any]], *, source_file: str, source_format: str,
                      report: FileReport, event_ids: frozenset[int] | None = None) -> pd.DataFrame:
    """Turn raw Windows-field records into a canonical events frame; count every dropped record.

    Args:
        records: flat dicts with :data:`ingest.winevents.SYSTEM_FIELDS` plus EventData field names.
        source_file: provenance written to every row.
        source_format: key in ``FORMATS`` written to every row.
        report: receives skip counts (no event id, no timestamp, event id/channel not kept).
        event_ids: ids to keep (``None`` = :data:`ingest.winevents.KEPT_EVENT_IDS`).

    Returns:
        A validated canonical frame (possibly empty).
    """
    if not records:
        return empty_frame()
    keep_ids = we.KEPT_EVENT_IDS if event_ids is None else event_ids
    raw = pd.DataFrame.from_records(records)
    if len(raw) != len(records):           # all-empty dicts give a frame without rows
        raw = raw.reindex(pd.RangeIndex(len(records)))
    for col in we.SYSTEM_FIELDS:
        if col not in raw.columns:
            raw[col] = None
    rec_ids = map_unique(raw["EventRecordID"], parse_record_id)

    event_id = map_unique(raw["EventID"], parse_event_id)
    bad_id = event_id.isna()
    _skip(report, bad_id, SKIP_NO_EVENT_ID, rec_ids, source_file)
    raw_channel = map_unique(raw["Channel"], normalize_text)
    channel = map_unique(raw_channel, lambda c: we.CHANNELS.get(c.lower(), c) if c else "")
    eid = event_id.fillna(-1).astype("int64")
    allowed = pd.Series(False, index=raw.index)
    for i in np.unique(eid[~bad_id]):
        sel = eid == i
        if int(i) in keep_ids:
            chans = we.EVENT_CHANNELS.get(int(i))
            allowed |= sel & (channel.isin(list(chans)) if chans else True)
    not_kept = ~bad_id & ~allowed
    _skip(report, not_kept, SKIP_EVENT_ID, rec_ids, source_file)
    ts = parse_timestamps(raw["TimeCreated"])
    no_ts = allowed & ts.isna()
    _skip(report, no_ts, SKIP_NO_TIME, rec_ids, source_file)
    keep = allowed & ~no_ts
    if not keep.any():
        return empty_frame()
    raw = raw.loc[keep].reset_index(drop=True)
    out = pd.DataFrame(index=raw.index, columns=list(COLUMNS), dtype=object)
    out["ts"] = ts[keep].reset_index(drop=True)
    out["event_id"] = eid[keep].reset_index(drop=True)
    out["channel"] = channel[keep].reset_index(drop=True)
    out["record_id"] = rec_ids[keep].reset_index(drop=True)
    out["source_file"] = source_file
    out["source_format"] = source_format
    _fill_fields(raw, out)
    return coerce_frame(out)


def _skip(report: FileReport, mask: pd.Series, reason: str, rec_ids: pd.Series, source_file: str) -> None:
    count = int(mask.sum())
    if not count:
        return
    report.skipped[reason] += count
    if reason not in {SKIP_EVENT_ID}:
        for rid in rec_ids[mask].head(5):
            report.problem(f"{source_file}, record {rid}: {reason}")


_COLUMN_NORMALISERS: dict[str, Callable[[Any], Any]] = {
    "account": normalize_account, "subject_account": normalize_account,
    "account_domain": normalize_domain, "logon_id": normalize_logon_id,
    "logon_type": normalize_logon_type, "key_length": parse_key_length, "access_mask": parse_mask,
    "share_name": normalize_share, "remote_ip": normalize_ip, "remote_host": normalize_host,
    "remote_port": parse_port,
}


def _fill_fields(raw: pd.DataFrame, out: pd.DataFrame) -> None:
    """Per-event-id field picks, then column normalisers, then the network direction."""
    n = len(raw)
    picked: dict[str, pd.Series] = {}
    eid = out["event_id"]
    for i in eid.unique():
        sel = (eid == i).to_numpy()
        for col, field in we.FIELD_PICKS.get(int(i), {}).items():
            if field not in raw.columns:
                continue
            series = picked.setdefault(col, pd.Series([None] * n, dtype=object))
            series[sel] = raw[field].to_numpy(dtype=object)[sel]
    for col, series in picked.items():
        picked[col] = map_unique(series, _COLUMN_NORMALISERS.get(col, normalize_text))
    none = pd.Series([None] * n, dtype=object)
    get = lambda col: picked.get(col, none)  # noqa: E731
    # account domain from "DOMAIN\\user" for events that have no separate domain field (Sysmon User)
    for i in eid.unique():
        picks = we.FIELD_PICKS.get(int(i), {})
        field = picks.get("account")
        if field is None or "account_domain" in picks or field not in raw.columns:
            continue
        sel = (eid == i).to_numpy()
        dom = map_unique(raw.loc[sel, field], account_domain_of).to_numpy()
        picked.setdefault("account_domain", none.copy())[sel] = dom
    for col in ("account", "account_domain", "subject_account", "logon_id", "logon_type", "auth_package",
                "logon_process", "key_length", "status", "share_name", "target_name", "access_mask",
                "service_name", "service_image", "process", "command_line", "parent_process"):
        out[col] = get(col).to_numpy()
    # 4688 without a target subject: the process runs as its creator
    is4688 = (eid == 4688).to_numpy()
    out.loc[is4688 & out["account"].isna().to_numpy(), "account"] = \
        out.loc[is4688 & out["account"].isna().to_numpy(), "subject_account"]
    host = map_unique(raw["Computer"], normalize_host)
    out["host"] = host.fillna("").to_numpy()
    _place_endpoints(raw, out, get("remote_host"), get("remote_ip"), get("remote_port"))


def _place_endpoints(raw: pd.DataFrame, out: pd.DataFrame, r_host: pd.Series, r_ip: pd.Series,
                     r_port: pd.Series) -> None:
    """Put the remote end into src_* or dst_* by the event's direction; loopback is local."""
    eid = out["event_id"]
    direction = eid.map(lambda i: we.DIRECTION.get(int(i), we.LOCAL))
    host = out["host"]
    loop = map_unique(r_ip, is_loopback).astype(bool)
    logon_type = pd.to_numeric(out["logon_type"], errors="coerce")
    untrusted_ws = logon_type.isin(list(we.UNTRUSTED_WORKSTATION_LOGON_TYPES))
    ws = r_host.where(~untrusted_ws, None)
    # a workstation name equal to the log's own host while a real remote IP is logged is not the client
    ws = ws.where(~((ws == host) & r_ip.notna() & ~loop), None)
    target = direction == we.TARGET
    carries_remote = eid.map(lambda i: "remote_ip" in we.FIELD_PICKS.get(int(i), {}))
    no_remote = r_ip.isna() & ws.isna() & carries_remote
    local = target & (loop | no_remote)
    out.loc[target, "dst_host"] = host[target]
    out.loc[target, "src_ip"] = r_ip[target]
    out.loc[target, "src_host"] = ws[target]
    out.loc[local, "src_host"] = host[local]
    source = direction == we.SOURCE
    dst = r_host.where(r_host.notna() | ~loop, host)   # 4648 to "localhost" / 127.0.0.1
    out.loc[source, "src_host"] = host[source]
    out.loc[source, "dst_host"] = dst[source]
    out.loc[source, "dst_ip"] = r_ip[source]
    out.loc[source, "dst_port"] = r_port[source]
    s3 = (direction == we.BY_INITIATED).to_numpy()
    if s3.any():
        _sysmon3(raw, out, s3)


def _sysmon3(raw: pd.DataFrame, out: pd.DataFrame, sel: np.ndarray) -> None:
    """Sysmon 3: ``Initiated`` says the direction; for inbound connections older Sysmon schemas log
    the *local* listener as Source (SourceHostname = this host or SourcePort = 445 with an
    ephemeral DestinationPort), newer ones the remote client: the local end is detected, not assumed."""
    f = {k: (raw[v] if v in raw.columns else pd.Series([None] * len(raw), dtype=object))
         for k, v in we.SYSMON3_FIELDS.items()}
    host = out["host"]
    outbound = _bool_text(f["initiated"]).to_numpy() & sel
    inbound = ~outbound & sel
    src_ip, dst_ip = map_unique(f["src_ip"], normalize_ip), map_unique(f["dst_ip"], normalize_ip)
    src_host, dst_host = map_unique(f["src_host"], normalize_host), map_unique(f["dst_host"], normalize_host)
    src_port, dst_port = map_unique(f["src_port"], parse_port), map_unique(f["dst_port"], parse_port)
    server = list(we.SERVER_PORTS)
    src_is_local = ((src_host == host) & (dst_host != host)) | (
        pd.to_numeric(src_port, errors="coerce").isin(server)
        & ~pd.to_numeric(dst_port, errors="coerce").isin(server))
    swap = inbound & src_is_local.to_numpy()
    # remote end / local end of every row
    r_ip = src_ip.where(~swap, dst_ip).where(inbound, dst_ip)
    r_host = src_host.where(~swap, dst_host).where(inbound, dst_host)
    l_ip = dst_ip.where(~swap, src_ip).where(inbound, src_ip)
    port = dst_port.where(~swap, src_port)       # the server port in every case
    r_loop = (map_unique(r_ip, is_loopback).astype(bool) | (r_ip == l_ip)).to_numpy()
    r_host = r_host.where(~r_loop, host)
    out.loc[sel, "dst_port"] = port[sel]
    out.loc[outbound, "src_host"] = host[outbound]
    out.loc[outbound, "src_ip"] = l_ip[outbound]
    out.loc[outbound, "dst_ip"] = r_ip[outbound]
    out.loc[outbound, "dst_host"] = r_host[outbound]
    out.loc[inbound, "dst_host"] = host[inbound]
    out.loc[inbound, "dst_ip"] = l_ip[inbound]
    out.loc[inbound, "src_ip"] = r_ip[inbound]
    out.loc[inbound, "src_host"] = r_host[inbound]
