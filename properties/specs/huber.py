"""Huber loss (``torch.nn.functional.huber_loss``), reference ``refimpl.huber``.

A loss's unit (what it holds: ``properties.specs``)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import strategies as st

import refimpl

from .. import (
    bad_inputs as BI,
    broadcast as B,
    finite_differences as FD,
    gradients as G,
    mutation as M,
    strategies as S,
    tolerance as T,
)
from ..cases import Case
from ..edge_cases.expect import exactly, value
from ..edge_cases.tables import A, arg, rcase, rows
from ..invariants.core import exact_or_reject
from ..invariants.kinds import (
    equal,
    nonnegative,
    scaled,
    symmetric,
    zero_at,
)
from ..invariants.tables import exp2, in_residual_range, inv, structure, target_is_input
from ..known import KnownFailure
from ..spec import LossSpec
from ..subjects import reference_subject
from ._residual import BROADCAST, residual_case


@st.composite
def _huber_cases(draw, variant, fmt, reduction=None):
    # delta down to the dtype's normal range (a subnormal one is rounded by up to 2^-p / delta relative)
    delta = draw(S.parameter(1e-3, 1e3, 16 * fmt.tiny))
    case = draw(residual_case(fmt, variant == "weight", reduction, parameters={"delta": delta}, at=delta))
    return draw(B.broadcast_pair(case, **BROADCAST))


def scale_huber(case: Case, terms):
    """z = |x-y|; 0.5 z^2 (2 ops of ~|t|) or delta (z - delta/2): the rounding of z
    is amplified to delta*z (<= 2|t|); 4 roundings of max(|t|, delta z), times |w|."""
    x, y = case.args["input"], case.args["target"]
    delta = case.kwargs.get("delta", 1.0)
    z = np.abs(x - y)
    w = np.abs(case.kwargs.get("weight", 1.0))
    return 4 * np.maximum(np.abs(terms), w * delta * z)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="huber", reference=refimpl.huber, arg_names=("input", "target"),
    torch_function="torch.nn.functional.huber_loss", cases=_huber_cases, variants=("plain", "weight"),
    scale=scale_huber, underflow=T.underflow_weighted,
    mirrors="delta > 0; reduction; weight (torch>=2.6: mean = mean(w l)); any shape; broadcasting",
    broadcast="warns",
    gap=lambda args, kw: ((args[0] - args[1]).abs(), args[0].new_full(args[0].shape, float(kw.get("delta", 1.0)))),
)


# ---- edge-case rows ------------------------------------------------------------------------

#: the loss's own edge-case rows (``properties.edge_cases``: the generic and crossed rows are
#: added to them; docs/generated/edge-cases.md)
EDGE_ROWS = rows(
    "huber",
    ("tiny_delta", rcase({"delta": 1e-30}),
     value(lambda ctx: np.where(np.abs(arg(ctx, "input")) < 1e-30, 0.5 * arg(ctx, "input") ** 2,
                                1e-30 * (np.abs(arg(ctx, "input")) - 0.5e-30)), "delta (|r| - delta/2)"),
     "the linear branch for |r| >= delta = 1e-30 (underflow in low precision is the model's floor)"),
    ("at_transition", rcase({"delta": 1.5}, A([1.5, -1.5])), exactly([1.125, 1.125], "delta^2 / 2"),
     "at |r| = delta both branches give delta^2 / 2"),
    ("zero_dim", Case({"input": A(3.0), "target": A(1.0)}, {"reduction": "none", "delta": 1.0}), exactly(1.5, "1.5"),
     "1 (2 - 0.5) on 0-d inputs"),
)


# ---- invariants --------------------------------------------------------------------------

def _huber_delta_scaling(ev, case, draw):
    k = exp2(draw)
    lhs = case.with_kwargs(delta=2.0 ** k)
    rhs = in_residual_range(ev, exact_or_reject(ev, scaled(case, ("input", "target"), -k).with_kwargs(delta=1.0)))
    return {"lhs": lhs, "rhs": rhs, "k": k}


def _huber_quadratic(ev, case, draw):
    r = np.abs(case.args["input"] - case.args["target"])
    m = float(np.max(r)) if r.size else 0.0
    delta = 2.0 ** (int(np.floor(np.log2(m))) + 1) if m > 0 else 1.0  # a power of two > max|r|
    kw = {k: v for k, v in case.kwargs.items() if k != "delta"}
    return {"case": case.with_kwargs(delta=delta), "mse": Case(case.args, kw)}


#: the loss's invariants (``properties.invariants``; docs/generated/invariants.md)
INVARIANTS = [
    inv("huber", "nonnegative", "Huber_δ(r) ≥ 0", "δ > 0, weight ≥ 0", nonnegative()),
    inv("huber", "zero_at_optimum", "huber(x, x) = 0", "input = target", zero_at(target_is_input)),
    inv("huber", "symmetric", "huber(x, y) = huber(y, x)", "always (weight unchanged)",
         symmetric("input", "target")),
    *structure("huber"),
    inv("huber", "delta_scaling", "Huber_δ(r) = δ² Huber_1(r/δ)", "δ = 2^k (k ≠ 0), x/δ, y/δ exact and inside the strategy's magnitude cap",
         equal(lambda ev, c: ev(c["lhs"], "none", label="huber(x, y, delta=2^k)"),
               lambda ev, c: ev(c["rhs"], "none", label="huber(x/2^k, y/2^k, delta=1)").scale(
                   Fraction(4) ** c["k"], "4^k huber(x/2^k, y/2^k, 1)"),
               "huber_{2^k}(x, y) == 4^k huber_1(x/2^k, y/2^k)", prepare=_huber_delta_scaling)),
    inv("huber", "quadratic_regime", "Huber_δ(r) = ½ r² = ½ mse(x, y) (terms)", "δ > max|r| (δ = a power of two)",
         equal(lambda ev, c: ev(c["case"], "none", label="huber(delta > max|r|)"),
               lambda ev, c: ev(c["mse"], "none", loss="mse", label="mse").scale(Fraction(1, 2), "½ mse"),
               "huber == ½ mse, every term", prepare=_huber_quadratic)),
]


# ---- bad inputs ----------------------------------------------------------------------------

#: one small valid call; every bad-input row changes one thing in it (``properties.bad_inputs``)
VALID_CALL = Case({"input": BI.X, "target": BI.X[::-1]}, {"delta": 1.0})

#: invalid calls the contract refuses (with the reduction_avg row every loss gets)
BAD_INPUTS = [
    BI.BadInput("huber", "weight_of_broadcast_shape",
             lambda c: Case({"input": BI.X[:1], "target": BI.X}, {**c.kwargs, "weight": np.ones((2, 3))}),
             ValueError, "weight", torch_message="Weights and input must have the same size."),
    BI.BadInput("huber", "delta_0", BI.kw(delta=0.0), RuntimeError, "delta",
             known_failures=(KnownFailure("keras_huber_delta_not_validated", "keras.losses.Huber"),)),
    BI.BadInput("huber", "delta_negative", BI.kw(delta=-1.0), RuntimeError, "delta",
             known_failures=(KnownFailure("keras_huber_delta_not_validated", "keras.losses.Huber"),)),
    BI.BadInput("huber", "shape_mismatch", BI.arg("target", lambda t: t[:, :2]), RuntimeError, "broadcast"),
]


# ---- gradients (properties.gradients) -----------------------------------------------------

#: the smooth point near a drawn case where the gradient comparisons and finite differences run
#: (``properties.gradients.smooth_cases``)
def away_from_kinks(case: Case) -> Case:
    """Residuals kept off |r| = delta (the branches meet)."""
    return G.residual_away(case, case.kwargs.get("delta", 1.0))


#: coincident inputs (a = b, r = 0, a distance of 0) in the masked terms, where the loss is differentiable
#: there (``properties.gradients.AT_COINCIDENCE``)
at_coincidence = G.residual_zero


#: arguments of ``refimpl.grad.DIFFERENTIABLE`` torch 2.13 refuses to differentiate, each a recorded
#: known deviation (``properties.gradients.REFUSED``)
REFUSED = {}

#: points training hits at an extreme, where the gradient must be finite
GRADIENT_ROWS = []

#: kinks: the gradient picked must lie in the subdifferential
SUBGRADIENT_ROWS = [
    G.SubgradientRow("huber", "at_delta", G.fixed_case({"input": [-2.0], "target": [0.0]}, delta=2.0), "input",
                   G.shift_input("input", 0), "d/dr at |r| = delta: r = -delta from both sides"),
]


# ---- finite differences (tests/test_reference_gradients.py) ------------------------------

def _sig_huber(case):
    return FD.pieces(case.args["input"] - case.args["target"], case.kwargs.get("delta", 1.0))


def _fd_case(rng) -> Case:
    """A moderate, well-conditioned case (O(1) values, no saturation), with the parameters the
    dropped-term mutant removes."""
    return Case({"input": rng.standard_normal((3, 4)), "target": rng.standard_normal((3, 4))}, {"delta": 0.7, "weight": rng.uniform(0.05, 0.95, (3, 4)) * 3})


#: what the finite-difference check of the analytic gradient needs to know (``properties.finite_differences``)
FINITE_DIFFERENCES = FD.FiniteDifferences(
    step=FD.scaled(FD.partner_scale),
    fixed_case=_fd_case,
    dropped={"weight": None},
    signature=_sig_huber,
)


# ---- invariant mutants (tests/test_invariants_can_fail.py) ----------------------------------

def _huber_is_smooth_l1(base):
    """Huber(δ) computed as SmoothL1(β = δ) (they differ by the factor δ)."""
    from properties.specs import SPECS

    sl1 = reference_subject(SPECS["smooth_l1"]).fn

    def call(x, y, reduction="mean", delta=1.0, weight=None):
        if weight is not None:
            return M.reduce_terms(sl1(x, y, reduction="none", beta=delta) * weight, reduction)
        return sl1(x, y, reduction=reduction, beta=delta)
    return call


#: the deliberately wrong implementation each of its invariants is shown to catch, by invariant (the
#: others: the generic mutants by invariant name, tests/invariant_mutants.py)
INVARIANT_MUTANTS = {
    "delta_scaling": _huber_is_smooth_l1,
    "quadratic_regime": _huber_is_smooth_l1,
}
