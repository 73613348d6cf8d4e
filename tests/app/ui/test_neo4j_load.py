"""Loading a result from a real Neo4j (the Neo4j tests' server) through the Load page."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.ui import state
from tests.app.ui.conftest import ENTRY
from tests.app.ui.fixtures import PATIENT_ZERO, spread_result
from tests.neo4j.conftest import neo4j_db, neo4j_server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


def test_load_from_neo4j_shows_the_stored_spread(neo4j_db):  # noqa: F811
    from graph.neo4j_store import Neo4jSettings, push

    res = spread_result(40)
    push(res, Neo4jSettings(uri=neo4j_db.uri, user=neo4j_db.user, password=neo4j_db.password,
                            database=neo4j_db.database))
    at = AppTest.from_file(str(ENTRY), default_timeout=120)
    at.run()
    at.text_input(key="load.neo4j_uri").set_value(neo4j_db.uri)
    at.text_input(key="load.neo4j_user").set_value(neo4j_db.user)
    at.text_input(key="load.neo4j_password").set_value(neo4j_db.password)
    at.text_input(key="load.neo4j_db").set_value(neo4j_db.database)
    at.button(key="load.neo4j_go").click().run()
    assert not at.exception and not at.error, [c.value for c in at.code]
    at.switch_page("pages/overview.py").run()
    assert not at.exception
    metric = next(m for m in at.metric if m.label == "Most likely patient zero")
    assert metric.value == PATIENT_ZERO
    at.switch_page("pages/paths.py").run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "hosts" in df.value.columns)
    assert table["hosts"].str.startswith(PATIENT_ZERO).any()
    at.switch_page("pages/settings.py").run()
    at.number_input(key="settings.max_gap_h").set_value(2.0)
    at.button(key="settings.apply").click().run()
    assert not at.exception and not at.error, [c.value for c in at.code]
    res = at.session_state[state.RESULT]                     # re-read from Neo4j with the new settings
    assert res.config.max_path_gap_s == 7200.0 and len(res.hops) == len(spread_result(40).hops)


def test_neo4j_unreachable_gives_a_clear_error():
    at = AppTest.from_file(str(ENTRY), default_timeout=60)
    at.run()
    at.text_input(key="load.neo4j_uri").set_value("bolt://127.0.0.1:9")
    at.text_input(key="load.neo4j_password").set_value("x")
    at.button(key="load.neo4j_go").click().run()
    assert not at.exception
    assert at.error and "Could not load from Neo4j" in at.error[0].value
    assert at.code and at.code[0].value  # the reason, as plain text
