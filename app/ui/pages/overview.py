"""Overview: counts, patient-zero candidates with confidence and reason, and the spread timeline."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.ui import state
from app.ui.common import accounts_of, fmt_ts, hosts_of, md, require_result, threshold_caption
from app.ui.evidence import plural

st.title("Overview")
res = require_result()
hops = res.hops
threshold = res.config.min_score
done = st.session_state.pop("load.done", None)
if done:
    st.success(done)
st.markdown("**Case:** " + md(state.source()))
threshold_caption(res)
timings = st.session_state.get(state.LOAD_TIMINGS)
if timings:
    st.caption(f"Loaded in {timings.get('total', 0):.1f} s: reading {timings.get('read', 0):.1f} s, "
               f"rules, correlation and scores {timings.get('events', 0):.1f} s, paths and patient zero "
               f"{timings.get('hops', 0):.1f} s.")
sev = hops["severity"].astype(str).value_counts()
above = hops[hops["score"] >= threshold]

cols = st.columns(5)
cols[0].metric("Events", f"{len(res.events):,}")
cols[1].metric("Hosts", f"{len(hosts_of(res)):,}")
cols[2].metric("Accounts", f"{len(accounts_of(res)):,}")
cols[3].metric(f"Hops ≥ threshold {threshold:.2f}", f"{len(above):,}", f"of {len(hops):,}",
               delta_color="off", delta_arrow="off")
cols[4].metric("Hosts compromised", f"{0 if res.compromised is None else len(res.compromised):,}")
st.caption("All hops by severity: " + " · ".join(f"{name} {int(sev.get(name, 0)):,}"
                                                  for name in ("high", "medium", "low", "info")))

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
    st.info("No patient-zero candidate: no hop reaches the threshold (sidebar).")

groups = getattr(res, "routine_groups", None) or []
if groups:
    st.subheader("Routine continued from compromised sources")
    st.caption("One finding per compromised source whose routine (account, tool, hours, destination pool) "
               "went on after its compromise; the member hops are low one by one and still on the paths. "
               "Drill down by the group id (hop column routine_group).")
    st.dataframe(pd.DataFrame([{"group": g.group_id, "source": g.source, "severity": g.severity,
                                "hops": len(g.hop_ids), "destinations": g.destinations,
                                "accounts": ", ".join(g.accounts), "first_seen": g.first_seen,
                                "last_seen": g.last_seen, "reason": g.reason} for g in groups]),
                 hide_index=True, key="overview.routine_groups")

st.subheader("Timeline")
# altair is imported once patient zero is on screen: the first answer does not wait for it
import altair as alt  # noqa: E402

comp = res.compromised
ROW_PX = 20
if comp is not None and not comp.empty:
    comp = comp.sort_values("first_seen")
    hosts = list(comp["host"].astype(str))
    st.caption(f"First compromise of each of the {plural(len(hosts), 'compromised host')} "
               "(every host labelled; scroll inside the chart box when it is long).")
    chart = alt.Chart(comp.assign(host=comp["host"].astype(str))).mark_circle(size=90).encode(
        x=alt.X("first_seen:T", title="first compromise (UTC)"),
        y=alt.Y("host:N", sort=hosts, title=None,
                axis=alt.Axis(labelOverlap=False, labelLimit=260, labelFontSize=12)),
        color=alt.Color("score:Q", scale=alt.Scale(scheme="orangered"), title="score"),
        tooltip=["host:N", alt.Tooltip("first_seen:T", format="%Y-%m-%d %H:%M:%S"), "score:Q"],
    ).properties(height=ROW_PX * len(hosts) + 40, title="First compromise per host")
    with st.container(height=min(620, ROW_PX * len(hosts) + 100), key="overview.compromise_box"):
        st.altair_chart(chart, key="overview.compromise_chart")
if not above.empty:
    data = above.assign(dst_host=above["dst_host"].astype(str),
                        src=above["src_host"].fillna(above["src_ip"]).fillna("?").astype(str),
                        account=above["account"].fillna("?").astype(str),
                        severity=above["severity"].astype(str))
    data = data[["first_seen", "src", "dst_host", "account", "score", "severity"]]
    n_dst = data["dst_host"].nunique()
    chart = alt.Chart(data).mark_tick(thickness=3, size=14).encode(
        x=alt.X("first_seen:T", title="time (UTC)"),
        y=alt.Y("dst_host:N", title="destination", sort="x",
                axis=alt.Axis(labelOverlap=False, labelLimit=260, labelFontSize=12)),
        color=alt.Color("severity:N", scale=alt.Scale(domain=["high", "medium", "low", "info"],
                                                      range=["#d62728", "#ff7f0e", "#bcbd22", "#b0b0b0"])),
        tooltip=["src:N", "dst_host:N", "account:N", "score:Q",
                 alt.Tooltip("first_seen:T", format="%Y-%m-%d %H:%M:%S")],
    ).properties(height=ROW_PX * n_dst + 40, title=f"Hops at or above the threshold ({threshold:.2f})")
    with st.container(height=min(620, ROW_PX * n_dst + 110), key="overview.hops_box"):
        st.altair_chart(chart, key="overview.hops_chart")
else:
    st.info("No hop at or above the threshold.")
if res.summary:
    with st.expander("Run summary"):
        st.json(res.summary)
