"""Triplet margin loss (Balntas et al. 2016; Schroff et al. 2015), mirroring
``torch.nn.functional.triplet_margin_loss``.

    d(u, v) = || u - v + eps ||_p              (torch's pairwise_distance ADDS eps)
    d_neg   = d(a, n), or min(d(a, n), d(p, n)) with swap=True
    term_i  = max(0, margin + d(a_i, p_i) - d_neg_i)

Inputs are (N, D) or (D,) (then a 0-d result); any p > 0 (p < 1 is not a norm,
torch computes the same power sum).  ``F.triplet_margin_loss`` raises for margin <= 0.

Source: ATen ``triplet_margin_loss`` and ``pairwise_distance`` (Loss.cpp, Distance.cpp).
"""

from __future__ import annotations

import numpy as np

from ._common import as_f64, check_finite_param, check_reduction, reduce, rowwise
from ._distance import pnorm_rows


def pairwise_distance(u: np.ndarray, v: np.ndarray, p: float, eps: float) -> np.ndarray:
    return rowwise(lambda u, v: pnorm_rows(_shifted_difference(u, v, eps), p, overwrite=True), u, v)


def _shifted_difference(u: np.ndarray, v: np.ndarray, eps: float) -> np.ndarray:
    """``u - v + eps``, in one new array."""
    r = np.subtract(u, v)
    r += eps
    return r


def triplet_margin(
    anchor, positive, negative, margin: float = 1.0, p: float = 2, eps: float = 1e-6,
    swap: bool = False, reduction: str = "mean",
) -> np.ndarray:
    """Triplet margin loss (Balntas et al. 2016; Schroff et al. 2015); reference of ``F.triplet_margin_loss``.

        d(u, v) = ||u - v + eps||_p            (per row; torch's pairwise_distance ADDS eps to the difference)
        d_neg_i = d(a_i, n_i), or min(d(a_i, n_i), d(pos_i, n_i)) with swap=True
        term_i  = max(0, margin + d(a_i, pos_i) - d_neg_i);   'mean' = sum_i term_i / N

    Parameters:
        anchor, positive, negative: a, pos, n, real arrays of one shape, (N, D) or (D,).
        margin: a real number > 0 (default 1.0; F.triplet_margin_loss raises for margin <= 0).
        p: the norm degree, a real number > 0 (default 2; p < 1 is not a norm, the same power sum is used).
        eps: a real number added to every difference (default 1e-6).
        swap: default False; True uses the distance swap of Balntas et al.
        reduction: 'none', 'mean' (default) or 'sum'.
    Returns a float64 ndarray: the terms, shape (N,) (0-d for (D,) inputs), for 'none'; a 0-d array for
    'mean' / 'sum' (an empty 'mean' is NaN).
    Raises ValueError for an unknown reduction, margin <= 0, p <= 0, a NaN or non-numeric margin / p / eps,
    arrays that are not all 1-D or all 2-D or whose shapes differ, or a non-numeric array.
    Source: ATen ``triplet_margin_loss`` and ``pairwise_distance`` (Loss.cpp, Distance.cpp).
    """
    check_reduction(reduction)
    margin = check_finite_param("margin", margin, lo=0.0, lo_open=True)
    p = check_finite_param("p", p, lo=0.0, lo_open=True)
    eps = check_finite_param("eps", eps)
    a, pos, neg = (as_f64(n, v) for n, v in (("anchor", anchor), ("positive", positive), ("negative", negative)))
    if not (a.ndim == pos.ndim == neg.ndim) or a.ndim not in (1, 2):
        raise ValueError(
            "triplet_margin_loss: anchor, positive and negative must all be 1-D (D,) or 2-D (N, D), "
            f"got {a.ndim}, {pos.ndim}, {neg.ndim} dimensions"
        )
    if not (a.shape == pos.shape == neg.shape):
        raise ValueError(f"triplet_margin_loss: shapes differ: {a.shape}, {pos.shape}, {neg.shape}")
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = np.minimum(d_neg, pairwise_distance(pos, neg, p, eps))
    return reduce(np.maximum(margin + d_pos - d_neg, 0.0), reduction)
