"""Real chromium: page state lives in the URL, so a reload or a shared link restores it.

The threshold (sidebar), the graph layout and the clicked node are set by hand; the URL must carry
them (``latgraph.threshold``, ``graph.layout``, ``sel``), a reload must show the same page with the
same state, and so must the same link opened in a fresh browser (a colleague's). Every request stays
on the app's own server. Screenshot: ``tests/artifacts/ui-url-state-shared-link.png``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.app.ui.browser import browser_page, chromium_or_skip, graph_frame, settle, shot, ui_server
from tests.app.ui.test_browser_investigate import (
    _assert_local,
    _click_node,
    _goto,
    _open_filters,
    _record,
    demo,  # noqa: F401  (the module-scoped demo fixture)
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]


def _params(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def _wait_param(page, name: str, value: str, timeout_s: float = 60) -> None:
    deadline = page.evaluate("Date.now()") + timeout_s * 1000
    while _params(page).get(name) != [value]:
        assert page.evaluate("Date.now()") < deadline, f"{name}={value} not in {page.url}"
        page.wait_for_timeout(250)


def _state_shown(page, pz: str) -> None:
    """The graph page with threshold 0.60, the hierarchical layout and ``pz`` selected."""
    page.get_by_role("heading", name="Spread graph").wait_for(timeout=180000)
    settle(page, timeout_s=60)
    page.get_by_text(re.compile(r"Threshold 0\.60 \(sidebar\)")).first.wait_for(timeout=60000)
    _open_filters(page)
    layout = page.get_by_test_id("stRadio").filter(has_text="Layout")
    assert layout.get_by_role("radio", name="hierarchical").is_checked()
    page.get_by_role("heading", name=f"Host {pz}", exact=True).wait_for(timeout=60000)
    graph_frame(page)


def test_reload_and_shared_link_restore_threshold_layout_and_selection(demo):  # noqa: F811
    chromium_or_skip()
    from app.pipeline import run

    pz = run([demo]).patient_zero[0].host
    with ui_server([str(demo)]) as url:
        with browser_page(height=1600) as page:
            urls = _record(page)
            page.goto(url)
            page.get_by_role("heading", name="Overview").wait_for(timeout=180000)
            settle(page)
            slider = page.get_by_test_id("stSidebar").get_by_role("slider").first
            slider.focus()
            for _ in range(4):                                  # 0.40 -> 0.60
                page.keyboard.press("ArrowRight")
            page.get_by_text(re.compile(r"Threshold 0\.60 \(sidebar\)")).first.wait_for(timeout=60000)
            _wait_param(page, "latgraph.threshold", "0.6")

            _goto(page, "Spread graph")
            _open_filters(page)
            page.get_by_test_id("stRadio").filter(has_text="Layout").get_by_text("hierarchical").click()
            _wait_param(page, "graph.layout", "hierarchical")
            settle(page)
            page.wait_for_timeout(1000)
            _click_node(graph_frame(page), pz)
            page.get_by_role("heading", name=f"Host {pz}", exact=True).wait_for(timeout=60000)
            _wait_param(page, "sel", f"node:{pz}")
            assert _params(page).get("latgraph.threshold") == ["0.6"]     # kept across the page change
            link = page.url

            page.reload()                                          # a reload keeps it all
            _state_shown(page, pz)
            assert _params(page).get("graph.layout") == ["hierarchical"]
            _assert_local(urls, url)

        with browser_page(height=1600) as page:                    # the link, opened by a colleague
            urls = _record(page)
            page.goto(link)
            _state_shown(page, pz)
            shot(page, "url-state-shared-link")
            _assert_local(urls, url)
