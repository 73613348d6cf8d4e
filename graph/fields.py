"""The analyst's fields of one evidence event: what a hop's evidence item and a finding show so the
event can be judged without opening the log.

Only the fields the event has are given (missing values are left out). Names are the canonical
event columns (:mod:`ingest.schema`), read from the *event itself*, not from correlation (an
evidence item's ``src_ip`` is the one its event logged, not the one a session join lent it).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

#: Event columns copied into evidence items and findings, in display order.
EVIDENCE_FIELDS: tuple[str, ...] = (
    "share_name",        # \\*\ADMIN$
    "target_name",       # relative target (file / pipe), task name, registry key, file written
    "service_name",
    "service_image",
    "process",
    "parent_process",
    "command_line",
    "logon_type",
    "auth_package",
    "src_ip",
    "src_port",          # the client's port (4624/5140/5145 IpPort, Sysmon 3 / Defender source port)
    "dst_host",
    "dst_ip",
    "dst_port",
)
#: Integer fields (the rest are text).
INT_FIELDS = frozenset({"logon_type", "src_port", "dst_port"})
_INTS = INT_FIELDS


def field_dicts(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Per row of ``frame`` (which has the :data:`EVIDENCE_FIELDS` columns), a dict of the present ones.

    Examples:
        >>> f = pd.DataFrame({c: pd.array([None], dtype="string") for c in EVIDENCE_FIELDS})
        >>> f["logon_type"] = pd.array([3], dtype="Int8")
        >>> field_dicts(f)
        [{'logon_type': 3}]
    """
    cols: dict[str, list[Any]] = {}
    for c in EVIDENCE_FIELDS:
        s = frame[c]
        vals = s.astype(object).where(s.notna(), None).tolist()
        cols[c] = shared([None if v is None else (int(v) if c in _INTS else str(v)) for v in vals])
    return [{c: cols[c][i] for c in EVIDENCE_FIELDS if cols[c][i] is not None} for i in range(len(frame))]


def shared(values: list[Any]) -> list[Any]:
    """``values`` with equal (hashable, immutable) values replaced by one object each.

    Evidence items repeat the same file, host, rule and field strings millions of times on a large
    case; sharing one object per distinct value keeps their memory to the items themselves (the
    values compare and serialise the same).

    Examples:
        >>> a = shared(["".join(["h", "1"]), "".join(["h", "1"])])
        >>> a[0] is a[1], a
        (True, ['h1', 'h1'])
    """
    seen: dict[Any, Any] = {}
    return [seen.setdefault(v, v) for v in values]
