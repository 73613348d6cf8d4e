"""Tests of the synthetic enterprise generator (ingest/synthetic) and latgraph simulate."""
