"""Small builders of raw log text for tests (Windows XML as ``wevtutil qe /f:xml`` writes it)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

_NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def sysmon_xml(events: list[tuple[int, dict[str, str]]], computer: str = "PC01.corp.local",
               ts: str = "2024-03-01T09:00:00.000000Z") -> str:
    """Sysmon events ``(event id, EventData)`` as wevtutil XML (record ids 1, 2, ...)."""
    out = []
    for rid, (eid, data) in enumerate(events, 1):
        items = "".join(f"<Data Name={quoteattr(k)}>{escape(v)}</Data>" for k, v in data.items())
        out.append(f"<Event xmlns='{_NS}'><System><Provider Name='Microsoft-Windows-Sysmon'/>"
                   f"<EventID>{eid}</EventID><TimeCreated SystemTime='{ts}'/><EventRecordID>{rid}"
                   f"</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel>"
                   f"<Computer>{computer}</Computer></System><EventData>{items}</EventData></Event>")
    return "\n".join(out)
