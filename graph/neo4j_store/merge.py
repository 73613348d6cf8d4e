"""Which incoming hop creates, joins or leaves alone which stored hop, and the merged properties.

One batch is planned from a single indexed lookup of the stored hops of its groups
(:data:`~graph.neo4j_store.cypher.LOOKUP_GROUPS`: key, time range and signatures only). Rows are
taken in order; each one sees the hops stored before the batch and the hops created or extended by
the rows before it:

* its ``signature`` is already recorded on a hop of its group: nothing to do (re-push);
* some hop of its group has a time range within ``merge_gap_ns`` of the row's: the row joins the
  one that starts earliest (:func:`merge_props`);
* otherwise it becomes a new hop (the fast path: a plain ``CREATE``, no merge work in Cypher).

:func:`merge_props` is the single definition of the merge rules; a new hop is the merge of its
row into nothing, so the create and the merge path store the same properties for the same data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graph.neo4j_store.stored_text import evidence_items, evidence_text


@dataclass
class StoredHop:
    """A hop of a group as the planner tracks it: its range and signatures, properties when known."""

    hop_key: str
    first_ns: int
    last_ns: int
    signatures: set[str]
    props: dict[str, Any] | None = None   # properties to write (created / joined hops)
    new: bool = False                     # created by the batch being planned
    rows: list[dict[str, Any]] = field(default_factory=list)   # rows joining a stored hop
    rel_id: str | None = None             # elementId of the stored LATERAL relationship, when known
    stored: dict[str, Any] | None = None  # its committed properties, when this push wrote them


@dataclass
class BatchPlan:
    """What one batch writes: new hops, stored hops to update (with their joining rows), no-ops."""

    created: list[StoredHop]
    updated: list[StoredHop]
    unchanged: int

    @property
    def writes(self) -> bool:
        """True when the batch changes the store (else it needs no transaction at all)."""
        return bool(self.created or self.updated)


class Planner:
    """The planner's view of the store across the batches of one push.

    Stored hops are added from ``LOOKUP_GROUPS`` records (:meth:`add_stored`, all groups of a push
    can be looked up at once); hops created or joined by a batch stay known, with their written
    properties, once the batch is committed (:meth:`committed`), so later batches neither look
    them up again nor load them before joining them.
    """

    def __init__(self, merge_gap_ns: int) -> None:
        self.merge_gap_ns = merge_gap_ns
        self.groups: dict[str, list[StoredHop]] = {}
        #: Row signature -> the hop key of the stored hop the row created, joined or already is in.
        self.placed: dict[str, str] = {}

    def add_stored(self, stored: list[dict[str, Any]]) -> None:
        """Record stored hops (``LOOKUP_GROUPS`` records)."""
        for rec in stored:
            self.groups.setdefault(rec["group_key"], []).append(StoredHop(
                rec["hop_key"], int(rec["first_seen_ns"]), int(rec["last_seen_ns"]),
                set(rec["signatures"] or ()), rel_id=rec.get("rel_id")))

    def known(self, group: str) -> bool:
        """True when the group's stored hops are known (looked up, or written by this push)."""
        return group in self.groups

    def plan(self, rows: list[dict[str, Any]]) -> BatchPlan:
        """Decide, row by row, between no-op, joining a hop and creating one (see :func:`plan_batch`).

        Groups never looked up count as empty in the store (a push into an empty store).
        """
        gap = self.merge_gap_ns
        created: list[StoredHop] = []
        updated: dict[str, StoredHop] = {}
        unchanged = 0
        for row in rows:
            hops = self.groups.setdefault(row["group_key"], [])
            signature = row["signature"]
            same = next((h for h in hops if signature in h.signatures), None)
            if same is not None:
                self.placed[signature] = same.hop_key
                unchanged += 1
                continue
            lo, hi = row["first_seen_ns"] - gap, row["last_seen_ns"] + gap
            near = [h for h in hops if h.first_ns <= hi and h.last_ns >= lo]
            if not near:
                hop = StoredHop(row["hop_key"], row["first_seen_ns"], row["last_seen_ns"], {signature},
                                props=merge_props(None, row), new=True)
                hops.append(hop)
                created.append(hop)
                self.placed[signature] = hop.hop_key
                continue
            hop = min(near, key=lambda h: (h.first_ns, h.hop_key)) if len(near) > 1 else near[0]
            hop.first_ns = min(hop.first_ns, row["first_seen_ns"])
            hop.last_ns = max(hop.last_ns, row["last_seen_ns"])
            hop.signatures.add(signature)
            self.placed[signature] = hop.hop_key
            if hop.new:
                hop.props = merge_props(hop.props, row)
            else:
                hop.rows.append(row)
                updated[hop.hop_key] = hop
        return BatchPlan(created=created, updated=list(updated.values()), unchanged=unchanged)

    def committed(self, plan: BatchPlan, rel_ids: dict[str, str]) -> None:
        """The batch's writes are committed: its hops are stored hops with known properties."""
        for hop in (*plan.created, *plan.updated):
            hop.new = False
            hop.rows = []
            hop.stored = hop.props
            hop.rel_id = rel_ids.get(hop.hop_key, hop.rel_id)


def plan_batch(rows: list[dict[str, Any]], stored: list[dict[str, Any]], merge_gap_ns: int) -> BatchPlan:
    """Decide, row by row, between no-op, joining a hop and creating one.

    Args:
        rows: the batch's rows (:func:`~graph.neo4j_store.rows.hop_rows`), in push order.
        stored: ``LOOKUP_GROUPS`` records (``group_key``, ``hop_key``, ``first_seen_ns``,
            ``last_seen_ns``, ``signatures``) of the stored hops of the batch's groups.
        merge_gap_ns: how close two time ranges must come for a row to join a hop.

    Returns:
        The plan; new hops carry their final properties, updated hops the rows to merge in
        order once their stored properties are loaded (:func:`apply_updates`).
    """
    planner = Planner(merge_gap_ns)
    planner.add_stored(stored)
    return planner.plan(rows)


def apply_updates(plan: BatchPlan, loaded: dict[str, dict[str, Any]]) -> None:
    """Merge each updated hop's rows, in order, into its stored properties (``hop.stored`` when this
    push wrote them, else ``loaded[hop_key]``: the relationship's properties as stored, see
    :func:`from_store`). Safe to repeat (a retried transaction)."""
    for hop in plan.updated:
        props = dict(hop.stored if hop.stored is not None else from_store(loaded[hop.hop_key]))
        for row in hop.rows:
            props = merge_props(props, row)
        hop.props = props


def merge_props(stored: dict[str, Any] | None, row: dict[str, Any]) -> dict[str, Any]:
    """The hop's properties after ``row`` joins it (``stored=None``: the row as a new hop).

    Evidence is a set keyed by evidence id (new ids appended, the JSON list kept in step);
    ``n_events`` grows by the row's count minus the evidence already stored (exact while both
    evidence lists are complete, else the larger count); first/last are min/max; kinds,
    techniques and rules are ordered unions; score is the max and severity follows it.

    Examples:
        >>> row = {"hop_id": 1, "group_key": "g", "hop_key": "k", "src": "A", "src_host": "A",
        ...        "src_ip": None, "dst": "B", "account": "u", "first_seen_ns": 10, "last_seen_ns": 20,
        ...        "kinds": ["logon"], "techniques": [], "rules": ["r"], "evidence_ids": ["e1", "e2"],
        ...        "evidence": ["{1}", "{2}"], "n_events": 2, "score": 0.5, "severity": "medium",
        ...        "signature": "s1"}
        >>> new = merge_props(None, row)
        >>> (new["n_events"], new["signatures"], new["evidence_complete"])
        (2, ['s1'], True)
        >>> two = {**row, "signature": "s2", "evidence_ids": ["e2", "e3"], "evidence": ["{2}", "{3}"],
        ...        "first_seen_ns": 5, "kinds": ["service_install"], "score": 0.9, "severity": "high"}
        >>> m = merge_props(new, two)
        >>> (m["n_events"], m["evidence_ids"], m["first_seen_ns"], m["kinds"], m["severity"])
        (3, ['e1', 'e2', 'e3'], 5, ['logon', 'service_install'], 'high')
    """
    if stored is None:
        return _new_props(row)
    r = stored
    old_ids = list(r.get("evidence_ids") or ())
    row_ids = row["evidence_ids"]
    if old_ids:
        seen = set(old_ids)
        new_idx = [i for i, ident in enumerate(row_ids) if ident not in seen]
    else:
        new_idx = list(range(len(row_ids)))
    overlap = len(row_ids) - len(new_idx)
    stored_complete = r.get("evidence_complete")
    complete = row["n_events"] == len(row_ids) and (True if stored_complete is None else stored_complete)
    n_stored = r.get("n_events")
    if n_stored is None:
        n_events = row["n_events"]
    elif overlap == 0 or complete:
        n_events = n_stored + row["n_events"] - overlap
    else:
        n_events = max(row["n_events"], n_stored)
    first, last, score = r.get("first_seen_ns"), r.get("last_seen_ns"), r.get("score")
    earlier = first is None or row["first_seen_ns"] < first
    later = last is None or row["last_seen_ns"] > last
    higher = score is None or row["score"] > score
    return {
        "hop_key": r.get("hop_key", row["hop_key"]),
        "group_key": r.get("group_key", row["group_key"]),
        "n_events": n_events,
        "evidence_complete": complete,
        "signatures": [*(r.get("signatures") or ()), row["signature"]],
        "evidence_ids": old_ids + [row_ids[i] for i in new_idx],
        "evidence": list(r.get("evidence") or ()) + [row["evidence"][i] for i in new_idx],
        "first_seen_ns": row["first_seen_ns"] if earlier else first,
        "last_seen_ns": row["last_seen_ns"] if later else last,
        "kinds": _union(r.get("kinds"), row["kinds"]),
        "techniques": _union(r.get("techniques"), row["techniques"]),
        "rules": _union(r.get("rules"), row["rules"]),
        "severity": row["severity"] if higher else r.get("severity"),
        "score": row["score"] if higher else score,
        "hop_id": row["hop_id"],
        "src": row["src"],
        "src_host": row["src_host"],
        "src_ip": r.get("src_ip") if r.get("src_ip") is not None else row["src_ip"],
        "dst_host": row["dst"],
        "account": row["account"],
    }


def _new_props(row: dict[str, Any]) -> dict[str, Any]:
    """``merge_props(None, row)``: the row as a new hop (the common case of a first push)."""
    return {
        "hop_key": row["hop_key"],
        "group_key": row["group_key"],
        "n_events": row["n_events"],
        "evidence_complete": row["n_events"] == len(row["evidence_ids"]),
        "signatures": [row["signature"]],
        "evidence_ids": list(row["evidence_ids"]),
        "evidence": list(row["evidence"]),
        "first_seen_ns": row["first_seen_ns"],
        "last_seen_ns": row["last_seen_ns"],
        "kinds": list(row["kinds"]),
        "techniques": list(row["techniques"]),
        "rules": list(row["rules"]),
        "severity": row["severity"],
        "score": row["score"],
        "hop_id": row["hop_id"],
        "src": row["src"],
        "src_host": row["src_host"],
        "src_ip": row["src_ip"],
        "dst_host": row["dst"],
        "account": row["account"],
    }


#: Properties earlier versions stored and this one does not (removed when a push updates the hop).
DROPPED_PROPS = ("evidence_ids",)


def to_store(props: dict[str, Any], *, update: bool = False) -> dict[str, Any]:
    """The properties as written to the LATERAL relationship: the evidence as one JSON array string
    (:func:`~graph.neo4j_store.stored_text.evidence_text`), no evidence ids (they follow from the evidence),
    ``evidence_complete`` only when false. ``update=True`` (``SET r += ...`` on a stored hop) sets the
    properties not stored any more to null, which removes them.

    Examples:
        >>> to_store({"evidence": ['{"event_id": 1}'], "evidence_ids": ["[1]"], "evidence_complete": True})
        {'evidence': '[{"event_id": 1}]'}
    """
    out = {k: v for k, v in props.items() if k not in DROPPED_PROPS and k != "evidence_complete"}
    out["evidence"] = evidence_text(props.get("evidence") or [])
    if props.get("evidence_complete") is False:
        out["evidence_complete"] = False
    elif update:
        out["evidence_complete"] = None
    if update:
        out.update((k, None) for k in DROPPED_PROPS)
    return out


def from_store(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored hop's properties (this version's or an earlier one's) in the planner's form: evidence
    as a list of item texts with their ids.

    Examples:
        >>> p = from_store({"evidence": '[{"event_id": 1, "record_id": 2, "rule": null,'
        ...                              ' "source_file": "f", "ts": null}]', "n_events": 1})
        >>> p["evidence_ids"], p["n_events"]
        (['[1, "f", 2, null]'], 1)
    """
    props = dict(stored)
    ids, items = evidence_items(props.get("evidence"))
    props["evidence"] = items
    props["evidence_ids"] = ids
    return props


def _union(old: Any, new: list[str]) -> list[str]:
    """``old`` followed by the items of ``new`` not in ``old`` (Cypher's list-union rule)."""
    old = list(old or ())
    known = set(old)
    return old + [x for x in new if x not in known]
