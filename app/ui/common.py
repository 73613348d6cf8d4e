"""Small helpers shared by the pages: the "load data first" guard and safe text rendering."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from app.ui import state
from graph.model import AnalysisResult

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(text: object) -> str:
    """Escape data for use inside ``st.markdown`` / captions (no markup, no links, no HTML).

    Examples:
        >>> md("[x](javascript:alert(1)) <b>")
        '\\\\[x\\\\]\\\\(javascript\\\\:alert\\\\(1\\\\)\\\\) \\\\<b\\\\>'
    """
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def require_result() -> AnalysisResult:
    """The loaded result; otherwise a hint with a link to the Load page, and stop the page."""
    res = state.result()
    if res is None:
        st.info("No data loaded yet. Load logs, a case file or the demo first.")
        st.page_link("pages/load.py", label="Go to Load data", icon=":material/upload:")
        st.stop()
    return res


def hosts_of(res: AnalysisResult) -> list[str]:
    """Every host named by a hop (sources and destinations), sorted."""
    hops = res.hops
    names = pd.concat([hops["src_host"], hops["dst_host"]]).dropna().astype(str)
    return sorted(set(names))


def accounts_of(res: AnalysisResult) -> list[str]:
    """Every account named by a hop, sorted."""
    return sorted(set(res.hops["account"].dropna().astype(str)))


def fmt_ts(value: object) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS UTC`` ("-" when missing)."""
    if value is None or pd.isna(value):
        return "-"
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S UTC")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes of ``frame`` where text cells that a spreadsheet would run as a formula
    (starting with = + - @ tab or CR) are prefixed with ``'``.

    Examples:
        >>> safe_csv(pd.DataFrame({"a": ["=1+2", "ok"]})).decode().splitlines()
        ['a', "'=1+2", 'ok']
    """
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or isinstance(out[col].dtype, pd.StringDtype):
            out[col] = out[col].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)
    return out.to_csv(index=False).encode("utf-8")
