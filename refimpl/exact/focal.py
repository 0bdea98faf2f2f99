"""The 60-digit mpmath transcription of ``focal`` (see :mod:`refimpl.exact`): it verifies ``refimpl.focal``."""

from __future__ import annotations

import mpmath
import numpy as np

from ._common import _ONE, _check_bce_shape, _check_reduction, _finite_param, _high_precision, _map, _mp, _reduce, _sigmoid, _softplus


@_high_precision
def focal(inputs, targets, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "none") -> np.ndarray:
    """Sigmoid focal loss; torchvision.ops.sigmoid_focal_loss (Lin et al. 2017, "Focal Loss for
    Dense Object Detection").

        p   = sigmoid(x)
        ce  = -(t log p + (1 - t) log(1 - p)) = t softplus(-x) + (1 - t) softplus(x)
        p_t = p t + (1 - p)(1 - t)
        loss = ce (1 - p_t)^gamma                     (0^0 = 1)
        if alpha >= 0: loss *= alpha t + (1 - alpha)(1 - t)

    1 - p_t is evaluated as p (1 - t) + (1 - p) t with 1 - p = sigmoid(-x) (exact
    identities, no cancellation).  Soft targets in [0, 1] use the same formula.
    """
    _check_reduction(reduction)
    a = _finite_param("alpha", alpha)
    g = _finite_param("gamma", gamma)
    if g < 0:
        raise ValueError(f"gamma must be non-negative, got {gamma!r}")
    _check_bce_shape(inputs, targets)

    def term(x, t):
        p, q = _sigmoid(x), _sigmoid(-x)  # q = 1 - p
        ce = t * _softplus(-x) + (1 - t) * _softplus(x)
        one_minus_pt = p * (1 - t) + q * t
        loss = ce * (_ONE if g == 0 else mpmath.power(one_minus_pt, g))
        if a >= 0:
            loss = (a * t + (1 - a) * (1 - t)) * loss
        return loss

    return _reduce(_map(term, _mp(inputs), _mp(targets)), reduction)
