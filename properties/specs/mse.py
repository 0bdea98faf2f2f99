"""Mean squared error (``torch.nn.functional.mse_loss``), reference ``refimpl.mse``.

A loss's unit (what it holds: ``properties.specs``)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
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
from ..edge_cases.expect import exactly
from ..edge_cases.tables import A, rows
from ..formats import FORMATS
from ..invariants.core import exact_or_reject
from ..invariants.kinds import (
    equal,
    nonnegative,
    scaled,
    symmetric,
    zero_at,
)
from ..invariants.tables import exp2, in_residual_range, inv, structure, target_is_input
from ..known import CaseDeviation
from ..spec import LossSpec
from ._residual import BROADCAST, residual_case


def _weighted_mean_denominator(case, terms, reduction):
    w = case.kwargs.get("weight")
    return float(np.sum(w)) if w is not None else float(terms.size)


#: torch's weighted MSE 'mean' is torch.sum(w l) / torch.sum(w) in the input dtype: its numerator overflows
#: float16 where the mean fits (known deviation mse_weighted_mean_sums_in_input_dtype), so a weighted
#: 'mean' is drawn as a sum is
_MSE_WEIGHTED_MEAN_LIKE = ("none",)


@st.composite
def _mse_cases(draw, variant, fmt, reduction=None):
    weighted = variant == "weight"
    case = draw(residual_case(fmt, weighted, reduction, mean_like=_MSE_WEIGHTED_MEAN_LIKE if weighted else S.MEAN_LIKE))
    return draw(B.broadcast_pair(case, **BROADCAST))


def _weight_sum_overflows(case, dtype) -> bool:
    """A weighted 'mean' whose torch.sum(weight), returned in the input dtype, is beyond its range (float16:
    from 65520 the sum rounds to inf and the mean to 0; known deviation mse_weighted_mean_sums_in_input_dtype)."""
    w = case.kwargs.get("weight")
    if w is None or case.kwargs.get("reduction", "mean") != "mean":
        return False
    return float(np.sum(np.abs(np.asarray(w, dtype=np.float64)))) >= FORMATS[dtype].overflow


def scale_mse(case: Case, terms):
    """w (x - y)^2: subtract, square, weight, and the weighted mean's divide: 4 roundings of |t|."""
    return 4 * np.abs(terms)


#: the loss's record: everything the suite knows about it (``properties.spec.LossSpec``)
SPEC = LossSpec(
    name="mse", reference=refimpl.mse, arg_names=("input", "target"),
    torch_function="torch.nn.functional.mse_loss", cases=_mse_cases, variants=("plain", "weight"),
    scale=scale_mse, denominator=_weighted_mean_denominator, underflow=T.underflow_weighted,
    mirrors="reduction; weight (torch>=2.6: weighted mean = sum(w l)/sum(w)); any shape incl. 0-d; broadcasting",
    builtin_deviations=(CaseDeviation(
        "torch_sum_of_expanded_tensor_accumulates_sequentially", "agreement",
        lambda case, dtype: case.kwargs.get("reduction") == "mean" and case.layouts.get("weight") == "expanded",
        why="an expanded (stride-0) weight: the weighted mean's torch.sum(weight) adds its elements one by one"),
    ) + tuple(CaseDeviation("mse_weighted_mean_sums_in_input_dtype", check, _weight_sum_overflows,
                            why="the weights' sum beyond the input dtype's range: torch.sum(weight) is inf")
              for check in ("agreement", "gradient")),
    broadcast="warns",
)


# ---- edge-case rows ------------------------------------------------------------------------

#: the loss's own edge-case rows (``properties.edge_cases``: the generic and crossed rows are
#: added to them; docs/generated/edge-cases.md)
EDGE_ROWS = rows(
    "mse",
    ("zero_dim", Case({"input": A(3.0), "target": A(1.0)}, {"reduction": "none"}), exactly(4.0, "4"),
     "(3 - 1)^2 on 0-d inputs"),
    ("equal_inputs", Case({"input": A([1.5, -2.0, 0.0]), "target": A([1.5, -2.0, 0.0])}, {"reduction": "none"}),
     exactly([0.0, 0.0, 0.0], "zeros"), "x - x = 0 exactly"),
)


# ---- invariants --------------------------------------------------------------------------

def _mse_homogeneous(ev, case, draw):
    k = exp2(draw)
    moved = in_residual_range(ev, exact_or_reject(ev, scaled(case, ("input", "target"), k)))
    return {"case": case, "k": k, "scaled": moved}


#: the loss's invariants (``properties.invariants``; docs/generated/invariants.md)
INVARIANTS = [
    inv("mse", "nonnegative", "w (x − y)² ≥ 0", "weight ≥ 0 (the strategy's weights are > 0)", nonnegative()),
    inv("mse", "zero_at_optimum", "mse(x, x) = 0", "input = target (any weight)", zero_at(target_is_input)),
    inv("mse", "symmetric", "mse(x, y) = mse(y, x)", "always (weight unchanged)", symmetric("input", "target")),
    *structure("mse"),
    inv("mse", "homogeneous_deg2", "mse(2^k x, 2^k y) = 4^k mse(x, y)",
         "k integer, 2^k x and 2^k y exact (no underflow) and inside the strategy's magnitude cap (no overflow)",
         equal(lambda ev, c: ev(c["scaled"], "sum", label="mse(2^k x, 2^k y)"),
               lambda ev, c: ev(c["case"], "sum", label="mse(x, y)").scale(Fraction(4) ** c["k"], "4^k mse(x, y)"),
               "mse(2^k x, 2^k y) == 4^k mse(x, y) (sum)", prepare=_mse_homogeneous)),
]


# ---- bad inputs ----------------------------------------------------------------------------

#: one small valid call; every bad-input row changes one thing in it (``properties.bad_inputs``)
VALID_CALL = Case({"input": BI.X, "target": BI.X[::-1]})

#: invalid calls the contract refuses (with the reduction_avg row every loss gets)
BAD_INPUTS = [
    BI.BadInput("mse", "shape_mismatch", BI.arg("target", lambda t: t[:, :2]), RuntimeError, "broadcast"),
    BI.BadInput("mse", "weight_shape", BI.kw(weight=np.ones(4)), ValueError, "weight",
             torch_message="Weights and input must have the same size."),
    # the weight has exactly input's shape, not the broadcast shape of input and target
    BI.BadInput("mse", "weight_of_broadcast_shape", lambda c: Case({"input": BI.X[:1], "target": BI.X}, {"weight": np.ones((2, 3))}),
             ValueError, "weight", torch_message="Weights and input must have the same size."),
]


# ---- gradients (properties.gradients) -----------------------------------------------------

#: the smooth point near a drawn case where the gradient comparisons and finite differences run
#: (``properties.gradients.smooth_cases``)
def away_from_kinks(case: Case) -> Case:
    """Smooth everywhere: every drawn case is a smooth point."""
    return case


#: coincident inputs (a = b, r = 0, a distance of 0) in the masked terms, where the loss is differentiable
#: there (``properties.gradients.AT_COINCIDENCE``)
at_coincidence = G.residual_zero


#: arguments of ``refimpl.grad.DIFFERENTIABLE`` torch 2.13 refuses to differentiate, each a recorded
#: known deviation (``properties.gradients.REFUSED``)
REFUSED = {}

#: points training hits at an extreme, where the gradient must be finite
GRADIENT_ROWS = []

#: kinks: the gradient picked must lie in the subdifferential
SUBGRADIENT_ROWS = []


# ---- finite differences (tests/test_reference_gradients.py) ------------------------------

def _fd_case(rng) -> Case:
    """A moderate, well-conditioned case (O(1) values, no saturation), with the parameters the
    dropped-term mutant removes."""
    return Case({"input": rng.standard_normal((3, 4)), "target": rng.standard_normal((3, 4))}, {"weight": rng.uniform(0.05, 0.95, (3, 4)) * 3})


#: what the finite-difference check of the analytic gradient needs to know (``properties.finite_differences``)
FINITE_DIFFERENCES = FD.FiniteDifferences(
    step=FD.scaled(FD.partner_scale),
    fixed_case=_fd_case,
    dropped={"weight": None},
)


# ---- invariant mutants (tests/test_invariants_can_fail.py) ----------------------------------

def _mse_rmse(base):
    """Returns the root of the mean/sum of squares (RMSE; |r| per term): homogeneous of degree 1."""
    return M.on_output(torch.sqrt)(base)


#: the deliberately wrong implementation each of its invariants is shown to catch, by invariant (the
#: others: the generic mutants by invariant name, tests/invariant_mutants.py)
INVARIANT_MUTANTS = {
    "homogeneous_deg2": _mse_rmse,
}
