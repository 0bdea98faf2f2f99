"""The 60-digit mpmath transcription of ``cosine_embedding`` (see :mod:`refimpl.exact`): it verifies ``refimpl.cosine_embedding``."""

from __future__ import annotations

import mpmath
import numpy as np

from ._common import _ZERO, _check_embedding_dims, _check_reduction, _finite_param, _high_precision, _mp, _reduce, _rows, _xadd, _xdot


@_high_precision
def cosine_embedding(input1, input2, target, margin: float = 0.0, reduction: str = "mean") -> np.ndarray:
    """Cosine embedding loss; torch.nn.functional.cosine_embedding_loss
    (ATen ``cosine_embedding_loss``).

        cos  = sum(a b) / sqrt((sum a^2 + EPS)(sum b^2 + EPS)),   EPS = float32(1e-12)
        term = 1 - cos             if t == 1
               max(0, cos - margin) if t == -1
               0                   otherwise (torch's where-form)

    Inputs (N, D) with target (N,), or (D,) with a 0-d target.  1 - cos is
    evaluated as (S - ab) / S with S = sqrt(AB) and, for ab > 0,
    S - ab = (AB - ab^2) / (S + ab), where AB - ab^2 is formed exactly (no
    cancellation when a and b are nearly parallel).
    """
    _check_reduction(reduction)
    m = _finite_param("margin", margin)
    a, b = _mp(input1), _mp(input2)
    _check_embedding_dims(a, b)
    t = _mp(target)
    if t.shape != a.shape[:-1]:
        raise ValueError(f"target shape {t.shape} must equal {a.shape[:-1]}")
    EPS = mpmath.mpf(9.999999960041972e-13)  # float32(1e-12): ATen's EPSILON is a float constant

    def cos_parts(u, v):
        ab = _xdot(u, v)
        A = _xadd(_xdot(u, u), EPS)
        B = _xadd(_xdot(v, v), EPS)
        return ab, mpmath.fmul(A, B, exact=True)

    def term(u, v, tv):
        ab, AB = cos_parts(u, v)
        S = mpmath.sqrt(AB)
        if tv == 1:
            if ab > 0:
                num = mpmath.fsub(AB, mpmath.fmul(ab, ab, exact=True), exact=True)
                return num / (S + ab) / S
            return (S - ab) / S
        if tv == -1:
            return max(_ZERO, ab / S - m)
        return _ZERO

    return _reduce(_rows(term, a, b, per_row=(t,)), reduction)
