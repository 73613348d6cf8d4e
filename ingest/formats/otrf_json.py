"""OTRF Security-Datasets / NXLog ``im_msvistalog`` flattened JSON lines (usually inside a ``.zip``).

Dialect (OTRF/Security-Datasets, NXLog + Logstash): one event per line, ``EventID``, ``Channel``
(sometimes lower-case ``security``), ``Hostname`` (FQDN of the logging computer; ``host`` is the
collector), ``@timestamp`` (UTC), ``RecordNumber``, and the event's ``EventData`` fields at top level
under their Windows names. ``EventTime`` is collector-local time and is deliberately NOT used.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ingest.formats.base import Format, Source, iter_json_objects, json_keys_in_head
from ingest.report import FileReport
from ingest.winevents import KEPT_EVENT_IDS

#: OTRF key -> Windows system field (all other keys already carry Windows names).
FIELD_MAP: dict[str, str] = {
    "Hostname": "Computer",
    "@timestamp": "TimeCreated",
    "RecordNumber": "EventRecordID",
    "EventID": "EventID",
    "Channel": "Channel",
}
_ID_RE = re.compile(r'"EventID":\s*"?(\d+)')


def sniff(head: bytes, name: str) -> bool:
    """JSON whose records carry ``EventID`` and ``Hostname``/``SourceModuleType`` at top level."""
    text = json_keys_in_head(head)
    return bool(text) and '"EventID"' in text and '"winlog"' not in text and (
        '"Hostname"' in text or '"SourceModuleType"' in text or '"Channel"' in text)


def to_windows(obj: dict[str, Any]) -> dict[str, Any]:
    """One OTRF object -> flat Windows-field record."""
    rec = dict(obj)
    for key, field in FIELD_MAP.items():
        if key in obj:
            rec[field] = obj[key]
    return rec


def iter_records(source: Source, *, event_ids: frozenset[int] | None, report: FileReport,
                 **_: Any) -> Iterator[dict[str, Any]]:
    """Flat Windows-field records of an OTRF JSON-lines source."""
    keep = KEPT_EVENT_IDS if event_ids is None else event_ids
    for _no, obj in iter_json_objects(source, report, id_re=_ID_RE, keep=keep):
        yield to_windows(obj)


FORMAT = Format(
    name="otrf",
    description="OTRF Security-Datasets / NXLog flattened JSON lines (EventID, Channel, Hostname, "
                "@timestamp at top level), plain or zipped",
    sniff=sniff,
    iter_records=iter_records,
)
