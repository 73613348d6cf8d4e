"""Small helpers shared by the pages: the "load data first" guard and safe text rendering."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from app.ui import state
from graph.model import AnalysisResult

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: object) -> str:
    """Escape data for use inside ``st.markdown`` / captions (no markup, no links, no HTML).

    Examples:
        >>> md("[x](javascript:alert(1)) <b>")
        '\\\\[x\\\\]\\\\(javascript\\\\:alert\\\\(1\\\\)\\\\) \\\\<b\\\\>'
    """
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def _apply_threshold() -> None:
    """Sidebar slider callback: re-run the hop stage under the new minimum score."""
    try:
        state.set_threshold(float(st.session_state[state.THRESHOLD]))
    except Exception as exc:  # shown on the next run; the old result stays
        st.session_state["latgraph.threshold_error"] = str(exc)


def sidebar() -> None:
    """The sidebar of every page: the loaded case and the one threshold all views follow."""
    res = state.result()
    with st.sidebar:
        if res is None:
            st.caption("No case loaded.")
            return
        st.markdown("**Case:** " + md(state.source()))
        st.caption(f"{len(res.events):,} events · {len(res.hops):,} hops · loaded "
                   + fmt_ts(st.session_state.get(state.LOADED_AT)))
        try:
            state.restore_from_url()   # a reloaded page or a shared link: its threshold and path
        except Exception as exc:  # the case stays as loaded; say why the link's state was not applied
            st.session_state["latgraph.threshold_error"] = str(exc)
        if st.session_state.get(state.THRESHOLD_RUN) != state.run_id():
            st.session_state[state.THRESHOLD] = state.threshold()
            st.session_state[state.THRESHOLD_RUN] = state.run_id()
        # ``value`` is the threshold in force, so that it is also the slider's default in the
        # browser: a slider the browser re-mounts (page switch, rerun) falls back to its default
        # and reports it as a change. With no ``value`` that default was 0.0, which silently
        # re-thresholded the case at 0 (seen as "Patient-zero rank -" after a graph click).
        st.slider("Threshold: minimum hop score", 0.0, 1.0, value=state.threshold(), step=0.05,
                  key=state.THRESHOLD, on_change=_apply_threshold,
                  help="Hops scoring at least this are suspicious: paths, patient zero, compromised "
                       "hosts, the graph, replay, counts and exports all follow it.")
        # in the URL as well (not a bound widget: its browser-side default must be the value above)
        state.url_set(state.THRESHOLD, f"{state.threshold():g}")
        err = st.session_state.pop("latgraph.threshold_error", None)
        if err:
            st.error("Could not apply the threshold: " + md(err))


def threshold_caption(res: AnalysisResult) -> None:
    """The threshold in force, stated on each page."""
    n = int((res.hops["score"] >= res.config.min_score).sum()) if len(res.hops) else 0
    st.caption(f"Threshold {res.config.min_score:.2f} (sidebar): {n:,} of {len(res.hops):,} hops are at "
               "or above it.")


def require_result() -> AnalysisResult:
    """The loaded result; otherwise a hint with a link to the Load page, and stop the page."""
    res = state.result()
    if res is None:
        st.info("No data loaded yet. Load logs, a case file or the demo first.")
        st.page_link("pages/load.py", label="Go to Load data", icon=":material/upload:")
        st.stop()
    return res


def hosts_of(res: AnalysisResult) -> list[str]:
    """Every host named by a hop (sources and destinations), sorted."""
    hops = res.hops
    names = pd.concat([hops["src_host"], hops["dst_host"]]).dropna().astype(str)
    return sorted(set(names))


def accounts_of(res: AnalysisResult) -> list[str]:
    """Every account named by a hop, sorted."""
    return sorted(set(res.hops["account"].dropna().astype(str)))


def fmt_ts(value: object) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS UTC`` ("-" when missing)."""
    if value is None or pd.isna(value):
        return "-"
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S UTC")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes of ``frame`` where text cells that a spreadsheet would run as a formula
    (starting with = + - @ tab or CR) are prefixed with ``'``.

    Examples:
        >>> safe_csv(pd.DataFrame({"a": ["=1+2", "ok"]})).decode().splitlines()
        ['a', "'=1+2", 'ok']
    """
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or isinstance(out[col].dtype, pd.StringDtype):
            out[col] = out[col].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)
    return out.to_csv(index=False).encode("utf-8")


def legend() -> None:
    """The graph legend, folded, outside the graph canvas."""
    with st.expander("Legend", expanded=False):
        st.markdown(
            "**Nodes:** ★ patient-zero candidate · ● host · ▲ account · ■ group of collapsed hosts or "
            "accounts · ○ unknown source  \n"
            "**Host colour:** :red[●] compromised early → :orange[●] late · :gray[●] not compromised  \n"
            "**Hops:** :red[━] high · :orange[━] medium · :green[━] low (olive) · :gray[━] info; solid = "
            "share / service / execution evidence, dashed = logon only; width = score  \n"
            ":blue[┄] account used on a host · :blue[━] the path selected on the Paths page")


def open_drilldown(kind: str, name: str) -> None:
    """Switch to the Host / account page showing ``name``."""
    for key, value in (("drill.kind", kind), ("drill.name", name)):
        st.session_state[key] = value
        st.session_state[state.KEPT + key] = value
    st.switch_page("pages/drilldown.py")


def selection_panel(res: AnalysisResult, selection: dict, view: object, *, key: str) -> None:
    """What a click in the graph selected: a host, an account, a group, or a hop edge."""
    from app.ui.evidence import plural, show_hops_and_evidence

    hops = res.hops
    nodes = {n["id"]: n for n in getattr(view, "nodes", [])}
    sel_id = str(selection.get("id"))
    if selection.get("kind") == "edge":
        ids = [int(h) for h in selection.get("hop_ids") or []]
        chosen = hops[hops["hop_id"].isin(ids)].sort_values(["score", "first_seen"], ascending=[False, True])
        if chosen.empty:
            st.info("That hop is no longer shown; click the graph again.")
            return
        first = chosen.iloc[0]
        src = first["src_host"] if pd.notna(first["src_host"]) else first["src_ip"]
        st.subheader(f"Hop {md(src if pd.notna(src) else '?')} → {md(first['dst_host'])}")
        st.caption(f"{plural(len(chosen), 'hop')} drawn as this edge.")
        show_hops_and_evidence(res, chosen, key=f"{key}.edge", default="top")
        return
    node = nodes.get(sel_id, {"kind": "host", "id": sel_id, "label": sel_id})
    kind = node.get("kind")
    if kind == "group":
        st.subheader(f"Group {md(node.get('label', sel_id))}")
        st.write(f"{plural(int(node.get('members', 0)), 'node')} collapsed here "
                 f"({int(node.get('compromised', 0))} compromised). Raise the node cap or focus on a host "
                 "(Filters) to draw them one by one; the Table tab lists every hop.")
        return
    if kind == "unknown":
        dst = sel_id.split(":", 1)[1]
        st.subheader(f"Unknown source of hops into {md(dst)}")
        its = hops[(hops["dst_host"] == dst).fillna(False) & hops["src_host"].isna() & hops["src_ip"].isna()]
        show_hops_and_evidence(res, its, key=f"{key}.unknown", default="top")
        return
    if kind == "account":
        name = sel_id.split(":", 1)[1] if sel_id.startswith("account:") else sel_id
        st.subheader(f"Account {md(name)}")
        its = hops[(hops["account"] == name).fillna(False)]
        c1, c2 = st.columns(2)
        c1.metric("Hops", f"{len(its):,}")
        c2.metric("Hosts reached", f"{its['dst_host'].nunique():,}")
        if st.button("Open on the Host / account page", key=f"{key}.open_account"):
            open_drilldown("account", name)
    else:
        name = sel_id
        st.subheader(f"Host {md(name)}")
        out = (hops["src_host"] == name).fillna(False) | (hops["src_ip"] == name).fillna(False)
        into = (hops["dst_host"] == name).fillna(False)
        its = hops[out | into]
        comp = res.compromised
        hit = comp[comp["host"] == name] if comp is not None and len(comp) else None
        pz = next((i + 1 for i, p in enumerate(res.patient_zero) if p.host == name), None)
        c1, c2, c3, c4 = st.columns([1, 1, 2, 1])
        c1.metric("Hops in", f"{int(into.sum()):,}")
        c2.metric("Hops out", f"{int(out.sum()):,}")
        c3.metric("First compromised", "not compromised" if hit is None or hit.empty
                  else fmt_ts(hit["first_seen"].min()))
        c4.metric("Patient-zero rank", f"#{pz}" if pz else "-")
        if pz:
            st.text("Why: " + res.patient_zero[pz - 1].reason)
        if st.button("Open on the Host / account page", key=f"{key}.open_host"):
            open_drilldown("host", name)
    show_hops_and_evidence(res, its.sort_values(["score", "first_seen"], ascending=[False, True]),
                           key=f"{key}.hops", title="Hops (click a row for its evidence)", default="top")
