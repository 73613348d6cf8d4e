"""Paths: ranked time-respecting paths; per-hop evidence; the selected path drawn left to right."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.ui import state
from app.ui.common import fmt_ts, require_result
from app.ui.view import ALL_SEVERITIES, ViewOptions

st.title("Paths")
res = require_result()
if not res.paths:
    st.info("No time-respecting path: fewer than two chained hops reach the minimum score (see Settings).")
    st.stop()

ranked = pd.DataFrame([{"rank": i + 1, "score": round(p.score, 3), "hosts": " → ".join(p.hosts),
                        "accounts": ", ".join(dict.fromkeys(p.accounts)), "hops": len(p.hop_ids),
                        "start": p.start, "end": p.end} for i, p in enumerate(res.paths)])
st.dataframe(ranked, hide_index=True, key="paths.table")

labels = [f"#{i + 1}  {' → '.join(p.hosts)}  (score {p.score:.2f})" for i, p in enumerate(res.paths)]
current = state.selected_path()
choice = st.selectbox("Select a path", range(len(labels)), format_func=lambda i: labels[i],
                      index=current if current is not None and current < len(labels) else 0,
                      key="paths.select")
state.select_path(int(choice))
path = res.paths[int(choice)]
st.caption(f"Path #{int(choice) + 1}: {len(path.hop_ids)} hops from {fmt_ts(path.start)} to "
           f"{fmt_ts(path.end)}. It is highlighted on the Spread graph page too.")

by_id = res.hops.set_index("hop_id", drop=False)
steps, evidence = [], []
for n, hid in enumerate(path.hop_ids, start=1):
    if hid not in by_id.index:
        continue
    hop = by_id.loc[hid]
    src = next((hop[c] for c in ("src_host", "src_ip") if pd.notna(hop[c])), "?")
    steps.append({"step": n, "hop_id": int(hid), "from": src, "to": hop["dst_host"],
                  "account": hop["account"], "first_seen": hop["first_seen"], "severity": hop["severity"],
                  "score": round(float(hop["score"]), 3), "kinds": ", ".join(hop["kinds"]),
                  "techniques": ", ".join(hop["techniques"])})
    for ev in hop["evidence"]:
        evidence.append({"step": n, "hop_id": int(hid), "event_id": ev.get("event_id"),
                         "record_id": ev.get("record_id"), "source_file": ev.get("source_file"),
                         "rule": ev.get("rule"), "ts": ev.get("ts")})
context = st.toggle("Show the path in context (its hosts' neighbourhood)", False, key="paths.context")
opts = ViewOptions(severities=ALL_SEVERITIES, highlight_hop_ids=tuple(path.hop_ids), layout="hierarchical",
                   only_hop_ids=() if context else tuple(path.hop_ids), show_accounts=True, height_px=420,
                   focus=path.hosts[0] if context else None, focus_depth=len(path.hosts))
page, view = state.graph_view(opts)
st.caption(view.note)
st.iframe(page, height=opts.height_px + 40)
st.subheader("Hops of this path")
st.dataframe(pd.DataFrame(steps), hide_index=True, key="paths.steps")
st.subheader("Evidence (event ids, records, files)")
st.dataframe(pd.DataFrame(evidence), hide_index=True, key="paths.evidence")

