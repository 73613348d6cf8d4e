"""Replay: step through the spread hop by hop (previous / next hop) or pick any moment."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.ui import state
from app.ui.common import fmt_ts, require_result, selection_panel, threshold_caption
from app.ui.evidence import plural, show_hops_and_evidence
from app.ui.graph_component import spread_graph
from app.ui.view import ALL_SEVERITIES, ViewOptions

st.title("Replay")
res = require_result()
threshold_caption(res)
hops = res.hops
state.keep("replay.low", False)
include_low = st.checkbox("Include hops below the threshold", key="replay.low", bind=state.URL)
cut = None if include_low else res.config.min_score
shown = hops if cut is None else hops[hops["score"] >= cut]
if shown.empty:
    st.info("No hop at or above the threshold to replay (lower it in the sidebar or include the hops "
            "below it).")
    st.stop()


def _human(delta: pd.Timedelta) -> str:
    """A duration as '3 d 4 h', '12 min', '40 s'."""
    s = int(delta.total_seconds())
    if s >= 86400:
        return f"{s // 86400} d {s % 86400 // 3600} h"
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60} min"
    if s >= 60:
        return f"{s // 60} min {s % 60} s"
    return f"{s} s"


# One step per hop start: the scale adapts to the data (seconds apart or weeks apart alike).
moments = sorted(pd.to_datetime(shown["first_seen"], utc=True).unique())
n = len(moments)
step_key = "replay.step"
state.keep(step_key, n)                      # 1-based: step k shows the spread up to the k-th hop start
if st.session_state.get("replay.n") != n or not 1 <= int(st.session_state[step_key]) <= n:
    st.session_state[step_key] = n          # new threshold / scope: start from the whole spread
    st.session_state["replay.n"] = n


def _move(delta: int) -> None:
    st.session_state[step_key] = min(n, max(1, int(st.session_state[step_key]) + delta))


b1, b2, b3, b4 = st.columns([1, 1, 1, 4])
b1.button("⏮ First", key="replay.first", on_click=_move, args=(-n,), disabled=st.session_state[step_key] == 1)
b2.button("◀ Previous hop", key="replay.prev", on_click=_move, args=(-1,),
          disabled=st.session_state[step_key] == 1)
b3.button("Next hop ▶", key="replay.next", on_click=_move, args=(1,),
          disabled=st.session_state[step_key] >= n)
if n > 1:
    st.slider("Step (one step per hop start time)", 1, n, n, key=step_key, bind=state.URL)
step = int(st.session_state[step_key]) - 1
until = pd.Timestamp(moments[step])
gap = ""

if step > 0:
    gap = f", {_human(until - pd.Timestamp(moments[step - 1]))} after the previous step"
b4.markdown(f"**Step {step + 1:,} of {n:,}:** {fmt_ts(until)}{gap}")

so_far = shown[shown["first_seen"] <= until]
now = shown[shown["first_seen"] == until]
comp = res.compromised
n_comp = 0 if comp is None else int((comp["first_seen"] <= until).sum())
c1, c2, c3 = st.columns(3)
c1.metric("Hops so far", f"{len(so_far):,}", f"of {len(shown):,}", delta_color="off", delta_arrow="off")
c2.metric("Hosts compromised so far", f"{n_comp:,}", f"of {0 if comp is None else len(comp):,}",
          delta_color="off", delta_arrow="off")
c3.metric("Accounts used", f"{so_far['account'].nunique():,}")

opts = ViewOptions(severities=ALL_SEVERITIES, min_score=cut, until=until.to_pydatetime(), show_accounts=False,
                   layout="hierarchical", highlight_hop_ids=tuple(int(h) for h in now["hop_id"]))
page, view = state.graph_view(opts)
st.caption(view.note + f" In blue: this step's {plural(len(now), 'hop')}. Click a node or a hop for "
           "details.")
selection = spread_graph(page, height=opts.height_px, key="replay.canvas")
if selection:
    selection_panel(res, selection, view, key="replay.sel")

st.subheader(f"This step: {plural(len(now), 'hop')}")
show_hops_and_evidence(res, now.sort_values("score", ascending=False), key="replay.now", default="top")
with st.expander(f"All {plural(len(so_far), 'hop')} up to this moment (click a row for its evidence)"):
    show_hops_and_evidence(res, so_far.sort_values("first_seen", ascending=False), key="replay.table",
                           default="none")
