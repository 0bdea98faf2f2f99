"""Gradient of ``refimpl.smooth_l1`` (``torch.nn.functional.smooth_l1_loss``).

    term = 0.5 r^2 / beta (|r| < beta), |r| - beta/2 otherwise,   r = x - y
    d term / d x = clip(r / beta, -1, 1) = -d term / d y          (beta > 0)
                 = sign(r)                                        (beta = 0: L1)
    times gbar = grad_output ('none'), g ('sum'), g / n ('mean').

Source: ATen ``smooth_l1_loss_backward`` (``x < -beta ? -1 : (x > beta ? 1 : x / beta)``);
beta = 0 is ``l1_loss``, whose backward is ``abs``'s: ``grad * sgn(r)``.
Kink conventions: |r| == beta gives +-1 (both branches agree, C^1); beta = 0 and
r = 0 gives 0 (``sgn(0) = 0``, torch's abs backward).
mag: a product of the exact difference r: ``|grad|``.
"""

from __future__ import annotations

import numpy as np

from .. import smooth_l1 as _reference
from .._common import as_f64, broadcast_pair
from ._common import pack, per_term, sum_to_shape


def smooth_l1(input, target, reduction: str = "mean", beta: float = 1.0, grad_output=None) -> dict:
    _reference(input, target, reduction=reduction, beta=beta)  # validates
    beta = float(beta)
    x0, y0 = as_f64("input", input), as_f64("target", target)
    x, y = broadcast_pair(x0, y0)
    r = x - y
    if beta == 0.0:
        slope = np.sign(r)
    else:
        with np.errstate(over="ignore"):
            slope = np.clip(r / beta, -1.0, 1.0)
    c = slope * per_term(grad_output, reduction, r.shape)
    return pack(
        input=(sum_to_shape(c, x0.shape), sum_to_shape(np.abs(c), x0.shape)),
        target=(sum_to_shape(-c, y0.shape), sum_to_shape(np.abs(c), y0.shape)),
    )
