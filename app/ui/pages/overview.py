"""Overview: counts, patient-zero candidates with confidence and reason, and the spread timeline."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app.ui.common import accounts_of, fmt_ts, hosts_of, require_result

st.title("Overview")
res = require_result()
hops = res.hops
sev = hops["severity"].astype(str).value_counts()

cols = st.columns(7)
cols[0].metric("Events", f"{len(res.events):,}")
cols[1].metric("Hosts", f"{len(hosts_of(res)):,}")
cols[2].metric("Accounts", f"{len(accounts_of(res)):,}")
for col, name in zip(cols[3:], ("high", "medium", "low", "info"), strict=True):
    col.metric(f"Hops {name}", f"{int(sev.get(name, 0)):,}")

st.subheader("Patient zero")
if res.patient_zero:
    best = res.patient_zero[0]
    left, right = st.columns([1, 3])
    left.metric("Most likely patient zero", best.host, f"confidence {best.confidence:.0%}",
                delta_color="off", delta_arrow="off")
    right.text("Why: " + best.reason)
    right.caption("First seen " + fmt_ts(best.first_seen))
    st.dataframe(pd.DataFrame([{"rank": i + 1, "host": p.host, "confidence": round(p.confidence, 3),
                                "score": round(p.score, 3), "first_seen": p.first_seen, "reason": p.reason}
                               for i, p in enumerate(res.patient_zero)]),
                 hide_index=True, key="overview.pz")
else:
    st.info("No patient-zero candidate: no hop reaches the minimum score (see Settings).")

st.subheader("Timeline")
comp = res.compromised
if comp is not None and not comp.empty:
    comp = comp.sort_values("first_seen")
    chart = alt.Chart(comp.assign(host=comp["host"].astype(str))).mark_circle(size=90).encode(
        x=alt.X("first_seen:T", title="first compromise (UTC)"),
        y=alt.Y("host:N", sort=list(comp["host"].astype(str)), title=None),
        color=alt.Color("score:Q", scale=alt.Scale(scheme="orangered"), title="score"),
        tooltip=["host:N", alt.Tooltip("first_seen:T", format="%Y-%m-%d %H:%M:%S"), "score:Q"],
    ).properties(height=max(160, min(900, 18 * len(comp))), title="First compromise per host")
    st.altair_chart(chart, key="overview.compromise_chart")
suspicious = hops[hops["severity"].astype(str).isin(["high", "medium"])]
if not suspicious.empty:
    data = suspicious.assign(dst_host=suspicious["dst_host"].astype(str),
                             src=suspicious["src_host"].fillna(suspicious["src_ip"]).fillna("?").astype(str),
                             account=suspicious["account"].fillna("?").astype(str),
                             severity=suspicious["severity"].astype(str))
    data = data[["first_seen", "src", "dst_host", "account", "score", "severity"]]
    chart = alt.Chart(data).mark_tick(thickness=3, size=14).encode(
        x=alt.X("first_seen:T", title="time (UTC)"),
        y=alt.Y("dst_host:N", title="destination", sort="x"),
        color=alt.Color("severity:N", scale=alt.Scale(domain=["high", "medium"],
                                                      range=["#d62728", "#ff7f0e"])),
        tooltip=["src:N", "dst_host:N", "account:N", "score:Q",
                 alt.Tooltip("first_seen:T", format="%Y-%m-%d %H:%M:%S")],
    ).properties(height=max(160, min(900, 18 * data["dst_host"].nunique())),
                 title="Suspicious hops (high and medium)")
    st.altair_chart(chart, key="overview.hops_chart")
else:
    st.info("No high or medium hops.")
if res.summary:
    with st.expander("Run summary"):
        st.json(res.summary)
