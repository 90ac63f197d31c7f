"""Batching for model embedders: cut texts of known lengths into batches that
waste little time on padding, within a text limit and a padded-token limit.

:func:`length_batches` sorts by length and fills each batch greedily (the
transformer; ELMo without bucketing, in input order); :func:`bucket_batches`
finds the cheapest cut under a cost model fitted on ELMo, whose biLSTM pays per
time step as well as per padded token.
"""

from __future__ import annotations

import os
from typing import Iterator, Sequence

import numpy as np

# Bucketing's cost model, in units of one padded token's work, fitted on the
# real-size ELMo on 2 cores (bench/bench_elmo.py --fit-cost; two fits: 6.9-7.7 ms
# a biLSTM time step, 1.11-1.16 ms a padded token, 1-97 ms a call): a step costs
# what ~6 padded tokens cost. The call term is poorly determined by the fit, and
# the cut hardly depends on it (0 to 150 changes the predicted time by < 0.5%).
CALL_COST_TOKENS = 90.0
STEP_COST_TOKENS = 6.0


def env_int(name: str) -> int | None:
    """A positive integer from the environment (a batch or thread override), else None."""
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def length_batches(lengths: Sequence[int], max_texts: int, max_tokens: int,
                   sort: bool = True) -> Iterator[list[int]]:
    """Indices sorted by length, cut greedily into batches within both limits.

    Sorted, a batch's padded width is its last text's length, so filling each
    batch as far as the limits allow wastes almost nothing on padding.
    ``sort=False`` keeps input order (the baseline bench/bench_transformer.py
    compares with). A text longer than ``max_tokens`` goes alone.
    """
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable") if sort else range(len(lengths))
    batch: list[int] = []
    longest = 0
    for i in (int(i) for i in order):
        width = max(longest, lengths[i])
        if batch and (len(batch) >= max_texts or width * (len(batch) + 1) > max_tokens):
            yield batch
            batch, width = [], lengths[i]
        batch.append(i)
        longest = width
    if batch:
        yield batch


def batch_cost(size, width):
    """Predicted time of one batch of ``size`` texts padded to ``width`` tokens, in
    padded-token units: the call, the biLSTM's sequential steps, the tokens.
    Numbers or numpy arrays (the bucketing search prices many batches at once)."""
    return CALL_COST_TOKENS + STEP_COST_TOKENS * width + size * width


def bucket_batches(lengths: Sequence[int], max_size: int, max_tokens: int) -> list[list[int]]:
    """Bucketing: the non-empty texts sorted by length, cut into consecutive runs
    that respect the limits and minimise the summed :func:`batch_cost`.

    Exact by dynamic programming over the sorted lengths (the cheapest way to
    batch the first j texts ends with one batch i..j-1); ``max_size`` bounds the
    choices per j, so it costs O(n * max_size) and a few ms for 1,000 texts.
    """
    order = [int(i) for i in np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable") if lengths[i] > 0]
    n = len(order)
    if not n:
        return []
    widths = np.asarray([lengths[i] for i in order], dtype=np.float64)
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    cut = np.zeros(n + 1, dtype=np.int64)
    for end in range(1, n + 1):
        width = widths[end - 1]  # the longest of any batch ending here
        most = min(max_size, end, max(1, int(max_tokens // width)))
        starts = np.arange(end - most, end)
        costs = best[starts] + batch_cost(end - starts, width)  # every batch starts..end-1 at once
        pick = int(np.argmin(costs))
        best[end], cut[end] = costs[pick], starts[pick]
    batches: list[list[int]] = []
    end = n
    while end:
        batches.append(order[cut[end]:end])
        end = int(cut[end])
    return batches[::-1]
