"""Sigmoid focal loss (Lin et al. 2017; torchvision's ``sigmoid_focal_loss``), reference ``refimpl.focal``.

The loss's unit in the suite (``properties.spec.LossSpec``, discovered by ``properties.specs``): its
input domain (the case strategy), error budget, and the parameters it mirrors."""

from __future__ import annotations


import numpy as np
from hypothesis import strategies as st

import refimpl
from refimpl.bce_with_logits import softplus

from .. import strategies as S
from ..cases import Case
from ..formats import FLOAT64, FloatFormat
from ..spec import LossSpec
from ._binary import bce_like, logits_cap


@st.composite
def _focal_cases(draw, variant, fmt, reduction=None):
    n_long = draw(S.long_terms())
    case, (rows, seed) = draw(bce_like(S.reals(1e-4, logits_cap(fmt, reduction, n_long)), weight=False, n_long=n_long))
    x, t = case.args["input"], case.args["target"]
    if variant == "hard_targets":
        t = np.round(t)
    # alpha is a Python number the implementation multiplies in the dtype: below its normal range it
    # rounds away (alpha = 6e-61 is 0 in float32, while the reference keeps 6e-44 of loss)
    # ... and rounded to it (alpha = 1 - 2^-53 is 1 in float32: the reference's 1 - alpha = 1.1e-16
    # would weigh a term the implementation zeroes)
    alpha = fmt.round(draw(st.one_of(st.sampled_from([0.25, -1.0, 0.0, 1.0]),
                                     st.floats(0.0, 1.0).filter(lambda a: a == 0.0 or a >= fmt.tiny))))
    gamma = draw(st.one_of(st.sampled_from([2.0, 0.0, 0.5, 1.0]), st.floats(0.0, 5.0)))
    return S.lengthen_case(Case({"inputs": x, "targets": t}, {"alpha": alpha, "gamma": gamma}), rows, seed)


def scale_focal(case: Case, terms, fmt: FloatFormat = FLOAT64):
    """torchvision: ce * (1 - p_t)^gamma * alpha_t, with q = 1 - p_t and f = q^gamma.

    * ce: its budget as BCE-with-logits (``ce_b``: torch's ``(1-t) x - log_sigmoid(x)`` cancels
      for x << 0, t -> 0, so each part's magnitude carries 4 roundings).
    * q is formed as ``1 - (p t + (1-p)(1-t))``: an absolute error up to ``delta = 4 u``, whatever
      q is (1 - p_t cancels; the reference forms q without cancellation).  The factor's worst
      change under it is taken exactly, not linearised:
          h = max((q + delta)^g - q^g,  q^g - max(q - delta, 0)^g)
      (q^g is monotone, so the extremes lie at the ends; the computed q is >= 0).  For
      delta << q this is the old linear estimate ``4 g u q^(g-1)`` (same budget); where delta is
      comparable to q it is not: for 0 < g < 1 a q that rounds to 0 loses the whole factor, up
      to 1/g times the linear estimate (counterexample, torchvision's formula: float64, x = 37.5,
      t = 1, g = 0.01: sigmoid(37.5) rounds to 1, 1 - p_t = 0, the term 8.9e-18 becomes 0,
      5.8 times the linear bound; float32 x = 17: 17 times; bfloat16 x = 8: 2 times), and for
      g > 1 the convex factor grows faster than linearly.  h depends on the dtype's u, so this
      budget takes the format (``fmt``; ``budget`` passes it).  Computed with expm1/log1p where
      delta < q (no cancellation) and directly elsewhere: no q^(g-1), which overflowed float64
      for a subnormal q and small g (q = 2.2e-313, g = 0.0078: 1.7e310 -> inf, which
      ``bound`` turns into a budget of 0 -- the bound collapsed to the subnormal floor).
    * the product: ce's error multiplies the *computed* factor, at most q^g + h; f's error
      multiplies ce:  S = alpha_t (ce_b (q^g + h) + ce h / u) + 4 |t|  (units of u = u_d + u_64;
      the 4 |t| for the products with (1 - p_t)^g and alpha_t and alpha_t's own roundings)."""
    x, t = case.args["inputs"], case.args["targets"]
    alpha, gamma = case.kwargs.get("alpha", 0.25), case.kwargs.get("gamma", 2.0)
    from refimpl.bce_with_logits import sigmoid

    u = fmt.u + FLOAT64.u
    delta = 4 * u
    q = t * sigmoid(-x) + (1 - t) * sigmoid(x)  # 1 - p_t
    ce = t * softplus(-x) + (1 - t) * softplus(x)
    ce_b = 4 * (np.abs((1 - t) * x) + softplus(-x)) + 2 * ce
    at = np.abs(alpha * t + (1 - alpha) * (1 - t)) if alpha >= 0 else 1.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        f = q**gamma
        r = np.where(q > delta, delta / np.where(q > delta, q, 1.0), 0.0)  # < 1 where used
        small_up = f * np.expm1(gamma * np.log1p(r))
        small_down = -f * np.expm1(gamma * np.log1p(-r))
        h = np.where(q > delta, np.maximum(small_up, small_down),
                     np.maximum((q + delta) ** gamma - f, f - np.maximum(q - delta, 0.0) ** gamma))
    h = np.where(ce == 0, 0.0, h) if gamma > 0 else np.zeros_like(f)
    return at * (ce_b * (f + h) + ce * h / u) + 4 * np.abs(terms)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="focal", reference=refimpl.focal, arg_names=("inputs", "targets"),
    torch_function=None, cases=_focal_cases, variants=("soft_targets", "hard_targets"), scale=scale_focal, sigmoid_gradient=True,
    mirrors="torchvision.ops.sigmoid_focal_loss: alpha (<0 disables), gamma >= 0, soft targets, reduction",
)
