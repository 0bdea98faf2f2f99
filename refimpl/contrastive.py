"""Pairwise Euclidean contrastive loss (Hadsell, Chopra & LeCun 2006,
"Dimensionality Reduction by Learning an Invariant Mapping", eq. 4).

    d_i    = || a_i - b_i ||_2
    term_i = 0.5 d_i^2                     if y_i = 1  (similar pair)
             0.5 max(0, margin - d_i)^2    if y_i = -1 (dissimilar pair)

Inputs (N, D) with target (N,), or (D,) with a 0-d target.  Torch ships no
such function; the source article's ``nn.CosineEmbeddingLoss`` is a different loss.
"""

from __future__ import annotations

import numpy as np

from ._common import as_f64, check_finite_param, check_pm1, check_reduction, reduce, rowwise
from ._distance import pnorm_rows


def contrastive(input1, input2, target, margin: float = 1.0, reduction: str = "mean") -> np.ndarray:
    """Euclidean contrastive loss (Hadsell, Chopra & LeCun 2006, eq. 4); torch has no such function.

        d_i    = ||a_i - b_i||_2                    (computed scaled by the row maximum: no overflow)
        term_i = 0.5 d_i^2                          if y_i = 1  (similar pair)
                 0.5 max(0, margin - d_i)^2         if y_i = -1 (dissimilar pair)
        'mean' = sum_i term_i / N

    Parameters:
        input1, input2: a, b, real arrays of one shape, (N, D) or (D,) for a single pair.
        target: y, shape (N,) (0-d for (D,) inputs), every entry 1 or -1.
        margin: a real number (default 1.0; any sign).
        reduction: 'none', 'mean' (default) or 'sum'.
    Returns a float64 ndarray: the terms, shape (N,) (0-d for (D,) inputs), for 'none'; a 0-d array for
    'mean' / 'sum' (an empty 'mean' is NaN).
    Raises ValueError for an unknown reduction, a NaN or non-numeric margin, input shapes that differ or
    are not 1-D / 2-D, a target of the wrong shape or with an entry other than +-1, or a non-numeric array.
    Source: Hadsell et al. 2006, "Dimensionality Reduction by Learning an Invariant Mapping" (not
    ``nn.CosineEmbeddingLoss``, a different loss).
    """
    check_reduction(reduction)
    margin = check_finite_param("margin", margin)
    a, b, y = as_f64("input1", input1), as_f64("input2", input2), as_f64("target", target)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(f"contrastive: input1 {a.shape} and input2 {b.shape} must be equal (N, D) or (D,)")
    if y.shape != a.shape[:-1]:
        raise ValueError(f"contrastive: target must have shape {a.shape[:-1]}, got {y.shape}")
    check_pm1("contrastive target", y)
    d = rowwise(lambda a, b: pnorm_rows(a - b, 2.0, overwrite=True), a, b)
    gap = np.maximum(margin - d, 0.0)
    terms = 0.5 * np.where(y == 1, d * d, gap * gap)
    return reduce(terms, reduction)
