"""Fixtures of the export tests: the hand-made result and its hostile-names twin.

(``tests/app/ui/conftest.py`` has its own ``result`` for the UI tests, which takes precedence there.)
"""

from __future__ import annotations

import pytest

from graph.model import AnalysisResult
from tests.app.export_fixture import HOSTILE, build_result


@pytest.fixture
def result() -> AnalysisResult:
    """A small hand-made result: hops A->B->C with evidence, a path, a patient zero."""
    return build_result()


@pytest.fixture
def hostile() -> AnalysisResult:
    """The same result with attacker-controlled names carrying XSS / CSV-formula payloads."""
    return build_result(**HOSTILE)
