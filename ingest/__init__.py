"""latgraph ingest: bytes on disk -> canonical event rows (see :mod:`ingest.schema`).

This package never imports :mod:`graph` or :mod:`app`; it knows Windows semantics, not judgement.
"""
