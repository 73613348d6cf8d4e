"""Raw Windows-field records -> canonical event frames, with Windows' real semantics.

Two layers:

* small pure scalar normalisers (:func:`normalize_host`, :func:`normalize_ip`,
  :func:`normalize_account`, :func:`normalize_share`, :func:`normalize_logon_id`,
  :func:`parse_int`): total (never raise, junk -> ``None``) and idempotent (``f(f(x)) == f(x)``);
* :func:`map_unique` / :func:`map_values`: run a scalar normaliser once per *distinct* value of a
  column, never per row; :mod:`ingest.records` uses them to build canonical frames in batches.

Conventions (see :mod:`ingest.schema`): hosts are upper-case short names; an IP is never a host
name. Loopback sources (``127.0.0.0/8``, ``::1``, ``::ffff:127.0.0.1``) and a logon with neither an
IP nor a workstation name (``-``/empty) are *local*: ``src_host = host``; a loopback ``src_ip`` is
kept as the normalised loopback address for evidence, ``-``/empty becomes ``None``. Machine
accounts keep their ``$`` (``pc01$``); ``SYSTEM``/``LocalSystem``/``NT AUTHORITY\\SYSTEM`` all become
``system``; ``ANONYMOUS LOGON`` becomes ``anonymous logon``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ingest import winevents as we

_IPV4_RE = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")
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
    m = _IPV4_RE.match(text)
    if m is not None and all(int(g) <= 255 for g in m.groups()):   # fast path: dotted IPv4
        return ".".join(str(int(g)) for g in m.groups())
    text = text.strip("[]").split("%", 1)[0]
    if ":" not in text:
        return None
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


#: A plain NetBIOS-style name (letter first; letters, digits, hyphens): the common case, upper-cased
#: without the general path (same result; property-tested against it).
_PLAIN_HOST_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


def normalize_host(value: Any) -> str | None:
    """One upper-case short name per host: FQDN, NetBIOS, ``DOMAIN\\HOST$``, ``\\\\HOST`` -> ``HOST``.

    IP addresses, ``localhost`` and placeholders give ``None`` (an IP is not a name).

    Examples:
        >>> normalize_host("pc01.example.corp"), normalize_host("EXAMPLE\\\\PC01$")
        ('PC01', 'PC01')
        >>> normalize_host("10.1.2.3") is None
        True
    """
    if type(value) is str and _PLAIN_HOST_RE.fullmatch(value) and value.lower() not in _EMPTY:
        upper = value.upper()
        return None if upper == "LOCALHOST" else upper
    return _normalize_host(value)


def _normalize_host(value: Any) -> str | None:
    """:func:`normalize_host`'s general path."""
    text = _text(value)
    if text is None:
        return None
    text = text.lstrip("\\/")
    if "\\" in text:
        text = text.rsplit("\\", 1)[1]
    text = text.strip().rstrip("$").rstrip(".")
    if not text or ((text[0].isdigit() or ":" in text) and normalize_ip(text) is not None):
        return None
    short = text.split(".", 1)[0].strip().upper()
    if not short or short in {"LOCALHOST", "-"} or any(c in short for c in " /\"<>|\t\r\n"):
        return None
    return short


#: SPN service classes that name a Kerberos service, not a host (``krbtgt/CORP``, ``kadmin/...``).
_NON_HOST_SPN_CLASSES = frozenset({"krbtgt", "kadmin", "changepw"})


def spn_host(value: Any) -> str | None:
    """The host a Kerberos service name (4769 ``ServiceName``, an SPN) runs on, else ``None``.

    ``PC02$`` (a computer account), ``cifs/PC02.corp.local``, ``HOST/PC02``,
    ``RPCSS/pc02.corp.local:135``, ``cifs/PC02@CORP.LOCAL`` -> ``PC02``; ``krbtgt``,
    ``krbtgt/CORP.LOCAL`` and user service accounts (``svc_sql``: the account may run on many hosts)
    -> ``None``.

    Examples:
        >>> spn_host("PC02$"), spn_host("cifs/pc02.corp.local"), spn_host("HOST/PC02:445")
        ('PC02', 'PC02', 'PC02')
        >>> spn_host("krbtgt") is None, spn_host("svc_sql") is None, spn_host("krbtgt/CORP") is None
        (True, True, True)
    """
    text = _text(value)
    if text is None:
        return None
    text = text.split("@", 1)[0].strip()
    if "/" in text:
        cls, _, rest = text.partition("/")
        if cls.lower() in _NON_HOST_SPN_CLASSES:
            return None
        name = rest.split("/", 1)[0].split(":", 1)[0]
        return None if normalize_ip(name) else normalize_host(name)
    if text.endswith("$") and "\\" not in text:
        return normalize_host(text)
    return None


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
    parts = [p.strip() for p in text.replace("/", "\\").split("\\") if p.strip()]
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
#: A TCP/UDP port; ``0`` (what Windows logs when there is no network end) and ``-`` are unknown.
parse_port = bounded_int(1, 65535)
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


def parse_timestamps(values: pd.Series | np.ndarray) -> pd.Series:
    """Timestamps -> UTC (naive values are taken as UTC); ISO 8601 fast paths, other layouts
    (``Aug 2, 2021 1:11:39 PM``) parsed one by one; epoch numbers (LANL) are passed as datetimes.

    An object array gives a Series with a fresh ``RangeIndex``; a Series keeps its index.
    """
    if isinstance(values, np.ndarray):
        fast = _strict_iso_timestamps(values)
        if fast is not None:
            return fast
        values = pd.Series(values)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return _in_ns_range(values.dt.tz_convert("UTC"))
    if values.dtype == object:
        fast = _strict_iso_timestamps(values.to_numpy(), values.index)
        if fast is not None:
            return fast
    text = map_unique(values, normalize_text).astype("string")
    ts = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    retry = ts.isna() & text.notna()
    if retry.any():
        ts[retry] = _parse_mixed(text[retry])
    return _in_ns_range(ts)


_TS_MIN, _TS_MAX = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")


def _parse_mixed(text: pd.Series) -> pd.Series:
    """Other layouts, parsed by pandas; when one value makes the whole call raise (``-1`` read as
    the year -1, a fraction pandas cannot hold...), each value is parsed alone, so only the values
    that cannot be read become missing (their records are counted as having no timestamp)."""
    try:
        return _in_ns_range(pd.to_datetime(text, utc=True, format="mixed", errors="coerce"))
    except (ValueError, OverflowError, TypeError):   # OutOfBoundsDatetime is a ValueError
        return pd.Series([_parse_one(v) for v in text], index=text.index, dtype="datetime64[ns, UTC]")


def _parse_one(value: Any) -> pd.Timestamp:
    try:
        ts = pd.to_datetime(value, utc=True, format="mixed")
    except (ValueError, OverflowError, TypeError):
        return pd.NaT
    return ts if _TS_MIN <= ts <= _TS_MAX else pd.NaT


def _in_ns_range(ts: pd.Series) -> pd.Series:
    """Instants outside the canonical ``datetime64[ns]`` range (e.g. year 1601, a zero FILETIME)
    become missing (the record is then counted as having no timestamp) instead of failing the batch."""
    if not isinstance(ts.dtype, pd.DatetimeTZDtype) or ts.dtype.unit == "ns":
        return ts
    lo, hi = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    return ts.where(ts.notna() & (ts >= lo) & (ts <= hi)).astype("datetime64[ns, UTC]")


_TS_NS_UTC = pa.timestamp("ns", tz="UTC")


def _strict_iso_timestamps(arr: np.ndarray, index: pd.Index | None = None) -> pd.Series | None:
    """All-string (or missing) ISO 8601 timestamps with an offset (``...Z``, as EVTX and most JSON
    logs write them) parsed by Arrow in one pass; ``None`` when any value needs the general path
    (Arrow is stricter than pandas: where it succeeds, the instants are the same)."""
    if not len(arr) or arr.dtype != object or not set(map(type, arr)) <= {str, type(None)}:
        return None
    try:
        parsed = pa.array(arr, type=pa.string()).cast(_TS_NS_UTC)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
        return None
    out = parsed.to_pandas()
    if index is not None:
        out.index = index
    return out


def int_values(values: np.ndarray, parse: Callable[[Any], int | None], lo: int, hi: int) -> np.ndarray:
    """``map_values(values, parse)`` for a bounded integer parser; values that already are Python
    ``int`` in ``[lo, hi]`` (EVTX record and event ids) are kept as they are, only the rest is parsed.

    Examples:
        >>> int_values(np.array([7, "0x10", None, -1], dtype=object), bounded_int(0, 100), 0, 100).tolist()
        [7, 16, None, None]
    """
    types = np.fromiter(map(type, values), dtype=object, count=len(values))
    ok = np.equal(types, int).astype(bool)
    if ok.any():
        ints = values[ok]
        try:
            wide = ints.astype(np.int64)
            ok[ok] = (wide >= lo) & (wide <= hi)
        except OverflowError:
            ok[ok] = [lo <= v <= hi for v in ints]
    if ok.all():
        return values
    out = values.copy()
    out[~ok] = map_values(values[~ok], parse)
    return out


def map_values(values: np.ndarray, func: Callable[[Any], Any]) -> np.ndarray:
    """Apply a scalar normaliser once per distinct value of an object array (None/NaN -> ``func(None)``)."""
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:   # unhashable junk (a JSON list or object where a string belongs)
        return np.fromiter((func(None if isinstance(v, (list, dict)) else v) for v in values),
                           dtype=object, count=len(values))
    mapped = np.fromiter((func(u) for u in uniques), dtype=object, count=len(uniques))
    return np.append(mapped, np.array([func(None)], dtype=object))[codes]


def map_unique(series: pd.Series, func: Callable[[Any], Any]) -> pd.Series:
    """:func:`map_values` on a Series (index kept, object dtype)."""
    return pd.Series(map_values(series.to_numpy(dtype=object), func), index=series.index, dtype=object)
