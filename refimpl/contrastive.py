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
