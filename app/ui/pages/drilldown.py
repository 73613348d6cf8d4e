"""Host / account drill-down: every hop and every event of one entity."""

from __future__ import annotations

import streamlit as st

from app.ui import state
from app.ui.common import accounts_of, hosts_of, require_result, safe_csv, threshold_caption
from app.ui.evidence import show_hops_and_evidence

st.title("Host / account drill-down")
res = require_result()
threshold_caption(res)
MAX_ROWS = 5000

state.keep("drill.kind", "host")
kind = st.radio("Entity", ["host", "account"], horizontal=True, key="drill.kind", bind=state.URL)
names = hosts_of(res) if kind == "host" else accounts_of(res)
if not names:
    st.info(f"No {kind} appears in a hop.")
    st.stop()
first = res.patient_zero[0].host if kind == "host" and res.patient_zero else names[0]
if state.keep("drill.name", first) not in names:
    st.session_state["drill.name"] = first if first in names else names[0]
name = st.selectbox(kind.capitalize(), names, names.index(first) if first in names else 0, key="drill.name",
                    bind=state.URL)

hops, events = res.hops, res.events
if kind == "host":
    hop_mask = (hops["src_host"] == name).fillna(False) | (hops["dst_host"] == name).fillna(False)
    ev_mask = ((events["host"] == name).fillna(False) | (events["src_host"] == name).fillna(False)
               | (events["dst_host"] == name).fillna(False))
else:
    hop_mask = (hops["account"] == name).fillna(False)
    ev_mask = (events["account"] == name).fillna(False) | (events["subject_account"] == name).fillna(False)
its_hops = hops[hop_mask].sort_values("first_seen")
its_events = events[ev_mask].sort_values("ts")

c1, c2, c3 = st.columns(3)
c1.metric("Hops", f"{len(its_hops):,}")
c2.metric("Events", f"{len(its_events):,}")
if kind == "host" and res.compromised is not None:
    hit = res.compromised[res.compromised["host"] == name]
    c3.metric("First compromised", "not compromised" if hit.empty else
              hit["first_seen"].min().strftime("%Y-%m-%d %H:%M UTC"))

st.subheader("Hops")
st.caption("Every hop, whatever its score; click a row to open its reason, score parts and evidence.")
show_hops_and_evidence(res, its_hops, key="drill.hops", default="top")
st.subheader("Events")
if len(its_events) > MAX_ROWS:
    st.caption(f"Showing the first {MAX_ROWS:,} of {len(its_events):,} events; the CSV has all of them.")
st.dataframe(its_events.head(MAX_ROWS), hide_index=True, key="drill.events")
st.download_button("Download these events (CSV)", lambda: safe_csv(its_events),
                   f"{state.export_stem()}-{kind}-{state.file_safe(name)}-events.csv", "text/csv",
                   key="drill.events_csv")
