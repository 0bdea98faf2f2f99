"""Huber loss, mirroring ``torch.nn.functional.huber_loss`` (Huber 1964).

    z = |x - y|
    term = 0.5 z^2                 if z < delta
           delta (z - 0.5 delta)   otherwise
    with ``weight`` (torch>=2.6): term * w, and 'mean' = mean(term * w) over the
    number of elements (not divided by sum(w), unlike mse_loss).

Source: ATen ``huber_loss`` (PointwiseOpsKernel / Loss.cpp), torch/nn/functional.py.

Evaluated as ``(z - m/2) m`` with ``m = min(z, delta)``, which is the same number,
rounding included: for ``z < delta`` it is ``(z/2) z`` (``z - z/2 = z/2`` exactly),
otherwise ``(z - delta/2) delta``; NaN propagates through the minimum.  No branch
select, so the terms cost a few cheap passes (block by block, see
``refimpl._common.elementwise``).
"""

from __future__ import annotations

import numpy as np

from ._common import (
    as_f64, broadcast_pair, check_finite_param, check_reduction, check_same_shape, elementwise, reduce,
)


def huber_terms(x: np.ndarray, y: np.ndarray, delta: float) -> np.ndarray:
    z = np.abs(x - y)
    m = np.minimum(z, delta)
    return (z - 0.5 * m) * m


def huber(input, target, reduction: str = "mean", delta: float = 1.0, weight=None) -> np.ndarray:
    """Huber loss (Huber 1964); float64 reference of ``torch.nn.functional.huber_loss``.

        z = |x - y|                                   (x, y broadcast together)
        term = 0.5 z^2 if z < delta, else delta (z - 0.5 delta)
             = (z - m/2) m with m = min(z, delta)     (how it is evaluated: the same number, NaN propagates)
        with ``weight``: term * w;  'mean' = sum(term) / n, n = number of terms (NOT / sum(w), unlike mse)

    Parameters:
        input, target: real arrays x, y, broadcast like ``torch.broadcast_tensors``.
        reduction: 'none', 'mean' (default) or 'sum'.
        delta: the threshold between the quadratic and the linear branch, a real number > 0 (default 1.0).
        weight: optional real array of exactly ``input``'s shape, multiplied into the terms (torch>=2.6).
    Returns a float64 ndarray: the terms (broadcast shape) for 'none', a 0-d array for 'mean' / 'sum'
    (an empty 'mean' is NaN).
    Raises ValueError for an unknown reduction, delta <= 0, NaN or not a number, a non-numeric array,
    shapes that do not broadcast, or a weight whose shape is not the input's.
    Source: ATen ``huber_loss`` (PointwiseOpsKernel / Loss.cpp), torch/nn/functional.py ``huber_loss``.
    """
    check_reduction(reduction)
    delta = check_finite_param("delta", delta, lo=0.0, lo_open=True)
    x, y = broadcast_pair(as_f64("input", input), as_f64("target", target))
    terms = elementwise(lambda a, b: huber_terms(a, b, delta), x, y)
    if weight is not None:
        w = as_f64("weight", weight)
        check_same_shape("huber weight", np.asarray(input), w, b_name="weight")
        terms = terms * w
    return reduce(terms, reduction)
