"""Findings: rule hits beside the hops (the technique aimed at the host itself, unknown
destinations, local executions, commands towards hosts with no logs), filterable, one row each."""

from __future__ import annotations

import streamlit as st

from app.exports.common import findings_frame
from app.ui import state
from app.ui.common import require_result, threshold_caption

st.title("Findings")
st.caption("Rule hits that form no hop, so nothing a rule saw is dropped: loopback tests "
           "(\\\\127.0.0.1\\C$), commands whose destination is unknown or has no logs, local executions.")
res = require_result()
threshold_caption(res)
frame = findings_frame(res)
if frame.empty:
    st.info("No finding beside the hops.")
    st.stop()

c1, c2, c3 = st.columns(3)
all_levels, all_hosts = sorted(set(frame["level"])), sorted(set(frame["host"].dropna()))
all_reasons = sorted(set(frame["reason"]))
for key, options, default in (("findings.levels", all_levels, all_levels), ("findings.hosts", all_hosts, []),
                              ("findings.reasons", all_reasons, [])):
    kept = state.keep(key, default)   # filters survive page changes; drop values of another case
    st.session_state[key] = [v for v in kept if v in options]
levels = c1.multiselect("Level", all_levels, all_levels, key="findings.levels", bind=state.URL)
hosts = c2.multiselect("Host", all_hosts, key="findings.hosts", bind=state.URL)
reasons = c3.multiselect("Why not a hop", all_reasons, key="findings.reasons", bind=state.URL)
shown = frame[frame["level"].isin(levels)]
if hosts:
    shown = shown[shown["host"].isin(hosts)]
if reasons:
    shown = shown[shown["reason"].isin(reasons)]
st.metric("Findings", f"{len(shown):,}", f"of {len(frame):,}", delta_color="off", delta_arrow="off")
columns = ["level", "host", "account", "count", "first_seen", "last_seen", "title", "rule", "attack",
           "reason", "command_line", "service_name", "service_image", "share_name", "process",
           "parent_process", "src_ip", "src_port", "dst_host", "hop_ids", "evidence"]
st.dataframe(shown[columns], hide_index=True, key="findings.table")
