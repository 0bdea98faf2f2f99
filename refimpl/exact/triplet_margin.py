"""The 60-digit mpmath transcription of ``triplet_margin`` (see :mod:`refimpl.exact`): it verifies ``refimpl.triplet_margin``."""

from __future__ import annotations

import mpmath
import numpy as np

from ._common import _ZERO, _check_embedding_dims, _check_reduction, _finite_param, _high_precision, _mp, _pnorm, _reduce, _rows


@_high_precision
def triplet_margin(
    anchor, positive, negative, margin: float = 1.0, p: float = 2, eps: float = 1e-6, swap: bool = False,
    reduction: str = "mean",
) -> np.ndarray:
    """Triplet margin loss; torch.nn.functional.triplet_margin_loss (ATen ``triplet_margin_loss``;
    Balntas et al. 2016).

        d(u, v) = (sum_k |u_k - v_k + eps|^p)^(1/p)   (ATen pairwise_distance: norm(u - v + eps))
        d_pos = d(a, pos);  d_neg = d(a, neg);  swap: d_neg = min(d_neg, d(pos, neg))
        term  = max(0, margin + d_pos - d_neg)

    Inputs (N, D) or (D,); any p > 0 (p = inf gives the max norm).  torch
    rejects margin <= 0.
    """
    _check_reduction(reduction)
    m = _finite_param("margin", margin)
    if m <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin!r}")
    pp = mpmath.mpf(float(p))
    if not pp > 0:
        raise ValueError(f"p must be positive, got {p!r}")
    e = _finite_param("eps", eps)
    a, ps, ng = _mp(anchor), _mp(positive), _mp(negative)
    _check_embedding_dims(a, ps, ng)

    def dist(u, v):
        return _pnorm([ui - vi + e for ui, vi in zip(u, v)], pp)

    def term(ar, pr, nr):
        d_pos, d_neg = dist(ar, pr), dist(ar, nr)
        if swap:
            d_neg = min(d_neg, dist(pr, nr))
        return max(_ZERO, m + d_pos - d_neg)

    return _reduce(_rows(term, a, ps, ng), reduction)
