"""Fixtures for the UI tests: a hand-made result and an AppTest of the real entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.ui import state
from graph.model import AnalysisResult
from tests.app.ui.fixtures import spread_result

ENTRY = Path(__file__).resolve().parents[3] / "app" / "ui" / "streamlit_app.py"


@pytest.fixture(scope="session")
def result() -> AnalysisResult:
    """A 40-host enterprise with one attack (see fixtures.py)."""
    return spread_result(40)


def seed_session(at, res: AnalysisResult) -> None:
    """Put ``res`` into an AppTest session the way state.set_result does."""
    at.session_state[state.RESULT] = res
    at.session_state[state.SOURCE] = "test fixture"
    at.session_state[state.CONFIG] = res.config
    at.session_state[state.EVENTS] = (res.events, res.report)
    at.session_state[state.EVENTS_ID] = "fixture-events"
    at.session_state[state.RUN_ID] = f"fixture-{id(res)}"
    at.session_state[state.SELECTED_PATH] = None
