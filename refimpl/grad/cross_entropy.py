"""Gradient of ``refimpl.cross_entropy`` (``torch.nn.functional.cross_entropy``) w.r.t. the
logits, and w.r.t. probability targets.

With ``s = softmax(x)`` over the class axis, ``d(-logp_c)/dx_k = s_k - [k = c]``.

Class-index targets t (class weights w, W = sum_c w_c, smoothing eps, C classes):

    loss_i = (1-eps) w_t (-logp_t) + (eps/C) sum_c w_c (-logp_c)
    d loss_i / d x_ik = (1-eps) w_t (s_k - [k = t]) + (eps/C) (W s_k - w_k)
    mag              = (1-eps) w_t (s'_k + [k = t]) + (eps/C) (W s'_k + w_k)
    with s'_k = s_k (1 + |logp_k|): exp's condition on its argument's rounding

  times gbar_i = grad_output_i ('none'), g ('sum'), g / D ('mean', D = sum of w_t over
  the non-ignored targets -- the reference's and torch's ``total_weight``).
  Ignored positions get exactly 0 (torch: ``nll_loss_backward`` skips them, the label
  smoothing term is ``masked_fill_``-ed).  If every target is ignored ('mean': D = 0,
  the loss is NaN) the gradient is all zeros, as torch's backward gives.

Probability targets q (q' = (1-eps) q + eps/C, coef_c = w_c q'_c):

    loss_i = -sum_c coef_c logp_c
    d/dx_ik = s_k sum_c coef_c - coef_k            mag = s'_k sum_c |coef_c| + |coef_k|
    d/dq_ic = -(1-eps) w_c logp_c                  mag = (1-eps) |w_c| (|x_c - m| + lse + 1)
  (``logp = (x - m) - log sum exp(x - m)``; the log of a sum >= 1 has an absolute
  error ~u even where logp ~ 0, hence the 1).
  'mean' divides by the number of samples (not the weights: torch issue 107680).

The class weights w (torch 2.13 differentiates them with probability targets and refuses with
class indices -- known deviation ``cross_entropy_index_weight_not_differentiable`` --; the
mathematics has the gradient either way), with a_ic = -logp_ic >= 0:

    index targets:  A_ic = (1-eps) [t_i = c] a_it + (eps/C) a_ic     (loss_i = sum_c w_c A_ic)
        'none' / 'sum':  d/dw_c = sum_i gbar_i A_ic                         (non-ignored i)
        'mean':          d/dw_c = sum_i (A_ic - L [t_i = c]) g / D,  L = sum_i loss_i / D
                         (D = sum_i w_{t_i} depends on w: the quotient rule's -L [t_i = c])
        mag: sum_i |gbar_i| (A'_ic + |L| [t_i = c]), A' = A with a_ic -> a_ic + 1
    probability targets:  d/dw_c = sum_i gbar_i q'_ic a_ic   ('mean' over N: a constant)
        mag: sum_i |gbar_i| |q'_ic| (a_ic + 1)
  (a_ic = l - d_ic is computed with an absolute error ~u (|d_ic| + l + 1), as for d/dq: the +1
  keeps a confident class's a_ic ~ 0 from claiming full relative accuracy)

Numerics: ``logp = d - l`` from the reference's ``neg_log_softmax_parts`` (both parts
of ``-logp`` non-negative), ``s = exp(logp)``, and the target class's ``s_t - 1`` is
``expm1(logp_t)``: a confident right prediction keeps full relative accuracy (no
``s_t - 1`` cancellation), saturated logits (|x| ~ 1e4 and beyond) give finite,
exact gradients.

Source: ATen ``log_softmax_backward_data``, ``nll_loss_backward``,
``cross_entropy_loss_label_smoothing`` and ``cross_entropy_loss_prob_target``
(aten/src/ATen/native/LossNLL.cpp, SoftMax.cpp).  No kinks.
"""

from __future__ import annotations

import numpy as np

from .. import cross_entropy as _reference
from .._common import as_f64, as_index, pairwise_sum
from ..cross_entropy import _class_axis, neg_log_softmax_parts
from ._common import pack, per_term

#: the differentiated arguments (positional in call order, then keyword): ``refimpl.grad.DIFFERENTIABLE``
DIFFERENTIABLE = ('input', 'target', 'weight')  # target only when it is a probability target



def cross_entropy(
    input, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
    label_smoothing: float = 0.0, grad_output=None,
) -> dict:
    """Gradient (VJP) of :func:`refimpl.cross_entropy`: the logits, probability targets, weights.

    s = softmax(x), logp = log s over the class axis, C classes, eps = label_smoothing, w = class weights (ones
    by default), W = sum_c w_c, a_ic = -logp_ic; gbar_i = grad_output_i ('none'), g ('sum'), g / D ('mean').
    Index targets t (D = sum of w[t_i] over the non-ignored i; ignored samples get 0; 'mean' with D = 0: zeros):
        d/dx_ik = gbar_i [(1 - eps) w_t (s_k - [k = t]) + (eps / C) (W s_k - w_k)]   (s_t - 1 as expm1(logp_t))
        d/dw_c  = sum_i gbar_i (A_ic - L [t_i = c]),  A_ic = (1 - eps) [t_i = c] a_it + (eps / C) a_ic,
                  L = the 'mean' loss, 0 for 'none' / 'sum' (the quotient rule: D depends on w)
    Probability targets q (D = number of samples), q' = (1 - eps) q + eps / C, coef_c = w_c q'_c:
        d/dx_ik = gbar_i (s_k sum_c coef_c - coef_k),   d/dq_ic = -gbar_i (1 - eps) w_c logp_ic
        d/dw_c  = sum_i gbar_i q'_ic a_ic

    Parameters:
        input, target, weight, ignore_index, reduction, label_smoothing: as for :func:`refimpl.cross_entropy`,
            which is called to validate them (the same ValueErrors).
        grad_output: the upstream gradient: for 'mean' / 'sum' a scalar (0-d) g, default 1; for 'none'
            an array (default ones) of the unreduced terms' shape: the input's without the class axis.
            Another shape raises ValueError.
    Returns a dict of float64 arrays: "input" (the input's shape), "target" (probability targets only) and
    "weight" ((C,), when given; torch 2.13 refuses it with index targets: a known deviation), plus
    "<name>__mag" for each, a non-negative magnitude for the rounding-error bound K u mag
    (``refimpl.grad._common``): the summands in absolute value, a softmax entry as s_k (1 + |logp_k|) and
    a_ic / logp_ic with its absolute error (|x_c - max x| + log-sum-exp + 1).
    Source: ATen ``log_softmax_backward_data``, ``nll_loss_backward``, ``cross_entropy_loss_label_smoothing``
    and ``cross_entropy_loss_prob_target`` (LossNLL.cpp, SoftMax.cpp).
    """
    _reference(input, target, weight=weight, ignore_index=ignore_index, reduction=reduction,
               label_smoothing=label_smoothing)  # validates
    eps = float(label_smoothing)
    x = as_f64("input", input)
    axis = _class_axis(x)
    n_classes = x.shape[axis]
    wshape = [1] * x.ndim
    wshape[axis] = n_classes
    w = np.ones(n_classes) if weight is None else as_f64("weight", weight)
    w_b = w.reshape(wshape)
    with np.errstate(invalid="ignore"):
        d, l = neg_log_softmax_parts(x, axis)
        logp = d - l
    s = np.exp(logp)
    t = np.asarray(target)
    if t.dtype.kind == "f":
        return _prob_targets(x, as_f64("target", t), w_b, s, logp, d, l, axis, n_classes, eps, reduction, grad_output,
                             weight is not None)
    return _index_targets(x, as_index("target", t), w, w_b, s, logp, axis, n_classes, eps, int(ignore_index),
                          reduction, grad_output, weight is not None)


def _softmax_mag(s, logp):
    """The magnitude of a computed softmax entry: s_k = exp(logp_k) inherits the absolute
    rounding error of its argument, |logp_k| u, as a relative error (exp's condition), so
    s_k (1 + |logp_k|).  (Measured: float32, x_k - m = -48: 20 ulp of s_k.)"""
    return s * (1.0 + np.abs(logp))


def _index_targets(x, t, w, w_b, s, logp, axis, n_classes, eps, ignore_index, reduction, grad_output, weighted):
    ignored = t == ignore_index
    t_safe = np.where(ignored, 0, t)
    wt = np.where(ignored, 0.0, w[t_safe])
    total_weight = np.sum(wt)
    gbar = per_term(grad_output, reduction, t.shape, denominator=total_weight)
    gbar = np.where(ignored, 0.0, gbar)
    if reduction == "mean" and total_weight == 0:  # all ignored (torch: zero gradient)
        gbar = np.zeros(t.shape)
    idx = np.expand_dims(t_safe, axis)
    onehot = np.zeros(x.shape)
    np.put_along_axis(onehot, idx, 1.0, axis=axis)
    nll = s.copy()  # s_k - [k = t], the target entry as expm1(logp_t)
    np.put_along_axis(nll, idx, np.expm1(np.take_along_axis(logp, idx, axis=axis)), axis=axis)
    wt_b = np.expand_dims(wt, axis)
    grad = (1.0 - eps) * wt_b * nll
    s_mag = _softmax_mag(s, logp)
    mag = (1.0 - eps) * wt_b * (s_mag + onehot)
    if eps > 0.0:
        big_w = np.sum(w)
        grad = grad + (eps / n_classes) * (big_w * s - w_b)
        mag = mag + (eps / n_classes) * (np.abs(big_w) * s_mag + np.abs(w_b))
    g_b = np.expand_dims(gbar, axis)
    extra = {}
    if weighted:
        with np.errstate(invalid="ignore"):
            a = -logp
            big_a = (1.0 - eps) * onehot * np.take_along_axis(a, idx, axis=axis) + (eps / n_classes) * a
            big_a = np.where(np.expand_dims(ignored, axis), 0.0, big_a)
            loss = (np.sum(big_a * w_b) / total_weight) if reduction == "mean" and total_weight != 0 else 0.0
            dw = (big_a - loss * onehot) * g_b
            # a_ic = -logp_ic carries an absolute error ~u (|logp_ic| + 1) (the log of a sum >= 1, as for q)
            a_mag = np.abs(logp) + 1.0
            big_a_mag = (1.0 - eps) * onehot * np.take_along_axis(a_mag, idx, axis=axis) + (eps / n_classes) * a_mag
            dw_mag = (np.where(np.expand_dims(ignored, axis), 0.0, big_a_mag) + abs(loss) * onehot) * np.abs(g_b)
        others = tuple(k for k in range(x.ndim) if k != axis)
        extra["weight"] = (pairwise_sum(dw, others), pairwise_sum(dw_mag, others))
    return pack(input=(grad * g_b, mag * np.abs(g_b)), **extra)


def _prob_targets(x, q, w_b, s, logp, d, l, axis, n_classes, eps, reduction, grad_output, weighted):
    qprime = (1.0 - eps) * q + eps / n_classes if eps > 0.0 else q
    coef = qprime * w_b
    n_samples = x.size // n_classes if n_classes else 0
    gbar = per_term(grad_output, reduction, np.sum(x, axis=axis).shape, denominator=n_samples)
    g_b = np.expand_dims(gbar, axis)
    sum_coef = np.sum(coef, axis=axis, keepdims=True)
    sum_abs = np.sum(np.abs(coef), axis=axis, keepdims=True)
    grad_x = (s * sum_coef - coef) * g_b
    mag_x = (_softmax_mag(s, logp) * sum_abs + np.abs(coef)) * np.abs(g_b)
    grad_q = -(1.0 - eps) * w_b * logp * g_b
    mag_q = (1.0 - eps) * np.abs(w_b) * (np.abs(d) + l + 1.0) * np.abs(g_b)
    extra = {}
    if weighted:
        others = tuple(k for k in range(x.ndim) if k != axis)
        with np.errstate(invalid="ignore"):
            dw = np.where(qprime == 0, 0.0, -qprime * logp) * g_b  # 0 * inf (a -inf logit) counts 0
        dw_mag = np.abs(qprime) * (np.abs(d) + l + 1.0) * np.abs(g_b)  # a_ic's absolute error, as for q
        extra["weight"] = (pairwise_sum(dw, others), pairwise_sum(dw_mag, others))
    return pack(input=(grad_x, mag_x), target=(grad_q, mag_q), **extra)
