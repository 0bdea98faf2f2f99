"""Binary cross-entropy on logits (``torch.nn.functional.binary_cross_entropy_with_logits``), reference
``refimpl.bce_with_logits``.

A loss's unit (what it holds: ``properties.specs``)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, strategies as st

import refimpl
from refimpl.bce_with_logits import softplus

from .. import bad_inputs as BI, finite_differences as FD, gradients as G, strategies as S, tolerance as T
from ..cases import Case
from ..edge_cases.expect import value
from ..edge_cases.tables import INF, LOGITS, T01, A, arg, bcel, rows
from ..invariants.kinds import (
    equal,
    nonnegative,
    with_kwargs_equal,
)
from ..invariants.tables import U64, inv, structure
from ..known import Refusal
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
    name="bce_with_logits", reference=refimpl.bce_with_logits, arg_names=("input", "target"),
    torch_function="torch.nn.functional.binary_cross_entropy_with_logits", cases=_bcel_cases,
    variants=("plain", "weight", "pos_weight", "weight-pos_weight"), scale=scale_bce_with_logits, sigmoid_gradient=True, underflow=T.underflow_weighted,
    mirrors="weight, pos_weight (broadcast over the class dim); reduction; stable for any finite logit",
    broadcast=("refuses", "Target size ({t}) must be the same as input size ({x})"),
    gap=lambda args, kw: (args[0], (args[1] / (1 - args[1])).log()),
)


# ---- edge-case rows ------------------------------------------------------------------------

#: the loss's own edge-case rows (``properties.edge_cases``: the generic and crossed rows are
#: added to them; docs/generated/edge-cases.md)
EDGE_ROWS = rows(
    "bce_with_logits",
    ("saturated_logits", Case({"input": LOGITS, "target": T01}, {"reduction": "none"}),
     value(lambda ctx: bcel(arg(ctx, "input"), T01), "[1e4, 0, 0, 1e4]"),
     "softplus(+-1e4) without overflow (the log-sum-exp form)"),
    ("infinite_logits", Case({"input": A([INF, INF, -INF, -INF]), "target": T01}, {"reduction": "none"}),
     value(A([INF, 0.0, 0.0, INF]), "[inf, 0, 0, inf] (or NaN)", nan_ok=True),
     "the limits of softplus; inf - inf has no finite-arithmetic value, NaN is also accepted"),
    ("pos_weight_0", Case({"input": A([2.0, -3.0, 0.5]), "target": A([1.0, 0.0, 0.5])},
                          {"reduction": "none", "pos_weight": A([0.0])}),
     value(lambda ctx: bcel(arg(ctx, "input"), arg(ctx, "target"), 0.0), "[0, softplus(-3), 0.5 softplus(0.5)]"),
     "pos_weight 0 removes the positive term"),
    ("zero_dim", Case({"input": A(-2.0), "target": A(1.0)}, {"reduction": "none"}),
     value(lambda ctx: bcel(arg(ctx, "input"), 1.0), "softplus(2)"), "a 0-d input is one term"),
)


# ---- invariants --------------------------------------------------------------------------

@st.composite
def _bcel_vs_bce_cases(draw, spec, fmt):
    """The bce spec's cases with p clipped to [g, 1 − g], g = max(1e-12, eps of the dtype)."""
    from ..specs import SPECS

    variant = draw(st.sampled_from(("plain", "weight")))
    case = draw(SPECS["bce"].cases(variant, fmt))
    gap = max(1e-12, fmt.eps)  # p and 1 - p stay representable and nonzero in the dtype: finite logits
    return Case({**case.args, "input": np.clip(case.args["input"], gap, 1 - gap)}, case.kwargs)


def _bcel_vs_bce(ev, case, draw):
    p = case.args["input"]
    assume(np.all((p > np.exp(-100)) & (p < 1 - np.exp(-100))))  # BCE's -100 log clamp is not reached
    log_p, log_1mp = np.log(p), np.log1p(-p)
    x64 = log_p - log_1mp
    x_d = Case({"input": x64}).rounded(ev.dtype).args["input"]
    assume(np.all(np.isfinite(x_d)))
    # |x_d − logit p| <= |x_d − x64| + float64 error of x64 (two logs 2u each, the difference u)
    delta = np.abs(x_d - x64) + U64 * (2 * (np.abs(log_p) + np.abs(log_1mp)) + np.abs(x64))
    w = case.kwargs.get("weight", 1.0)
    return {"bce": case, "bcel": Case({"input": x_d, "target": case.args["target"]}, case.kwargs),
            "slack": np.abs(w) * delta}


#: the loss's invariants (``properties.invariants``; docs/generated/invariants.md)
INVARIANTS = [
    inv("bce_with_logits", "nonnegative", "w (softplus(−x)·pw·t + softplus(x)·(1−t)) ≥ 0", "t ∈ [0, 1], w, pw ≥ 0",
         nonnegative()),
    *structure("bce_with_logits"),
    inv("bce_with_logits", "pos_weight_of_ones", "bcel(x, t, pos_weight=1) = bcel(x, t)", "all reductions",
         with_kwargs_equal(lambda c: {"pos_weight": np.ones(c.args["input"].shape[-1:])},
                           "pos_weight of ones == no pos_weight", reductions=("none", "mean", "sum")),
         variants=("plain", "weight")),
    inv("bce_with_logits", "weight_of_ones", "bcel(x, t, weight=1) = bcel(x, t)", "all reductions",
         with_kwargs_equal(lambda c: {"weight": np.ones(c.args["input"].shape[-1:])}, "weight of ones == no weight",
                           reductions=("none", "mean", "sum")), variants=("plain", "pos_weight")),
    inv("bce_with_logits", "equals_bce_of_sigmoid", "bcel(logit p, t) = bce(p, t)",
         "p ∈ (e^−100, 1 − e^−100) (BCE's −100 log clamp not reached), no pos_weight; logit p rounded to the "
         "dtype: slack w|δ| (|∂bcel/∂x| = w|σ(x) − t| ≤ w)",
         equal(lambda ev, c: ev(c["bcel"], "none", label="bce_with_logits(logit p, t)"),
               lambda ev, c: ev(c["bce"], "none", loss="bce", label="bce(p, t)"),
               "bce_with_logits(logit p) == bce(p), every term", prepare=_bcel_vs_bce, slack=lambda ev, c: c["slack"]),
         cases=_bcel_vs_bce_cases),
]


# ---- bad inputs ----------------------------------------------------------------------------

#: one small valid call; every bad-input row changes one thing in it (``properties.bad_inputs``)
VALID_CALL = Case({"input": BI.X, "target": BI.T01})

#: invalid calls the contract refuses (with the reduction_avg row every loss gets)
BAD_INPUTS = [
    BI.BadInput("bce_with_logits", "shape_mismatch", BI.arg("target", lambda t: t[:, :2]), ValueError, "shape"),
    BI.BadInput("bce_with_logits", "target_broadcastable", BI.arg("target", lambda t: t[:1]), ValueError, "shape",
             torch_message=BI.broadcast_refusal(SPEC.broadcast, (1, 3), (2, 3))),
    BI.BadInput("bce_with_logits", "input_broadcastable", BI.arg("input", lambda x: x[:, :1]), ValueError, "shape",
             torch_message=BI.broadcast_refusal(SPEC.broadcast, (2, 3), (2, 1))),
    BI.BadInput("bce_with_logits", "pos_weight_not_broadcastable", BI.kw(pos_weight=np.ones(4)), RuntimeError, "broadcast"),
]


# ---- gradients (properties.gradients) -----------------------------------------------------

#: the smooth point near a drawn case where the gradient comparisons and finite differences run
#: (``properties.gradients.smooth_cases``)
def away_from_kinks(case: Case) -> Case:
    """Smooth everywhere: every drawn case is a smooth point."""
    return case


#: no coincident inputs at which the loss is differentiable and the smooth points do not go
at_coincidence = None

#: arguments of ``refimpl.grad.DIFFERENTIABLE`` torch 2.13 refuses to differentiate, each a recorded
#: known deviation (``properties.gradients.REFUSED``)
REFUSED = {"weight": Refusal("bce_with_logits_weights_not_differentiable"),
           "pos_weight": Refusal("bce_with_logits_weights_not_differentiable")}

#: points training hits at an extreme, where the gradient must be finite
GRADIENT_ROWS = [
    G.GradientRow("bce_with_logits", "saturated_logits", G.fixed_case({"input": [1e4, -1e4, 1e4, -1e4], "target": [0., 0., 1., 1.]}),
                ("input", "target"), "sigmoid(x) - t in [-1, 1]; d/dt = -x"),
]

#: kinks: the gradient picked must lie in the subdifferential
SUBGRADIENT_ROWS = []


# ---- finite differences (tests/test_reference_gradients.py) ------------------------------

def _fd_case(rng) -> Case:
    """A moderate, well-conditioned case (O(1) values, no saturation), with the parameters the
    dropped-term mutant removes."""
    return Case({"input": rng.standard_normal((3, 4)) * 2, "target": rng.uniform(0.05, 0.95, (3, 4))}, {"pos_weight": rng.uniform(0.05, 0.95, (4,)) * 3, "weight": rng.uniform(0.05, 0.95, (3, 1)) * 2})


#: what the finite-difference check of the analytic gradient needs to know (``properties.finite_differences``)
FINITE_DIFFERENCES = FD.FiniteDifferences(
    step=FD.scaled(FD.default_scale),
    fixed_case=_fd_case,
    dropped={"pos_weight": None},
)


# ---- invariant mutants (tests/test_invariants_can_fail.py) ----------------------------------

def _inverted_targets(base):
    """Uses 1 − t for t (inverted labels)."""
    def call(x, t, **kwargs):
        return base(x, 1 - t, **kwargs)
    return call


#: the deliberately wrong implementation each of its invariants is shown to catch, by invariant (the
#: others: the generic mutants by invariant name, tests/invariant_mutants.py)
INVARIANT_MUTANTS = {
    "equals_bce_of_sigmoid": _inverted_targets,
}
