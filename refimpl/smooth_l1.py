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
