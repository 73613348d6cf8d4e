"""Load data: the demo case, uploads, a path on the server, a case file, or Neo4j; then the ingest report."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.ui import state
from app.ui.common import md

st.title("Load data")


def run_load(paths: list, label: str) -> None:
    """Ingest + analyse with a progress display; errors are shown, never raised; then Overview."""
    bar = st.progress(0.0, text="Reading logs...")
    try:
        res = state.load_paths(paths, label, progress=state.StagedProgress(bar))
    except Exception as exc:  # a message for the analyst; details as plain text
        st.error("Loading failed.")
        st.code(str(exc), language=None)
        return
    finally:
        bar.empty()
    st.session_state["load.done"] = f"Loaded {len(res.events):,} events, {len(res.hops):,} hops."
    st.switch_page("pages/overview.py")


def load_demo() -> None:
    """Prepare (generate if needed) and load the demo case."""
    st.session_state.pop("load.demo_confirm", None)
    try:
        inputs = state.demo_inputs()
    except Exception as exc:
        st.error("Could not prepare the demo case.")
        st.code(str(exc), language=None)
    else:
        run_load(inputs, f"demo case (seed {state.DEMO_SEED})")


loaded = state.result()
if loaded is not None:
    st.info("Loaded case: " + md(state.source()) + ". Loading anything here replaces it.")


demo, upload, server, case, neo4j = st.tabs(["Demo", "Upload", "Path on the server", "Case file", "Neo4j"])
with demo:
    st.write("A seeded synthetic enterprise with an attack spreading through admin shares "
             f"(`latgraph simulate --seed {state.DEMO_SEED}`), generated on first use.")
    if st.button("Load the demo case", key="load.demo", type="secondary" if loaded else "primary"):
        if loaded is None:
            load_demo()
        else:
            st.session_state["load.demo_confirm"] = True
    if st.session_state.get("load.demo_confirm") and loaded is not None:
        st.warning("Replace the loaded case (" + md(state.source()) + ") with the demo case?")
        yes, no = st.columns([1, 4])
        if yes.button("Replace with the demo", key="load.demo_yes", type="primary"):
            load_demo()
        if no.button("Cancel", key="load.demo_no"):
            st.session_state.pop("load.demo_confirm", None)
            st.rerun()
with upload:
    files = st.file_uploader("Log files: EVTX, Windows XML, Winlogbeat/ECS JSON, OTRF JSON, MDE CSV/JSON, "
                             ".zip/.gz, or a case file (.parquet)", accept_multiple_files=True,
                             key="load.upload")
    st.caption(f"Limit {state.max_upload_mb():,} MB per file (server.maxUploadSize; raise it with "
               "`latgraph ui --max-upload-mb N`). Larger sets: use a path on the server.")
    if st.button("Analyse uploaded files", key="load.upload_go", disabled=not files):
        try:
            saved = state.save_uploads(files or [])
        except ValueError as exc:
            st.error("Upload refused.")
            st.code(str(exc), language=None)
        else:
            names = ", ".join(p.name for p in saved[:3])
            names += f" (+{len(saved) - 3} more)" if len(saved) > 3 else ""
            run_load(saved, "upload: " + names)
with server:
    text = st.text_area("Files or folders on the server, one per line (folders are read recursively)",
                        key="load.paths")
    if st.button("Analyse these paths", key="load.paths_go", disabled=not text.strip()):
        paths = [line.strip() for line in text.splitlines() if line.strip()]
        run_load(paths, "server: " + ", ".join(paths))
with case:
    case_path = st.text_input("Case file written by `latgraph ingest ... -o case.parquet`", key="load.case")
    if st.button("Open case file", key="load.case_go", disabled=not case_path.strip()):
        run_load([case_path.strip()], f"case file {case_path.strip()}")
with neo4j:
    uri = st.text_input("Bolt URI", "bolt://127.0.0.1:7687", key="load.neo4j_uri")
    user = st.text_input("User", "neo4j", key="load.neo4j_user")
    password = st.text_input("Password", type="password", key="load.neo4j_password")
    database = st.text_input("Database", "neo4j", key="load.neo4j_db")
    if st.button("Load from Neo4j", key="load.neo4j_go"):
        try:
            state.load_from_neo4j(uri, user, password, database)
        except Exception as exc:
            st.error("Could not load from Neo4j.")
            st.code(str(exc), language=None)
        else:
            st.switch_page("pages/overview.py")

res = state.result()
if res is not None:
    st.subheader("Ingest report of the loaded case")
    doc = res.report.to_dict()
    totals = doc.get("totals", {})
    cols = st.columns(4)
    cols[0].metric("Files", totals.get("files", len(doc["files"])))
    cols[1].metric("Records read", f"{res.report.records_read:,}")
    cols[2].metric("Events kept", f"{res.report.kept:,}")
    cols[3].metric("Problems", f"{res.report.problem_count:,}")
    files = pd.DataFrame([{"file": f["path"], "format": f["format"], "read": f["records_read"],
                           "kept": f["kept"], "skipped": sum(f["skipped"].values()),
                           "problems": len(f["problems"]), "error": f["error"] or "",
                           "first": f["first_ts"], "last": f["last_ts"]} for f in doc["files"]])
    st.dataframe(files, hide_index=True, key="load.report_table")
    problems = [{"file": f["path"], "problem": p} for f in doc["files"] for p in
                ([f["error"]] if f["error"] else []) + f["problems"]]
    skipped = [{"file": f["path"], "reason": r, "records": n} for f in doc["files"]
               for r, n in f["skipped"].items()]
    with st.expander(f"Problems ({len(problems)} listed)", expanded=bool(problems)):
        if problems:
            st.dataframe(pd.DataFrame(problems), hide_index=True, key="load.problems")
        else:
            st.write("No problems.")
        if skipped:
            st.caption("Skipped records by reason")
            st.dataframe(pd.DataFrame(skipped), hide_index=True, key="load.skipped")
