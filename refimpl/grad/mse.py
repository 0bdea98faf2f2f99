"""Gradient of ``refimpl.mse`` (``torch.nn.functional.mse_loss``).

    term_j = w_j r_j^2,  r = x - y (broadcast)       d term_j / d x_j = 2 w_j r_j = -d term_j / d y_j
    VJP:   grad_x = 2 w r gbar,  grad_y = -grad_x     (summed over broadcast axes, autograd's rule)
    gbar = grad_output ('none'), g ('sum'), g / n ('mean'), g / sum(w) ('mean' with weight:
    torch>=2.6 divides by sum(weight), the reference's denominator)

Source: ATen ``mse_loss_backward`` (2 (x - y) grad / n) and the weighted branch of
``F.mse_loss`` (``torch.pow(r, 2) * weight``, autograd: pow backward 2 r).
Weight (same shape as the input; l_j = r_j^2 the unweighted term):

    'none' / 'sum':  grad_w_j = l_j gbar_j
    'mean':          L = sum(w l) / S, S = sum(w):   grad_w_j = (l_j - L) g / S
                     (the quotient rule: the normaliser sum(w) depends on w too -- an
                     implementation that treats it as a constant, ``weight.sum().item()``,
                     misses the -L g / S)

No kinks.  mag: a single product of the exact difference r: ``|grad|`` (per
element, before the broadcast sum; the sum's mag is the sum of the |contributions|);
weight: ``(l_j + |L|) |g| / S`` for 'mean' (the difference l_j - L cancels), ``|l_j gbar_j|`` otherwise.
"""

from __future__ import annotations

import numpy as np

from .. import mse as _reference
from .._common import as_f64, broadcast_pair
from ._common import pack, per_term, sum_to_shape

#: the differentiated arguments (positional in call order, then keyword): ``refimpl.grad.DIFFERENTIABLE``
DIFFERENTIABLE = ('input', 'target', 'weight')



def mse(input, target, reduction: str = "mean", weight=None, grad_output=None) -> dict:
    """Gradient (VJP) of :func:`refimpl.mse`: what ``loss.backward(grad_output)`` leaves in ``.grad``.

        r = x - y (broadcast), l = r^2, gbar = grad_output ('none'), g ('sum'), g / n ('mean'),
        g / S ('mean' with weight, S = sum(w): torch>=2.6's denominator)
        d/dx = 2 w r gbar = -d/dy       (w = 1 without weight; summed over the axes x / y was broadcast along)
        d/dw_j = l_j gbar_j ('none' / 'sum');  (l_j - L) g / S ('mean', L = sum(w l) / S: the quotient
                 rule, S depends on w); l_j summed over the axes w was broadcast along, L subtracted once

    Parameters:
        input, target, reduction, weight: as for :func:`refimpl.mse`, which is called to validate them
            (the same ValueErrors).
        grad_output: the upstream gradient: for 'mean' / 'sum' a scalar (0-d) g, default 1; for 'none'
            an array (default ones) of the unreduced terms' shape: the broadcast shape of input and target.
            Another shape raises ValueError.
    Returns a dict of float64 arrays: "input", "target" (and "weight" when given), each of its argument's
    shape, plus "<name>__mag" for each: a non-negative magnitude (every summand of the formula in absolute
    value) for the rounding-error bound K u mag (``refimpl.grad._common``): |2 w r gbar| summed over the
    broadcast axes; weight |l gbar| ('none' / 'sum'), (l_j + |L|) |g| / S ('mean').
    Source: ATen ``mse_loss_backward``; the weighted branch of ``F.mse_loss`` (pow, autograd).
    """
    _reference(input, target, reduction=reduction, weight=weight)  # validates
    x0, y0 = as_f64("input", input), as_f64("target", target)
    x, y = broadcast_pair(x0, y0)
    r = x - y
    grads = {}
    if weight is None:
        c = 2.0 * r * per_term(grad_output, reduction, r.shape)
    else:
        w = as_f64("weight", weight)
        gbar = per_term(grad_output, reduction, r.shape, denominator=np.sum(w))
        c = 2.0 * r * w * gbar
        grads["weight"] = _weight_gradient(r * r, w, gbar, reduction)  # summed to the weight's shape
    return pack(
        input=(sum_to_shape(c, x0.shape), sum_to_shape(np.abs(c), x0.shape)),
        target=(sum_to_shape(-c, y0.shape), sum_to_shape(np.abs(c), y0.shape)),
        **grads,
    )


def _weight_gradient(l: np.ndarray, w: np.ndarray, gbar: np.ndarray, reduction: str):
    """``(d/dw, mag)`` of the weighted MSE (see the module docstring), ``w`` of the input's shape and ``l``
    of the broadcast one: the products summed over the axes ``w`` was broadcast along; ``gbar`` already
    carries the 1 / sum(w) of 'mean', which then also subtracts the weighted mean L once per weight
    element (the normaliser sum(w) is over the weight's own elements)."""
    d, mag = sum_to_shape(l * gbar, w.shape), sum_to_shape(np.abs(l * gbar), w.shape)
    if reduction != "mean":
        return d, mag
    with np.errstate(invalid="ignore", divide="ignore"):
        big_l = np.sum(w * l) / np.sum(w)
    g = gbar.flat[0] if np.size(gbar) else 0.0  # 'mean': one value, g / sum(w)
    return d - big_l * g, mag + np.abs(big_l) * np.abs(g)
