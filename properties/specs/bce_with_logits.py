"""Binary cross-entropy on logits (``torch.nn.functional.binary_cross_entropy_with_logits``), reference
``refimpl.bce_with_logits``.

The loss's unit in the suite (``properties.spec.LossSpec``, discovered by ``properties.specs``): its
input domain (the case strategy), error budget, and the parameters it mirrors."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

import refimpl
from refimpl.bce_with_logits import softplus

from .. import strategies as S
from .. import tolerance as T
from ..cases import Case
from ..spec import LossSpec
from ._binary import bce_like, logits_cap


def _bcel_terms_limit(fmt, reduction, gain: float):
    """A logit's term is at least about ln 2 times the weights where the logit is small (softplus(0)): no cap
    on the logits keeps a 'sum' of more than headroom / (gain ln 2) terms finite (float16 with both
    weights: 3938 terms of 50 summed to 98859)."""
    return math.inf if reduction in S.MEAN_LIKE else fmt.headroom_cap() / (gain * math.log(2.0))


@st.composite
def _bcel_cases(draw, variant, fmt, reduction=None):
    feats = set(variant.split("-"))
    gain = 1e2 ** len(feats & {"weight", "pos_weight"})
    n_long = draw(S.long_terms(_bcel_terms_limit(fmt, reduction, gain)))
    cap = logits_cap(fmt, reduction, n_long, gain)
    case, (rows, seed) = draw(bce_like(S.reals(1e-4, cap), weight="weight" in feats, pos_weight="pos_weight" in feats,
                                        n_long=n_long))
    if draw(st.booleans()):  # logits close to logit(t) at some soft targets: the loss's minimum, where it flattens
        x, t = case.args["input"], case.args["target"]
        soft = (t > 0) & (t < 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            logit = np.where(soft, np.log(t) - np.log1p(-t), 0.0)
        case = Case({**case.args, "input": draw(S.near(logit, x, soft))}, case.kwargs)
    return S.lengthen_case(case, rows, seed)


def scale_bce_with_logits(case: Case, terms):
    """torch: (1-t) x - (1 + (pw-1) t) log_sigmoid(x), times w.  The two parts cancel for
    x << 0, t = 0, so each part's magnitude carries 4 roundings (the reference does not cancel).
    The coefficient 1 + (pw-1) t is itself formed with cancellation: for a small pos_weight and
    t = 1 its absolute error is u (1 + |pw-1| t), not u pw -- torch's positive-class loss then has
    relative error ~u/pw (measured: 16 ulp in float32 at pw = 0.01), so the budget counts it."""
    x, t = case.args["input"], case.args["target"]
    pw = case.kwargs.get("pos_weight")
    lw = 1.0 if pw is None else np.abs(1 + (pw - 1) * t) + 2 * (1 + np.abs((pw - 1) * t))
    w = np.abs(case.kwargs.get("weight", 1.0))
    return 4 * w * (np.abs((1 - t) * x) + lw * softplus(-x)) + 2 * np.abs(terms)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    broadcast=("refuses", "Target size ({t}) must be the same as input size ({x})"),
    gap=lambda args, kw: (args[0], (args[1] / (1 - args[1])).log()),
    name="bce_with_logits", reference=refimpl.bce_with_logits, arg_names=("input", "target"),
    torch_function="torch.nn.functional.binary_cross_entropy_with_logits", cases=_bcel_cases,
    variants=("plain", "weight", "pos_weight", "weight-pos_weight"), scale=scale_bce_with_logits, sigmoid_gradient=True, underflow=T.underflow_weighted,
    mirrors="weight, pos_weight (broadcast over the class dim); reduction; stable for any finite logit",
)
