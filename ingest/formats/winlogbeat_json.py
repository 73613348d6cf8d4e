"""Winlogbeat / Elastic ECS events as JSON lines, a JSON array or an Elasticsearch ``hits`` response.

Dialect (Elastic Winlogbeat 7.x and 8.x, ECS): ``@timestamp`` (UTC), ``winlog.event_id`` (an int in
7, a string in 8; ``event.code`` is the ECS copy), ``winlog.channel``, ``winlog.computer_name``
(``host.name`` as fallback), ``winlog.record_id``, and the event's fields under
``winlog.event_data.*`` (``winlog.user_data.*`` for UserData events; ECS ``source.ip`` /
``source.port`` stand in for a missing ``IpAddress`` / ``IpPort``). Nested objects and
Kibana-style dotted keys (``"winlog.event_data.IpAddress": ...``) are both accepted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ingest.formats.base import Format, Source, iter_json_objects, json_keys_in_head
from ingest.report import FileReport
from ingest.winevents import KEPT_EVENT_IDS

#: ECS path -> Windows system field, in order of preference (first present wins).
FIELD_MAP: dict[str, str] = {
    "winlog.event_id": "EventID",
    "event.code": "EventID",
    "winlog.channel": "Channel",
    "winlog.computer_name": "Computer",
    "host.name": "Computer",
    "@timestamp": "TimeCreated",
    "winlog.record_id": "EventRecordID",
}
#: ECS field -> Windows EventData field, used only when the event data lacks it (pipelines that keep
#: the ECS copies of the client address and drop ``IpAddress``/``IpPort``).
ECS_FALLBACK: dict[str, str] = {"source.ip": "IpAddress", "source.port": "IpPort"}
#: Object paths whose keys are Windows EventData names.
DATA_PATHS: tuple[str, ...] = ("winlog.event_data", "winlog.user_data")
_ID_RE = re.compile(r'"(?:winlog\.)?event_id":\s*"?(\d+)')


def sniff(head: bytes, name: str) -> bool:
    """JSON mentioning ``winlog`` (nested or dotted keys)."""
    text = json_keys_in_head(head)
    return bool(text) and ('"winlog"' in text or '"winlog.' in text)


def _get(obj: dict[str, Any], path: str) -> Any:
    """Value at a dotted path, nested (``{"winlog": {"channel": ...}}``) or flat (``"winlog.channel"``)."""
    if path in obj:
        return obj[path]
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def to_windows(obj: dict[str, Any]) -> dict[str, Any]:
    """One Winlogbeat document -> flat Windows-field record."""
    rec: dict[str, Any] = {}
    for path in DATA_PATHS:
        data = _get(obj, path)
        if isinstance(data, dict):
            rec.update(data)
        prefix = path + "."
        for key, value in obj.items():     # dotted keys
            if key.startswith(prefix):
                rec[key[len(prefix):]] = value
    for path, field in (*FIELD_MAP.items(), *ECS_FALLBACK.items()):
        if rec.get(field) in (None, ""):
            value = _get(obj, path)
            if value not in (None, ""):
                rec[field] = value
    return rec


def iter_records(source: Source, *, event_ids: frozenset[int] | None, report: FileReport,
                 **_: Any) -> Iterator[dict[str, Any]]:
    """Flat Windows-field records of a Winlogbeat/ECS source."""
    keep = KEPT_EVENT_IDS if event_ids is None else event_ids
    for _no, obj in iter_json_objects(source, report, id_re=_ID_RE, keep=keep):
        yield to_windows(obj)


FORMAT = Format(
    name="winlogbeat",
    description="Elastic Winlogbeat 7/8 / ECS JSON (lines, array or _search hits): winlog.event_data.*, "
                "winlog.event_id, winlog.computer_name, @timestamp",
    sniff=sniff,
    iter_records=iter_records,
)
