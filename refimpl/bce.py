"""Binary cross-entropy on probabilities, mirroring ``torch.nn.functional.binary_cross_entropy``.

    term_i = -w_i * ( t_i * max(log x_i, -100) + (1 - t_i) * max(log(1 - x_i), -100) )

The clamp of each log at -100 is torch's (documented in ``nn.BCELoss``: "BCELoss
clamps its log function outputs to be greater than or equal to -100", so an
input of exactly 0 or 1 gives a finite loss); ``clamp_log=False`` gives the
unclamped mathematics (an infinite loss there).  ``weight`` is broadcast to the
target's shape as torch's ``expand`` does.  ``log(1 - x)`` is ``log1p(-x)``.

Source: ATen ``binary_cross_entropy`` (aten/src/ATen/native/Loss.cpp).
"""

from __future__ import annotations

import numpy as np

from ._common import as_f64, check_reduction, check_same_shape, reduce, weighted

LOG_CLAMP = -100.0


def bce(input, target, weight=None, reduction: str = "mean", *, clamp_log: bool = True) -> np.ndarray:
    check_reduction(reduction)
    x = as_f64("input", input)
    t = as_f64("target", target)
    check_same_shape("binary_cross_entropy", x, t)
    if np.any((x < 0) | (x > 1)) or np.any(np.isnan(x)):
        raise ValueError("binary_cross_entropy: all elements of input must be in [0, 1]")
    with np.errstate(divide="ignore"):
        log_x, log_1mx = np.log(x), np.log1p(-x)
    if clamp_log:
        log_x, log_1mx = np.maximum(log_x, LOG_CLAMP), np.maximum(log_1mx, LOG_CLAMP)
    # each product is >= 0 for t in [0, 1]; 0 * (-inf) without the clamp counts 0
    with np.errstate(invalid="ignore"):
        pos = np.where(t == 0, 0.0, -t * log_x)
        neg = np.where(t == 1, 0.0, -(1.0 - t) * log_1mx)
    return reduce(weighted(pos + neg, weight), reduction)
