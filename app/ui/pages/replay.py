"""Replay: move a time slider and watch the spread up to that moment."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from app.ui import state
from app.ui.common import require_result
from app.ui.view import ViewOptions

st.title("Replay")
res = require_result()
hops = res.hops
suspicious = hops[hops["severity"].astype(str).isin(["high", "medium"])]
if suspicious.empty:
    st.info("No high or medium hops to replay.")
    st.stop()

lo = suspicious["first_seen"].min().floor("min").to_pydatetime()
hi = suspicious["first_seen"].max().ceil("min").to_pydatetime()
if hi <= lo:
    hi = lo + timedelta(minutes=1)
picked = st.slider("Show the spread up to (UTC)", lo, hi, hi, step=timedelta(minutes=1),
                   format="YYYY-MM-DD HH:mm", key="replay.until")
until = picked + timedelta(seconds=59.999)  # the whole chosen minute
include_low = st.checkbox("Include low-severity hops", False, key="replay.low")

so_far = suspicious[suspicious["first_seen"] <= pd.Timestamp(until)]
comp = res.compromised
n_comp = 0 if comp is None else int((comp["first_seen"] <= pd.Timestamp(until)).sum())
c1, c2, c3 = st.columns(3)
c1.metric("Suspicious hops so far", f"{len(so_far):,}", f"of {len(suspicious):,}", delta_color="off",
          delta_arrow="off")
c2.metric("Hosts compromised so far", f"{n_comp:,}",
          f"of {0 if comp is None else len(comp):,}", delta_color="off", delta_arrow="off")
c3.metric("Accounts used", f"{so_far['account'].nunique():,}")

opts = ViewOptions(severities=("high", "medium", "low") if include_low else ("high", "medium"),
                   until=until, show_accounts=False, layout="hierarchical")
page, view = state.graph_view(opts)
st.caption(view.note)
if view.nodes:
    st.iframe(page, height=opts.height_px + 40)

st.subheader("Hops up to this moment")
latest = so_far.sort_values("first_seen", ascending=False)
st.dataframe(latest[["first_seen", "src_host", "src_ip", "dst_host", "account", "severity", "score"]],
             hide_index=True, key="replay.table")
