"""Hinge embedding loss, mirroring ``torch.nn.functional.hinge_embedding_loss``.

    term_i = x_i                        if y_i = 1
             max(0, margin - x_i)       if y_i = -1

``x`` is usually a distance (>= 0); torch does not clamp the y = 1 branch, so the
loss is negative for x < 0 there (a documented known deviation from the
"hinge" name).  Not the classic SVM hinge max(0, 1 - y x): see the audit.

Input and target broadcast (``torch.broadcast_tensors`` rules, silently in torch 2.13).

Source: ATen ``hinge_embedding_loss`` (aten/src/ATen/native/Loss.cpp).
"""

from __future__ import annotations

import numpy as np

from ._common import as_f64, broadcast_pair, check_finite_param, check_pm1, check_reduction, reduce


def hinge_embedding(input, target, margin: float = 1.0, reduction: str = "mean") -> np.ndarray:
    """Hinge embedding loss; float64 reference of ``torch.nn.functional.hinge_embedding_loss``.

        term_i = x_i                      if y_i = 1
                 max(0, margin - x_i)     if y_i = -1          (x, y broadcast together)
        'mean' = sum_i term_i / n,  n = number of (broadcast) terms

    x is usually a distance (>= 0); like torch, the y = 1 branch is not clamped (negative for x < 0).
    Not the SVM hinge max(0, 1 - y x).

    Parameters:
        input: x, a real array.
        target: y, a real array that broadcasts with the input (``torch.broadcast_tensors``), every entry 1 or -1.
        margin: a real number (default 1.0).
        reduction: 'none', 'mean' (default) or 'sum'.
    Returns a float64 ndarray: the terms (broadcast shape) for 'none', a 0-d array for 'mean' / 'sum'
    (an empty 'mean' is NaN).
    Raises ValueError for an unknown reduction, a NaN or non-numeric margin, shapes that do not broadcast,
    a target entry other than +-1, or a non-numeric array.
    Source: ATen ``hinge_embedding_loss`` (aten/src/ATen/native/Loss.cpp).
    """
    check_reduction(reduction)
    margin = check_finite_param("margin", margin)
    x, y = broadcast_pair(as_f64("input", input), as_f64("target", target))
    check_pm1("hinge_embedding_loss target", y)
    terms = np.where(y == 1, x, np.maximum(margin - x, 0.0))
    return reduce(terms, reduction)
