"""Gradient of ``refimpl.kl_div`` (``torch.nn.functional.kl_div``).

log_target=False: term = xlogy(t, t) - t x
    d/dx = -t                       mag |t|
    d/dt = log t + 1 - x            mag |log t| + 1 + |x|
log_target=True:  term = exp(t) (t - x)
    d/dx = -exp(t)                  mag exp(t)
    d/dt = exp(t) (t - x + 1)       mag exp(t) (|t| + |x| + 1)
times gbar = grad_output ('none'), g ('sum'), g / numel ('mean'), g / input.shape[0]
('batchmean'; the sum for a 0-d input); for broadcast arguments summed back to each one's shape.

Source: ATen ``kl_div`` (a composite: autograd differentiates ``xlogy`` and ``*``;
derivatives.yaml: xlogy's ``other`` gradient is ``grad * self / other``).
Convention at the boundary t = 0 (log_target=False): the input gradient is -0, the
target gradient is NaN -- torch's value (``0 / 0`` in xlogy's backward); the one-sided
derivative of the mathematics is -inf.  log_target=True, t = -inf (the reference's
zero-probability term, 0): both gradients 0 (their limits; torch gives NaN there, as its
forward does).  No other non-smooth points.
"""

from __future__ import annotations

import numpy as np

from .. import kl_div as _reference
from .._common import as_f64, broadcast_pair
from ._common import pack, per_term, sum_to_shape

#: the differentiated arguments (positional in call order, then keyword): ``refimpl.grad.DIFFERENTIABLE``
DIFFERENTIABLE = ('input', 'target')



def kl_div(input, target, reduction: str = "mean", log_target: bool = False, grad_output=None) -> dict:
    """Gradient (VJP) of :func:`refimpl.kl_div`: what ``loss.backward(grad_output)`` leaves in ``.grad``.

        gbar = grad_output ('none'), g ('sum'), g / numel ('mean'), g / input.shape[0] ('batchmean'; g for a
        0-d input)
        log_target=False:  d/dx = -t gbar,        d/dt = (log t + 1 - x) gbar    (NaN at t = 0: torch's 0 / 0)
        log_target=True:   d/dx = -exp(t) gbar,   d/dt = exp(t) (t - x + 1) gbar  (0 at t = -inf, the limit)
        each summed over the axes its argument was broadcast along (autograd's rule)

    Parameters:
        input, target, reduction, log_target: as for :func:`refimpl.kl_div`, which is called to validate them
            (the same ValueErrors).
        grad_output: the upstream gradient: for 'mean' / 'sum' / 'batchmean' a scalar (0-d) g, default 1; for 'none'
            an array (default ones) of the unreduced terms' shape: the broadcast shape of input and target.
            Another shape raises ValueError.
    Returns a dict of float64 arrays: "input" and "target", each of its argument's shape, plus "input__mag" /
    "target__mag", a non-negative magnitude for the rounding-error bound K u mag (``refimpl.grad._common``):
    |t| |gbar| and (|log t| + 1 + |x|) |gbar|; exp(t) |gbar| and exp(t) (|t| + |x| + 1) |gbar| (log_target).
    Source: ATen ``kl_div`` (a composite; xlogy's ``other`` gradient ``grad * self / other``, derivatives.yaml).
    """
    _reference(input, target, reduction=reduction, log_target=log_target)  # validates
    x0, t0 = as_f64("input", input), as_f64("target", target)
    x, t = broadcast_pair(x0, t0)
    denom = (x0.shape[0] if x0.ndim else 1) if reduction == "batchmean" else None
    gbar = per_term(grad_output, reduction, x.shape, denominator=denom)
    ag = np.abs(gbar)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if log_target:
            et = np.exp(t)
            gx, gx_mag = -et * gbar, et * ag
            # t = -inf: the reference's term is 0 (a zero probability); the limit of the derivative is 0
            gt = np.where(t == -np.inf, 0.0, et * (t - x + 1.0) * gbar)
            gt_mag = np.where(t == -np.inf, 0.0, et * (np.abs(t) + np.abs(x) + 1.0) * ag)
        else:
            log_t = np.log(t)
            gx, gx_mag = -t * gbar, np.abs(t) * ag
            gt = np.where(t == 0, np.nan, (log_t + 1.0 - x) * gbar)
            gt_mag = (np.abs(log_t) + 1.0 + np.abs(x)) * ag
    # a broadcast argument's gradient sums over the dims it was broadcast along (autograd's rule)
    return pack(input=(sum_to_shape(gx, x0.shape), sum_to_shape(gx_mag, x0.shape)),
                target=(sum_to_shape(gt, t0.shape), sum_to_shape(gt_mag, t0.shape)))
