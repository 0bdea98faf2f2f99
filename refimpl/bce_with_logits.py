"""Binary cross-entropy on logits, mirroring ``torch.nn.functional.binary_cross_entropy_with_logits``.

    term_i = w_i * ( pw_i * t_i * softplus(-x_i) + (1 - t_i) * softplus(x_i) )
           = -w_i * ( pw_i * t_i * log sigmoid(x_i) + (1 - t_i) * log(1 - sigmoid(x_i)) )

``pos_weight`` (pw) broadcasts against the input (shape ``(C,)`` weighs the last,
class, dimension) and ``weight`` (w) likewise.  Torch evaluates the algebraically
equal ``(1 - t) x - (1 + (pw - 1) t) log sigmoid(x)``, whose two parts cancel
for large negative ``x`` with ``t = 0``; the reference writes the loss as a sum
of two non-negative softplus terms, stable for every finite logit:
``softplus(+-x) = max(+-x, 0) + log1p(exp(-|x|))`` (the formula of
``numpy.logaddexp(0, z)``; the two share one ``exp`` and one ``log1p``).

Source: ATen ``binary_cross_entropy_with_logits`` (aten/src/ATen/native/Loss.cpp).
"""

from __future__ import annotations

import numpy as np

from ._common import as_f64, broadcast_weight, check_reduction, check_same_shape, elementwise, reduce


def softplus_pair(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(softplus(z), softplus(-z))``, ``softplus(z) = log(1 + exp(z))``, exact to a few ulps for every z.

    ``max(+-z, 0) + log1p(exp(-|z|))``: numpy's ``logaddexp(0, +-z)`` formula, with
    the ``exp`` and ``log1p`` shared by the two signs.
    """
    with np.errstate(invalid="ignore"):  # NaN in, NaN out
        tail = np.log1p(np.exp(-np.abs(z)))
        return np.maximum(z, 0.0) + tail, np.maximum(-z, 0.0) + tail


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), exact to a few ulps for every z, the subnormal range included.

    ``e / (1 + e)`` with ``e = exp(-|z|)`` for z < 0: ``scipy.special.expit`` computes
    1 / (1 + exp(-z)) there, which is 0 for z < -709 (exp overflows) where the sigmoid is still
    a subnormal (z = -723.4: 6.8e-315; found by the suite's kornia focal comparison)."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + exp(z)), exact to a few ulps for every z (see :func:`softplus_pair`)."""
    return softplus_pair(z)[0]


def bce_with_logits_terms(x: np.ndarray, t: np.ndarray, pos_weight=None, weight=None) -> np.ndarray:
    """The unreduced terms (elementwise; ``pos_weight``/``weight`` already broadcast, or None)."""
    sp_x, sp_neg_x = softplus_pair(x)
    # a zero coefficient times an infinite softplus (x = -inf / +inf) counts 0
    with np.errstate(invalid="ignore"):
        pos = t * sp_neg_x
        if pos_weight is not None:
            pos = pos * pos_weight
        pos = np.where(t == 0, 0.0, pos)
        neg = np.where(t == 1, 0.0, (1.0 - t) * sp_x)
    terms = pos + neg
    return terms if weight is None else terms * weight


def bce_with_logits(input, target, weight=None, reduction: str = "mean", pos_weight=None) -> np.ndarray:
    """Binary cross-entropy on logits; float64 reference of ``F.binary_cross_entropy_with_logits``.

        term_i = w_i (pw_i t_i softplus(-x_i) + (1 - t_i) softplus(x_i))
               = -w_i (pw_i t_i log sigmoid(x_i) + (1 - t_i) log(1 - sigmoid(x_i)))
        softplus(z) = log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|));  w = pw = 1 when not given
        a summand with t_i = 0 (resp. t_i = 1) counts 0;  'mean' = sum(term) / n, n = numel (not sum(w))

    Parameters:
        input: logits x, a real array (any value, +-inf included).
        target: t, the input's shape (probabilities; the values are not checked).
        weight: optional real array w broadcast to the input's shape, multiplied into the terms.
        reduction: 'none', 'mean' (default) or 'sum'.
        pos_weight: optional real array pw broadcast to the input's shape (a (C,) array weighs the last,
            class, dimension), multiplying the positive (t) part.
    Returns a float64 ndarray: the terms (input's shape) for 'none', a 0-d array for 'mean' / 'sum'
    (an empty 'mean' is NaN).
    Raises ValueError for an unknown reduction, target shape != input shape, a weight or pos_weight that
    does not broadcast to the input's shape, or a non-numeric array.
    Source: ATen ``binary_cross_entropy_with_logits`` (aten/src/ATen/native/Loss.cpp).
    """
    check_reduction(reduction)
    x = as_f64("input", input)
    t = as_f64("target", target)
    check_same_shape("binary_cross_entropy_with_logits", x, t)
    pw = broadcast_weight(pos_weight, x.shape, name="pos_weight")
    w = broadcast_weight(weight, x.shape, name="weight")
    return reduce(elementwise(bce_with_logits_terms, x, t, pos_weight=pw, weight=w), reduction)
