"""Settings: maximum path gap and allowlists; applying them re-runs the analysis (threshold: sidebar)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.ui import state
from app.ui.common import require_result

st.title("Settings")
res = require_result()
cfg = state.config()

st.caption(f"The threshold (minimum hop score, now {cfg.min_score:.2f}) is set in the sidebar, on every "
           "page, and applies at once.")
max_gap_h = st.number_input("Maximum gap between consecutive hops of a path (hours)", 0.1, 24.0 * 30,
                            float(cfg.max_path_gap_s) / 3600.0, 1.0, key="settings.max_gap_h")
hosts = st.text_area("Allowlisted hosts (vouched for: deployment, backup...), comma or newline separated",
                     "\n".join(sorted(cfg.allowlist_hosts)), key="settings.allow_hosts")
accounts = st.text_area("Allowlisted accounts", "\n".join(sorted(cfg.allowlist_accounts)),
                        key="settings.allow_accounts")

if st.button("Re-run analysis", key="settings.apply", type="primary"):
    new = state.settings_config(state.threshold(), max_gap_h, hosts, accounts)
    try:
        res = state.rerun_with(new)
    except Exception as exc:
        st.error("The analysis failed with these settings.")
        st.code(str(exc), language=None)
    else:
        st.success(f"Re-analysed: {len(res.hops):,} hops, {len(res.paths)} paths, "
                   f"{len(res.patient_zero)} patient-zero candidates.")

st.subheader("Settings in use")
current = state.config()
rows = [{"setting": k, "value": ", ".join(sorted(v)) if isinstance(v, frozenset) else str(v)}
        for k, v in vars(current).items()]
st.dataframe(pd.DataFrame(rows), hide_index=True, key="settings.table")
