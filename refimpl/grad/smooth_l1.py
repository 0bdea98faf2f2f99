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

#: the differentiated arguments (positional in call order, then keyword): ``refimpl.grad.DIFFERENTIABLE``
DIFFERENTIABLE = ('input', 'target')



def smooth_l1(input, target, reduction: str = "mean", beta: float = 1.0, grad_output=None) -> dict:
    """Gradient (VJP) of :func:`refimpl.smooth_l1`: what ``loss.backward(grad_output)`` leaves in ``.grad``.

        r = x - y (broadcast), gbar = grad_output ('none'), g ('sum'), g / n ('mean', n = number of terms)
        d/dx = clip(r / beta, -1, 1) gbar = -d/dy        (beta > 0; +-1 at |r| = beta, C^1)
        d/dx = sign(r) gbar = -d/dy                      (beta = 0, L1: 0 at r = 0, torch's sgn(0) = 0)
        each summed over the axes its argument was broadcast along (autograd's rule)

    Parameters:
        input, target, reduction, beta: as for :func:`refimpl.smooth_l1`, which is called to validate them
            (the same ValueErrors).
        grad_output: the upstream gradient: for 'mean' / 'sum' a scalar (0-d) g, default 1; for 'none'
            an array (default ones) of the unreduced terms' shape: the broadcast shape of input and target.
            Another shape raises ValueError.
    Returns a dict of float64 arrays: "input" and "target", each of its argument's shape, plus
    "input__mag" / "target__mag": non-negative magnitudes for the rounding-error bound K u mag
    (``refimpl.grad._common``); here |the contributions| summed over the broadcast axes.
    Source: ATen ``smooth_l1_loss_backward``; beta = 0: ``l1_loss`` (abs's backward, ``grad * sgn(r)``).
    """
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
