"""Holm's step-down adjustment: the one used for every family of tests.

The layers' effects (`effects`), the race's drops and its verdict
(`race_rule`) and confirmation's fixed design and seed-level tests
(`confirmation.stats`) adjust their p-values here. The group-sequential
designs reject by Holm's shares of spent alpha (`confirmation.sequential`,
`confirmation.noninferiority`): their levels change per look, so they
compare p with a boundary, not an adjusted p with alpha.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def holm(p_values: np.ndarray | Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values; NaN stays NaN and is not counted.

    A hypothesis is rejected at family-wise level alpha when its adjusted p
    is below alpha (Holm 1979).
    """
    p_values = np.asarray(p_values, dtype=float)
    adjusted = np.full(p_values.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p_values))
    order = tested[np.argsort(p_values[tested], kind="stable")]
    steps = p_values[order] * (len(order) - np.arange(len(order)))
    adjusted[order] = np.minimum(np.maximum.accumulate(steps), 1.0)
    return adjusted
