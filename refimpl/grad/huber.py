"""Gradient of ``refimpl.huber`` (``torch.nn.functional.huber_loss``).

    term = 0.5 r^2 (|r| < delta), delta (|r| - delta/2) otherwise,  r = x - y
    d term / d x = clip(r, -delta, delta) = -d term / d y,  times w (weight) and gbar
    gbar = grad_output ('none'), g ('sum'), g / n ('mean': n = number of elements, NOT
    sum(w) -- torch>=2.6's weighted huber is ``(l * w).mean()``, as the reference)

Source: ATen ``huber_loss_backward``: ``x < -delta ? -delta : (x > delta ? delta : x)``
times grad / n.  Kink convention: at |r| == delta both branches give r = +-delta
(the loss is C^1 there; clip returns the same), at r = 0 the gradient is 0.
Weight (same shape as the input): ``grad_w_j = term_j gbar_j`` (the mean divides by n, a
constant); mag ``|grad_w|`` (the term is a product / a difference of non-negative exact parts:
delta (|r| - delta/2) >= delta^2 / 2 on its branch).
mag: a product of the exact difference r: ``|grad|``.
"""

from __future__ import annotations

import numpy as np

from .. import huber as _reference
from ..huber import huber_terms
from .._common import as_f64, broadcast_pair
from ._common import pack, per_term, sum_to_shape

#: the differentiated arguments (positional in call order, then keyword): ``refimpl.grad.DIFFERENTIABLE``
DIFFERENTIABLE = ('input', 'target', 'weight')



def huber(input, target, reduction: str = "mean", delta: float = 1.0, weight=None, grad_output=None) -> dict:
    """Gradient (VJP) of :func:`refimpl.huber`: what ``loss.backward(grad_output)`` leaves in ``.grad``.

        r = x - y (broadcast), gbar = grad_output ('none'), g ('sum'), g / n ('mean', n = number of terms,
        also with weight)
        d/dx = clip(r, -delta, delta) w gbar = -d/dy     (w = 1 without weight)
        d/dw = term gbar                                 (term: the unweighted Huber term)
        each summed over the axes its argument was broadcast along (autograd's rule)
    No kinks: at |r| = delta both branches give +-delta (C^1), at r = 0 the gradient is 0.

    Parameters:
        input, target, reduction, delta, weight: as for :func:`refimpl.huber`, which is called to validate
            them (the same ValueErrors).
        grad_output: the upstream gradient: for 'mean' / 'sum' a scalar (0-d) g, default 1; for 'none'
            an array (default ones) of the unreduced terms' shape: the broadcast shape of input and target.
            Another shape raises ValueError.
    Returns a dict of float64 arrays: "input", "target" (and "weight" when given), each of its argument's
    shape, plus "<name>__mag" for each: a non-negative magnitude for the rounding-error bound K u mag
    (``refimpl.grad._common``); here the absolute contributions summed over the broadcast axes (products of
    the exact r: no cancellation).
    Source: ATen ``huber_loss_backward`` (``x < -delta ? -delta : (x > delta ? delta : x)`` times grad / n).
    """
    _reference(input, target, reduction=reduction, delta=delta, weight=weight)  # validates
    delta = float(delta)
    x0, y0 = as_f64("input", input), as_f64("target", target)
    x, y = broadcast_pair(x0, y0)
    gbar = per_term(grad_output, reduction, x.shape)
    c = np.clip(x - y, -delta, delta) * gbar
    grads = {}
    if weight is not None:
        c = c * as_f64("weight", weight)
        term = huber_terms(x, y, delta)
        w_shape = np.shape(as_f64("weight", weight))  # the input's, where input and target broadcast
        grads["weight"] = (sum_to_shape(term * gbar, w_shape), sum_to_shape(np.abs(term * gbar), w_shape))
    return pack(
        input=(sum_to_shape(c, x0.shape), sum_to_shape(np.abs(c), x0.shape)),
        target=(sum_to_shape(-c, y0.shape), sum_to_shape(np.abs(c), y0.shape)),
        **grads,
    )
