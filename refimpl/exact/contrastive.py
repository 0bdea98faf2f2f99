"""The 60-digit mpmath transcription of ``contrastive`` (see :mod:`refimpl.exact`): it verifies ``refimpl.contrastive``."""

from __future__ import annotations

import mpmath
import numpy as np

from ._common import _ZERO, _check_embedding_dims, _check_reduction, _finite_param, _high_precision, _mp, _pm1_where, _reduce, _rows


@_high_precision
def contrastive(input1, input2, target, margin: float = 1.0, reduction: str = "mean") -> np.ndarray:
    """Contrastive loss with Euclidean distance (Hadsell, Chopra & LeCun 2006,
    "Dimensionality Reduction by Learning an Invariant Mapping").

        d    = ||input1 - input2||_2 over the last dim   ((D,) inputs -> 0-d)
        term = 0.5 d^2                   if target == 1  (similar pair)
               0.5 max(0, margin - d)^2  if target == -1 (dissimilar pair)
    """
    _check_reduction(reduction)
    m = _finite_param("margin", margin)
    a, b = _mp(input1), _mp(input2)
    _check_embedding_dims(a, b)
    t = _mp(target)
    if t.shape != a.shape[:-1]:
        raise ValueError(f"target shape {t.shape} must equal {a.shape[:-1]}")

    def term(u, v, tv):
        sq = mpmath.fsum((ui - vi) ** 2 for ui, vi in zip(u, v))
        d = mpmath.sqrt(sq)
        return _pm1_where(tv, sq / 2, max(_ZERO, m - d) ** 2 / 2)

    return _reduce(_rows(term, a, b, per_row=(t,)), reduction)
