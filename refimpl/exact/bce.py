"""The 60-digit mpmath transcription of ``bce`` (see :mod:`refimpl.exact`): it verifies ``refimpl.bce``."""

from __future__ import annotations

import mpmath
import numpy as np

from ._common import _check_bce_shape, _check_reduction, _high_precision, _map, _mp, _reduce


@_high_precision
def bce(input, target, weight=None, reduction: str = "mean", *, clamp_log: bool = False) -> np.ndarray:
    """Binary cross entropy on probabilities; torch.nn.functional.binary_cross_entropy
    (ATen ``binary_cross_entropy``).

        term = -w (t max(log x, -100) + (1 - t) max(log(1 - x), -100))

    torch clamps each log at -100 (so log 0 = -inf becomes -100): ``clamp_log=True``;
    without it a zero-weighted log 0 counts 0 (0 log 0 = 0).  log(1 - x)
    is evaluated as log1p(-x) (exact for tiny x).  ``weight`` broadcasts to
    the input shape.  Inputs (and targets) outside [0, 1] are rejected, as torch does.
    """
    _check_reduction(reduction)
    _check_bce_shape(input, target)
    floor = mpmath.mpf(-100) if clamp_log else mpmath.ninf

    def term(x, t):
        if not 0 <= x <= 1:
            raise ValueError(f"bce input values must be in [0, 1], got {x}")
        if not 0 <= t <= 1:
            raise ValueError(f"bce target values must be in [0, 1], got {t}")
        pos = 0 if t == 0 else -t * max(mpmath.log(x) if x > 0 else mpmath.ninf, floor)
        neg = 0 if t == 1 else -(1 - t) * max(mpmath.log1p(-x) if x < 1 else mpmath.ninf, floor)
        return pos + neg

    terms = _map(term, _mp(input), _mp(target))
    if weight is not None:
        terms = _map(lambda tm, wi: wi * tm, terms, _mp(weight))
    return _reduce(terms, reduction)
