"""Uncertainty over seeds: the median of per-seed values and its bootstrap interval, and the
verdict a ratio's values allow.

A study's figure is a median over seeds (robust to one bad run), with a percentile
bootstrap interval: the seeds are resampled with replacement, the median taken each time,
and the interval is the middle `confidence` of those medians (Efron and Tibshirani, "An
Introduction to the Bootstrap", 1993, ch. 13). The resampling is seeded: the same values
give the same interval.

With few seeds that interval is narrower than its name: over 3 values it spans the lowest
to the highest, which holds the true median only 1 - 2 x 0.5^3 = 75 % of the time. So a
verdict also needs the exact sign test (distribution-free: how many seeds' ratios fall on
each side of 1) to reject "no difference" at 5 %. Its smallest p-value is 2 x 0.5^n:
0.25 at 3 seeds, 0.0625 at 5, 0.031 at 6. A method is called better at 95 % only from 6
seeds up, all of them agreeing (from 9 seeds, one may disagree).
"""

from math import comb

import numpy as np

RESAMPLES = 10_000


def median_interval(values, confidence=0.95, resamples=RESAMPLES, seed=0):
    """(median, low, high) of the finite `values`; (nan, nan, nan) when there are none."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return float("nan"), float("nan"), float("nan")
    draws = np.random.default_rng(seed).choice(values, size=(resamples, len(values)))
    medians = np.median(draws, axis=1)
    tail = (1 - confidence) / 2
    return (float(np.median(values)), float(np.quantile(medians, tail)),
            float(np.quantile(medians, 1 - tail)))


def sign_test_p(values, level=1.0):
    """Two-sided exact sign test of "the median is `level`": the chance of a split at least
    this lopsided among the values not equal to it, were each side equally likely."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values != level)]
    n = len(values)
    if not n:
        return 1.0
    extreme = max(int((values > level).sum()), int((values < level).sum()))
    tail = sum(comb(n, k) for k in range(extreme, n + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def verdict(values, above, below, level=1.0, alpha=0.05):
    """What per-seed ratios say: `above` when their median's bootstrap interval lies wholly
    above `level` and the sign test rejects no difference at `alpha`, `below` likewise
    below, else "not distinguishable"."""
    _, low, high = median_interval(values, 1 - alpha)
    if not (np.isfinite(low) and np.isfinite(high)):
        return "not reached"
    if sign_test_p(values, level) <= alpha:
        if low > level:
            return above
        if high < level:
            return below
    return "not distinguishable"
