"""The 60-digit mpmath transcription of ``smooth_l1`` (see :mod:`refimpl.exact`): it verifies ``refimpl.smooth_l1``."""

from __future__ import annotations

import numpy as np

from ._common import _check_reduction, _finite_param, _high_precision, _map, _mp, _reduce


@_high_precision
def smooth_l1(input, target, reduction: str = "mean", beta: float = 1.0) -> np.ndarray:
    """Smooth L1 loss; torch.nn.functional.smooth_l1_loss (ATen ``smooth_l1_loss``; Girshick 2015).

        z = |x - y|;  beta == 0: term = z  (torch dispatches to l1_loss)
        else:         term = 0.5 z^2 / beta if z < beta else z - 0.5 beta
    """
    _check_reduction(reduction)
    b = _finite_param("beta", beta)
    if b < 0:
        raise ValueError(f"beta must be non-negative, got {beta!r}")

    def term(x, y):
        z = abs(x - y)
        if b == 0:
            return z
        return z * z / (2 * b) if z < b else z - b / 2

    return _reduce(_map(term, _mp(input), _mp(target)), reduction)
