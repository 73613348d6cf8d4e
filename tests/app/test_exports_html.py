"""Tests of the standalone HTML report: content, and hostile names shown as text (parsed, and
opened in Debian's chromium).
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given, settings

from app.exports import EXPORTERS
from graph.model import AnalysisResult
from tests.app.export_fixture import (
    ANY_TEXT,
    CSV_LINK,
    XSS_IMG,
    XSS_SCRIPT,
    XSS_SVG,
    build_result,
)

# --- HTML -----------------------------------------------------------------------------------------

class _Collector(HTMLParser):
    """Collects tags, attributes and text of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(data: bytes) -> _Collector:
    parser = _Collector()
    parser.feed(data.decode("utf-8"))
    return parser


def test_html_report_content(result: AnalysisResult) -> None:
    data = EXPORTERS["html"](result)
    page = _parse(data)
    text = " ".join(page.text)
    assert "Patient zero" in text and "PC01 is the earliest source" in text
    assert "PSEXESVC" in text and "cmd.exe /c whoami" in text        # per-hop evidence details
    assert "Security.evtx" in text and "lg.admin_share.write" in text
    assert "2024-03-01 09:30:00Z" in text                              # timeline of DC03
    assert "rarity 1.00" in text                                       # score components
    assert "svg" in page.tags
    html = data.decode()
    assert "script" not in page.tags
    assert "http://" not in html and "https://" not in html and "//" not in html.replace("://", "")
    assert "default-src 'none'" in html


def test_html_report_without_findings() -> None:
    res = build_result()
    res.hops = res.hops.iloc[0:0]
    res.paths, res.patient_zero, res.compromised = [], [], None
    text = " ".join(_parse(EXPORTERS["html"](res)).text)
    assert "No patient-zero candidate" in text and "No path of suspicious hops" in text


def test_html_report_escapes_hostile_strings(hostile: AnalysisResult) -> None:
    data = EXPORTERS["html"](hostile, scope="all")
    html = data.decode()
    page = _parse(data)
    assert "script" not in page.tags and "img" not in page.tags
    assert page.tags.count("svg") == 1                          # only our own timeline
    assert not [a for a, _ in page.attrs if a.startswith("on")]  # no event-handler attribute
    assert "<script" not in html.lower() and "<img" not in html.lower() and "<svg onload" not in html.lower()
    text = "".join(page.text)
    for payload in (XSS_SCRIPT, XSS_IMG, XSS_SVG, CSV_LINK):
        assert payload in text, payload                          # shown as text



@settings(max_examples=25, deadline=None)
@given(host=ANY_TEXT.filter(lambda s: "\r" not in s), account=ANY_TEXT)
def test_any_host_and_account_survive_json_opengraph_html(host: str, account: str) -> None:
    res = build_result(srv=host, bob=account)
    hop = json.loads(EXPORTERS["json"](res))["hops"][0]
    assert hop["dst_host"] == host
    names = {n["properties"]["name"] for n in json.loads(EXPORTERS["opengraph"](res))["graph"]["nodes"]}
    assert {host, account} <= names
    page = _parse(EXPORTERS["html"](res))
    assert "script" not in page.tags
    assert host in "".join(page.text)          # shown as the same text, whatever it holds


# --- the HTML report in a real browser ----------------------------------------------------------------

@pytest.mark.browser
def test_html_report_runs_no_script_in_chromium(hostile: AnalysisResult, tmp_path: Any) -> None:
    """Open the hostile report in Debian's chromium: no dialog opens, no request leaves the file,
    no element from the data exists, and the payloads read as text."""
    from tests.app.ui.browser import ARTIFACTS, browser_page

    report = tmp_path / "report.html"
    report.write_bytes(EXPORTERS["html"](hostile, scope="all"))
    dialogs: list[str] = []
    requests: list[str] = []
    with browser_page() as page:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_timeout(500)
        body = page.inner_text("body")
        counts = page.evaluate("""() => ({
            script: document.querySelectorAll('script').length,
            img: document.querySelectorAll('img').length,
            svg: document.querySelectorAll('svg').length,
            handlers: [...document.querySelectorAll('*')].filter(
                e => [...e.attributes].some(a => a.name.startsWith('on'))).length})""")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "export-html-xss.png"), full_page=True)
    assert dialogs == []
    assert requests == [report.as_uri()]
    assert counts == {"script": 0, "img": 0, "svg": 1, "handlers": 0}
    for payload in (XSS_SCRIPT, XSS_IMG, XSS_SVG, CSV_LINK):
        assert payload in body, payload

