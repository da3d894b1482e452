"""Small statistics helpers: percentiles of samples, medians of repeated runs."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence


def finite(values: Iterable[float]) -> list[float]:
    return [value for value in values if math.isfinite(value)]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; NaN for no finite values."""
    data = sorted(finite(values))
    if not data:
        return math.nan
    if len(data) == 1:
        return data[0]
    position = (len(data) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


def median(values: Iterable[float]) -> float:
    data = finite(values)
    return statistics.median(data) if data else math.nan


def ratio(numerator: float, denominator: float) -> float:
    if not (math.isfinite(numerator) and math.isfinite(denominator)) or denominator <= 0:
        return math.nan
    return numerator / denominator
