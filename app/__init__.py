"""latgraph app: the CLI, the exports, the Streamlit UI; the one place that ties ingest and graph."""
