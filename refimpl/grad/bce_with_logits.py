"""Gradient of ``refimpl.bce_with_logits`` (``F.binary_cross_entropy_with_logits``).

    term = w (pw t softplus(-x) + (1 - t) softplus(x))
    d term / d x = w ((1 - t) sigmoid(x) - pw t sigmoid(-x))
                 (= w ((1 + (pw - 1) t) sigmoid(x) - pw t), torch's form)
    d term / d t = w (pw softplus(-x) - softplus(x))
                 (torch: log_sigmoid(-x) - pw log_sigmoid(x); -x without pos_weight)
    times gbar = grad_output ('none'), g ('sum'), g / n ('mean').

Weight and pos_weight (each broadcast to the input; torch 2.13 refuses to differentiate either --
known deviation ``bce_with_logits_weights_not_differentiable`` --, the mathematics has the gradients):

    d term / d w  = pw t softplus(-x) + (1 - t) softplus(x)     (the unweighted term)
    d term / d pw = w t softplus(-x)
    times gbar, summed over the broadcast axes (autograd's rule for an expanded argument);
    mag (weight): torch's form of the term, ``(1 - t) x + (1 + (pw - 1) t) softplus(-x)``, cancels for
    x << 0, t = 0 (the term ~e^x is formed from two parts ~|x|): ``|(1 - t) x| + (1 + |pw - 1| |t|)
    softplus(-x)`` (measured: Keras's float32 term at x = -65.5 is 0, the exact one 3.4e-29);
    mag (pos_weight): ``|w t softplus(-x)|`` (a product, no cancellation).

Source: ATen ``binary_cross_entropy_with_logits_backward`` and
``binary_cross_entropy_with_logits_target_backward`` (FunctionsManual.cpp).
Smooth everywhere (no kinks).  Numerics: both forms are sums of two non-negative
parts, each a sigmoid (``refimpl.bce_with_logits.sigmoid``) or a softplus (the reference's
``softplus_pair``), so saturated logits (|x| up to 1e30) give finite, accurate values.
mag: the summands of torch's forms, which cancel where this module's do not:
input ``w |gbar| ((1 + |pw - 1| |t|) sigmoid(x) + pw |t|)`` (``1 + (pw - 1) t`` is
itself a sum; without pos_weight ``sigmoid(x) + |t|``); target
``w |gbar| (pw softplus(-x) + softplus(x))``.
"""

from __future__ import annotations

import numpy as np

from .. import bce_with_logits as _reference
from .._common import as_f64, broadcast_weight
from ..bce_with_logits import bce_with_logits_terms, sigmoid as expit, softplus_pair
from ._common import pack, per_term, weight_gradient, weighted_per_term

#: the differentiated arguments (positional in call order, then keyword): ``refimpl.grad.DIFFERENTIABLE``
DIFFERENTIABLE = ('input', 'target', 'weight', 'pos_weight')



def bce_with_logits(input, target, weight=None, reduction: str = "mean", pos_weight=None, grad_output=None) -> dict:
    """Gradient (VJP) of :func:`refimpl.bce_with_logits`: what ``loss.backward(grad_output)`` leaves in ``.grad``.

        G = grad_output ('none'), g ('sum'), g / n ('mean', n = numel);  gbar = w G;  w = pw = 1 when not given
        d/dx  = gbar ((1 - t) sigmoid(x) - pw t sigmoid(-x))     (= gbar ((1 + (pw - 1) t) sigmoid(x) - pw t))
        d/dt  = gbar (pw softplus(-x) - softplus(x))
        d/dw  = G (pw t softplus(-x) + (1 - t) softplus(x))      (the unweighted term)
        d/dpw = G w t softplus(-x)
        d/dw and d/dpw summed over the axes the weight was broadcast along (autograd's rule for an expand)

    Parameters:
        input, target, weight, reduction, pos_weight: as for :func:`refimpl.bce_with_logits`, which is called
            to validate them (the same ValueErrors).
        grad_output: the upstream gradient: for 'mean' / 'sum' a scalar (0-d) g, default 1; for 'none'
            an array (default ones) of the unreduced terms' shape: the input's.
            Another shape raises ValueError.
    Returns a dict of float64 arrays: "input", "target" (and "weight" / "pos_weight" when given, which torch
    2.13 refuses to differentiate: a known deviation), each of its argument's shape, plus "<name>__mag" for
    each, a non-negative magnitude for the rounding-error bound K u mag (``refimpl.grad._common``): the
    summands of torch's forms -- input |gbar| ((1 + |pw - 1| |t|) sigmoid(x) + |pw t|), target
    |gbar| (|pw softplus(-x)| + softplus(x)), weight sum |G| (|(1 - t) x| + (1 + |pw - 1| |t|) softplus(-x)),
    pos_weight sum |G w t softplus(-x)|.
    Source: ATen ``binary_cross_entropy_with_logits_backward`` and ``..._target_backward`` (FunctionsManual.cpp).
    """
    _reference(input, target, weight=weight, reduction=reduction, pos_weight=pos_weight)  # validates
    x, t = as_f64("input", input), as_f64("target", target)
    gbar = weighted_per_term(grad_output, reduction, x.shape, weight)
    pw = broadcast_weight(pos_weight, x.shape, name="pos_weight")
    pw = np.ones(x.shape) if pw is None else pw
    torch_mag = (1.0 + np.abs(pw - 1.0) * np.abs(t)) * expit(x) + np.abs(pw * t)
    neg, pos = (1.0 - t) * expit(x), pw * t * expit(-x)
    sp_x, sp_neg_x = softplus_pair(x)
    with np.errstate(invalid="ignore"):
        gt_neg, gt_pos = sp_x, pw * sp_neg_x
    ag = np.abs(gbar)
    extra, g0 = {}, per_term(grad_output, reduction, x.shape)
    if weight is not None:
        dw, _ = weight_gradient(bce_with_logits_terms(x, t, pos_weight=pw), g0, weight)
        with np.errstate(invalid="ignore"):
            torch_parts = np.abs((1.0 - t) * x) + (1.0 + np.abs(pw - 1.0) * np.abs(t)) * sp_neg_x
        extra["weight"] = (dw, weight_gradient(torch_parts, np.abs(g0), weight)[0])
    if pos_weight is not None:
        w = broadcast_weight(weight, x.shape)
        with np.errstate(invalid="ignore"):
            d_pw = np.where(t == 0, 0.0, t * sp_neg_x) * (1.0 if w is None else w)
        extra["pos_weight"] = weight_gradient(d_pw, g0, pos_weight)
    return pack(
        input=((neg - pos) * gbar, torch_mag * ag),
        target=((gt_pos - gt_neg) * gbar, (np.abs(gt_pos) + gt_neg) * ag),
        **extra,
    )
