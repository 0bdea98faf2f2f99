"""Smooth L1 loss, mirroring ``torch.nn.functional.smooth_l1_loss`` (Girshick 2015, Fast R-CNN).

    z = |x - y|
    term = 0.5 z^2 / beta     if z < beta
           z - 0.5 beta       otherwise
    beta = 0 is the L1 loss (torch dispatches to l1_loss).
Identity: smooth_l1(beta) = huber(delta=beta) / beta for beta > 0.

Source: ATen ``smooth_l1_loss``; torch/nn/functional.py.

Evaluated as ``(z - m/2) (m / beta)`` with ``m = min(z, beta)``: for ``z >= beta``
``m / beta = 1`` exactly, so the term is ``z - beta/2`` rounded once; for ``z < beta``
it is ``(z/2)(z/beta)`` (``z - z/2 = z/2`` exactly), two roundings like
``0.5 z^2 / beta`` and no ``z^2`` to overflow or underflow (bit-identical to it
for beta = 1).  NaN propagates through the minimum.
"""

from __future__ import annotations

import numpy as np

from ._common import as_f64, broadcast_pair, check_finite_param, check_reduction, elementwise, reduce


def smooth_l1(input, target, reduction: str = "mean", beta: float = 1.0) -> np.ndarray:
    """Smooth L1 loss (Girshick 2015, Fast R-CNN); float64 reference of ``F.smooth_l1_loss``.

        z = |x - y|                                   (x, y broadcast together)
        term = 0.5 z^2 / beta if z < beta, else z - 0.5 beta       (beta > 0; = huber(delta=beta) / beta)
        term = z                                                   (beta = 0: the L1 loss, torch's l1_loss)
        evaluated as (z - m/2)(m / beta), m = min(z, beta);  'mean' = sum(term) / n, n = number of terms

    Parameters:
        input, target: real arrays x, y, broadcast like ``torch.broadcast_tensors``.
        reduction: 'none', 'mean' (default) or 'sum'.
        beta: the threshold, a real number >= 0 (default 1.0).
    Returns a float64 ndarray: the terms (broadcast shape) for 'none', a 0-d array for 'mean' / 'sum'
    (an empty 'mean' is NaN).
    Raises ValueError for an unknown reduction, beta < 0, NaN or not a number, a non-numeric array, or
    shapes that do not broadcast.
    Source: ATen ``smooth_l1_loss``; torch/nn/functional.py ``smooth_l1_loss``.
    """
    check_reduction(reduction)
    beta = check_finite_param("beta", beta, lo=0.0)
    x, y = broadcast_pair(as_f64("input", input), as_f64("target", target))
    return reduce(elementwise(lambda a, b: smooth_l1_terms(a, b, beta), x, y), reduction)


def smooth_l1_terms(x: np.ndarray, y: np.ndarray, beta: float) -> np.ndarray:
    z = np.abs(x - y)
    if beta == 0.0:
        return z
    m = np.minimum(z, beta)
    return (z - 0.5 * m) * (m / beta)
