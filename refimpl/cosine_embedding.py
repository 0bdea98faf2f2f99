"""Cosine embedding loss, mirroring ``torch.nn.functional.cosine_embedding_loss``.

    cos_i  = <a_i, b_i> / sqrt((|a_i|^2 + EPS) (|b_i|^2 + EPS)),   EPS = float32(1e-12)
    term_i = 1 - cos_i                 if y_i = 1
             max(0, cos_i - margin)    if y_i = -1

EPS is torch's guard against zero vectors (a zero vector has cos = 0).  Inputs
are (N, D) with target (N,), or (D,) with a 0-d target.  A contrastive loss on
cosine similarity -- not the Euclidean contrastive loss of Hadsell et al.

Source: ATen ``cosine_embedding_loss`` (aten/src/ATen/native/Loss.cpp).
"""

from __future__ import annotations

import numpy as np

from ._common import as_f64, check_finite_param, check_pm1, check_reduction, reduce

#: ATen's EPSILON is a float (float32) constant: float32(1e-12), also for float64 inputs
#: (measured: torch's float64 loss at |a| = 1e-6 matches this value, not 1e-12, to the last bit).
EPSILON = 9.999999960041972e-13


def cosine_embedding(input1, input2, target, margin: float = 0.0, reduction: str = "mean") -> np.ndarray:
    """Cosine embedding loss; float64 reference of ``torch.nn.functional.cosine_embedding_loss``.

        cos_i  = <a_i, b_i> / sqrt((|a_i|^2 + EPS)(|b_i|^2 + EPS)),   EPS = float32(1e-12) (torch's, also in float64)
        term_i = 1 - cos_i                  if y_i = 1
                 max(0, cos_i - margin)     if y_i = -1
        'mean' = sum_i term_i / N           (EPS makes a zero vector's cos 0)

    Parameters:
        input1, input2: a, b, real arrays of one shape, (N, D) or (D,) for a single pair.
        target: y, shape (N,) (0-d for (D,) inputs), every entry 1 or -1.
        margin: a real number in [-1, 1] (default 0.0).
        reduction: 'none', 'mean' (default) or 'sum'.
    Returns a float64 ndarray: the terms, shape (N,) (0-d for (D,) inputs), for 'none'; a 0-d array for
    'mean' / 'sum' (an empty 'mean' is NaN).
    Raises ValueError for an unknown reduction, a margin outside [-1, 1] or NaN, input shapes that differ
    or are not 1-D / 2-D, a target of the wrong shape or with an entry other than +-1, or a non-numeric array.
    Source: ATen ``cosine_embedding_loss`` (aten/src/ATen/native/Loss.cpp).
    """
    check_reduction(reduction)
    margin = check_finite_param("margin", margin, lo=-1.0, hi=1.0)
    a, b, y = as_f64("input1", input1), as_f64("input2", input2), as_f64("target", target)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(f"cosine_embedding_loss: input1 {a.shape} and input2 {b.shape} must be equal (N, D) or (D,)")
    if y.shape != a.shape[:-1]:
        raise ValueError(f"cosine_embedding_loss: target must have shape {a.shape[:-1]}, got {y.shape}")
    check_pm1("cosine_embedding_loss target", y)
    dot = np.sum(a * b, axis=-1)
    cos = dot / np.sqrt((np.sum(a * a, axis=-1) + EPSILON) * (np.sum(b * b, axis=-1) + EPSILON))
    terms = np.where(y == 1, 1.0 - cos, np.maximum(cos - margin, 0.0))
    return reduce(terms, reduction)
