"""Binary cross-entropy on logits, mirroring ``torch.nn.functional.binary_cross_entropy_with_logits``.

    term_i = w_i * ( pw_i * t_i * softplus(-x_i) + (1 - t_i) * softplus(x_i) )
           = -w_i * ( pw_i * t_i * log sigmoid(x_i) + (1 - t_i) * log(1 - sigmoid(x_i)) )

``pos_weight`` (pw) broadcasts against the input (shape ``(C,)`` weighs the last,
class, dimension) and ``weight`` (w) likewise.  Torch evaluates the algebraically
equal ``(1 - t) x - (1 + (pw - 1) t) log sigmoid(x)``, whose two parts cancel
for large negative ``x`` with ``t = 0``; the reference writes the loss as a sum
of two non-negative softplus terms (``numpy.logaddexp(0, z)``), stable for every
finite logit.

Source: ATen ``binary_cross_entropy_with_logits`` (aten/src/ATen/native/Loss.cpp).
"""

from __future__ import annotations

import numpy as np

from ._common import as_f64, check_reduction, check_same_shape, reduce, weighted


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + exp(z)), exact to a few ulps for every z (numpy's logaddexp)."""
    return np.logaddexp(0.0, z)


def bce_with_logits(input, target, weight=None, reduction: str = "mean", pos_weight=None) -> np.ndarray:
    check_reduction(reduction)
    x = as_f64("input", input)
    t = as_f64("target", target)
    check_same_shape("binary_cross_entropy_with_logits", x, t)
    pos = t * softplus(-x)
    pos = weighted(pos, pos_weight, name="pos_weight")
    # a zero coefficient times an infinite softplus (x = -inf / +inf) counts 0
    with np.errstate(invalid="ignore"):
        pos = np.where(t == 0, 0.0, pos)
        neg = np.where(t == 1, 0.0, (1.0 - t) * softplus(x))
    return reduce(weighted(pos + neg, weight), reduction)
