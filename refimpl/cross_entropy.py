"""Cross-entropy, mirroring ``torch.nn.functional.cross_entropy``.

With log-probabilities ``logp = log_softmax(x)`` over the class dimension (dim 0
for a ``(C,)`` input, dim 1 for ``(N, C)`` and ``(N, C, d1, ..., dk)``):

Class-index targets ``t`` (integer), class weights ``w`` (ones by default),
label smoothing ``eps``, ``C`` classes, ignored positions excluded:

    nll_i    = -w[t_i] * logp_i[t_i]
    smooth_i = -sum_c w_c * logp_i[c]
    loss_i   = (1 - eps) * nll_i + (eps / C) * smooth_i
    'mean'   = sum_i loss_i / sum_{i not ignored} w[t_i]      (all ignored -> NaN)

Class-probability targets ``q`` (floating, same shape as the input):

    q'     = (1 - eps) * q + eps / C
    loss_i = -sum_c w_c * q'_c * logp_i[c]
    'mean' = sum_i loss_i / (number of samples)   -- NOT the weight sum (torch issue 107680)

Source: ATen ``cross_entropy_loss``, ``cross_entropy_loss_prob_target`` and
``cross_entropy_loss_label_smoothing`` (aten/src/ATen/native/LossNLL.cpp).

Numerics: ``-logp_c = (m - x_c) + log1p(s)`` with ``m`` the row maximum and
``s`` the sum of ``exp(x_j - m)`` over all classes but one arg-max, so the
loss of a confidently right prediction (``-logp ~ s`` tiny) keeps full
relative accuracy instead of the absolute ``eps`` of ``log(1 + s)``.
"""

from __future__ import annotations

import numpy as np

from ._common import as_f64, as_index, check_finite_param, check_reduction


def neg_log_softmax_parts(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(d, l)`` with ``-log_softmax(x) = l - d`` along ``axis``.

    ``d = x - max(x)`` (<= 0) and ``l = log1p(sum_{j != argmax} exp(d_j))`` (>= 0,
    keepdims), so both parts of ``-logp = l + (-d)`` are non-negative: no cancellation.
    """
    k = np.argmax(x, axis=axis, keepdims=True)
    m = np.take_along_axis(x, k, axis=axis)
    with np.errstate(invalid="ignore"):
        d = x - m
    e = np.exp(d)
    np.put_along_axis(e, k, 0.0, axis=axis)
    return d, np.log1p(np.sum(e, axis=axis, keepdims=True))


def _softmax_parts_into(x: np.ndarray, axis: int, buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(m, l)`` of :func:`neg_log_softmax_parts` (``d = x - m``) without keeping ``d``:
    the ``exp`` terms are formed in ``buf`` (an array of ``x``'s shape, overwritten).

    The callers pass a C-ordered ``buf``: the class sums then run in the same order
    whatever the memory layout of ``x`` (the order of a C-contiguous input).
    """
    k = np.argmax(x, axis=axis, keepdims=True)
    m = np.take_along_axis(x, k, axis=axis)
    with np.errstate(invalid="ignore"):
        e = np.subtract(x, m, out=buf)
    np.exp(e, out=e)
    np.put_along_axis(e, k, 0.0, axis=axis)
    return m, np.log1p(np.sum(e, axis=axis, keepdims=True))


def _neg_logp_into(x: np.ndarray, m: np.ndarray, l: np.ndarray, buf: np.ndarray) -> np.ndarray:
    """``-logp = l - d = l - (x - m)``, formed in ``buf``."""
    with np.errstate(invalid="ignore"):
        d = np.subtract(x, m, out=buf)
    return np.subtract(l, d, out=d)


def _class_axis(x: np.ndarray) -> int:
    if x.ndim == 0:
        raise ValueError("cross_entropy: input must have at least 1 dimension (C,)")
    return 0 if x.ndim == 1 else 1


def cross_entropy(
    input,
    target,
    weight=None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> np.ndarray:
    """Cross-entropy; float64 reference of ``torch.nn.functional.cross_entropy``.

    logp = log_softmax(x) over the class axis (axis 0 of a (C,) input, axis 1 of (N, C) / (N, C, d1, ..., dk)),
    w = class weights (ones without ``weight``), eps = label_smoothing.  Class-index targets t:
        loss_i = (1 - eps) (-w[t_i] logp_i[t_i]) + (eps / C) sum_c (-w_c logp_i[c]);  0 if t_i == ignore_index
        'mean' = sum_i loss_i / sum_{i not ignored} w[t_i]                 (all ignored: 0 / 0 = NaN)
    Probability targets q (floating), q' = (1 - eps) q + eps / C:
        loss_i = -sum_c w_c q'_ic logp_i[c]  (a zero coefficient times -logp = inf counts 0)
        'mean' = sum_i loss_i / (number of samples, numel / C)             (NOT the weights' sum)

    Parameters:
        input: logits x, a real array with at least 1 dimension (C classes on the class axis).
        target: integer class indices, the input's shape without the class axis, each in [0, C) or
            equal to ignore_index; or floating class probabilities of the input's shape.
        weight: optional real array of shape (C,).
        ignore_index: int (default -100); an index target equal to it contributes 0 to the loss and to the
            'mean' denominator.  With probability targets only the default -100 is accepted.
        reduction: 'none', 'mean' (default) or 'sum'.
        label_smoothing: eps, a real number in [0, 1] (default 0.0).
    Returns a float64 ndarray: the per-sample losses (input's shape without the class axis; 0-d for a (C,)
    input) for 'none', a 0-d array for 'mean' / 'sum'.
    Raises ValueError for an unknown reduction, label_smoothing outside [0, 1] or NaN, a 0-d input, a weight
    not of shape (C,), a target of the wrong shape or dtype, an index out of range, or ignore_index != -100
    with probability targets.
    Source: ATen ``cross_entropy_loss``, ``cross_entropy_loss_prob_target`` and
    ``cross_entropy_loss_label_smoothing`` (aten/src/ATen/native/LossNLL.cpp).
    """
    check_reduction(reduction)
    eps = check_finite_param("label_smoothing", label_smoothing, lo=0.0, hi=1.0)
    x = as_f64("input", input)
    axis = _class_axis(x)
    n_classes = x.shape[axis]
    w = None
    if weight is not None:
        w = as_f64("weight", weight)
        if w.shape != (n_classes,):
            raise ValueError(f"cross_entropy: weight must have shape ({n_classes},), got {w.shape}")
    wshape = [1] * x.ndim
    wshape[axis] = n_classes
    w_b = None if w is None else w.reshape(wshape)

    t = np.asarray(target)
    if t.dtype.kind == "f":
        if ignore_index != -100:  # torch: "ignore_index is not supported for floating point target"
            raise ValueError("cross_entropy: ignore_index is not supported for probability (floating) targets")
        return _prob_targets(x, as_f64("target", t), w_b, axis, n_classes, reduction, eps)
    t = as_index("target", t)
    return _index_targets(x, t, w, w_b, int(ignore_index), axis, n_classes, reduction, eps)


def _prob_targets(x, q, w_b, axis, n_classes, reduction, eps):
    if q.shape != x.shape:
        raise ValueError(
            f"cross_entropy: probability targets must have the input's shape {x.shape}, got {q.shape}"
        )
    per_sample = _prob_target_losses(x, q, w_b, axis, n_classes, eps)
    if reduction == "none":
        return per_sample
    total = np.sum(per_sample)
    if reduction == "sum":
        return np.asarray(total)
    n_samples = x.size // n_classes if n_classes else 0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / n_samples) if n_samples else np.asarray(np.nan)


def _prob_target_losses(x, q, w_b, axis, n_classes, eps):
    """Per-sample losses of probability targets."""
    if eps > 0.0:
        coef = q * (1.0 - eps)
        coef += eps / n_classes
        if w_b is not None:
            coef *= w_b
    else:
        coef = q if w_b is None else q * w_b
    m, l = _softmax_parts_into(x, axis, buf := np.empty(x.shape))
    # -sum_c coef_c logp_c = sum_c coef_c * (l - d_c); 0 * inf (a -inf logit with q_c = 0) counts 0, a NaN
    # logit stays NaN (the row's softmax is undefined whatever its target)
    prod = _neg_logp_into(x, m, l, buf)
    undefined = np.isnan(prod)
    with np.errstate(invalid="ignore"):
        prod *= coef
    np.copyto(prod, 0.0, where=(coef == 0) & ~undefined)
    return np.sum(prod, axis=axis)


def _index_targets(x, t, w, w_b, ignore_index, axis, n_classes, reduction, eps):
    expected = x.shape[:axis] + x.shape[axis + 1 :]
    if t.shape != expected:
        raise ValueError(f"cross_entropy: class-index target must have shape {expected}, got {t.shape}")
    ignored = t == ignore_index
    bad = ~ignored & ((t < 0) | (t >= n_classes))
    if np.any(bad):
        raise ValueError(
            f"cross_entropy: target {int(t[bad].flat[0])} is out of bounds for {n_classes} classes "
            f"(and is not ignore_index={ignore_index})"
        )
    t_safe = np.where(ignored, 0, t)
    wt = np.ones(t.shape) if w is None else w[t_safe]
    wt = np.where(ignored, 0.0, wt)
    terms = _index_target_losses(x, t_safe, wt, ignored, w_b, axis, n_classes, eps)
    if reduction == "none":
        return terms
    total = np.sum(terms)
    if reduction == "sum":
        return np.asarray(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(total / np.sum(wt))


def _index_target_losses(x, t_safe, wt, ignored, w_b, axis, n_classes, eps):
    """Per-sample losses of class-index targets (``wt``: their weights, 0 where ignored)."""
    m, l = _softmax_parts_into(x, axis, buf := np.empty(x.shape))
    idx = np.expand_dims(t_safe, axis)
    with np.errstate(invalid="ignore"):
        d_t = np.take_along_axis(x, idx, axis=axis) - m  # d at the target
    nll = np.squeeze(l - d_t, axis=axis)
    nll = np.where(ignored, 0.0, wt * nll)
    if eps == 0.0:
        return nll
    neg_logp = _neg_logp_into(x, m, l, buf)
    if w_b is not None:
        neg_logp *= w_b
    smooth = np.sum(neg_logp, axis=axis)
    smooth = np.where(ignored, 0.0, smooth)
    return (1.0 - eps) * nll + (eps / n_classes) * smooth
