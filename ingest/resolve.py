"""IP -> host resolution from evidence inside the data (filled in below)."""

from __future__ import annotations

import pandas as pd


def resolve_ips(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` (resolution not implemented yet)."""
    return frame
