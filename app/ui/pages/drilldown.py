"""Host / account drill-down: every hop and every event of one entity."""

from __future__ import annotations

import streamlit as st

from app.ui.common import accounts_of, hosts_of, require_result, safe_csv

st.title("Host / account drill-down")
res = require_result()
MAX_ROWS = 5000

kind = st.radio("Entity", ["host", "account"], horizontal=True, key="drill.kind")
names = hosts_of(res) if kind == "host" else accounts_of(res)
if not names:
    st.info(f"No {kind} appears in a hop.")
    st.stop()
name = st.selectbox(kind.capitalize(), names, key="drill.name")

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
hop_cols = ["hop_id", "first_seen", "last_seen", "src_host", "src_ip", "dst_host", "account", "severity",
            "score", "kinds", "n_events"]
table = its_hops[hop_cols].assign(kinds=its_hops["kinds"].map(", ".join))
st.dataframe(table, hide_index=True, key="drill.hops")
st.subheader("Events")
if len(its_events) > MAX_ROWS:
    st.caption(f"Showing the first {MAX_ROWS:,} of {len(its_events):,} events; the CSV has all of them.")
st.dataframe(its_events.head(MAX_ROWS), hide_index=True, key="drill.events")
st.download_button("Download these events (CSV)", lambda: safe_csv(its_events),
                   f"latgraph-{kind}-events.csv", "text/csv", key="drill.events_csv")
