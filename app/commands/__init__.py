"""One module per CLI command (or command group); each exposes ``command``.

Add a module to :data:`COMMAND_MODULES` to register it with ``latgraph``.
"""

from __future__ import annotations

from types import ModuleType

from app.commands import (
    analyze_cmd,
    export_cmd,
    formats_cmd,
    ingest_cmd,
    neo4j_cmd,
    rules_cmd,
    simulate_cmd,
    ui_cmd,
)

COMMAND_MODULES: tuple[ModuleType, ...] = (
    ingest_cmd,
    formats_cmd,
    export_cmd,
    ui_cmd,
    simulate_cmd,
    analyze_cmd,
    rules_cmd,
    neo4j_cmd,
)
