"""Gradient of ``refimpl.bce`` (``torch.nn.functional.binary_cross_entropy``).

    term = -w (t log x + (1 - t) log(1 - x))
    d term / d x = w (x - t) / (x (1 - x))   = w (-t/x + (1-t)/(1-x))
    d term / d t = w (log(1 - x) - log x)    = -w logit(x)
    times gbar = grad_output ('none'), g ('sum'), g / n ('mean').

``clamp_log`` as in the reference (default False, the mathematics).  ``clamp_log=True``
(torch's semantics, what the BCE spec compares with) mirrors torch's backward, which does
NOT differentiate the forward's clamp of each log at -100:

* input: ATen ``binary_cross_entropy_backward`` computes
  ``grad * (x - t) / max((1 - x) x, EPSILON)`` with ``EPSILON = 1e-12`` (a float32
  constant: 9.999999960041972e-13 in float64), times w.  So at
  x = 0 or 1 the gradient is finite (+-|x - t| / 1e-12), and wherever
  ``x (1 - x) < 1e-12`` (x below ~1e-12 or within ~1e-12 of 1) it is that clamped
  quotient, not the derivative of the (clamped or unclamped) loss.
* target: ``binary_cross_entropy_target_backward`` is ``-logit(x) * grad * w``,
  unclamped: +inf at x = 0, -inf at x = 1 (the clamped forward's derivative would be
  +-100 there, and differs from -logit(x) only for x < e^-100).

``clip`` as in the reference (Keras's clip of the probabilities to [lo, hi] before the logs,
``clip=EPS`` for [EPS, 1 - EPS]): autograd of ``-(t log x_c + (1 - t) log(1 - x_c))`` with
``x_c = clamp(x, lo, hi)``, i.e. with torch.clamp's backward, which passes the gradient where
lo <= x <= hi (bounds included) and gives 0 outside:

    d term / d x = w (x_c - t) / (x_c (1 - x_c))   for lo <= x <= hi, else 0
    d term / d t = -w logit(x_c)

(x_c (1 - x_c) > 0 for lo > 0: no pole; ``clamp_log`` has no effect with a clip).

``clamp_log=False`` (the mathematics) returns the exact derivatives: the input gradient
is ``w (x - t) / (x (1 - x))`` for 0 < x < 1 and, at the ends, its limit
``-t/x + (1-t)/(1-x)`` with the reference's conventions (a t = 0 or t = 1 summand is 0):
-inf at x = 0 with t > 0, 1 at x = 0 with t = 0, and so on; the target gradient is
``-logit(x)`` as above.

Weight (broadcast to the input; torch 2.13 refuses to differentiate it -- known deviation
``bce_weight_not_differentiable`` --, the mathematics has the gradient): the loss is linear in w,

    d/dw = sum over the broadcast axes of  l_j gbar_j,   l_j = the unweighted term
    (with ``clamp_log`` / ``clip`` as in the forward: the weight multiplies what is computed)

mag ``|l_j gbar_j|`` summed (l_j is a sum of two non-negative products).

Numerics: ``x - t`` is a difference of exact inputs and ``1 - x`` is exact for x >= 1/2,
so the input gradient is a product/quotient of accurate factors; ``-logit(x)`` is
``log1p((1 - 2x)/x)`` for 1/4 <= x <= 3/4 (``1 - 2x`` exact: no cancellation near
x = 1/2, where the value is ~0) and ``log1p(-x) - log(x)`` elsewhere (the two logs
differ in size by a factor > 4 there: no cancellation; no overflow of 1/x either).
mag: input: ``w (t/x + (1-t)/(1-x)) |gbar|``, the two summands of the textbook form (at
least ``|grad|``): torch's ``(x - t) / (x (1 - x))`` has no cancellation, but the textbook
``-t/x + (1-t)/(1-x)`` -- what autograd of ``-(t log x + (1-t) log(1-x))`` computes -- cancels
to 0 at x = t and is exact only to u times its summands (the bound covers both algorithms);
where a summand is infinite (x = 0 or 1) ``|grad|``.  target: ``w (|log(1-x)| + |log x|) |gbar|``
(the two logs).
"""

from __future__ import annotations

import numpy as np

from .. import bce as _reference
from ..bce import clip_bounds
from .._common import as_f64
from ._common import pack, per_term, weight_gradient, weighted_per_term

#: ATen Loss.cpp's floor of x (1 - x) in the backward, ``EPSILON = 1e-12`` -- a float
#: literal: in float64 arithmetic it is float32(1e-12) = 9.999999960041972e-13 (measured:
#: torch 2.13 gives -1000000003995.8029 for x = 0, t = 1, i.e. -1 / float32(1e-12)).
EPSILON = float(np.float32(1e-12))

#: the differentiated arguments (positional in call order, then keyword): ``refimpl.grad.DIFFERENTIABLE``
DIFFERENTIABLE = ('input', 'target', 'weight')



def neg_logit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(-logit(x), |log(1-x)| + |log x|)`` for x in [0, 1], accurate to a few ulps."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_x, log_1mx = np.log(x), np.log1p(-x)
        near_half = np.log1p((1.0 - 2.0 * x) / x)
        far = log_1mx - log_x
    return np.where(np.abs(x - 0.5) <= 0.25, near_half, far), np.abs(log_1mx) + np.abs(log_x)


def bce(input, target, weight=None, reduction: str = "mean", *, clamp_log: bool = False, clip=None,
        grad_output=None) -> dict:
    """Gradient (VJP) of :func:`refimpl.bce`: what ``loss.backward(grad_output)`` leaves in ``.grad``.

        G = grad_output ('none'), g ('sum'), g / n ('mean', n = numel);  gbar = w G (w = 1 without weight)
        d/dx = gbar (x - t) / (x (1 - x))   for 0 < x < 1; at x = 0 or 1 the limit of -t/x + (1 - t)/(1 - x)
               (a t = 0 / t = 1 summand counts 0);   clamp_log=True: torch's gbar (x - t) / max(x (1 - x), EPSILON),
               EPSILON = float32(1e-12) (not the derivative of the clamp)
        d/dt = -gbar logit(x) = gbar (log(1 - x) - log x)      (unclamped: +-inf at x = 0 / 1)
        clip (lo, hi): x_c = clip(x, lo, hi); d/dx = gbar (x_c - t) / (x_c (1 - x_c)) for lo <= x <= hi, else 0;
               d/dt = -gbar logit(x_c)
        d/dw = sum over the weight's broadcast axes of l G, l = the unweighted term (with clamp_log / clip)

    Parameters:
        input, target, weight, reduction, clamp_log, clip: as for :func:`refimpl.bce`, which is called to
            validate them (the same ValueErrors).
        grad_output: the upstream gradient: for 'mean' / 'sum' a scalar (0-d) g, default 1; for 'none'
            an array (default ones) of the unreduced terms' shape: the input's.
            Another shape raises ValueError.
    Returns a dict of float64 arrays: "input", "target" (and "weight" when given, which torch 2.13 refuses
    to differentiate: a known deviation), each of its argument's shape, plus "<name>__mag" for each, a
    non-negative magnitude for the rounding-error bound K u mag (``refimpl.grad._common``): input
    max(|gbar| (|t| / x + |1 - t| / (1 - x)), |grad|) (|grad| where a summand is infinite; 0 outside a clip),
    target |gbar| (|log(1 - x)| + |log x|), weight the sum of |l G|.
    Source: ATen ``binary_cross_entropy_backward`` and ``binary_cross_entropy_target_backward``.
    """
    _reference(input, target, weight=weight, reduction=reduction, clamp_log=clamp_log, clip=clip)  # validates
    x, t = as_f64("input", input), as_f64("target", target)
    gbar = weighted_per_term(grad_output, reduction, x.shape, weight)
    extra = {} if weight is None else {"weight": weight_gradient(
        _reference(x, t, reduction="none", clamp_log=clamp_log, clip=clip), per_term(grad_output, reduction, x.shape),
        weight)}
    bounds = clip_bounds(clip)
    if bounds is not None:
        return {**_clipped(x, t, gbar, *bounds), **pack(**extra)}
    prod = x * (1.0 - x)
    with np.errstate(divide="ignore", invalid="ignore"):
        # (x - t) gbar first: a zero upstream gradient gives 0 where 1/(x(1-x)) overflows
        if clamp_log:
            gx = ((x - t) * gbar) / np.maximum(prod, EPSILON)
        else:
            ends = np.where(t == 0, 0.0, -t / x) + np.where(t == 1, 0.0, (1.0 - t) / (1.0 - x))
            gx = np.where(prod > 0, ((x - t) * gbar) / np.where(prod > 0, prod, 1.0), ends * gbar)
        summands = np.abs(gbar) * (np.abs(t) / x + np.abs(1.0 - t) / (1.0 - x))
        gx_mag = np.where(np.isfinite(summands), np.maximum(summands, np.abs(gx)), np.abs(gx))
    nl, nl_mag = neg_logit(x)
    with np.errstate(invalid="ignore"):
        gt = nl * gbar
        gt_mag = nl_mag * np.abs(gbar)
    return pack(input=(gx, gx_mag), target=(gt, gt_mag), **extra)


def _clipped(x: np.ndarray, t: np.ndarray, gbar: np.ndarray, lo: float, hi: float) -> dict:
    """The gradients with the probabilities clipped to [lo, hi] (see the module docstring)."""
    xc = np.clip(x, lo, hi)
    inside = (x >= lo) & (x <= hi)  # torch.clamp's backward: bounds included; NaN: outside (0 * NaN below)
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = ((xc - t) * gbar) / (xc * (1.0 - xc))
        gx = np.where(inside, quotient, np.where(np.isnan(x), np.nan, 0.0))
        summands = np.abs(gbar) * (np.abs(t) / xc + np.abs(1.0 - t) / (1.0 - xc))
        gx_mag = np.where(inside, np.maximum(summands, np.abs(gx)), 0.0)
    nl, nl_mag = neg_logit(xc)
    with np.errstate(invalid="ignore"):
        return pack(input=(gx, gx_mag), target=(nl * gbar, nl_mag * np.abs(gbar)))
