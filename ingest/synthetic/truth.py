"""Ground truth of a simulation: what the analysis should find, written next to the events."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

TRUTH_VERSION = 1


@dataclass(frozen=True)
class MaliciousHop:
    """One attacker movement: ``src`` -> ``dst`` as ``account`` (first logon time, technique)."""

    src: str
    dst: str
    account: str
    first_seen: datetime
    technique: str            # psexec | psexec_renamed | smbexec | copy_service | wmiexec
    src_ip: str
    source_logs: bool         # are the source-side events (4648, Sysmon 1/3) in the data?


@dataclass
class GroundTruth:
    """Patient zero, compromised hosts, malicious hops and the benign admin sources."""

    seed: int
    stealthy: bool
    patient_zero: str
    patient_zero_time: datetime           # the phishing foothold
    compromised: dict[str, datetime]      # host -> first compromise (patient zero included)
    hops: list[MaliciousHop]
    admin_sources: dict[str, Any]         # deployment / backup / it_admins / inventory
    credentials: dict[str, str] = field(default_factory=dict)   # account -> where it was stolen
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def benign_admin_hosts(self) -> set[str]:
        """Hosts that touch admin shares habitually (deployment, backup, IT admin workstations)."""
        src = self.admin_sources
        return ({src["deployment"]["host"], src["backup"]["host"], src["inventory"]["host"]}
                | {a["host"] for a in src["it_admins"]})

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (times ISO 8601 UTC)."""
        return {
            "version": TRUTH_VERSION,
            "seed": self.seed,
            "stealthy": self.stealthy,
            "patient_zero": self.patient_zero,
            "patient_zero_time": _iso(self.patient_zero_time),
            "compromised": [{"host": h, "first_seen": _iso(t)}
                            for h, t in sorted(self.compromised.items(), key=lambda kv: kv[1])],
            "hops": [{**asdict(h), "first_seen": _iso(h.first_seen)} for h in self.hops],
            "admin_sources": self.admin_sources,
            "credentials": self.credentials,
            "parameters": self.parameters,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> GroundTruth:
        """Inverse of :meth:`to_json`."""
        return cls(
            seed=doc["seed"], stealthy=doc["stealthy"], patient_zero=doc["patient_zero"],
            patient_zero_time=_dt(doc["patient_zero_time"]),
            compromised={c["host"]: _dt(c["first_seen"]) for c in doc["compromised"]},
            hops=[MaliciousHop(**{**h, "first_seen": _dt(h["first_seen"])}) for h in doc["hops"]],
            admin_sources=doc["admin_sources"], credentials=doc.get("credentials", {}),
            parameters=doc.get("parameters", {}),
        )

    def write(self, path: str | Path) -> None:
        """Write ``truth.json``."""
        from ingest.atomic import write_text

        write_text(path, json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def read(cls, path: str | Path) -> GroundTruth:
        """Read a ``truth.json`` written by :meth:`write`."""
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
