"""What the batch scoring tests share."""

from __future__ import annotations

import pandas as pd
from prodml_runtime.core.schema import Schema


def scoring_input(sample: pd.DataFrame, schema: Schema, rows: int = 300) -> pd.DataFrame:
    """Scoring data as it arrives: no target."""
    return sample.head(rows).drop(columns=schema.target)
