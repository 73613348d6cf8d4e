"""The hop panel: why a hop scored what it did, and its evidence events with their key fields.

Pure helpers (:func:`hop_row`, :func:`score_parts`, :func:`hop_evidence`, :func:`hop_choices`)
plus the Streamlit panels used by every page that shows hops (graph, paths, replay, host/account):
:func:`show_hops_and_evidence` lists hops in a selectable table and opens the panel of the chosen
one, whatever its severity.

The evidence list of a hop (``hops.evidence``) names each event by ``source_file`` and
``record_id`` and carries the event's analyst fields (``fields``: share, target, service, image,
command line, logon type, IP...; ``graph.fields``); the other key fields come from the canonical
event of the same file and record (cases from Neo4j have no events).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from graph.config import AnalysisConfig
from graph.model import AnalysisResult

#: Event columns shown for each evidence event, in this order (when present).
KEY_FIELDS: tuple[str, ...] = (
    "ts", "event_id", "rule", "host", "logon_type", "account", "src_host", "src_ip", "src_port", "dst_host",
    "dst_ip", "dst_port", "share_name",
    "target_name", "access_mask", "service_name", "service_image", "process", "command_line",
    "parent_process", "auth_package", "logon_id", "record_id", "source_file")
#: Hop columns listed in hop tables.
HOP_TABLE_COLUMNS: tuple[str, ...] = ("hop_id", "first_seen", "src_host", "src_ip", "dst_host", "account",
                                      "severity", "score", "kinds", "n_events", "routine_group")


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 hop``, ``2 hops``, ``1,204 events``.

    Examples:
        >>> plural(1, "hop"), plural(3, "hop"), plural(2, "candidate")
        ('1 hop', '3 hops', '2 candidates')
    """
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def hop_row(res: AnalysisResult, hop_id: int) -> pd.Series | None:
    """The hop with this id, or None."""
    hit = res.hops[res.hops["hop_id"] == int(hop_id)]
    return None if hit.empty else hit.iloc[0]


def hop_table(hops: pd.DataFrame) -> pd.DataFrame:
    """Hops as a display table (one row per hop, kinds joined)."""
    cols = [c for c in HOP_TABLE_COLUMNS if c in hops.columns]
    out = hops[cols].copy()
    if "kinds" in out.columns:
        out["kinds"] = out["kinds"].map(lambda ks: ", ".join(ks) if isinstance(ks, tuple | list) else str(ks))
    if "score" in out.columns:
        out["score"] = out["score"].astype(float).round(3)
    return out.reset_index(drop=True)


def _num(hop: pd.Series, name: str) -> float | None:
    value = hop.get(name) if name in hop.index else None
    if value is None or pd.isna(value):
        return None
    return float(value)


def score_parts(hop: pd.Series, config: AnalysisConfig) -> pd.DataFrame:
    """The parts of the hop score (``graph.scoring.combine.score``) and the caps that applied.

    Rows: strength, rarity, fanout, habit, novelty, the uncapped product, each cap that lowered
    the score, and the final score. Parts missing from the hop (e.g. a case read from Neo4j) are
    left out.
    """
    rows: list[dict[str, Any]] = []

    def add(part: str, value: float | None, meaning: str) -> None:
        if value is not None:
            rows.append({"part": part, "value": round(float(value), 3), "meaning": meaning})

    strength, rarity = _num(hop, "strength"), _num(hop, "rarity")
    fanout, habit = _num(hop, "fanout"), _num(hop, "habit")
    lateral = bool(hop.get("lateral")) if "lateral" in hop.index else None
    add("strength", strength, "evidence strength: noisy-or of the distinct rule weights")
    add("rarity", rarity, "1 = first-seen source->destination / account->destination pair")
    if fanout is not None:
        extra = ""
        if "fanout_src" in hop.index:
            extra = (f" ({int(hop['fanout_src'])} per source, {int(hop['fanout_account'])} per account"
                     " in the window)")
        add("fanout", fanout, "distinct destinations in the sliding window" + extra)
    add("habit", habit, "match with a habitual routine from a clean source (discount)")
    if None not in (strength, rarity, habit):
        novelty = max(rarity, fanout or 0.0) if lateral else rarity
        add("novelty", novelty, "max(rarity, fanout) for lateral hops, else rarity")
        raw = strength * (0.5 + 0.5 * novelty) * (1 - habit * (1 - config.habit_keep))
        add("uncapped", raw, f"strength x (0.5 + 0.5 x novelty) x (1 - habit x {1 - config.habit_keep:.2f})")
        final = float(hop["score"])
        if raw - final > 1e-6:
            caps = []
            if lateral is False:
                caps.append("no lateral evidence (cap 0.55)")
            if pd.isna(hop.get("src_host")) and pd.isna(hop.get("src_ip")):
                caps.append(f"no known source (cap {config.target_only_cap})")
            if bool(hop.get("local_only", False)):
                caps.append(f"local-only evidence (cap {config.local_only_cap})")
            if "routine_group" in hop.index and pd.notna(hop["routine_group"]):
                caps.append(f"routine continued after the source's compromise, group {hop['routine_group']} "
                            f"(cap {config.routine_group_cap})")
            if (str(hop.get("src_host")) in config.allowlist_hosts
                    or str(hop.get("account")) in config.allowlist_accounts):
                caps.append(f"allowlisted (cap {config.allowlist_cap})")
            add("cap", final, "; ".join(caps) or "capped")
    add("score", float(hop["score"]), f"severity {hop['severity']}")
    return pd.DataFrame(rows, columns=["part", "value", "meaning"])


def reason(hop: pd.Series) -> str:
    """One plain-language sentence: who went where, as whom, with which evidence and rules."""
    src = next((str(hop[c]) for c in ("src_host", "src_ip") if c in hop.index and pd.notna(hop[c])),
               "an unknown source")
    acct = str(hop["account"]) if pd.notna(hop.get("account")) else "an unknown account"
    kinds = ", ".join(hop["kinds"]) or "no evidence kind"
    rules = ", ".join(hop["rules"]) if "rules" in hop.index else ""
    techs = ", ".join(hop["techniques"]) if "techniques" in hop.index else ""
    text = (f"{src} -> {hop['dst_host']} as {acct}: {kinds}; {plural(int(hop['n_events']), 'event')} "
            f"from {pd.Timestamp(hop['first_seen']):%Y-%m-%d %H:%M:%S} to "
            f"{pd.Timestamp(hop['last_seen']):%Y-%m-%d %H:%M:%S} UTC.")
    if rules:
        text += f" Rules: {rules}."
    if techs:
        text += f" ATT&CK: {techs}."
    if "reason" in hop.index and pd.notna(hop["reason"]):
        text += f" Score: {hop['reason']}."
    return text


def evidence_items(hop: pd.Series) -> pd.DataFrame:
    """The hop's evidence list as a frame, each item's ``fields`` (the event's analyst fields,
    ``graph.fields.EVIDENCE_FIELDS``) spread into columns."""
    items = []
    for item in hop.get("evidence") or ():
        row = {k: v for k, v in dict(item).items() if k != "fields"}
        row.update(dict(item.get("fields") or {}))
        items.append(row)
    return pd.DataFrame(items)


def hop_evidence(res: AnalysisResult, hop: pd.Series) -> pd.DataFrame:
    """The hop's evidence events with :data:`KEY_FIELDS`: the fields each evidence item carries,
    completed from the canonical event with the same source file and record id."""
    ev = evidence_items(hop)
    if ev.empty:
        return pd.DataFrame(columns=list(KEY_FIELDS))
    events = res.events
    if (events is not None and len(events) and "record_id" in ev.columns and "source_file" in ev.columns):
        rec = pd.to_numeric(ev["record_id"], errors="coerce")
        files = set(ev["source_file"].dropna().astype(str))
        cand = events[events["record_id"].isin(rec.dropna().astype("int64").tolist())
                      & events["source_file"].astype(str).isin(files)]
        if len(cand):
            fields = [c for c in KEY_FIELDS if c in cand.columns and c != "rule"]
            cand = cand[fields].drop_duplicates(["source_file", "record_id"])
            cand = cand.assign(record_id=cand["record_id"].astype("Int64"),
                               source_file=cand["source_file"].astype(str))
            ev = ev.assign(record_id=rec.astype("Int64"), source_file=ev["source_file"].astype(str))
            ev = ev.merge(cand, on=["source_file", "record_id"], how="left", suffixes=("", "__event"))
            for col in [c for c in ev.columns if c.endswith("__event")]:
                base = col[: -len("__event")]
                ev[base] = ev[base].astype(object).where(ev[base].notna(), ev[col].astype(object))
                ev = ev.drop(columns=col)
    ordered = [c for c in KEY_FIELDS if c in ev.columns]
    ordered += [c for c in ev.columns if c not in ordered]
    out = ev[ordered]
    keep = [c for c in out.columns if c in ("ts", "event_id", "record_id", "source_file")
            or out[c].notna().any()]
    return out[keep].reset_index(drop=True)


# ---- Streamlit panels ----

def show_hop_panel(res: AnalysisResult, hop_id: int, *, key: str) -> None:
    """Reason, score parts and evidence events of one hop, with a CSV download."""
    from app.ui.common import safe_csv

    hop = hop_row(res, hop_id)
    if hop is None:
        st.warning(f"Hop {hop_id} is not in the loaded result.")
        return
    st.markdown(f"**Hop {int(hop['hop_id'])}** · severity **{hop['severity']}** · score "
                f"**{float(hop['score']):.2f}**")
    st.text(reason(hop))
    parts = score_parts(hop, res.config)
    evidence = hop_evidence(res, hop)
    left, right = st.columns([2, 3])
    with left:
        st.caption("Score parts")
        st.dataframe(parts, hide_index=True, key=f"{key}.parts")
    with right:
        st.caption(f"Evidence: {plural(len(evidence), 'event')} shown of "
                   f"{plural(int(hop['n_events']), 'evidence row')}")
        st.dataframe(evidence, hide_index=True, key=f"{key}.evidence")
    st.download_button("Download this hop's evidence (CSV)", safe_csv(evidence),
                       f"latgraph-hop-{int(hop['hop_id'])}-evidence.csv", "text/csv", key=f"{key}.csv")


def show_hops_and_evidence(res: AnalysisResult, hops: pd.DataFrame, *, key: str,
                           title: str | None = None, default: str = "top") -> int | None:
    """A selectable table of ``hops`` and the hop panel of the selected row.

    ``default="top"`` opens the highest-scoring hop until a row is clicked; ``"none"`` opens
    nothing. Returns the hop id shown, or None.
    """
    if title:
        st.markdown(f"**{title}**")
    if hops is None or hops.empty:
        st.info("No hop.")
        return None
    table = hop_table(hops)
    event = st.dataframe(table, hide_index=True, key=key, on_select="rerun", selection_mode="single-row")
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    if rows and rows[0] < len(table):
        hop_id = int(table.iloc[rows[0]]["hop_id"])
    elif default == "top":
        hop_id = int(table.sort_values("score", ascending=False).iloc[0]["hop_id"])
        st.caption("Showing the highest-scoring hop; click a row to open another.")
    else:
        st.caption("Click a row to open its evidence.")
        return None
    show_hop_panel(res, hop_id, key=f"{key}.hop")
    return hop_id
